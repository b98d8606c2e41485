"""Probe (issue 11, docs/benchmarks.md "Second stage"; `python bench/late_interaction_probe.py`): late interaction (token MaxSim, e5-small as is) between a question and its top FAQ
candidate: does it separate right answers from near misses?"""
import sys, time
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bot import evaluate as ev
from bot.config import Settings
from bot.evaluation_run import prepare
from bench._common import top_faq_candidates
from indexer.embedder import embedder_for
from indexer.text import views

torch.set_num_threads(1)
SET = Path(__file__).resolve().parents[2] / "shared/eval/dev"
FOLDER = Path.home() / ".cache/trolyso/models/multilingual-e5-small-q4"


def auc(pos, neg):
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


from sentence_transformers import SentenceTransformer
st = SentenceTransformer(str(FOLDER), device="cpu", local_files_only=True)
tok = st.tokenizer
bert = st[0].auto_model.eval()


@torch.no_grad()
def tokvecs(text, prompt):
    b = tok([prompt + text], truncation=True, max_length=256, return_tensors="pt")
    h = bert(**b).last_hidden_state[0]
    ids = b["input_ids"][0].tolist()
    n_prompt = len(tok(prompt.strip(), add_special_tokens=False)["input_ids"]) + 1  # <s> + prompt pieces
    keep = list(range(n_prompt, len(ids) - 1))
    h = torch.nn.functional.normalize(h[keep], dim=-1).numpy()
    pieces = tok.convert_ids_to_tokens([ids[i] for i in keep])
    return h, pieces


s = Settings()
a = prepare(s, SET, embedder_for(s))
idx = a.index
qs = ev.load_questions(SET / "questions.jsonl")
cache = {}
rows = []
t0 = time.time()
for q, v, faqs in top_faq_candidates(idx, qs):
    top = faqs[0]
    t = idx.target(top.target)
    if t.id not in cache:
        mats = [tokvecs(w, "query: ")[0] for w in (t.question, *t.alternates)]
        mats.append(tokvecs(t.answer, "passage: ")[0])
        cache[t.id] = mats
    qv, pieces = tokvecs(idx.dense_text(v), "query: ")
    allc = np.vstack(cache[t.id])
    ms = (qv @ allc.T).max(1)  # per question token, best match anywhere in the candidate
    msw = np.max([(qv @ m.T).max(1) for m in cache[t.id][:-1]], axis=0)  # wordings only
    # drop pure punctuation / the word piece '▁'
    real = np.array([p.strip("▁").isalnum() for p in pieces])
    ms, msw = ms[real], msw[real]
    if not len(ms):
        continue
    right = q.kind in ev.IN_SCOPE and top.target == q.expect
    group = "right" if right else ("wrong" if q.kind in ev.IN_SCOPE else q.kind)
    rows.append(dict(g=group, conf=top.confidence, cov=top.coverage, mean=ms.mean(), min=ms.min(),
                     p10=np.percentile(ms, 10), p25=np.percentile(ms, 25), wmean=msw.mean(), wmin=msw.min(),
                     low=(ms < 0.8).mean(), low85=(ms < 0.85).mean(), kind=q.kind))
print(f"{len(rows)} rows in {time.time()-t0:.0f}s")
G = {g: [r for r in rows if r["g"] == g] for g in ("right", "wrong", "hard_negative", "out_of_scope")}
print({g: len(v) for g, v in G.items()})
for f in ("conf", "cov", "mean", "min", "p10", "p25", "wmean", "wmin", "low", "low85"):
    sign = -1 if f.startswith("low") else 1
    vals = {g: [sign * r[f] for r in v] for g, v in G.items()}
    print(f"{f:6s} AUC right-vs-wrong {auc(vals['right'], vals['wrong']):.3f}  right-vs-HN {auc(vals['right'], vals['hard_negative']):.3f}"
          f"  right-vs-OOS {auc(vals['right'], vals['out_of_scope']):.3f}")
# by in-scope kind, the right ones' mean feature (verbose questions dilute)
for k in ev.IN_SCOPE:
    r = [x for x in G["right"] if x["kind"] == k]
    if r:
        print(k, len(r), "p10 %.3f low %.3f" % (np.mean([x["p10"] for x in r]), np.mean([x["low"] for x in r])))
print("HN p10 %.3f low %.3f" % (np.mean([x["p10"] for x in G["hard_negative"]]), np.mean([x["low"] for x in G["hard_negative"]])))
