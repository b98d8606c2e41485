"""The normalised text of every target, derived once and kept between builds.

`indexer.text.views` costs about 0.1 ms for a question and 1 ms for a long answer: seconds for a
10,000-entry FAQ. Every build stores what it derived in `texts.json`, keyed by a hash of the
target's text and of the code deriving it (indexer/text.py, indexer/teencode.py, and indexer/bm25.py for the
term counts kept under the same keys), so a re-index derives only the entries that changed, and
`Index` reads the file instead of deriving it all again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import indexer.bm25
import indexer.teencode
import indexer.text
from indexer.targets import Target
from indexer.text import lexical_terms, views


@lru_cache(maxsize=1)
def code_version() -> str:
    """Hash of the normalisation code: derived text from another version is not reused."""
    h = hashlib.sha1()
    for module in (indexer.text, indexer.teencode, indexer.bm25):
        h.update(Path(module.__file__ or "").read_bytes())
    return h.hexdigest()


@dataclass(frozen=True)
class TargetText:
    """Normalised and folded wordings of one target (FAQ question + alternates, or a heading)
    and its folded answer (or passage)."""

    raw: tuple[str, ...]  # the wordings as written
    wordings: tuple[tuple[str, str], ...]  # (normalized, folded) of each
    answer: str  # folded
    learned: tuple[tuple[str, str], ...] = ()  # (normalized, folded) of each learned wording (FaqEntry.learned)

    def lexical_doc(self) -> list[str]:
        """Folded syllables + bigrams of every wording, learned ones included, and the answer
        (answers help a lot)."""
        terms: list[str] = []
        for _, folded in self.wordings + self.learned:
            terms += lexical_terms(folded)
        return terms + lexical_terms(self.answer)

    def words(self) -> frozenset[str]:
        """The folded syllables the target contains (for the coverage feature)."""
        return frozenset(w for _, f in self.wordings for w in f.split()) | frozenset(self.answer.split())


def target_key(t: Target) -> str:
    raw = json.dumps([code_version(), t.kind, t.question, list(t.alternates), t.answer, list(t.learned)],
                     ensure_ascii=False)
    return hashlib.sha1(raw.encode()).hexdigest()


def wordings(t: Target) -> tuple[str, ...]:
    return (t.question, *t.alternates) if t.kind == "faq" else (t.question,)


class TextCache:
    """target key -> TargetText, read from and written to a build's texts.json; also the
    normalised form of every wording it holds (the FAQ validator's duplicate check uses it)."""

    FILE = "texts.json"

    def __init__(self, texts: dict[str, TargetText] | None = None):
        self.texts = texts or {}
        self.order = list(self.texts)  # the build's targets, in order
        self._wording = {r: w for tt in self.texts.values() for r, w in zip(tt.raw, tt.wordings, strict=True)}

    @classmethod
    def load(cls, build: Path | None) -> TextCache:
        try:
            data = json.loads((build / cls.FILE).read_text(encoding="utf-8")) if build else None
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict) or data.get("code") != code_version():
            return cls()
        try:
            return cls({k: TargetText(tuple(r), tuple(map(tuple, w)), a, tuple(map(tuple, lw)))
                        for k, r, w, a, lw in data["targets"]})
        except (KeyError, TypeError, ValueError):
            return cls()

    def wording(self, text: str) -> tuple[str, str]:
        """(normalized, folded) of a question or alternate."""
        w = self._wording.get(text)
        if w is None:
            v = views(text)
            w = self._wording[text] = (v.normalized, v.folded)
        return w

    def folded(self, text: str) -> str:
        return self.wording(text)[1]

    def derive(self, t: Target) -> TargetText:
        raw = wordings(t)
        return TargetText(raw, tuple(map(self.wording, raw)), views(t.answer).folded,
                          tuple(map(self.wording, t.learned)))

    def lookup(self, targets: list[Target]) -> tuple[list[str], list[TargetText]]:
        """Keys and derived text of the targets; only targets not in the cache are derived."""
        keys = [target_key(t) for t in targets]
        texts = []
        for key, t in zip(keys, targets, strict=True):
            tt = self.texts.get(key)
            if tt is None:
                tt = self.texts[key] = self.derive(t)
            texts.append(tt)
        return keys, texts

    @classmethod
    def save(cls, build: Path, keys: list[str], texts: list[TargetText]) -> None:
        rows = [[k, tt.raw, tt.wordings, tt.answer, tt.learned] for k, tt in zip(keys, texts, strict=True)]
        (build / cls.FILE).write_text(json.dumps({"code": code_version(), "targets": rows}, ensure_ascii=False),
                                       encoding="utf-8")


def derive(t: Target) -> TargetText:
    """The derived text of one target, without a cache."""
    return TextCache().derive(t)
