"""Probe (issue 11, docs/benchmarks.md "Second stage"): the tuned encoder as a second stage over the
engine's top 5 FAQ candidates: AUCs of confidence variants and top-1 after reranking.

    python bench/second_stage_probe.py [TUNED_FOLDER]
"""
import sys
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bot import evaluate as ev
from bot.config import Settings
from bot.evaluation_run import prepare
from bench._common import top_faq_candidates
from indexer.embedder import embedder_for
from indexer.text import views, fold

torch.set_num_threads(1)
SET = Path(__file__).resolve().parents[2] / "shared/eval/dev"
FOLDER = Path.home() / ".cache/trolyso/models/multilingual-e5-small-q4"
if len(sys.argv) > 1:
    TUNED = sys.argv[1]
else:  # the newest model tuned on the dev FAQ: `trolyso model tune --faq ../shared/eval/dev/faq.yaml --no-reviews`
    from indexer.model_files import folder_fingerprint
    from indexer.tune import newest_tuned
    TUNED = str(newest_tuned(FOLDER.parent, folder_fingerprint(FOLDER), SET / "faq.yaml"))


def auc(pos, neg):
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


from sentence_transformers import SentenceTransformer
st = SentenceTransformer(TUNED, device="cpu", local_files_only=True)
enc = lambda ts: st.encode(["query: " + t for t in ts], normalize_embeddings=True, convert_to_numpy=True)
s = Settings()
a = prepare(s, SET, embedder_for(s))
idx = a.index
qs = ev.load_questions(SET / "questions.jsonl")
wvec = {}
for t in idx.targets:
    if t.kind == "faq":
        ws = [views(w).normalized for w in (t.question, *t.alternates)]
        wvec[t.id] = enc(ws + [fold(w) for w in ws])
rows = []
for q, v, faqs in top_faq_candidates(idx, qs):
    faqs = faqs[:5]
    qv = enc([idx.dense_text(v)])[0]
    tc = np.array([(wvec[f.target] @ qv).max() for f in faqs])
    conf = np.array([f.confidence for f in faqs])
    right = q.kind in ev.IN_SCOPE and faqs[0].target == q.expect
    g = "right" if right else ("wrong" if q.kind in ev.IN_SCOPE else q.kind)
    rows.append(dict(d=0,g=g, kind=q.kind, expect=q.expect, ids=[f.target for f in faqs], conf=conf, tc=tc))
G = {g: [r for r in rows if r["g"] == g] for g in ("right", "wrong", "hard_negative", "out_of_scope")}
feats = {
    "conf": lambda r: r["conf"][0],
    "tuned cos top": lambda r: r["tc"][0],
    "tuned margin top-vs-best-other": lambda r: r["tc"][0] - (r["tc"][1:].max() if len(r["tc"]) > 1 else 0),
    "conf*tc": lambda r: r["conf"][0] * r["tc"][0],
    "conf+tc": lambda r: r["conf"][0] + r["tc"][0],
    "conf-0.5d": lambda r: r["conf"][0] - 0.5 * max(0, r["tc"][1:].max() - r["tc"][0]) if len(r["tc"]) > 1 else r["conf"][0],
    "conf-1d": lambda r: r["conf"][0] - 1 * max(0, r["tc"][1:].max() - r["tc"][0]) if len(r["tc"]) > 1 else r["conf"][0],
    "conf-2d": lambda r: r["conf"][0] - 2 * max(0, r["tc"][1:].max() - r["tc"][0]) if len(r["tc"]) > 1 else r["conf"][0],
    "conf-4d": lambda r: r["conf"][0] - 4 * max(0, r["tc"][1:].max() - r["tc"][0]) if len(r["tc"]) > 1 else r["conf"][0],
}
for name, f in feats.items():
    vals = {g: [f(r) for r in v] for g, v in G.items()}
    print(f"{name:32s} right-vs-wrong {auc(vals['right'], vals['wrong']):.3f}  right-vs-HN {auc(vals['right'], vals['hard_negative']):.3f}"
          f"  right-vs-OOS {auc(vals['right'], vals['out_of_scope']):.3f}")
ins = [r for r in rows if r["kind"] in ev.IN_SCOPE]
for lam in (0, 0.25, 0.5, 1, 2, 4, 100):
    acc = np.mean([r["ids"][int(np.argmax(r["conf"] + lam * r["tc"]))] == r["expect"] for r in ins])
    print(f"rerank conf + {lam} * tuned: top1 {acc:.3f}")
print("expected within top5:", np.mean([r["expect"] in r["ids"] for r in ins]))
