"""Experiment (issue 11, item 2): a learned P(top candidate is right) in place of the confidence.

Training data comes from the evaluation set's FAQ only, never from its questions:
- leave-one-wording-out: index builds with one wording removed from each entry (an entry always
  keeps one); the removed wordings are asked, their entry is the right answer;
- leave-one-entry-out: a quarter of the entries removed per build; their wordings are asked,
  every candidate is a near miss;
- half of the queries folded (no diacritics, as typed on a phone).
Each build reuses the embedding cache of the previous one, so only removed-then-restored texts are
embedded again. Per query the top 3 FAQ candidates are samples (label: it is the asked entry),
with first-stage features (confidence, cosine, BM25/K, coverage, fuzzy, type mismatch, gaps to the
best other FAQ candidate in confidence and in rank score, question length, unaccented question).
A logistic regression (scikit-learn: `.venv/bin/pip install scikit-learn` first; the product does
not depend on it) is fitted; then the dev questions are answered with FAQ
candidates' confidence replaced by that probability (ranking unchanged, passages unchanged), and
thresholds are cross-validated exactly as `trolyso eval --cv` does, on a probability grid.

    PYTHONPATH=$PWD python bench/learned_decision.py ../shared/eval/dev [repeats]
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bot import evaluate as ev
from bot.chitchat import detect as detect_chitchat
from bot.config import Settings, Thresholds
from bot.decide import decide
from bot.evaluation_run import prepare
from bot.retrieval import Features, Index, score_features
from bot.types import Candidate, Message, Reply
from indexer.build import faq_target, passage_target, publish
from indexer.embedder import embedder_for
from indexer.faq import require_valid
from indexer.knowledge import load_knowledge
from indexer.text import fold, has_diacritics, views

FOLDS = 4
NAMES = ["conf", "cos", "bm25", "coverage", "fuzzy", "mismatch", "conf_gap", "rank_gap", "length", "unaccented"]


def candidate_rows(f: Features, cands: list[Candidate], text: str, lexical_scale: float,
                   top: int = 3) -> list[tuple[str, list[float]]]:
    """(target id, features) of the top FAQ candidates of one question."""
    faqs = [c for c in cands if c.kind == "faq"]
    n_tok = len(views(text).folded.split())
    unacc = float(not has_diacritics(views(text).original))
    rows = []
    for j, c in enumerate(faqs[:top]):
        others = [o for k, o in enumerate(faqs) if k != j]
        conf_gap = c.confidence - max((o.confidence for o in others), default=0.0)
        rank_gap = c.rank_score - max((o.rank_score for o in others), default=c.rank_score - 3)
        rows.append((c.target, [c.confidence, c.cosine, min(1.0, c.lexical / lexical_scale), c.coverage, c.fuzzy,
                                float(c.type_mismatch), conf_gap, max(-3.0, min(3.0, rank_gap)),
                                float(np.log1p(n_tok)), unacc]))
    return rows


def training_data(set_dir: Path, settings: Settings, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Features and labels from leave-one-wording-out and leave-one-entry-out builds of the FAQ."""
    from bot.assistant import retrieval_params

    rng = random.Random(seed)
    emb = embedder_for(settings)
    entries = require_valid(set_dir / "faq.yaml")
    passages = [passage_target(p) for p in load_knowledge(set_dir / "knowledge")]
    order = list(range(len(entries)))
    rng.shuffle(order)
    entry_fold = {i: k % FOLDS for k, i in enumerate(order)}
    X, y = [], []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for k in range(FOLDS):
            targets, queries = [], []  # queries: (text, expected id or None)
            for i, e in enumerate(entries):
                wordings = [e.question, *e.alternates]
                if entry_fold[i] == k:  # the whole entry out: its wordings are near misses
                    queries += [(w, None) for w in wordings]
                    continue
                if len(wordings) > 1 and k < len(wordings):
                    held = wordings.pop(k)
                    queries.append((held, e.id))
                t = faq_target(e)
                targets.append(replace(t, question=wordings[0], alternates=tuple(wordings[1:])))
            publish(targets + passages, out, emb, progress=False)
            index = Index.open(out, emb, retrieval_params(settings))
            for text, expect in queries:
                if rng.random() < 0.5:
                    text = fold(text.lower())
                v = views(text)
                f = index.features(v)
                cands = score_features(f, index.params, k=10)
                for target, row in candidate_rows(f, cands, text, index.params.lexical_scale):
                    X.append(row)
                    y.append(1.0 if target == expect else 0.0)
    return np.asarray(X), np.asarray(y), time.perf_counter() - started


def main(set_dir: Path, repeats: int) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    settings = Settings()
    X, y, gen_s = training_data(set_dir, settings)
    t0 = time.perf_counter()
    model = LogisticRegression(C=1.0, max_iter=1000).fit(X, y)
    fit_s = time.perf_counter() - t0
    print(f"training samples {len(y)} (positive {int(y.sum())}), generated in {gen_s:.1f} s, fitted in {fit_s:.3f} s")
    print("coefficients", {n: round(float(c), 2) for n, c in zip(NAMES, model.coef_[0], strict=True)},
          "intercept", round(float(model.intercept_[0]), 2))

    assistant = prepare(settings, set_dir, embedder_for(settings))
    index = assistant.index
    questions = ev.load_questions(set_dir / "questions.jsonl")
    fixed: dict[int, Reply] = {}
    base: dict[int, list[Candidate]] = {}
    learned: dict[int, list[Candidate]] = {}
    top_rows: list[tuple[str, float, float]] = []  # (group, confidence, probability) of the top FAQ candidate
    for i, q in enumerate(questions):
        v = views(q.text)
        if not v.has_content or detect_chitchat(v.folded):
            fixed[i] = assistant.handle(Message(q.text))
            continue
        f = index.features(v)
        cands = score_features(f, index.params)
        base[i] = cands
        rows = candidate_rows(f, cands, q.text, index.params.lexical_scale, top=len(cands))
        p = dict(zip([t for t, _ in rows], model.predict_proba(np.asarray([r for _, r in rows]))[:, 1], strict=True)) \
            if rows else {}
        learned[i] = [replace(c, confidence=float(p[c.target])) if c.kind == "faq" else c for c in cands]
        if rows and q.kind in ev.IN_SCOPE + ev.NEGATIVE:
            top = next(c for c in cands if c.kind == "faq")
            group = ("right" if top.target == q.expect else "wrong") if q.kind in ev.IN_SCOPE else q.kind
            top_rows.append((group, top.confidence, float(p[top.target])))

    def auc(a: str, b: str, col: int) -> float:
        rows = [r for r in top_rows if r[0] in (a, b)]
        return float(roc_auc_score([r[0] == a for r in rows], [r[col] for r in rows]))

    for b in ("wrong", "hard_negative", "out_of_scope"):
        print(f"AUC top FAQ candidate right vs {b}: confidence {auc('right', b, 1):.3f}, "
              f"learned {auc('right', b, 2):.3f}")

    def replayer(cands: dict[int, list[Candidate]]):
        def answer_with(i: int, t: Thresholds) -> Reply:
            if i in fixed:
                return fixed[i]
            return assistant._reply(questions[i].text, decide(cands[i], t), index)
        return answer_with

    cols = ["in_scope_acc", "in_scope_wrong", "in_scope_assisted", "acc_hard_negative", "acc_out_of_scope",
            "negative_wrong", "knowledge_hit"]
    print("| decision | " + " | ".join(cols) + " |")
    grid_conf = dict(ev.GRID)
    for name, cands, answer_grid in (
            ("confidence (current rule)", base, grid_conf["answer"]),
            ("learned P(right)", learned, [x / 100 for x in range(10, 96, 3)])):
        ev.GRID["answer"] = answer_grid
        ev.GRID["clarify_gap"] = [0.0, 0.08, 0.16] if cands is base else [0.0, 0.1, 0.2, 0.3]
        m, _ = ev.cross_validate(questions, replayer(cands), repeats=repeats)
        print(f"| {name} | " + " | ".join(f"{m[c]:.3f}" for c in cols) + " |")
    ev.GRID.update(grid_conf)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 10)
