"""Channel-agnostic message and reply types: the contract between channels and the core."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from indexer.targets import TargetKind

Kind = Literal["faq", "knowledge", "clarify", "chitchat", "unanswered"]
KINDS: tuple[Kind, ...] = ("faq", "knowledge", "clarify", "chitchat", "unanswered")


@dataclass(frozen=True)
class Message:
    """One citizen message as any channel sees it."""

    text: str
    channel: str = "cli"  # "telegram", "zalo", "cli", ...
    user_id: str = ""  # raw channel user id; hashed before storage
    chat_id: str = ""  # raw chat id; kept only on open review items


@dataclass(frozen=True)
class Suggestion:
    faq_id: str
    question: str


@dataclass(frozen=True)
class Candidate:
    """One retrieval candidate (an FAQ entry or a knowledge passage) with its scores."""

    target: str  # faq id, or "kb:<chunk id>"
    kind: TargetKind
    confidence: float  # absolute confidence in [0, 1], used for the decision
    rank_score: float  # per-query fused score, used for ranking
    cosine: float = 0.0
    lexical: float = 0.0
    fuzzy: float = 0.0
    coverage: float = 1.0  # idf-weighted share of the question's words found in the target
    type_mismatch: bool = False  # the question asks a type (cost, time, place...) the target does not cover


@dataclass(frozen=True)
class Reply:
    """What the assistant answers; channels only render it."""

    question: str
    kind: Kind
    answer: str
    score: float = 0.0
    faq_id: str | None = None
    source: str | None = None
    suggestions: tuple[Suggestion, ...] = ()
    log_id: int | None = None  # id of the stored question record, if logged
    matched: str | None = None  # FAQ answers: the FAQ question answered, shown first to the citizen
    passage_id: str | None = None  # knowledge answers: the passage answered ("kb:<passage id>"), for `trolyso eval`

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "kind": self.kind,
            "faq_id": self.faq_id,
            "answer": self.answer,
            "score": round(float(self.score), 4),
            "source": self.source,
            "suggestions": [{"faq_id": s.faq_id, "question": s.question} for s in self.suggestions],
        }


@dataclass(frozen=True)
class CommuneReply:
    """The core's answer to a commune name typed by a citizen (channels only render it).

    kind: "set" (remembered; `code` is the commune), "choices" (`options`: (code, label) pairs to
    pick from), "retry" (not found: the prompt stays open), "skipped" (the citizen gave up), or
    "not_a_name" (the message is something else, e.g. a question: it falls through).
    """

    kind: Literal["set", "choices", "retry", "skipped", "not_a_name"]
    text: str = ""
    code: str | None = None
    options: tuple[tuple[str, str], ...] = ()
