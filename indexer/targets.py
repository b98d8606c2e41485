"""What the assistant can answer with: one FAQ entry or one knowledge passage.

Its own module because the build (`indexer.build`), the text cache (`indexer.text_cache`) and the
serving index (`bot.retrieval`) all speak of it, and none of them should import another for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TargetKind = Literal["faq", "knowledge"]


@dataclass(frozen=True)
class Target:
    """Something the assistant can answer with."""

    id: str  # FAQ id, or "kb:<passage id>"
    kind: TargetKind
    question: str  # FAQ question, or the passage heading
    answer: str  # FAQ answer, or the passage text
    source: str | None
    category: str | None = None
    alternates: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    learned: tuple[str, ...] = ()  # citizens' wordings taught by the review loop (indexer/learned.py)
