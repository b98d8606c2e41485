"""Grouping maths of the review queue (pure functions): which pending questions are the same.

A question joins the pending group whose centroid it is closest to, when the cosine reaches
`review_group_cosine` (0.95: measured on the dev set's paraphrase pairs, high enough that two
different questions about one service stay apart). Unaccented questions also need shared words,
because the model's cosines run high between unrelated unaccented texts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz

from bot.retrieval import STOPWORDS
from indexer.text import views

SAME_WORDING = 90.0  # rapidfuzz ratio of two folded texts from which they are the same wording
UNACCENTED_OVERLAP = 0.3  # word overlap (Jaccard) a question typed without accents also needs


def content_words(folded: str) -> frozenset[str]:
    return frozenset(w for w in folded.split() if w not in STOPWORDS)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


@dataclass
class Pending:
    """A pending group while items are being assigned."""

    id: int
    centroid: np.ndarray
    size: int
    folded: str
    words: frozenset[str]
    accented: bool


@dataclass(frozen=True)
class Wording:
    text: str
    normalized: str
    folded: str
    words: frozenset[str]

    @property
    def accented(self) -> bool:
        return self.normalized != self.folded

    @classmethod
    def of(cls, text: str) -> Wording:
        v = views(text)
        return cls(text, v.normalized or text, v.folded, content_words(v.folded))


def unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def similarity(wording: Wording, vec: np.ndarray, group: Pending, threshold: float) -> float | None:
    """How close a question is to a group, or None when it does not belong to it.

    The cosine to the group's centroid must reach `threshold` (`review_group_cosine`); a question typed
    without accents (on which the model's cosines run high for unrelated questions) must also
    share words with the group. The same wording up to accents or typos always belongs."""
    if wording.folded and fuzz.ratio(wording.folded, group.folded) >= SAME_WORDING:
        return 2.0
    cos = float(group.centroid @ vec)
    if cos < threshold:
        return None
    if not (wording.accented and group.accented) and jaccard(wording.words, group.words) < UNACCENTED_OVERLAP:
        return None
    return cos
