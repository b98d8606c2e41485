"""The second stage: the encoder tuned on the FAQ and the teams' decisions (`trolyso model tune`,
indexer/tune.py) re-reads the question against the first stage's top FAQ candidates.

What it changes, and why that way: an FAQ candidate's confidence drops by `weight` times how much
less similar the tuned model finds it than the best of the other top candidates (0 when the
tuned model agrees). The ranking stays the first stage's: reranking by the tuned similarity
made top-1 worse on the dev set (0.783 with the first stage alone, 0.767 with conf + 1 × tuned).
As a confidence it separates right from wrong answers better (ROC AUC of the top candidate's
confidence, dev set, the tuned model trained on the dev FAQ only, weight 0.5: right vs wrong
0.758 → 0.800; right vs near miss 0.597 → 0.595, right vs out-of-scope 0.995 → 0.997), so a wrong
top answer more often becomes a clarification that lists the right entry. When the tuned model
agrees with the first stage, nothing moves: the configured thresholds keep their meaning.
Cross-validated (`--cv 10`): right-or-helped 0.800 → 0.830, confident wrong 5.8 → 5.1 %, the
same accuracy; near misses unchanged (docs/benchmarks.md, "Second stage").

Cost: one more encoding of the question (~5-10 ms, int8 ONNX, one thread), only when at least
two FAQ entries are among the candidates and the best is not a near-exact repeat; the FAQ
wordings' tuned vectors are computed once (at tune time for the FAQ of that time, stored beside
the model; then in the background for wordings edited since) and kept in memory (~1.5 KB a
wording: ~12 MB at 1,000 entries of 8 wordings and their folded forms).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bot.types import Candidate
from indexer.model_convert import BUILTIN_MODEL_NAME, MODEL_FOLDER_NAME, ModelError
from indexer.model_files import folder_fingerprint
from indexer.onnx_model import OnnxEncoder
from indexer.tune import load_wording_vectors, newest_tuned

log = logging.getLogger(__name__)

TOP = 5  # FAQ candidates re-read (the right entry is among the first stage's top 5 for 98 % of dev questions)


class SecondStage:
    """The tuned model and its wordings' vectors (the weight is a scoring parameter:
    `RetrievalParams.second_stage_weight`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.encoder = OnnxEncoder(folder)
        self._vectors: dict[str, NDArray[np.float32]] = load_wording_vectors(folder)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SecondStage({self.folder.name})"

    def encode(self, texts: list[str]) -> NDArray[np.float32]:
        return self.encoder.encode(texts, "query", 32, False, 1)

    def vectors(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Tuned vectors of FAQ wordings (memoised; a racing thread only encodes one twice)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            fresh = self.encode(missing)
            with self._lock:
                self._vectors.update(zip(missing, fresh, strict=True))
        return np.vstack([self._vectors[t] for t in texts])

    def warm(self, texts: Sequence[str]) -> None:
        """Encode wordings ahead of the first question (off the answering path)."""
        if texts:
            self.vectors(list(texts))

    def rescore(self, question: str, candidates: list[Candidate], wordings: Callable[[str], Sequence[str]],
                weight: float, fuzzy_min: float) -> list[Candidate]:
        """The candidates with the top FAQ entries' confidence lowered by `weight` times how much
        less similar the tuned model finds them than the best of them; the order is kept. A
        near-exact repeat (fuzzy ratio >= `fuzzy_min`) first is left alone."""
        top = [j for j, c in enumerate(candidates) if c.kind == "faq"][:TOP]
        if len(top) < 2 or candidates[top[0]].fuzzy >= fuzzy_min:
            return candidates
        q = self.encode([question])[0]
        sims = np.array([float((self.vectors(wordings(candidates[j].target)) @ q).max()) for j in top])
        out = list(candidates)
        for j, deficit in zip(top, sims.max() - sims, strict=True):  # 0 for the one it prefers
            if deficit > 0:
                out[j] = replace(candidates[j], confidence=max(0.0, candidates[j].confidence - weight * float(deficit)))
        return out


_loaded: dict[Path, SecondStage] = {}
_loaded_lock = threading.Lock()


def base_folder(model_dir: Path, embedding_model: str) -> Path | None:
    """The encoder folder a tuned copy starts from: the converted built-in model, or a local folder."""
    if embedding_model == BUILTIN_MODEL_NAME:
        return Path(model_dir).expanduser() / MODEL_FOLDER_NAME
    path = Path(embedding_model).expanduser()
    return path if path.is_dir() else None


def second_stage_for(model_dir: Path, embedding_model: str, backend: str,
                     faq: Path | None = None) -> SecondStage | None:
    """The newest tuned model made from the current encoder on the FAQ file `faq`, loaded once
    per folder; None when there is none (the first stage decides alone) or on the torch backend
    (the tuned copy is served from its ONNX export only)."""
    if backend != "onnx":
        return None
    base = base_folder(model_dir, embedding_model)
    if base is None or not (base / "config.json").exists():
        return None
    folder = newest_tuned(model_dir, folder_fingerprint(base), faq)
    if folder is None:
        return None
    with _loaded_lock:
        stage = _loaded.get(folder)
        if stage is None:
            try:
                stage = _loaded[folder] = SecondStage(folder)
            except ModelError as exc:
                log.warning("second stage: %s; answering with the first stage alone", exc)
                return None
            log.info("second stage: %s", folder)
        return stage
