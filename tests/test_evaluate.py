"""`trolyso eval`'s scoring: right-or-helped and the list of confidently wrong answers (issue 11).

The metric and the list are checked on hand-built replies (exact numbers, no model); the printed
section on a real run over the small test FAQ, with questions labelled so that the bot's right
answers count as confusions: what the bot answers there is pinned by other tests already.
"""

from __future__ import annotations

import json

from bot import evaluate as ev
from bot.types import Reply, Suggestion
from tests.conftest import make_eval_set


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


def test_confusions_list_the_confidently_wrong_by_kind_then_id():
    long_text = "Chào ad, " + "mẹ em năm nay 65 tuổi ở bản xa " * 5 + "thì phải làm sao ạ?"
    questions = [q("h2", "hard_negative", text="xóa tài khoản VNeID"), q("p9", "paraphrase", "x"),
                 q("p1", "paraphrase", "x", text=long_text), q("h1", "hard_negative"), q("o1", "out_of_scope"),
                 q("v1", "verbose", "x"), q("k1", "knowledge"), q("c1", "chitchat", "chitchat"),
                 q("p2", "paraphrase", "x")]
    replies = [faq("x", 0.812345), faq("y", 0.7),
               faq("y", 0.75), Reply("câu hỏi", "knowledge", "…", 0.66, passage_id="kb:nq57#2"), clarify("x"),
               Reply("câu hỏi", "knowledge", "…", 0.7, passage_id="kb:nq57#1"), faq("x"), faq("x"),
               faq("x")]  # right: not a confusion
    confs = ev.confusions(questions, replies)
    assert [(c.id, c.kind, c.expected, c.answered) for c in confs] == [
        ("p1", "paraphrase", "x", "y"), ("p9", "paraphrase", "x", "y"), ("v1", "verbose", "x", "kb:nq57#1"),
        ("h1", "hard_negative", None, "kb:nq57#2"), ("h2", "hard_negative", None, "x")]
    assert confs[-1].to_json() == {"id": "h2", "kind": "hard_negative", "text": "xóa tài khoản VNeID",
                                   "expected": None, "answered": "x", "score": 0.8123}
    assert ev.confused_pairs(confs) == [("x", "y", 2)]

    lines = ev.format_confusions(confs, "confidently wrong").splitlines()
    assert lines[0] == "confidently wrong: 5"
    assert lines[3].startswith("| p1 | paraphrase | Chào ad, mẹ em") and lines[3].endswith("… | x | y | 0.750 |")
    assert len(lines[3].split(" | ")[2]) == 80
    assert lines[-3] == "| h2 | hard_negative | xóa tài khoản VNeID | — | x | 0.812 |"
    assert lines[-2:] == ["confused pairs (expected → answered, more than once):", "  x → y: 2"]
    assert ev.format_confusions([], "confidently wrong") == "confidently wrong: 0"


def test_eval_prints_and_returns_the_confusions(tmp_path, settings, embedder, capsys):
    """A real run: questions the bot answers with vneid-quen-mat-khau, labelled as expecting another entry
    (twice: a repeated pair) or nothing, and a knowledge question labelled in scope (answered by a passage)."""
    from bot.evaluation_run import run_eval

    s = make_eval_set(tmp_path / "set", [
        {"id": "q1", "text": "toi quen mat khau vneid", "kind": "no_diacritics", "expect": "tinrac-bao-cao-5656"},
        {"id": "q2", "text": "quen mk vneid thi lam sao", "kind": "teencode", "expect": "tinrac-bao-cao-5656"},
        {"id": "q3", "text": "Quên mật khẩu VNeID thì lấy lại thế nào?", "kind": "hard_negative", "expect": None},
        {"id": "q4", "text": "Đến năm 2030 kinh tế số phải chiếm bao nhiêu phần trăm GDP?", "kind": "paraphrase",
         "expect": "bdhvs-la-gi"},
        {"id": "q5", "text": "chào bạn", "kind": "chitchat", "expect": "chitchat"},
    ])

    assert run_eval(settings, s, embedder, as_json=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(c["id"], c["kind"], c["expected"], c["answered"][:3]) for c in out["confusions"]] == [
        ("q4", "paraphrase", "bdhvs-la-gi", "kb:"), ("q1", "no_diacritics", "tinrac-bao-cao-5656", "vne"),
        ("q2", "teencode", "tinrac-bao-cao-5656", "vne"), ("q3", "hard_negative", None, "vne")]
    assert out["confused_pairs"] == [
        {"expected": "tinrac-bao-cao-5656", "answered": "vneid-quen-mat-khau", "count": 2}]
    assert out["in_scope_right_or_helped"] == 0.0 and out["chitchat"] == 1.0

    assert run_eval(settings, s, embedder) == 0
    text = capsys.readouterr().out
    assert "confidently wrong answers at the configured thresholds: 4\n" in text
    assert "| q3 | hard_negative | Quên mật khẩu VNeID thì lấy lại thế nào? | — | vneid-quen-mat-khau |" in text
    assert text.rstrip().endswith("tinrac-bao-cao-5656 → vneid-quen-mat-khau: 2")
