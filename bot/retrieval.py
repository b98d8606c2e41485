"""Load an index build and retrieve candidates: dense (FAISS) + lexical (BM25) + fuzzy (rapidfuzz).

Ranking and deciding use different scores (see ../shared/research/retrieval-levers.md):
- rank: z-score fusion of the dense cosine and the BM25 score over the candidate pool;
- confidence (absolute, in [0, 1]): w * cosine + (1 - w) * min(1, BM25 / K), raised to the
  fuzzy ratio when a question is a near-exact (typo) match;
- a candidate that does not cover what the question asks for (a cost, a time, a place, ...:
  indexer/question_type.py) has its confidence lowered by `type_penalty` (never its rank);
- with a tuned model (`trolyso model tune`), the second stage lowers the confidence of top FAQ
  candidates the tuned encoder finds less similar than another of them (bot/second_stage.py).
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from bot.types import Candidate
from indexer.bm25 import BM25
from indexer.build import FORMAT, current_build, faq_dense_texts, fuzzy_docs
from indexer.diacritics import Restorer
from indexer.question_type import MISMATCH_TYPES, candidate_types, covered_types, missing_types, question_types
from indexer.targets import Target, TargetKind
from indexer.text import Views, has_diacritics, lexical_terms
from indexer.text_cache import TextCache

if TYPE_CHECKING:
    from bot.second_stage import SecondStage
    from indexer.embedder import TextEmbedder

# Question words and fillers that say nothing about what is asked (folded).
STOPWORDS = frozenset("""
a ad ah ai anh ba bac ban bao cho chi chua co con cua da day de den di duoc gi giup ha hay hoi
khi khong la lam lai len ma minh moi muon nao nay neu nguoi nhe nhieu nho nhu o oi ra roi sao
se tai the thi thoi toi tu va vao vay ve voi xin em chau cac cai cung duoc nhung mot hai nen phai
duoc biet cach vui long xem ho dang
""".split())


class IndexError_(Exception):
    """The index is missing, incomplete, corrupted or built with another model."""


@dataclass(frozen=True)
class RetrievalParams:
    dense_weight: float = 0.7
    lexical_scale: float = 12.0
    fuzzy_min: float = 0.9  # fuzzy ratio from which a typo match lifts confidence
    pool: int = 40  # candidates taken from each channel
    coverage_weight: float = 0.0  # confidence *= (1 - c) + c * coverage
    coverage_rank: float = 0.0  # weight of z(coverage) in the ranking score
    knowledge_bonus: float = 0.0  # added to passages' ranking and confidence (per-source calibration)
    type_penalty: float = 0.0  # confidence *= 1 - type_penalty when the candidate misses the asked type
    restore_diacritics: Literal["off", "unaccented", "always"] = "off"  # the dense channel's text (dense_text)
    second_stage: SecondStage | None = None  # the tuned re-reading of the top FAQ candidates (bot/second_stage.py)
    second_stage_weight: float = 0.5  # confidence -= weight x the tuned model's preference for another candidate


@dataclass(frozen=True)
class Features:
    """Raw per-candidate evidence for one question, before any weighting."""

    ids: list[int]
    kinds: list[TargetKind]
    target_ids: list[str]
    cos: np.ndarray
    bm25: np.ndarray
    fuzzy: np.ndarray
    coverage: np.ndarray
    mismatch: np.ndarray  # 1.0 where the question asks a type the candidate does not cover


def _z(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 1e-9 else np.zeros_like(x)


def score_features(f: Features, p: RetrievalParams, k: int = 10) -> list[Candidate]:
    """Rank by z-score fusion, decide by an absolute confidence (see the module docstring)."""
    if not f.ids:
        return []
    w = p.dense_weight
    is_kb = np.array([kind == "knowledge" for kind in f.kinds])
    rank = w * _z(f.cos) + (1 - w) * _z(f.bm25) + p.coverage_rank * _z(f.coverage)
    conf = w * np.clip(f.cos, 0, 1) + (1 - w) * np.minimum(1.0, f.bm25 / p.lexical_scale)
    conf = conf * ((1 - p.coverage_weight) + p.coverage_weight * f.coverage)
    conf = conf * (1 - p.type_penalty * f.mismatch * ~is_kb)
    conf = conf + p.knowledge_bonus * is_kb
    rank = rank + p.knowledge_bonus * 10 * is_kb
    typo = f.fuzzy >= p.fuzzy_min
    conf = np.where(typo, np.maximum(conf, f.fuzzy), conf)
    rank = np.where(typo, rank.max() + f.fuzzy, rank)  # a near-exact question match ranks first
    order = np.argsort(-rank, kind="stable")[:k]
    return [Candidate(f.target_ids[j], f.kinds[j], float(min(1.0, conf[j])), float(rank[j]),
                      float(f.cos[j]), float(f.bm25[j]), float(f.fuzzy[j]), float(f.coverage[j]),
                      bool(f.mismatch[j]))
            for j in order]


class Index:
    def __init__(self, path: Path, embedder: TextEmbedder, params: RetrievalParams | None = None):
        import faiss

        # Questions are searched one at a time: a second OpenMP thread does not help, and when the
        # other core is busy (another request, the database) every search waits for a descheduled
        # worker; exact search over 40k vectors took 44-48 ms on 2 threads instead of 7 ms on one
        # (bench/results/faiss.md). Process-wide: index builds in this process use one thread too.
        faiss.omp_set_num_threads(1)

        self.path = path
        self.params = params or RetrievalParams()
        manifest_file = path / "manifest.json"
        try:
            self.manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexError_(f"index at {path} is incomplete or corrupted ({exc.__class__.__name__}); "
                              "rebuild it with `trolyso index`") from exc
        if self.manifest.get("format") != FORMAT:
            raise IndexError_(f"index at {path} has an old format; rebuild it with `trolyso index`")
        # embedder None (tests only, outside the declared type): open a build to inspect it, no model check
        if embedder is not None and (self.manifest.get("model") != embedder.name
                                     or self.manifest.get("fingerprint") != embedder.fingerprint):
            raise IndexError_(
                f"index at {path} was built with model {self.manifest.get('model')!r} "
                f"({str(self.manifest.get('fingerprint'))[:12]}), but the configured model is "
                f"{embedder.name!r} ({embedder.fingerprint[:12]}); rebuild it with `trolyso index`")
        self.embedder = embedder
        try:
            self.targets = [Target(**{**t, "alternates": tuple(t["alternates"]), "tags": tuple(t["tags"]),
                                      "learned": tuple(t.get("learned", ()))})
                            for t in json.loads((path / "targets.json").read_text(encoding="utf-8"))]
            self.dense = faiss.read_index(str(path / "dense.faiss"))
            self.dense_map = np.load(path / "dense_map.npy")
            self.bm25 = BM25.load(path / "bm25.npz").ready()
        except Exception as exc:  # any damaged file: one clear message
            raise IndexError_(f"index at {path} is corrupted ({exc.__class__.__name__}: {exc}); "
                              "rebuild it with `trolyso index`") from exc
        if self.dense.ntotal != len(self.dense_map) or (self.targets and self.bm25.n_docs != len(self.targets)):
            raise IndexError_(f"index at {path} is inconsistent; rebuild it with `trolyso index`")
        self.by_id = {t.id: i for i, t in enumerate(self.targets)}
        # derived again only if the normalisation code changed since the build
        _, texts = TextCache.load(path).lookup(self.targets)
        self._terms = [tt.words() for tt in texts]
        df: dict[str, int] = {}
        for terms in self._terms:
            for w in terms:
                df[w] = df.get(w, 0) + 1
        n = max(1, len(self._terms))
        self._idf = {w: math.log(1 + n / c) for w, c in df.items()}
        self._idf_oov = math.log(1 + n)
        self.is_faq = np.array([t.kind == "faq" for t in self.targets], dtype=bool)
        self._fuzzy_choices: list[str] = []
        self._fuzzy_owner: list[int] = []
        for i, (t, tt) in enumerate(zip(self.targets, texts, strict=True)):
            for s in fuzzy_docs(t, tt):
                self._fuzzy_choices.append(s)
                self._fuzzy_owner.append(i)
        # what a target covers (question types its wordings ask or its text gives): derived on
        # first need, since ~0.17 ms a target would add ~1.7 s to opening a 10,000-entry index
        self._texts = texts
        self._types: dict[int, frozenset[str]] = {}
        # ~1 s at 10,000 entries: built here (reloads open the new index off the answering path)
        # rather than on the first unaccented question
        self._restorer: Restorer | None = None
        if self.params.restore_diacritics != "off":
            self.restorer()
        if self.params.second_stage is not None:  # the tuned vectors of the wordings, in the background
            stage = self.params.second_stage
            faq_texts = [w for i, t in enumerate(self.targets) if t.kind == "faq" for w in self.faq_wordings(i)]
            self._warming: threading.Thread | None = threading.Thread(
                target=stage.warm, args=(faq_texts,), name="second-stage-warm", daemon=True)
            self._warming.start()
        else:
            self._warming = None

    def wait_warm(self, timeout: float | None = None) -> None:
        """Wait until the second stage has encoded the FAQ wordings (benchmarks measure after it)."""
        if self._warming is not None:
            self._warming.join(timeout)

    @classmethod
    def open(cls, out: Path, embedder: TextEmbedder, params: RetrievalParams | None = None) -> Index:
        if (out / "current").exists():
            build = current_build(out)
        else:
            build = out if (out / "manifest.json").exists() else None
        if build is None:
            raise IndexError_(f"no index at {out}; build one with `trolyso index`")
        return cls(build, embedder, params)

    def __len__(self) -> int:
        return len(self.targets)

    # --- channels -------------------------------------------------------------------------
    def dense_scores(self, query_vec: np.ndarray, k: int) -> dict[int, float]:
        if self.dense.ntotal == 0:
            return {}
        k = min(self.dense.ntotal, max(k * 6, 64))
        sims, ids = self.dense.search(query_vec.reshape(1, -1).astype(np.float32), k)
        best: dict[int, float] = {}
        for s, j in zip(sims[0], ids[0], strict=True):
            if j < 0:
                continue
            t = int(self.dense_map[j])
            if s > best.get(t, -1.0):
                best[t] = float(s)
        return best

    def dense_for(self, query_vec: np.ndarray, targets: list[int]) -> dict[int, float]:
        """Exact cosine of the query to the given targets (for candidates lexical found)."""
        if not targets or self.dense.ntotal == 0:
            return {}
        want = set(targets)
        rows = np.nonzero(np.isin(self.dense_map, list(want)))[0]
        vecs = np.vstack([self.dense.reconstruct(int(r)) for r in rows])
        sims = vecs @ query_vec.astype(np.float32)
        best: dict[int, float] = {}
        for r, s in zip(rows, sims, strict=True):
            t = int(self.dense_map[r])
            best[t] = max(best.get(t, -1.0), float(s))
        return best

    def lexical_scores(self, folded: str) -> np.ndarray:
        terms = lexical_terms(folded)
        if not terms or not self.targets:
            return np.zeros(len(self.targets), dtype=np.float32)
        return self.bm25.scores(terms)

    def fuzzy_scores(self, folded: str) -> dict[int, float]:
        from rapidfuzz import fuzz, process

        if not self._fuzzy_choices or not folded:
            return {}
        hits = process.extract(folded, self._fuzzy_choices, scorer=fuzz.ratio, limit=8, score_cutoff=80)
        best: dict[int, float] = {}
        for _, score, j in hits:
            t = self._fuzzy_owner[j]
            best[t] = max(best.get(t, 0.0), score / 100.0)
        return best

    # --- search ---------------------------------------------------------------------------
    def search(self, v: Views, query_vec: np.ndarray | None = None, k: int = 10) -> list[Candidate]:
        """Ranked candidates (FAQ entries and passages) for a normalised question."""
        return self.rescore(v, score_features(self.features(v, query_vec), self.params, k))

    def rescore(self, v: Views, candidates: list[Candidate]) -> list[Candidate]:
        """The second stage over the first stage's candidates (unchanged without a tuned model)."""
        stage = self.params.second_stage
        if stage is None or not candidates:
            return candidates
        return stage.rescore(self.dense_text(v), candidates, lambda tid: self.faq_wordings(self.by_id[tid]),
                             self.params.second_stage_weight, self.params.fuzzy_min)

    def faq_wordings(self, i: int) -> list[str]:
        """What the dense channel embeds for an FAQ entry: its wordings, normalised and folded."""
        return faq_dense_texts(self._texts[i].wordings)

    def features(self, v: Views, query_vec: np.ndarray | None = None) -> Features:
        """Evidence from every channel for the candidate pool of a question."""
        if not self.targets or not v.has_content:
            return Features([], [], [], *(np.zeros(0),) * 5)
        p = self.params
        if query_vec is None:
            query_vec = self.embedder.encode_queries([self.dense_text(v)])[0]
        dense = self.dense_scores(query_vec, p.pool)
        lex = self.lexical_scores(v.folded)
        top_lex = np.argpartition(-lex, min(p.pool, len(lex) - 1))[: p.pool]
        top_dense = sorted(dense, key=dense.__getitem__, reverse=True)[: p.pool]
        pool = set(top_dense) | {int(i) for i in top_lex if lex[i] > 0}
        fuzzy = self.fuzzy_scores(v.folded)
        pool |= set(fuzzy)
        missing = [t for t in pool if t not in dense]
        dense.update(self.dense_for(query_vec, missing))
        ids = sorted(pool)
        return Features(
            ids,
            [self.targets[i].kind for i in ids],
            [self.targets[i].id for i in ids],
            np.array([dense.get(i, 0.0) for i in ids], dtype=np.float64),
            np.array([float(lex[i]) for i in ids], dtype=np.float64),
            np.array([fuzzy.get(i, 0.0) for i in ids], dtype=np.float64),
            self.coverage(v.folded, ids),
            self.type_mismatch(v.normalized, ids),
        )

    def dense_text(self, v: Views) -> str:
        """What the dense encoder reads for a question: its normalised text, with diacritics put
        back (indexer/diacritics.py) when `restore_diacritics` says so."""
        mode = self.params.restore_diacritics
        if mode == "off" or (mode == "unaccented" and has_diacritics(v.original)):
            return v.normalized
        return self.restorer().restore(v.normalized)

    def restorer(self) -> Restorer:
        """The vocabulary of the index's accented text: FAQ wordings (normalised, from the build),
        FAQ answers and passages (cached; a racing thread only builds it twice)."""
        r = self._restorer
        if r is None:
            texts = [n for tt in self._texts for n, _ in tt.wordings]
            texts += [t.answer for t in self.targets]
            r = self._restorer = Restorer(texts)
        return r

    def type_mismatch(self, normalized: str, ids: list[int]) -> np.ndarray:
        """1.0 for targets that do not cover a type the question asks (indexer/question_type.py)."""
        asked = question_types(normalized, normalized=True) & MISMATCH_TYPES
        if not asked:
            return np.zeros(len(ids))
        return np.array([1.0 if missing_types(asked, self.covered_types(i)) else 0.0 for i in ids])

    def covered_types(self, i: int) -> frozenset[str]:
        """The question types target i covers (cached; a racing thread only derives it twice)."""
        types = self._types.get(i)
        if types is None:
            t, tt = self.targets[i], self._texts[i]
            types = self._types[i] = (candidate_types((n for n, _ in tt.wordings), t.answer) if t.kind == "faq"
                                      else covered_types(t.answer))
        return types

    def coverage(self, folded: str, ids: list[int]) -> np.ndarray:
        """IDF-weighted share of the question's content words that each target contains."""
        words = {w for w in folded.split() if w not in STOPWORDS}
        if not words or not ids:
            return np.ones(len(ids))
        weights = {w: self._idf.get(w, self._idf_oov) for w in words}
        total = sum(weights.values())
        return np.array([sum(wt for w, wt in weights.items() if w in self._terms[i]) / total for i in ids])

    def target(self, target_id: str) -> Target | None:
        i = self.by_id.get(target_id)
        return None if i is None else self.targets[i]
