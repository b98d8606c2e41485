"""Restore the diacritics of a question typed without them, from the index's own vocabulary.

e5-small reads unaccented Vietnamese poorly: on XQuAD-vi questions asked without diacritics,
dense-only recall@1 falls from 0.69 to 0.22 even though every passage also has a folded vector
(docs/benchmarks.md, "Trust levers"). The lexical channel is folded and does not care, but the
dense one then adds noise. So before the dense encoder, a question's unaccented syllables are
given back their most likely accented form: the candidates of a folded syllable are the accented
syllables of the FAQ wordings, FAQ answers and passages that fold to it (plus itself, if it occurs
unaccented), and a bigram Viterbi over those texts picks the sequence (interpolated with the
unigram frequency, so an unseen pair still gets the commoner syllable). Syllables with no
accented form in the index are kept as typed; accented ones are kept too. Only the text given to
the dense encoder changes: BM25, fuzzy matching, coverage and the question-type check keep using
the question's own views.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

from indexer.text import canonical_tones, fold, has_diacritics

_WORD = re.compile(r"[^\W\d_]+")
_BIGRAM_WEIGHT = 0.7
_UNSEEN = 0.1  # pseudo-count of a syllable the vocabulary never saw


def vocabulary_tokens(text: str) -> list[str]:
    """Lower-case alphabetic syllables of a text, with canonical tone placement."""
    return _WORD.findall(canonical_tones(unicodedata.normalize("NFC", text)).lower())


class Restorer:
    """Unigram and bigram counts of accented text; `restore` puts diacritics back."""

    def __init__(self, texts: Iterable[str]):
        self.c1: Counter[str] = Counter()
        self.c2: Counter[tuple[str, str]] = Counter()
        for text in texts:
            if not has_diacritics(text):
                continue
            toks = vocabulary_tokens(text)
            self.c1.update(toks)
            self.c2.update(zip(toks, toks[1:], strict=False))
        self.n = sum(self.c1.values()) + 1
        cands: dict[str, list[str]] = {}
        for w in self.c1:
            f = fold(w)
            if f != w:
                cands.setdefault(f, []).append(w)
        for f, ws in cands.items():
            if f in self.c1:
                ws.append(f)
        self.candidates = cands

    def _p(self, prev: str, w: str) -> float:
        uni = (self.c1.get(w, 0) + _UNSEEN) / self.n
        big = self.c2.get((prev, w), 0) / self.c1[prev] if self.c1.get(prev) else 0.0
        return math.log(_BIGRAM_WEIGHT * big + (1 - _BIGRAM_WEIGHT) * uni)

    def restore(self, normalized: str) -> str:
        """The text with unaccented syllables replaced by their likeliest accented form
        (space-separated tokens, as `indexer.text.views(...).normalized` gives them)."""
        toks = normalized.split()
        if not toks or not any(t in self.candidates for t in toks):
            return normalized
        lattice = [self.candidates.get(t) or [t] for t in toks]
        best: dict[str, tuple[float, list[str]]] = {
            w: (math.log((self.c1.get(w, 0) + _UNSEEN) / self.n), [w]) for w in lattice[0]}
        for options in lattice[1:]:
            nxt = {}
            for w in options:
                score, path = max(((s + self._p(prev, w), pth) for prev, (s, pth) in best.items()),
                                  key=lambda x: x[0])
                nxt[w] = (score, [*path, w])
            best = nxt
        return " ".join(max(best.values(), key=lambda x: x[0])[1])
