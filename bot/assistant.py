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
from sqlalchemy.exc import SQLAlchemyError

from bot import commands
from bot.chitchat import detect as detect_chitchat
from bot.citizens import CitizenStore, MemoryCitizens, SqlCitizens
from bot.config import Settings
from bot.decide import Decided, decide
from bot.privacy import hash_user, load_secret_key, redact
from bot.replies import citizens as replies
from bot.retrieval import Index, RetrievalParams
from bot.second_stage import second_stage_for
from bot.storage import QuestionRecord, ReviewRequest, Store
from bot.subscriptions import Subscriptions
from bot.types import Candidate, CommuneReply, Message, Reply, Suggestion
from indexer.communes import Commune, Communes, former_named
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


def load_communes_file(path: Path) -> Communes:
    """The province's communes; none (every question goes to the provincial review chats) when
    the file is missing. A file with errors stops the start with its file:line messages."""
    if not path.exists():
        log.warning("communes: %s not found; citizens cannot tell their commune", path)
    return Communes.load_if_present(path)


def retrieval_params(settings: Settings, faq: Path | None = None) -> RetrievalParams:
    """The scoring parameters, with the newest tuned second stage when there is one (preferably
    tuned on `faq`, by default the configured FAQ file)."""
    weight = settings.second_stage_weight
    stage = second_stage_for(settings.model_dir, settings.embedding_model, settings.embedding_backend,
                             faq or settings.faq) if weight > 0 else None
    return RetrievalParams(dense_weight=settings.dense_weight, lexical_scale=settings.lexical_scale,
                           coverage_rank=settings.coverage_rank, knowledge_bonus=settings.knowledge_bonus,
                           type_penalty=settings.type_penalty, restore_diacritics=settings.restore_diacritics,
                           second_stage=stage, second_stage_weight=weight)


class Assistant:
    def __init__(self, settings: Settings, index: Index, store: Store | None = None,
                 secret_key: bytes | None = None, *, communes: Communes | None = None,
                 citizens: CitizenStore | None = None):
        self.settings = settings
        self._index = index
        self.store = store
        self._key = secret_key or (load_secret_key(settings.secret_key, settings.data_dir) if store else b"")
        self._swap_lock = threading.Lock()
        self.communes = communes if communes is not None else load_communes_file(settings.communes)
        self.citizens: CitizenStore = citizens if citizens is not None else (
            SqlCitizens(store.sessions, store.ensure_schema) if store is not None else MemoryCitizens())
        self.subscriptions = Subscriptions(store.sessions, store.ensure_schema) if store is not None else None

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
            self._count_chitchat(message)
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
            return Reply(question, "faq", t.answer.strip(), d.score, faq_id=t.id, source=t.source,
                         matched=t.question)
        if d.kind == "knowledge" and best:
            t = index.target(best.target)
            assert t is not None
            text = replies.KNOWLEDGE_PREFIX.format(source=t.source) + "\n" + t.answer.strip()
            return Reply(question, "knowledge", text, d.score, source=t.source, passage_id=t.id)
        if d.kind == "clarify":
            sugg = tuple(Suggestion(c.target, index.target(c.target).question)  # type: ignore[union-attr]
                         for c in d.suggestions)
            if len(sugg) == 1:  # one plausible entry: ask to confirm it rather than list it
                return Reply(question, "clarify", replies.CONFIRM.format(question=sugg[0].question), d.score,
                             suggestions=sugg)
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
            commune=self._commune_code(message),
        )
        review = self._review(message, "unanswered", reply.question) if reply.kind == "unanswered" else None
        log_id = self.store.log_question(record, review)
        return replace(reply, log_id=log_id)

    def _count_chitchat(self, message: Message) -> None:
        """Small talk is counted for the reports (time, channel, kind, hashed user, commune) but its
        text is never stored (docs/privacy.md). The reply keeps no log id: nothing to rate."""
        if self.store is None:
            return
        self.store.log_question(QuestionRecord(
            channel=message.channel, user_hash=hash_user(self._key, message.channel, message.user_id),
            text="", normalized="", kind="chitchat", faq_id=None, score=0.0,
            commune=self._commune_code(message)))

    def _review(self, message: Message, reason: str, text: str) -> ReviewRequest:
        return ReviewRequest(reason, message.channel, message.chat_id or None, redact(text),
                             self._commune_code(message))

    def _commune_code(self, message: Message) -> str | None:
        if not message.user_id:
            return None
        code = self.citizens.commune(message.channel, self.user_key(message.channel, message.user_id))
        return code if self.communes.get(code) else None  # a unit removed from the file: the province

    # --- follow-ups from channels --------------------------------------------------------------
    def answer_faq(self, faq_id: str, message: Message) -> Reply:
        """The citizen picked an entry (a suggestion or a topic question): answer and log it."""
        t = self._index.target(faq_id)
        if t is None or t.kind != "faq":
            return Reply(message.text, "unanswered", replies.UNANSWERED_NOT_LOGGED)
        reply = Reply(t.question, "faq", t.answer.strip(), 1.0, faq_id=t.id, source=t.source, matched=t.question)
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

    def greeting(self, channel: str = "", user_id: str = "") -> str:
        """The greeting; it offers to tell the commune to whoever has not told it yet."""
        if self.communes.units and self.commune_of(channel, user_id) is None:
            return replies.GREETING + "\n\n" + replies.COMMUNE_OFFER
        return replies.GREETING

    # --- the citizen's commune -----------------------------------------------------------------
    def commune_of(self, channel: str, user_id: str) -> Commune | None:
        if not user_id:
            return None
        return self.communes.get(self.citizens.commune(channel, self.user_key(channel, user_id)))

    def commune_prompt(self, channel: str, user_id: str) -> str:
        """What "đổi xã" asks: the next message is then read as a commune name."""
        current = self.commune_of(channel, user_id)
        return replies.COMMUNE_ASK_CURRENT.format(label=current.label) if current else replies.COMMUNE_ASK

    def choose_commune(self, text: str, channel: str, user_id: str) -> CommuneReply:
        """Read a message sent after the commune prompt as a commune name."""
        words = " ".join(text.lower().strip(" .!?,;:…\"'").split())
        if commands.match(text) is not None:  # "trợ giúp", "menu": a command, not a name
            return CommuneReply("not_a_name")
        if words in replies.COMMUNE_SKIP_WORDS:
            return CommuneReply("skipped", replies.COMMUNE_SKIPPED)
        found = self.communes.match(text)
        if found.kind == "one" and found.commune is not None:
            confirm = self.set_commune(found.commune.code, channel, user_id)
            if found.via is not None and found.via.label.lower() != found.commune.label.lower():
                via = replies.COMMUNE_VIA.format(former=found.via.label[:1].upper() + found.via.label[1:],
                                                 label=found.commune.label)
                confirm = f"{via} {confirm}"
            return CommuneReply("set", confirm, found.commune.code)
        if found.kind == "choices":
            options = tuple((c.code, self._choice_label(c, text)) for c in found.communes)
            return CommuneReply("choices", replies.COMMUNE_CHOICES, options=options)
        if len(text.split()) > 6 or "?" in text:  # a question, not a name: it goes on to be answered
            return CommuneReply("not_a_name")
        shown = " ".join(text.split())[:60]
        return CommuneReply("retry", replies.COMMUNE_NOT_FOUND.format(text=shown))

    @staticmethod
    def _choice_label(commune: Commune, typed: str) -> str:
        """A choice's label; says which former unit it holds when that is what was typed."""
        former = former_named(commune, typed)
        if former is not None and former.label.lower() != commune.label.lower():
            return replies.COMMUNE_CHOICE_VIA.format(label=commune.label, former=former.label)
        return commune.label

    def set_commune(self, code: str, channel: str, user_id: str) -> str:
        """Remember the citizen's commune (a code of the file); the confirmation to send."""
        commune = self.communes.get(code)
        if commune is None:
            return replies.COMMUNE_ASK
        self.citizens.set_commune(channel, self.user_key(channel, user_id), commune.code)
        return replies.COMMUNE_SET.format(label=commune.label)

    # --- bulletins and personal data ----------------------------------------------------------
    def subscribe(self, channel: str, user_id: str, chat_id: str) -> str:
        """Opt in to bulletins; the reply says what they will get and how to stop."""
        if self.subscriptions is None or not user_id or not chat_id:
            return replies.SERVICE_UNAVAILABLE
        try:
            new = self.subscriptions.subscribe(channel, self.user_key(channel, user_id), chat_id)
        except SQLAlchemyError as exc:
            log.warning("subscriptions: database unavailable (%s)", type(exc).__name__)
            return replies.SERVICE_UNAVAILABLE
        return replies.SUBSCRIBED if new else replies.ALREADY_SUBSCRIBED

    def unsubscribe(self, channel: str, user_id: str) -> str:
        """Opt out (the chat id is deleted at once); the confirmation."""
        if self.subscriptions is None or not user_id:
            return replies.SERVICE_UNAVAILABLE
        try:
            was = self.subscriptions.unsubscribe(channel, self.user_key(channel, user_id))
        except SQLAlchemyError as exc:
            log.warning("subscriptions: database unavailable (%s)", type(exc).__name__)
            return replies.SERVICE_UNAVAILABLE
        return replies.UNSUBSCRIBED if was else replies.NOT_SUBSCRIBED

    def my_data(self, channel: str, user_id: str) -> str:
        """What the bot keeps about the citizen (/dulieu)."""
        if self.subscriptions is None or not user_id:
            return replies.SERVICE_UNAVAILABLE
        try:
            report = self.subscriptions.report(channel, self.user_key(channel, user_id))
        except SQLAlchemyError as exc:
            log.warning("personal data: database unavailable (%s)", type(exc).__name__)
            return replies.SERVICE_UNAVAILABLE
        commune = self.communes.get(report.commune)
        text = replies.MY_DATA.format(
            commune=commune.label if commune else (report.commune or replies.MY_DATA_NO_COMMUNE),
            subscription=replies.MY_DATA_SUBSCRIBED if report.subscribed else replies.MY_DATA_NOT_SUBSCRIBED,
            questions=report.questions, waiting=report.waiting)
        if report.quiz_rounds:  # the contest rounds, before the closing line on erasing
            head, _, last = text.rpartition("\n")
            text = f"{head}\n{replies.MY_DATA_QUIZ.format(rounds=report.quiz_rounds)}\n{last}"
        return text

    def erase_my_data(self, channel: str, user_id: str, chat_id: str = "") -> str:
        """Delete what the bot keeps about the citizen (/xoadulieu, after the confirmation)."""
        if self.subscriptions is None or not user_id:
            return replies.SERVICE_UNAVAILABLE
        try:
            self.subscriptions.erase(channel, self.user_key(channel, user_id), chat_id)
        except SQLAlchemyError as exc:
            log.warning("personal data: database unavailable (%s)", type(exc).__name__)
            return replies.SERVICE_UNAVAILABLE
        return replies.ERASED

    def categories(self) -> list[tuple[str, str]]:
        present = {t.category for t in self._index.targets if t.kind == "faq" and t.category}
        return [(c, label) for c, label in CATEGORIES.items() if c in present]

    def topic_questions(self, category: str, limit: int = 8) -> list[Suggestion]:
        return [Suggestion(t.id, t.question) for t in self._index.targets
                if t.kind == "faq" and t.category == category][:limit]
