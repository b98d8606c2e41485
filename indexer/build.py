"""Build the retrieval index: FAQ entries and knowledge passages -> dense + lexical + fuzzy data.

Layout of an index folder:
    <out>/current -> builds/<stamp>     (symlink, swapped atomically)
    <out>/builds/<stamp>/manifest.json  model name + fingerprint, counts, format
                         targets.json   what can be answered (FAQ entries, passages)
                         dense.faiss    FAISS inner-product index over unit vectors
                         dense_map.npy  target index of every dense vector
                         cache.npz      text hash -> vector (re-indexing re-embeds only changes)
                         bm25/          bm25s index over folded syllables + bigrams
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from bot.text import fold, lexical_terms, views
from indexer.faq import FaqEntry, require_valid
from indexer.knowledge import Passage, load_knowledge

FORMAT = 2
KEEP_BUILDS = 2


@dataclass(frozen=True)
class Target:
    """Something the assistant can answer with."""

    id: str  # FAQ id, or "kb:<passage id>"
    kind: str  # "faq" | "knowledge"
    question: str  # FAQ question, or the passage heading
    answer: str  # FAQ answer, or the passage text
    source: str | None
    category: str | None = None
    alternates: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


def faq_target(e: FaqEntry) -> Target:
    return Target(e.id, "faq", e.question, e.answer, e.source, e.category, e.alternates, e.tags)


def passage_target(p: Passage) -> Target:
    return Target(f"kb:{p.id}", "knowledge", p.heading, p.text, p.source)


def dense_docs(t: Target) -> list[tuple[str, str]]:
    """(prompt, text) pairs embedded for a target: questions accented and folded; passages."""
    if t.kind == "faq":
        texts: list[str] = []
        for q in (t.question, *t.alternates):
            v = views(q)
            for s in (v.normalized, v.folded):
                if s and s not in texts:
                    texts.append(s)
        return [("query", s) for s in texts]
    text = views(t.answer).original
    return [("passage", text), ("passage", fold(text.lower()))]


def lexical_doc(t: Target) -> list[str]:
    """Folded syllables + bigrams of the question, alternates and answer (answers help a lot)."""
    parts = [t.question, *t.alternates, t.answer] if t.kind == "faq" else [t.question, t.answer]
    terms: list[str] = []
    for part in parts:
        terms += lexical_terms(views(part).folded)
    return terms


def fuzzy_docs(t: Target) -> list[str]:
    return [views(q).folded for q in (t.question, *t.alternates)] if t.kind == "faq" else []


def text_key(prompt: str, text: str) -> str:
    return hashlib.sha1(f"{prompt}\x00{text}".encode()).hexdigest()


class EmbeddingCache:
    def __init__(self, vectors: dict[str, np.ndarray] | None = None):
        self.vectors = vectors or {}

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> "EmbeddingCache":
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["fingerprint"]) != fingerprint:
                    return cls()
                return cls(dict(zip(data["keys"].tolist(), data["vectors"])))
        except (OSError, KeyError, ValueError):
            return cls()

    def save(self, path: Path, fingerprint: str, keys: list[str]) -> None:
        vecs = np.stack([self.vectors[k] for k in keys]) if keys else np.zeros((0, 1), np.float32)
        with open(path, "wb") as fh:
            np.savez(fh, fingerprint=np.array(fingerprint), keys=np.array(keys), vectors=vecs)


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
    embedder,  # indexer.embedder.Embedder
    *,
    exact_max: int = 50_000,
    progress: bool = True,
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
) -> BuildStats:
    """Validate, embed (reusing cached vectors) and atomically publish a new index build."""
    started = time.perf_counter()
    entries = require_valid(faq_path) if faq_path is not None and faq_path.exists() else []
    if faq_path is not None and not faq_path.exists():
        log(f"{faq_path}: no FAQ file, indexing knowledge only")
    passages = load_knowledge(knowledge_dir)
    targets = [faq_target(e) for e in entries] + [passage_target(p) for p in passages]
    extra = {"faq": str(faq_path) if faq_path else None,
             "knowledge": str(knowledge_dir) if knowledge_dir else None}
    stats = publish(targets, out, embedder, exact_max=exact_max, progress=progress, extra=extra)
    stats.seconds = time.perf_counter() - started
    return stats


def publish(
    targets: list[Target],
    out: Path,
    embedder,
    *,
    exact_max: int = 50_000,
    progress: bool = True,
    extra: dict | None = None,
) -> BuildStats:
    """Embed the targets (reusing the previous build's vectors) and swap in a new build."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import
    import faiss

    started = time.perf_counter()
    n_faq = sum(1 for t in targets if t.kind == "faq")
    docs: list[tuple[str, str]] = []
    dense_map: list[int] = []
    for i, t in enumerate(targets):
        for d in dense_docs(t):
            docs.append(d)
            dense_map.append(i)

    prev = current_build(out)
    cache = EmbeddingCache.load(prev / "cache.npz", embedder.fingerprint) if prev else EmbeddingCache()
    keys = [text_key(p, s) for p, s in docs]
    missing = sorted({k: (p, s) for k, (p, s) in zip(keys, docs) if k not in cache.vectors}.items())
    embedded = _embed_missing(missing, cache, embedder, progress)

    out.mkdir(parents=True, exist_ok=True)
    builds = out / "builds"
    builds.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f") + f"-{os.getpid()}"
    tmp = builds / f".tmp-{stamp}"
    tmp.mkdir()
    try:
        dim = embedder.dim
        matrix = np.stack([cache.vectors[k] for k in keys]).astype(np.float32) if keys else np.zeros((0, dim), np.float32)
        faiss.write_index(make_faiss_index(matrix, dim, exact_max), str(tmp / "dense.faiss"))
        np.save(tmp / "dense_map.npy", np.asarray(dense_map, dtype=np.int32))
        uniq = list(dict.fromkeys(keys))
        cache.save(tmp / "cache.npz", embedder.fingerprint, uniq)
        retriever = bm25s.BM25()
        corpus = [lexical_doc(t) for t in targets] or [[""]]
        retriever.index(corpus, show_progress=False)
        retriever.save(str(tmp / "bm25"), show_progress=False)
        (tmp / "targets.json").write_text(
            json.dumps([asdict(t) for t in targets], ensure_ascii=False), encoding="utf-8")
        manifest = {
            "format": FORMAT,
            "model": embedder.name,
            "fingerprint": embedder.fingerprint,
            "dim": dim,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
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
    _prune(builds, keep=final)
    return BuildStats(len(targets), n_faq, len(targets) - n_faq, len(keys), embedded,
                      time.perf_counter() - started, final)


def _embed_missing(missing: list, cache: EmbeddingCache, embedder, progress: bool, batch: int = 64) -> int:
    """Embed texts not in the cache, in batches, with one progress bar for the whole build."""
    from tqdm import tqdm

    bar = tqdm(total=len(missing), desc="embedding", unit="text", disable=not progress or not missing,
               file=sys.stderr)
    for prompt in ("query", "passage"):
        todo = [(k, s) for k, (p, s) in missing if p == prompt]
        encode = embedder.encode_queries if prompt == "query" else embedder.encode_passages
        for i in range(0, len(todo), batch):
            chunk = todo[i : i + batch]
            for (k, _), v in zip(chunk, encode([s for _, s in chunk])):
                cache.vectors[k] = np.asarray(v, dtype=np.float32)
            bar.update(len(chunk))
    bar.close()
    return len(missing)


def make_faiss_index(matrix: np.ndarray, dim: int, exact_max: int):
    import faiss

    if len(matrix) <= exact_max:
        index = faiss.IndexFlatIP(dim)
    else:  # approximate search for large collections (see docs/benchmarks.md)
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
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
