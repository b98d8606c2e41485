"""Build the retrieval index: FAQ entries and knowledge passages -> dense + lexical + fuzzy data.

Layout of an index folder:
    <out>/current -> builds/<stamp>     (symlink, swapped atomically)
    <out>/builds/<stamp>/manifest.json  model name + fingerprint, counts, format
                         targets.json   what can be answered (FAQ entries, passages)
                         dense.faiss    FAISS inner-product index over unit vectors
                         dense_map.npy  target index of every dense vector
                         dense_keys.json text hash of every dense vector (re-indexing embeds only
                                        new texts; the old vectors are read from dense.faiss)
                         texts.json     normalised text of every target (indexer/text_cache.py)
                         bm25.npz       term counts (folded syllables + bigrams) of every target
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from indexer.bm25 import BM25, DocCounts
from indexer.faq import FaqEntry, paused_gc, require_valid
from indexer.knowledge import Passage, load_knowledge
from indexer.targets import Target
from indexer.text import fold, views
from indexer.text_cache import TargetText, TextCache

if TYPE_CHECKING:
    import faiss

    from indexer.embedder import TextEmbedder

FORMAT = 3
KEEP_BUILDS = 2


def faq_target(e: FaqEntry) -> Target:
    return Target(e.id, "faq", e.question, e.answer, e.source, e.category, e.alternates, e.tags, e.learned)


def passage_target(p: Passage) -> Target:
    return Target(f"kb:{p.id}", "knowledge", p.heading, p.text, p.source)


def faq_dense_texts(wordings: Iterable[tuple[str, str]]) -> list[str]:
    """The texts embedded for an FAQ entry: each wording's (normalized, folded) views, once each
    (also what the second stage re-reads: indexer/tune.py, bot/retrieval.py)."""
    return list(dict.fromkeys(s for pair in wordings for s in pair if s))


def dense_docs(t: Target, tt: TargetText) -> list[tuple[str, str]]:
    """(prompt, text) pairs embedded for a target: questions accented and folded; passages.
    Learned wordings are not embedded: see `fuzzy_docs`."""
    if t.kind == "faq":
        return [("query", s) for s in faq_dense_texts(tt.wordings)]
    text = views(t.answer).original
    return [("passage", text), ("passage", fold(text.lower()))]


def fuzzy_docs(t: Target, tt: TargetText) -> list[str]:
    """Folded wordings a question is matched against for typos and repeats, learned ones included.

    Learned wordings (citizens' own, taught by the review loop: `FaqEntry.learned`) count here and
    in the BM25 term counts (`TargetText.lexical_doc`), not in the dense channel, the coverage
    words or the question types: as alternates, 20 taught wordings cost other needs 10 points of
    accuracy and add 10 of confident-wrong answers; as learned wordings, within a point, while
    the same need asked later in other words gains 8 points and repeats are all answered
    (bench/learning_curve.py, docs/benchmarks.md)."""
    return [folded for _, folded in tt.wordings + tt.learned] if t.kind == "faq" else []


def text_key(prompt: str, text: str) -> str:
    return hashlib.sha1(f"{prompt}\x00{text}".encode()).hexdigest()


class EmbeddingCache:
    """text key -> vector, from a previous build: the rows of its dense.faiss and their keys
    (dense_keys.json), so that re-indexing embeds only new texts and stores no vector twice."""

    FILE = "dense_keys.json"

    def __init__(self, keys: list[str] | None = None, matrix: np.ndarray | None = None):
        self.row = {k: i for i, k in enumerate(keys or [])}
        self.matrix = matrix if matrix is not None else np.zeros((0, 0), np.float32)
        self.new: dict[str, np.ndarray] = {}

    def __contains__(self, key: str) -> bool:
        return key in self.row or key in self.new

    @classmethod
    def load(cls, build: Path | None, fingerprint: str) -> EmbeddingCache:
        import faiss

        if build is None:
            return cls()
        try:
            data = json.loads((build / cls.FILE).read_text(encoding="utf-8"))
            if data["fingerprint"] != fingerprint:
                return cls()
            index = faiss.read_index(str(build / "dense.faiss"))
            if index.ntotal != len(data["keys"]):
                return cls()
            return cls(data["keys"], index.reconstruct_n(0, index.ntotal))
        except Exception:  # noqa: BLE001 - a damaged cache is only a slower build
            return cls()

    def matrix_for(self, keys: list[str], dim: int) -> NDArray[np.float32]:
        out = np.zeros((len(keys), dim), np.float32)
        rows = np.array([self.row.get(k, -1) for k in keys], dtype=np.int64)
        old = rows >= 0
        if old.any():
            out[old] = self.matrix[rows[old]]
        for i in np.nonzero(~old)[0]:
            out[i] = self.new[keys[i]]
        return out

    @classmethod
    def save(cls, build: Path, fingerprint: str, keys: list[str]) -> None:
        """The keys of the build's dense.faiss rows (written by the caller, in this order)."""
        (build / cls.FILE).write_text(json.dumps({"fingerprint": fingerprint, "keys": keys}), encoding="utf-8")


@dataclass
class BuildStats:
    targets: int
    faq: int
    passages: int
    vectors: int
    embedded: int  # vectors computed now (the rest came from the cache)
    seconds: float
    path: Path


def current_build(out: Path) -> Path | None:
    cur = out / "current"
    return cur.resolve() if cur.exists() else None


def build_index(
    faq_path: Path | None,
    knowledge_dir: Path | None,
    out: Path,
    embedder: TextEmbedder,
    *,
    exact_max: int = 50_000,
    progress: bool = True,
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
) -> BuildStats:
    """Validate, embed (reusing cached vectors) and atomically publish a new index build."""
    started = time.perf_counter()
    with paused_gc():  # millions of small objects, none in cycles worth collecting meanwhile
        text_cache = TextCache.load(current_build(out))  # the previous build's normalised texts
        entries = require_valid(faq_path, text_cache.folded) if faq_path is not None and faq_path.exists() else []
        if faq_path is not None and not faq_path.exists():
            log(f"{faq_path}: no FAQ file, indexing knowledge only")
        passages = load_knowledge(knowledge_dir)
        targets = [faq_target(e) for e in entries] + [passage_target(p) for p in passages]
        extra = {"faq": str(faq_path) if faq_path else None,
                 "knowledge": str(knowledge_dir) if knowledge_dir else None}
        stats = publish(targets, out, embedder, exact_max=exact_max, progress=progress, extra=extra,
                        text_cache=text_cache)
    stats.seconds = time.perf_counter() - started
    return stats


def publish(
    targets: list[Target],
    out: Path,
    embedder: TextEmbedder,
    *,
    exact_max: int = 50_000,
    progress: bool = True,
    extra: dict | None = None,
    text_cache: TextCache | None = None,
) -> BuildStats:
    """Embed the targets (reusing the previous build's vectors) and swap in a new build."""
    import faiss

    started = time.perf_counter()
    n_faq = sum(1 for t in targets if t.kind == "faq")
    prev = current_build(out)
    text_cache = text_cache or TextCache.load(prev)
    prev_order = text_cache.order
    text_keys, texts = text_cache.lookup(targets)
    docs: list[tuple[str, str]] = []
    dense_map: list[int] = []
    for i, (t, tt) in enumerate(zip(targets, texts, strict=True)):
        for d in dense_docs(t, tt):
            docs.append(d)
            dense_map.append(i)

    cache = EmbeddingCache.load(prev, embedder.fingerprint)
    keys = [text_key(p, s) for p, s in docs]
    missing = sorted({k: (p, s) for k, (p, s) in zip(keys, docs, strict=True) if k not in cache}.items())
    embedded = _embed_missing(missing, cache, embedder, progress)

    out.mkdir(parents=True, exist_ok=True)
    builds = out / "builds"
    builds.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f") + f"-{os.getpid()}"
    tmp = builds / f".tmp-{stamp}"
    tmp.mkdir()
    try:
        dim = embedder.dim
        matrix = cache.matrix_for(keys, dim)
        faiss.write_index(make_faiss_index(matrix, dim, exact_max), str(tmp / "dense.faiss"))
        np.save(tmp / "dense_map.npy", np.asarray(dense_map, dtype=np.int32))
        EmbeddingCache.save(tmp, embedder.fingerprint, keys)
        TextCache.save(tmp, text_keys, texts)
        term_counts(prev, prev_order, text_keys, texts).save(tmp / "bm25.npz")
        (tmp / "targets.json").write_text(
            json.dumps([vars(t) for t in targets], ensure_ascii=False), encoding="utf-8")
        manifest = {
            "format": FORMAT,
            "model": embedder.name,
            "fingerprint": embedder.fingerprint,
            "dim": dim,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **(extra or {}),
            "counts": {"faq": n_faq, "passages": len(targets) - n_faq, "vectors": len(keys)},
            "faiss": "exact" if len(keys) <= exact_max else "hnsw",
        }
        # the manifest is written last: a build without one is incomplete
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        final = builds / stamp
        tmp.rename(final)
        link = out / f".current-{stamp}"
        link.symlink_to(Path("builds") / stamp)
        os.replace(link, out / "current")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    record_faq_changes(out, prev, targets)
    _prune(builds, keep=final)
    return BuildStats(len(targets), n_faq, len(targets) - n_faq, len(keys), embedded,
                      time.perf_counter() - started, final)


CHANGES_FILE = "faq-changes.jsonl"


def faq_changes(before: list[dict], after: list[Target]) -> dict[str, list[str]]:
    """FAQ ids added, edited (question or answer), removed, and given new alternates or learned wordings."""
    old = {t["id"]: t for t in before if t.get("kind") == "faq"}
    new = {t.id: t for t in after if t.kind == "faq"}
    edited, alternates = [], []
    for fid in sorted(old.keys() & new.keys()):
        o, n = old[fid], new[fid]
        if (o.get("question"), (o.get("answer") or "").strip()) != (n.question, n.answer.strip()):
            edited.append(fid)
        if set(n.alternates) - set(o.get("alternates") or ()) or set(n.learned) - set(o.get("learned") or ()):
            alternates.append(fid)
    return {"added": sorted(new.keys() - old.keys()), "edited": edited,
            "removed": sorted(old.keys() - new.keys()), "alternates": alternates}


def record_faq_changes(out: Path, prev: Path | None, targets: list[Target]) -> None:
    """Append what this build changed in the FAQ to `<out>/faq-changes.jsonl` (one line per build
    that changed something; the first build records nothing: there is nothing to compare)."""
    if prev is None:
        return
    try:
        before = json.loads((prev / "targets.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    changes = faq_changes(before, targets)
    if not any(changes.values()):
        return
    line = {"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **changes}
    with open(out / CHANGES_FILE, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")


def _embed_missing(missing: list[tuple[str, tuple[str, str]]], cache: EmbeddingCache, embedder: TextEmbedder,
                   progress: bool, batch: int = 64) -> int:
    """Embed texts not in the cache, in batches, with one progress bar for the whole build."""
    from tqdm import tqdm

    bar = tqdm(total=len(missing), desc="embedding", unit="text", disable=not progress or not missing,
               file=sys.stderr)
    for prompt in ("query", "passage"):
        todo = [(k, s) for k, (p, s) in missing if p == prompt]
        encode = embedder.encode_queries if prompt == "query" else embedder.encode_passages
        for i in range(0, len(todo), batch):
            chunk = todo[i : i + batch]
            for (k, _), v in zip(chunk, encode([s for _, s in chunk]), strict=True):
                cache.new[k] = np.asarray(v, dtype=np.float32)
            bar.update(len(chunk))
    bar.close()
    return len(missing)


def term_counts(prev: Path | None, prev_order: list[str], keys: list[str], texts: list[TargetText]) -> BM25:
    """The lexical index: term counts of every target, those of unchanged ones from `prev`."""
    old = None
    if prev is not None and prev_order:
        try:
            old = BM25.load(prev / "bm25.npz")
        except Exception:  # noqa: BLE001 - a damaged cache is only a slower build
            old = None
    if old is None or old.n_docs != len(prev_order):
        return BM25.from_docs([DocCounts.of(tt.lexical_doc()) for tt in texts])
    rows = {k: i for i, k in enumerate(prev_order)}
    return BM25.from_docs([old.doc(rows[k]) if k in rows else DocCounts.of(tt.lexical_doc())
                           for k, tt in zip(keys, texts, strict=True)])


def make_faiss_index(matrix: NDArray[np.float32], dim: int, exact_max: int) -> faiss.Index:
    import faiss

    index: faiss.Index
    if len(matrix) <= exact_max:
        index = faiss.IndexFlatIP(dim)
    else:  # approximate search for large collections (see docs/benchmarks.md)
        hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        hnsw.hnsw.efSearch = 128
        index = hnsw
    if len(matrix):
        index.add(matrix)
    return index


def _prune(builds: Path, keep: Path) -> None:
    done = sorted((p for p in builds.iterdir() if not p.name.startswith(".")), key=lambda p: p.name)
    for old in done[:-KEEP_BUILDS]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
    for stale in builds.glob(".tmp-*"):  # left by a killed build
        if time.time() - stale.stat().st_mtime > 3600:
            shutil.rmtree(stale, ignore_errors=True)
