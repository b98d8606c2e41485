"""Quiz rounds in the chat ("Công dân số thông minh", issue 17): the bank and the round logic.

A round is a pending prompt: its state is a small JSON object kept by the channels in the state
store (slot "prompt", key "quiz") for `ROUND_TTL` seconds, so it follows the documented
precedence (bot.commands), is shared by every replica and survives a restart. Questions and the
order of their options are shuffled per round and kept in the state; an answer names the
question's position (`i`), so a second tap on an answered question changes nothing.

Channels only render a `Step`: Telegram as buttons, Zalo as a numbered list.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.replies import citizens as replies
from indexer.faq import CATEGORIES
from indexer.quiz import QuizQuestion, load_quiz
from indexer.text import clean, fold

if TYPE_CHECKING:
    from bot.contests import ContestBook
    from bot.state import StateStore
    from bot.types import Reply

log = logging.getLogger(__name__)

ROUND_SIZE = 5
OFFER_SIZE = 3
ROUND_TTL = 30 * 60.0  # a half-finished round expires after 30 minutes
READ_MORE = 3  # FAQ entries suggested at the end
OFFER_SLOT = "quiz_offer"  # state slot: the offer after an FAQ answer was made today
OFFER_TTL = 24 * 3600.0  # at most one offer a day per citizen


class QuizBank:
    """The questions of `quiz.yaml`, reloaded when the file changes. An invalid edit is logged
    with its file:line errors and the running bank is kept."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._questions: list[QuizQuestion] = []
        self._by_id: dict[str, QuizQuestion] = {}
        self._stamp: tuple[float, int] | None = None
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> None:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime, st.st_size)
        except OSError:
            stamp = None
        with self._lock:
            if stamp == self._stamp:
                return
            self._stamp = stamp
        if stamp is None:
            log.warning("quiz: %s is missing; keeping %d question(s)", self.path, len(self._questions))
            return
        quiz = load_quiz(self.path)
        if quiz.errors:
            log.error("quiz: %s has errors; keeping the running bank (%d question(s)):\n%s", self.path,
                      len(self._questions), "\n".join(map(str, quiz.errors)))
            return
        with self._lock:
            self._questions = quiz.questions
            self._by_id = {q.id: q for q in quiz.questions}
        log.info("quiz: %d question(s) loaded from %s", len(quiz.questions), self.path)

    def questions(self, topic: str | None = None) -> list[QuizQuestion]:
        self.refresh()
        return [q for q in self._questions if topic is None or q.topic == topic]

    def get(self, question_id: str) -> QuizQuestion | None:
        return self._by_id.get(question_id)

    def topics(self) -> set[str]:
        return {q.topic for q in self.questions()}


@dataclass
class Step:
    """What to send after a start or an answer."""

    text: str  # the feedback (after an answer) and the next question, or the score
    options: list[str] = field(default_factory=list)  # the next question's options, in shown order
    state: dict[str, Any] | None = None  # the new round state; None when the round is over
    read_more: list[tuple[str, str]] = field(default_factory=list)  # (faq id, question) at the end
    index: int = 0  # the position of the question asked (for Telegram's button data)
    result: dict[str, Any] | None = None  # the finished round's last state (kind, contest, score, ids)

    @property
    def done(self) -> bool:
        return self.state is None


def topic_of(text: str) -> str | None:
    """The topic named after the command ("/quiz luadao", "/quiz lừa đảo"), or None."""
    words = fold(clean(text).lower()).split()
    rest = " ".join(w for w in words[1:]) if words and words[0].startswith("/") else ""
    if not rest:
        return None
    compact = "".join(c for c in rest if c.isalnum())
    for topic, label in CATEGORIES.items():
        if compact == topic.replace("-", "") or rest == fold(label.lower()) or rest in fold(label.lower()).split(", "):
            return topic
    return None


class Quiz:
    """Starts rounds and scores answers over a `QuizBank`; `faq_question` names an FAQ entry,
    `faq_topic` gives its category (for the offer after an FAQ answer; None: no offers)."""

    def __init__(self, bank: QuizBank, faq_question: Callable[[str], str | None],
                 rng: random.Random | None = None, *,
                 faq_topic: Callable[[str], str | None] | None = None,
                 contests: ContestBook | None = None,
                 recorder: Callable[[str, str, str, int, int], str] | None = None) -> None:
        """`contests`: the running contest (bot.contests) draws full rounds from its topics;
        `recorder(channel, user_key, contest, score, total)` records a finished contest round and
        says "counted", "no_commune", "already" or "failed"."""
        self.bank = bank
        self.faq_question = faq_question
        self.faq_topic = faq_topic
        self.contests = contests
        self.recorder = recorder
        self.rng = rng or random.Random()

    def offer(self, state: StateStore, channel: str, user_key: str, reply: Reply) -> str | None:
        """The topic to offer a short round on after `reply`, or None. Only after an FAQ answer
        whose category has questions, and at most once a day per citizen: the offer is noted in
        the state store (slot `OFFER_SLOT`, one-day expiry) whether or not it is taken."""
        if self.faq_topic is None or reply.kind != "faq" or not reply.faq_id:
            return None
        topic = self.faq_topic(reply.faq_id)
        if not topic or not self.bank.questions(topic):
            return None
        if state.get(channel, user_key, OFFER_SLOT) is not None:
            return None
        state.put(channel, user_key, OFFER_SLOT, {"topic": topic}, OFFER_TTL)
        return topic

    def start_offer(self, topic: str) -> Step | None:
        """The short round the offer starts (never counted in a contest)."""
        return self.start(topic, size=OFFER_SIZE, kind="offer")

    def start(self, topic: str | None = None, size: int = ROUND_SIZE, kind: str = "round") -> Step | None:
        """A new round (None when there are no questions on that topic). While a contest runs, a
        full round without a topic (or on one of its topics) is drawn from its topics and marked
        with its id; offers never are."""
        contest = self.contests.running(topic) if self.contests is not None and kind == "round" else None
        if contest is not None and topic is None:
            pool = [q for q in self.bank.questions() if q.topic in contest.topics]
        else:
            pool = self.bank.questions(topic)
        if not pool:
            return None
        picked = self.rng.sample(pool, min(size, len(pool)))
        state = {
            "kind": kind, "topic": topic, "i": 0, "score": 0,
            "ids": [q.id for q in picked],
            "orders": [self.rng.sample(range(len(q.options)), len(q.options)) for q in picked],
            "wrong": [],
        }
        if topic:
            intro = replies.QUIZ_INTRO_TOPIC.format(topic=CATEGORIES.get(topic, topic), n=len(picked))
        else:
            intro = replies.QUIZ_INTRO.format(n=len(picked))
        if contest is not None:
            state["contest"] = contest.id
            intro += "\n" + replies.QUIZ_CONTEST_ROUND.format(title=contest.title)
        return self._ask(state, intro)

    def record(self, channel: str, user_key: str, step: Step) -> str | None:
        """Record a finished contest round; the sentence telling the citizen whether it counted
        (None when the round was not a contest round)."""
        final = step.result
        contest_id = final.get("contest") if final else None
        if final is None or not contest_id or final.get("kind") != "round" or self.recorder is None:
            return None
        outcome = self.recorder(channel, user_key, str(contest_id), int(final.get("score", 0)),
                                len(final.get("ids", [])))
        contest = self.contests.get(str(contest_id)) if self.contests is not None else None
        title = contest.title if contest is not None else str(contest_id)
        sentence = {"counted": replies.QUIZ_CONTEST_COUNTED, "no_commune": replies.QUIZ_CONTEST_NO_COMMUNE,
                    "already": replies.QUIZ_CONTEST_ALREADY}.get(outcome)
        return sentence.format(title=title) if sentence else None

    def answer(self, quiz: dict[str, Any], index: int, number: int) -> Step | None:
        """Score option `number` (1-based, as shown) of question `index`. None when `index` is not
        the question being asked (already answered)."""
        i = int(quiz.get("i", 0))
        ids, orders = quiz.get("ids", []), quiz.get("orders", [])
        if index != i or i >= len(ids):
            return None
        question = self.bank.get(ids[i])
        state = dict(quiz, i=i + 1, wrong=list(quiz.get("wrong", [])))
        if question is None:  # removed from the bank meanwhile: skip it without a score
            state["ids"] = ids[:i] + ids[i + 1:]
            state["orders"] = orders[:i] + orders[i + 1:]
            state["i"] = i
            return self._ask(state, "")
        order = orders[i]
        chosen = order[number - 1] + 1 if 1 <= number <= len(order) else None
        if chosen == question.answer:
            state["score"] = int(quiz.get("score", 0)) + 1
            feedback = replies.QUIZ_RIGHT
        else:
            state["wrong"].append(question.id)
            feedback = replies.QUIZ_WRONG.format(option=question.right_option)
        return self._ask(state, f"{feedback}\n{question.explanation}")

    def options_count(self, quiz: dict[str, Any]) -> int:
        i, orders = int(quiz.get("i", 0)), quiz.get("orders", [])
        return len(orders[i]) if i < len(orders) else 0

    def _ask(self, state: dict[str, Any], before: str) -> Step:
        i, ids = state["i"], state["ids"]
        while i < len(ids) and self.bank.get(ids[i]) is None:  # skip questions removed since
            del ids[i], state["orders"][i]
        if i >= len(ids):
            return self._finish(state, before)
        question = self.bank.get(ids[i])
        assert question is not None
        options = [question.options[k] for k in state["orders"][i]]
        text = replies.QUIZ_QUESTION.format(i=i + 1, n=len(ids), question=question.question)
        return Step(f"{before}\n\n{text}" if before else text, options, state, index=i)

    def _finish(self, state: dict[str, Any], before: str) -> Step:
        n, score = len(state["ids"]), int(state["score"])
        total = (replies.QUIZ_SCORE_ALL if score == n and n else replies.QUIZ_SCORE).format(score=score, n=n)
        wrong = set(state.get("wrong", []))
        ordered = sorted(state["ids"], key=lambda qid: qid not in wrong)  # missed ones first
        read_more: list[tuple[str, str]] = []
        for qid in ordered:
            q = self.bank.get(qid)
            if q is None or not q.faq_id or any(f == q.faq_id for f, _ in read_more):
                continue
            title = self.faq_question(q.faq_id)
            if title:
                read_more.append((q.faq_id, title))
            if len(read_more) == READ_MORE:
                break
        text = f"{before}\n\n{total}" if before else total
        return Step(text, [], None, read_more, result=state)
