"""External retrieval benchmarks (../shared/eval/external): index the answers/sentences as
knowledge passages, ask the questions, report recall@1 and MRR@10 for our pipeline and, in the
same run, for plain BM25 over folded syllables.

    python bench/external.py [--limit N] [--fold] [--out bench/results/external.md]

--fold asks every question as typed on a phone without diacritics (lower case, đ -> d), the
passages staying as written: the gap between the two runs is the unaccented-question gap of
issue 11 (item 5), measured on data nobody on the team wrote.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.assistant import retrieval_params  # noqa: E402
from bot.retrieval import Index  # noqa: E402
from indexer.text import fold, views  # noqa: E402
from indexer.build import publish  # noqa: E402
from indexer.targets import Target  # noqa: E402
from indexer.embedder import embedder_for  # noqa: E402

EXTERNAL = ROOT.parent / "shared" / "eval" / "external"
SETS = {
    "pubhealthqa_moh_faq (answers)": ("pubhealthqa_moh_faq/retrieval/corpus_answers.jsonl",
                                      "pubhealthqa_moh_faq/retrieval/queries.jsonl",
                                      "pubhealthqa_moh_faq/retrieval/qrels.tsv"),
    "xquad_vi (sentences)": ("xquad_vi/retrieval/corpus_sentences.jsonl", "xquad_vi/retrieval/queries.jsonl",
                             "xquad_vi/retrieval/qrels_sentences.tsv"),
    "xquad_vi (paragraphs)": ("xquad_vi/retrieval/corpus_paragraphs.jsonl", "xquad_vi/retrieval/queries.jsonl",
                              "xquad_vi/retrieval/qrels_paragraphs.tsv"),
}


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def qrels(path: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        q, d, *_ = line.split("\t")
        out.setdefault(q, set()).add(d)
    return out


def metrics(rankings: list[list[str]], gold: list[set[str]]) -> tuple[float, float]:
    r1 = np.mean([bool(r) and r[0] in g for r, g in zip(rankings, gold)])
    mrr = np.mean([next((1 / (i + 1) for i, d in enumerate(r[:10]) if d in g), 0.0) for r, g in zip(rankings, gold)])
    return float(r1), float(mrr)


def plain_bm25(docs: list[dict], queries: list[dict]) -> list[list[str]]:
    import bm25s

    corpus = [views(d["text"]).folded.split() for d in docs]
    r = bm25s.BM25()
    r.index(corpus, show_progress=False)
    out = []
    for q in queries:
        scores = r.get_scores(views(q["text"]).folded.split())
        out.append([docs[i]["_id"] for i in np.argsort(-scores)[:10]])
    return out


def run(limit: int | None, folded: bool = False, only: str | None = None) -> str:
    settings = Settings(_env_file=None)
    embedder = embedder_for(settings)
    rows = []
    for name, (corpus_f, queries_f, qrels_f) in SETS.items():
        if only and only not in name:
            continue
        docs = jsonl(EXTERNAL / corpus_f)
        gold_map = qrels(EXTERNAL / qrels_f)
        queries = [q for q in jsonl(EXTERNAL / queries_f) if q["_id"] in gold_map][:limit]
        gold = [gold_map[q["_id"]] for q in queries]
        if folded:
            queries = [{**q, "text": fold(q["text"].lower())} for q in queries]
        targets = [Target(f"kb:{d['_id']}", "knowledge", d.get("title", "").replace("_", " "), d["text"], None)
                   for d in docs]
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            publish(targets, Path(tmp), embedder, progress=False)
            build_s = time.perf_counter() - t0
            index = Index.open(Path(tmp), embedder, replace(retrieval_params(settings), pool=50))
            t0 = time.perf_counter()
            ours = [[c.target[3:] for c in index.search(views(q["text"]), k=10)] for q in queries]
            ms = (time.perf_counter() - t0) * 1000 / max(1, len(queries))
            dense_only = []
            for q in queries:
                vec = embedder.encode_queries([views(q["text"]).normalized])[0]
                best = index.dense_scores(vec, 10)
                dense_only.append([index.targets[i].id[3:] for i in sorted(best, key=best.get, reverse=True)[:10]])
        bm = plain_bm25(docs, queries)
        for method, ranking in (("Trợ lý số hybrid", ours), ("dense only (e5-small)", dense_only), ("plain BM25", bm)):
            r1, mrr = metrics(ranking, gold)
            rows.append((name, len(docs), len(queries), method, r1, mrr,
                         f"{ms:.1f}" if method.startswith("Trợ") else "", f"{build_s:.1f}" if method.startswith("Trợ") else ""))
    lines = ["| set | passages | questions | method | recall@1 | MRR@10 | ms/question | index build s |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} | {e:.3f} | {f:.3f} | {g} | {h} |" for a, b, c, d, e, f, g, h in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None, help="ask only the first N questions of each set")
    ap.add_argument("--fold", action="store_true", help="ask the questions without diacritics")
    ap.add_argument("--only", default=None, help="run only the sets whose name contains this")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "external.md"))
    args = ap.parse_args()
    table = run(args.limit, args.fold, args.only)
    print(table)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
