"""Probe (issue 11, docs/benchmarks.md "Second stage"; `python bench/finetune_probe.py EPOCHS LR`): does fine-tuning e5-small on the FAQ's own wordings (MNRL + mined hard negatives)
separate right answers from near misses better than the base model? Dense-only, dev set."""
import json, random, sys, time
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from indexer.faq import load_faq
from indexer.text import views, fold

SET = Path(__file__).resolve().parents[2] / "shared/eval/dev"
FOLDER = Path.home() / ".cache/trolyso/models/multilingual-e5-small-q4"
EPOCHS = int(sys.argv[1]) if len(sys.argv) > 1 else 1
LR = float(sys.argv[2]) if len(sys.argv) > 2 else 3e-5
torch.manual_seed(0); random.seed(0)
torch.set_num_threads(2)

from sentence_transformers import SentenceTransformer
model = SentenceTransformer(str(FOLDER), device="cpu", local_files_only=True)
tok = model.tokenizer
bert = model[0].auto_model

entries = load_faq(SET / "faq.yaml").entries
wordings = []  # (entry idx, text)
for i, e in enumerate(entries):
    for q in e.questions:
        n = views(q).normalized
        wordings.append((i, n)); wordings.append((i, fold(n)))
qs = [json.loads(l) for l in open(SET / "questions.jsonl")]
ids = [e.id for e in entries]


def enc(texts, bs=32):
    model.eval()
    return model.encode(["query: " + t for t in texts], batch_size=bs, normalize_embeddings=True,
                        convert_to_numpy=True)


def auc(pos, neg):
    pos, neg = np.array(pos), np.array(neg)
    if not len(pos) or not len(neg): return float("nan")
    return float(((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()))


def evaluate(tag):
    W = enc([t for _, t in wordings])
    owner = np.array([i for i, _ in wordings])
    Q = enc([views(q["text"]).normalized for q in qs])
    S = Q @ W.T
    best = np.full((len(qs), len(entries)), -1.0)
    for j in range(len(entries)):
        best[:, j] = S[:, owner == j].max(1)
    top = best.argmax(1); s1 = best.max(1)
    srt = np.sort(best, 1); gap = srt[:, -1] - srt[:, -2]
    right, wrongs, hn, oos = [], [], [], []
    gr, gw, ghn = [], [], []
    for k, q in enumerate(qs):
        if q["kind"] in ("paraphrase", "no_diacritics", "teencode", "verbose"):
            (right if ids[top[k]] == q["expect"] else wrongs).append(s1[k])
            (gr if ids[top[k]] == q["expect"] else gw).append(gap[k])
        elif q["kind"] == "hard_negative":
            hn.append(s1[k]); ghn.append(gap[k])
        elif q["kind"] == "out_of_scope":
            oos.append(s1[k])
    n_in = len(right) + len(wrongs)
    print(f"{tag}: top1 {len(right)/n_in:.3f}  AUC right-vs-wrong {auc(right, wrongs):.3f}  right-vs-HN {auc(right, hn):.3f}"
          f"  right-vs-OOS {auc(right, oos):.3f}  gap r-vs-HN {auc(gr, ghn):.3f}  | mean s right {np.mean(right):.3f} HN {np.mean(hn):.3f} OOS {np.mean(oos):.3f}")
    return W, owner


t0 = time.time()
W, owner = evaluate("base") if "--skip-base" not in sys.argv else None, None
if W is None:
    W = enc([t for _, t in wordings]); owner = np.array([i for i, _ in wordings])
print(f"  eval {time.time()-t0:.1f}s")
# training examples: anchor wording (accented or folded), positive another wording of the entry,
# hard negative: the most similar wording of another entry under the base model
S = W @ W.T
ex = []
for a, (ia, ta) in enumerate(wordings):
    others = [p for p, (ip, _) in enumerate(wordings) if ip == ia and p != a and wordings[p][1] != ta]
    neg = np.where(owner != ia, S[a], -9).argsort()[::-1][:3]
    for p in others:
        ex.append((ta, wordings[p][1], wordings[int(random.choice(neg))][1]))
random.shuffle(ex)
print(f"{len(ex)} training triples")
for p in bert.embeddings.word_embeddings.parameters():
    p.requires_grad = False
params = [p for p in bert.parameters() if p.requires_grad]
opt = torch.optim.AdamW(params, lr=LR)
BS = 16
steps = EPOCHS * ((len(ex) + BS - 1) // BS)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, steps // 10)) * max(0.0, 1 - s / steps))


def embed(texts):
    b = tok(["query: " + t for t in texts], padding=True, truncation=True, max_length=128, return_tensors="pt")
    out = bert(**b).last_hidden_state
    m = b["attention_mask"].unsqueeze(-1).float()
    v = (out * m).sum(1) / m.sum(1)
    return torch.nn.functional.normalize(v, dim=-1)


t0 = time.time()
for ep in range(EPOCHS):
    random.shuffle(ex)
    bert.train(); tot = 0.0
    for s in range(0, len(ex), BS):
        batch = ex[s:s + BS]
        a = embed([x[0] for x in batch]); p = embed([x[1] for x in batch]); n = embed([x[2] for x in batch])
        logits = a @ torch.cat([p, n]).T * 20.0
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
        opt.zero_grad(); loss.backward(); opt.step(); sched.step(); tot += loss.item() * len(batch)
    print(f"epoch {ep+1}: loss {tot/len(ex):.3f}  {time.time()-t0:.0f}s")
evaluate(f"tuned e{EPOCHS} lr{LR}")
