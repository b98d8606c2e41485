"""`trolyso eval`'s scoring: right-or-helped (issue 11), checked on hand-built replies (exact numbers, no model)."""

from __future__ import annotations

from bot import evaluate as ev
from bot.types import Reply, Suggestion


def q(id: str, kind: str, expect: str | None = None, text: str = "câu hỏi") -> ev.Question:
    return ev.Question(id, text, kind, expect, ())


def faq(faq_id: str, score: float = 0.9) -> Reply:
    return Reply("câu hỏi", "faq", "…", score, faq_id=faq_id)


def clarify(*faq_ids: str) -> Reply:
    return Reply("câu hỏi", "clarify", "…", 0.5, suggestions=tuple(Suggestion(f, f) for f in faq_ids))


def test_right_or_helped_is_right_plus_assisted_per_question():
    questions = [q("a", "paraphrase", "x"), q("b", "teencode", "x"), q("c", "verbose", "x"),
                 q("d", "no_diacritics", "x"), q("e", "paraphrase", "y"), q("n", "out_of_scope")]
    replies = [faq("x"),  # right
               clarify("z", "x"),  # helped: the expected entry is offered
               clarify("y", "z"),  # a clarification without it: neither
               faq("y"),  # confidently wrong
               Reply("câu hỏi", "unanswered", "…"),
               clarify("x")]  # a negative's clarification counts for nothing in scope
    m = ev.score(questions, replies)
    assert (m["in_scope_acc"], m["in_scope_assisted"]) == (0.2, 0.2)
    assert m["in_scope_right_or_helped"] == 0.4 == m["in_scope_acc"] + m["in_scope_assisted"]
    assert "in_scope_right_or_helped" in ev.format_table([("configured thresholds", m)]).splitlines()[0]

