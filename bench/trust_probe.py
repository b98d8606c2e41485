"""Probe: does the question-type mismatch separate right top answers from near misses (dev set)?"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from bot import evaluate as ev
from bot.config import Settings
from bot.evaluation_run import prepare
from bench._common import top_faq_candidates
from indexer.embedder import embedder_for
from indexer.question_type import candidate_types, missing_types, question_types
from indexer.text import views


def auc(pos, neg):
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    if not len(pos) or not len(neg):
        return float("nan")
    gt = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    return float(gt)


def main(set_dir: Path) -> None:
    s = Settings()
    a = prepare(s, set_dir, embedder_for(s))
    idx = a.index
    qs = ev.load_questions(set_dir / "questions.jsonl")
    rows = []
    for q, v, faqs in top_faq_candidates(idx, qs):
        top = faqs[0]
        t = idx.target(top.target)
        asked = question_types(v.normalized, normalized=True)
        cov = candidate_types([views(w).normalized for w in (t.question, *t.alternates)], t.answer)
        mism = bool(missing_types(asked, cov))
        right = q.kind in ev.IN_SCOPE and top.target == q.expect
        group = "right" if right else ("wrong" if q.kind in ev.IN_SCOPE else q.kind)
        rows.append((group, top.confidence, mism, sorted(asked), sorted(missing_types(asked, cov)), q.text))
    for g in ("right", "wrong", "hard_negative", "out_of_scope"):
        r = [x for x in rows if x[0] == g]
        print(g, len(r), "mismatch rate", round(np.mean([x[2] for x in r]), 3))
    right = [x for x in rows if x[0] == "right"]
    hn = [x for x in rows if x[0] == "hard_negative"]
    print("AUC right vs HN  conf:", round(auc([x[1] for x in right], [x[1] for x in hn]), 3),
          " no-mismatch:", round(auc([1 - x[2] for x in right], [1 - x[2] for x in hn]), 3))
    if "-v" in sys.argv:
        for x in rows:
            if x[2]:
                print(x[0], x[4], x[3], x[5])


if __name__ == "__main__":
    main(Path(sys.argv[1]))
