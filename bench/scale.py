"""Index build and search at 150, 10,000 and 100,000 FAQ entries; exact FAISS vs HNSW; re-index
after editing one entry of a 10,000-entry FAQ.

See bench/synth.py for how the large collections and their vectors are made.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from bench._common import DEV_SET, ROOT, WORK, Timer, embedder, lat_summary, md_table, percentile, write_result
from bench import synth

HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 128  # as indexer.build.make_faiss_index


def dev_queries(emb) -> tuple[list, np.ndarray]:
    """The dev questions' views and their real query vectors."""
    from bot.evaluate import load_questions
    from indexer.text import views

    vs = [views(q.text) for q in load_questions(DEV_SET / "questions.jsonl")]
    vs = [v for v in vs if v.has_content]
    return vs, emb.encode_queries([v.normalized for v in vs], batch_size=64)


def search_times(index, vs, vecs) -> tuple[dict[str, dict[str, float]], list]:  # type: ignore[type-arg]
    """Per-question times (ms) of the whole Index.search and of each channel, query vector given;
    and the best-ranked target of every question."""
    out: dict[str, list[float]] = {"search": [], "dense": [], "lexical": [], "fuzzy": []}
    tops = []
    p = index.params
    for v, q in zip(vs, vecs):
        with Timer() as t:
            cands = index.search(v, q)
        out["search"].append(t.ms)
        tops.append(cands[0].target if cands else None)
        with Timer() as t:
            index.dense_scores(q, p.pool)
        out["dense"].append(t.ms)
        with Timer() as t:
            index.lexical_scores(v.folded)
        out["lexical"].append(t.ms)
        with Timer() as t:
            index.fuzzy_scores(v.folded)
        out["fuzzy"].append(t.ms)
    return {k: lat_summary(x) for k, x in out.items()}, tops


def build(faq: Path, out: Path, emb, exact_max: int):  # type: ignore[no-untyped-def]
    import faiss

    from indexer.build import build_index

    # as in a fresh `trolyso index` process (bot.retrieval.Index sets one thread for searching)
    faiss.omp_set_num_threads(min(2, os.cpu_count() or 1))
    t0 = time.perf_counter()
    stats = build_index(faq, None, out, emb, exact_max=exact_max, progress=False, log=lambda s: None)
    return stats, time.perf_counter() - t0


def run(sizes: tuple[int, ...] = (150, 10_000, 100_000), faiss_counts: tuple[int, ...] | None = None) -> str:
    from bot.retrieval import Index
    from indexer.faq import load_faq

    emb = embedder()
    vs, qvecs = dev_queries(emb)
    rows = []
    big_vectors = None
    big_hnsw = None
    base = WORK / "scale"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    reindex_md = threads_md = ""
    def agree(tops: list, ref: list | None) -> float:  # type: ignore[type-arg]
        return float("nan") if ref is None else sum(a == b for a, b in zip(tops, ref)) / len(ref)

    for n in sizes:
        exact_tops = None
        faq = base / f"faq-{n}.yaml"
        if n <= 150:  # real entries, embedded from scratch with the real model
            entries = load_faq(ROOT / "faq.yaml").entries[:n]
            vectors = None
            how = "real (faq.yaml), embedded now"
        else:
            with Timer() as t_syn:
                syn = synth.make(n, emb)
            print(f"[scale] {n} synthetic entries made in {t_syn.seconds:.1f} s", file=sys.stderr, flush=True)
            entries, vectors = syn.entries, syn.vectors
            how = "synthetic, vectors cached"
        synth.write_yaml(entries, faq)
        # both FAISS kinds built in full up to 10,000 entries; above, only what the default
        # configuration builds (HNSW above faiss_exact_max vectors), the exact one is then an
        # IndexFlatIP over the same vectors swapped into the opened index (build time: FAISS only)
        variants = [("exact", 10**9), ("hnsw", 0)] if n <= 10_000 else [("hnsw", 0)]
        for kind, exact_max in variants:
            out = base / f"index-{n}-{kind}"
            if vectors is not None:
                synth.seed_cache(out, emb, vectors)
            stats, seconds = build(faq, out, emb, exact_max)
            print(f"[scale] {n} entries, {kind}: built in {seconds:.1f} s", file=sys.stderr, flush=True)
            with Timer() as t_open:
                index = Index.open(out, emb)
            lat, tops = search_times(index, vs, qvecs)
            if kind == "exact":
                exact_tops = tops
            rows.append([f"{n:,}", kind, stats.vectors, how, seconds, stats.embedded,
                         t_open.seconds, lat["search"]["p50"], lat["search"]["p95"], lat["dense"]["p50"],
                         lat["lexical"]["p50"], lat["fuzzy"]["p50"], agree(tops, exact_tops)])
            if n == max(sizes) and kind == "hnsw":
                big_hnsw = (index.dense, seconds)
                big_vectors = index.dense.reconstruct_n(0, index.dense.ntotal)
                if n > 10_000:
                    import faiss

                    flat = faiss.IndexFlatIP(big_vectors.shape[1])
                    with Timer() as t_flat:
                        flat.add(big_vectors)
                    index.dense = flat
                    lat, exact_tops = search_times(index, vs, qvecs)
                    rows[-1][-1] = agree(tops, exact_tops)
                    rows.append([f"{n:,}", "exact (FAISS swapped in)", stats.vectors, how,
                                 f"{seconds:.2f} - HNSW + {t_flat.seconds:.2f}", "–", "–",
                                 lat["search"]["p50"], lat["search"]["p95"], lat["dense"]["p50"],
                                 lat["lexical"]["p50"], lat["fuzzy"]["p50"], 1.0])
            if n == 10_000 and kind == "exact":
                threads_md = faiss_threads(index, vs, qvecs)
                reindex_md = reindex(faq, out, emb)
            del index
    table = md_table(
        ["FAQ entries", "FAISS", "vectors", "entries", "build s", "embedded now", "open s",
         "search p50 ms", "search p95 ms", "dense p50 ms", "BM25 p50 ms", "fuzzy p50 ms", "top-1 = exact's"],
        rows, nd=2)
    body = (
        "Full `build_index` (parse + validate the YAML, embed what the cache lacks, FAISS, BM25, write, "
        "swap) and `Index.open`, then `Index.search` for the 270 dev questions with their real query "
        "vectors precomputed (so the times exclude query encoding; add the encode time of the latency "
        "table). Channels timed separately: dense = FAISS search + mapping to entries, BM25 = bm25s "
        "scores over all documents, fuzzy = rapidfuzz ratio over every question and alternate. "
        "'exact' = IndexFlatIP, 'hnsw' = IndexHNSWFlat(M=32, efConstruction=80, efSearch=128) as "
        "`indexer.build.make_faiss_index` builds them. Searches run with one FAISS thread (as "
        "`bot.retrieval.Index` sets); builds with two, as a fresh `trolyso index` process. 'top-1 = "
        "exact's' = share of dev questions whose best-ranked target is the same as with exact search. "
        "'open s' = `Index.open`: read the build, compute the BM25 weights from the stored term counts, the coverage word sets and the fuzzy choices.\n\n"
        "Synthetic entries (bench/synth.py): the first half of one real Vietnamese question joined to the "
        "second half of another (questions of faq.yaml, the dev set and the public-health FAQ in "
        "../shared/eval/external), one alternate made the same way, a real answer; their vectors are "
        "normalise(E[a] + E[b] + N(0, 0.015²)) from the real model's embeddings of the source questions "
        "(accented and folded forms), placed in the embedding cache so `build_index` embeds nothing. "
        "The 150-entry row is the first 150 real entries of faq.yaml, embedded from scratch.\n\n"
        + table)
    text = write_result("index_scale", "Index build and search by FAQ size", body)
    if big_vectors is not None:
        text += faiss_sweep(big_vectors, qvecs, faiss_counts, big_hnsw)
    if threads_md:
        text += write_result("faiss_threads", "FAISS threads when the other core is busy (10,000 entries, exact)",
                             threads_md)
    if reindex_md:
        text += write_result("reindex", "Re-index after editing one entry (10,000-entry FAQ)", reindex_md)
    return text


def reindex(faq: Path, out: Path, emb) -> str:
    """Edit one entry (question and answer) of the built FAQ, rebuild, and time the steps."""
    from indexer.text import views
    from indexer.faq import paused_gc

    text = faq.read_text(encoding="utf-8")
    i = text.index("id: syn-005000\n")
    j = text.index("question: ", i)
    k = text.index("\n", j)
    edited = text[:j] + "question: Làm thế nào để đổi số điện thoại đăng ký tài khoản định danh điện tử mức 2?" + text[k:]
    a = edited.index("\n", edited.index("answer: |", i)) + 1
    edited = edited[:a] + "    Bạn mang thẻ căn cước đến công an xã, phường để được cập nhật số điện thoại mới.\n" + edited[a:]
    faq.write_text(edited, encoding="utf-8")
    views.cache_clear()  # as in a fresh `trolyso index` process
    stats, seconds = build(faq, out, emb, 10**9)

    # the same work step by step (fresh text caches, as in a new process), on the build just made,
    # with the garbage collector paused as `build_index` does
    with paused_gc():
        return _reindex_steps(faq, out, emb, edited, stats, seconds)


def _reindex_steps(faq: Path, out: Path, emb, edited: str, stats, seconds: float) -> str:  # type: ignore[no-untyped-def]
    import json

    import faiss
    import yaml

    from indexer.text import views
    from indexer.build import (EmbeddingCache, current_build, dense_docs, faq_target, make_faiss_index,
                               term_counts, text_key)
    from indexer.faq import load_faq
    from indexer.text_cache import TextCache

    views.cache_clear()
    prev = current_build(out)
    steps: list[list[object]] = []
    with Timer() as t:
        cache = TextCache.load(prev)
    steps.append(["load the normalised texts of the previous build (texts.json)", t.seconds])
    with Timer() as t:
        entries = load_faq(faq, cache.folded).entries
    steps.append(["parse + validate the FAQ (indexer/faq.py)", t.seconds])
    with Timer() as t:
        yaml.compose(edited, Loader=yaml.CSafeLoader)
    steps.append(["  of which yaml.compose (libyaml)", t.seconds])
    targets = [faq_target(e) for e in entries]
    with Timer() as t:
        text_keys, texts = cache.lookup(targets)
    steps.append(["normalised texts of every entry (hash each, derive the edited one)", t.seconds])
    with Timer() as t:
        docs = [d for tg, tt in zip(targets, texts) for d in dense_docs(tg, tt)]
        keys = [text_key(p, s) for p, s in docs]
    steps.append(["dense texts and their keys", t.seconds])
    with Timer() as t:
        vectors = EmbeddingCache.load(prev, emb.fingerprint)
    steps.append(["load the previous build's vectors (dense.faiss + dense_keys.json)", t.seconds])
    with Timer() as t:
        matrix = vectors.matrix_for(keys, emb.dim)
    steps.append(["gather the vectors of this build", t.seconds])
    with Timer() as t:
        index = make_faiss_index(matrix, matrix.shape[1], 10**9)
    steps.append(["FAISS IndexFlatIP", t.seconds])
    tmp = WORK / "scale" / "timing"
    tmp.mkdir(parents=True, exist_ok=True)
    with Timer() as t:
        faiss.write_index(index, str(tmp / "dense.faiss"))
        EmbeddingCache.save(tmp, emb.fingerprint, keys)
        TextCache.save(tmp, text_keys, texts)
        (tmp / "targets.json").write_text(json.dumps([vars(x) for x in targets], ensure_ascii=False),
                                          encoding="utf-8")
    steps.append(["write dense.faiss, dense_keys.json, texts.json, targets.json", t.seconds])
    with Timer() as t:
        term_counts(prev, cache.order, text_keys, texts).save(tmp / "bm25.npz")
    steps.append(["BM25 term counts (those of unchanged entries from the previous build) + save", t.seconds])
    rows = [["`build_index` after the edit (wall)", seconds], ["texts embedded now", float(stats.embedded)], *steps]
    return (f"One entry's question and answer edited in a 10,000-entry FAQ ({stats.vectors:,} vectors, exact "
            "FAISS), then `build_index` again: only the changed texts are embedded and normalised (the "
            "previous build holds the rest). Then the same steps timed one by one.\n\n"
            + md_table(["step", "seconds"], rows, nd=2))


def faiss_threads(index, vs, qvecs) -> str:  # type: ignore[no-untyped-def]
    """Index.search with 1 and 2 FAISS (OpenMP) threads, the other core idle or kept busy."""
    import subprocess

    import faiss

    def p50_p95() -> tuple[float, float]:
        ms = []
        for v, q in zip(vs, qvecs):
            with Timer() as t:
                index.search(v, q)
            ms.append(t.ms)
        return percentile(ms, 50), percentile(ms, 95)

    rows = []
    for busy in (False, True):
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            time.sleep(0.5)
            for threads in (1, 2):
                faiss.omp_set_num_threads(threads)
                rows.append(["busy (a CPU-bound process)" if busy else "idle", threads, *p50_p95()])
        finally:
            if hog:
                hog.kill()
                hog.wait()
    faiss.omp_set_num_threads(1)
    return ("`Index.search` of the 270 dev questions (vectors given) over the 10,000-entry index (exact "
            "FAISS, ~40k vectors), with the other core idle or running a busy loop. `bot.retrieval.Index` "
            "now sets one thread.\n\n"
            + md_table(["other core", "FAISS threads", "search p50 ms", "search p95 ms"], rows, nd=2))


def faiss_sweep(vectors: np.ndarray, qvecs: np.ndarray, counts: tuple[int, ...] | None = None,
                full_hnsw=None, hnsw_max: int = 50_000) -> str:  # type: ignore[no-untyped-def]
    """Exact vs HNSW at growing vector counts: search time per query, build time, recall.

    HNSW graphs are built here (one thread) up to `hnsw_max` vectors; for all the vectors, the
    HNSW index of the full build is reused (`full_hnsw` = (index, build seconds of build_index)).
    """
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # per-question latency on one core, as in the bot
    counts = counts or tuple(c for c in (1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 200_000)
                             if c < len(vectors))
    counts = (*counts, len(vectors))
    k_pool = 240  # what bot.retrieval.Index.dense_scores asks for (max(pool * 6, 64) with pool 40)
    rows = []
    for n in counts:
        x = np.ascontiguousarray(vectors[:n], dtype=np.float32)
        flat = faiss.IndexFlatIP(x.shape[1])
        flat.add(x)
        hnsw, build_s = None, float("nan")
        if n == len(vectors) and full_hnsw is not None:
            hnsw, build_s = full_hnsw[0], float("nan")
        elif n <= hnsw_max:
            with Timer() as tb:
                hnsw = faiss.IndexHNSWFlat(x.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
                hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
                hnsw.add(x)
            build_s = tb.seconds
        if hnsw is not None:
            hnsw.hnsw.efSearch = HNSW_EF_SEARCH
        k = min(k_pool, n)
        tf, th, r10, rpool = [], [], [], []
        for q in qvecs:
            q1 = q.reshape(1, -1)
            with Timer() as t:
                _, ie = flat.search(q1, k)
            tf.append(t.ms)
            if hnsw is None:
                continue
            with Timer() as t:
                _, ia = hnsw.search(q1, k)
            th.append(t.ms)
            r10.append(len(set(ie[0, :10]) & set(ia[0, :10])) / 10)
            rpool.append(len(set(ie[0]) & set(ia[0])) / k)
        nan = float("nan")
        rows.append([f"{n:,}", percentile(tf, 50), percentile(tf, 95),
                     percentile(th, 50) if th else nan, percentile(th, 95) if th else nan,
                     build_s, float(np.mean(r10)) if r10 else nan, float(np.mean(rpool)) if rpool else nan])
    faiss.omp_set_num_threads(threads)
    table = md_table(["vectors", "exact p50 ms", "exact p95 ms", "HNSW p50 ms", "HNSW p95 ms", "HNSW build s",
                      "HNSW recall@10", f"HNSW recall@{k_pool}"], rows, nd=3)
    body = ("FAISS alone, one thread, one query at a time (the 270 dev questions' real vectors), k = 240 as "
            "the pipeline asks; the first N vectors of the largest synthetic index. Recall is the "
            "share of exact top-k ids that HNSW also returns. HNSW build: one thread, built here; for "
            "the full set the HNSW index of the full build is searched (its build time is in the table "
            "above).\n\n" + table)
    return write_result("faiss", "Exact (IndexFlatIP) vs HNSW by vector count", body)


if __name__ == "__main__":
    import sys

    sizes = tuple(int(s) for s in sys.argv[1:]) or (150, 10_000, 100_000)
    run(sizes)
