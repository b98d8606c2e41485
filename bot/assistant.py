"""The channel-agnostic core: `Assistant.handle(message) -> Reply`.

Pipeline, top to bottom: normalise -> small talk? -> retrieve -> decide -> reply -> log.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from dataclasses import replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bot.chitchat import detect as detect_chitchat
from bot.config import Settings
from bot.decide import Decided, decide
from bot.privacy import hash_user, load_secret_key, redact
from bot.replies import citizens as replies
from bot.retrieval import Index, RetrievalParams
from bot.storage import QuestionRecord, ReviewRequest, Store
from bot.types import Candidate, Message, Reply, Suggestion
from indexer.faq import CATEGORIES
from indexer.text import MAX_QUESTION_CHARS, views

log = logging.getLogger(__name__)

_CHITCHAT = {
    "greeting": replies.GREETING,
    "thanks": replies.THANKS,
    "goodbye": replies.GOODBYE,
    "identity": replies.IDENTITY,
    "ack": replies.ACK,
}


def retrieval_params(settings: Settings) -> RetrievalParams:
    return RetrievalParams(dense_weight=settings.dense_weight, lexical_scale=settings.lexical_scale,
                           coverage_rank=settings.coverage_rank, knowledge_bonus=settings.knowledge_bonus,
                           type_penalty=settings.type_penalty)


class Assistant:
    def __init__(self, settings: Settings, index: Index, store: Store | None = None,
                 secret_key: bytes | None = None):
        self.settings = settings
        self._index = index
        self.store = store
        self._key = secret_key or (load_secret_key(settings.secret_key, settings.data_dir) if store else b"")
        self._swap_lock = threading.Lock()

    # --- construction ------------------------------------------------------------------------
    @classmethod
    def from_settings(cls, settings: Settings, index_dir: Path | None = None, log_questions: bool = True,
                      embedder=None) -> Assistant:
        from indexer.embedder import embedder_for

        embedder = embedder or embedder_for(settings)
        index = Index.open(index_dir or settings.resolved_index_dir, embedder, retrieval_params(settings))
        store = Store(settings.resolved_db_url, settings.data_dir / "spool.jsonl") if log_questions else None
        return cls(settings, index, store)

    @property
    def index(self) -> Index:
        return self._index

    def swap_index(self, index: Index) -> None:
        """Replace the index atomically: requests in flight finish on the old one."""
        with self._swap_lock:
            self._index = index

    # --- the pipeline ------------------------------------------------------------------------
    def handle(self, message: Message, query_vec: NDArray[np.float32] | None = None) -> Reply:
        """Answer one message. `query_vec`: the question's embedding when the caller computed it
        already (batched answering, `bot.batch`); otherwise the index embeds the question."""
        raw = (message.text or "")[: 4 * MAX_QUESTION_CHARS]  # bounded work and cache keys
        question = unicodedata.normalize("NFC", raw)[:MAX_QUESTION_CHARS]
        v = views(raw)
        if not v.has_content:
            return Reply(question, "unanswered", replies.EMPTY)
        intent = detect_chitchat(v.folded)
        if intent:
            return Reply(question, "chitchat", _CHITCHAT[intent])
        index = self._index
        candidates = index.search(v, query_vec=query_vec)
        decided = decide(candidates, self.settings.thresholds)
        reply = self._reply(question, decided, index)
        return self._log(message, v.normalized, reply, candidates)

    def _reply(self, question: str, d: Decided, index: Index) -> Reply:
        best = d.best
        if d.kind == "faq" and best:
            t = index.target(best.target)
            assert t is not None
            return Reply(question, "faq", t.answer.strip(), d.score, faq_id=t.id, source=t.source)
        if d.kind == "knowledge" and best:
            t = index.target(best.target)
            assert t is not None
            text = replies.KNOWLEDGE_PREFIX.format(source=t.source) + "\n" + t.answer.strip()
            return Reply(question, "knowledge", text, d.score, source=t.source)
        if d.kind == "clarify":
            sugg = tuple(Suggestion(c.target, index.target(c.target).question)  # type: ignore[union-attr]
                         for c in d.suggestions)
            lines = [replies.CLARIFY] + [f"{i}. {s.question}" for i, s in enumerate(sugg, 1)]
            return Reply(question, "clarify", "\n".join(lines), d.score, suggestions=sugg)
        text = replies.UNANSWERED if self.store else replies.UNANSWERED_NOT_LOGGED
        return Reply(question, "unanswered", text, d.score)

    def _log(self, message: Message, normalized: str, reply: Reply, candidates: list[Candidate]) -> Reply:
        if self.store is None:
            return reply
        record = QuestionRecord(
            channel=message.channel,
            user_hash=hash_user(self._key, message.channel, message.user_id),
            text=redact(reply.question),
            normalized=redact(normalized),
            kind=reply.kind,
            faq_id=reply.faq_id,
            score=float(reply.score),
            candidates=tuple((c.target, c.confidence) for c in candidates[:5]),
        )
        review = self._review(message, "unanswered", reply.question) if reply.kind == "unanswered" else None
        log_id = self.store.log_question(record, review)
        return replace(reply, log_id=log_id)

    def _review(self, message: Message, reason: str, text: str) -> ReviewRequest:
        return ReviewRequest(reason, message.channel, message.chat_id or None, redact(text))

    # --- follow-ups from channels --------------------------------------------------------------
    def answer_faq(self, faq_id: str, message: Message) -> Reply:
        """The citizen picked an entry (a suggestion or a topic question): answer and log it."""
        t = self._index.target(faq_id)
        if t is None or t.kind != "faq":
            return Reply(message.text, "unanswered", replies.UNANSWERED_NOT_LOGGED)
        reply = Reply(t.question, "faq", t.answer.strip(), 1.0, faq_id=t.id, source=t.source)
        return self._log(message, views(t.question).normalized, reply, [])

    def reject_suggestions(self, log_id: int | None, message: Message) -> Reply:
        """The citizen said none of the suggestions fit: queue the question for review."""
        text = message.text
        if self.store is not None:
            if log_id is not None:
                q = self.store.question(log_id)
                text = q.text if q else text
            self.store.add_review(log_id, self._review(message, "rejected", text))
        return Reply(text, "unanswered", replies.REJECTED)

    def feedback(self, log_id: int, helpful: bool, message: Message) -> None:
        if self.store is None:
            return
        self.store.set_feedback(log_id, helpful)
        if not helpful:
            q = self.store.question(log_id)
            self.store.add_review(log_id, self._review(message, "thumbs_down", q.text if q else message.text))

    def user_key(self, channel: str, user_id: str) -> str:
        """The keyed hash that stands for a citizen in storage (never the raw id)."""
        return hash_user(self._key or b"trolyso", channel, user_id)

    def greeting(self) -> str:
        return replies.GREETING

    def categories(self) -> list[tuple[str, str]]:
        present = {t.category for t in self._index.targets if t.kind == "faq" and t.category}
        return [(c, label) for c, label in CATEGORIES.items() if c in present]

    def topic_questions(self, category: str, limit: int = 8) -> list[Suggestion]:
        return [Suggestion(t.id, t.question) for t in self._index.targets
                if t.kind == "faq" and t.category == category][:limit]
