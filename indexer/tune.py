"""`trolyso model tune`: a copy of the encoder fine-tuned on the FAQ's own wordings and on the
review teams' decisions, the second stage of the answer decision (bot/retrieval.py).

Why a tuned copy and not the encoder itself: the index, the knowledge passages and the embedding
cache keep the base model (a tune never forces a re-index, and passages are not in the training
data); the tuned copy only re-reads the few FAQ entries the first stage is unsure about.

Training (deterministic with a seed, no data from outside the FAQ file and the database):
- anchors: every wording of every entry, accented and folded (citizens type both);
- positive: another wording of the same entry;
- hard negative: one of the three wordings of *other* entries the base model finds closest to
  the anchor (the near misses the first stage confuses);
- the teams' decisions (`Labelled`): a linked wording is an anchor with its entry's wordings as
  positives; a wording the team answered with something else, or a 👎, pushes that wording away
  from the entry it was wrongly given (anchor: the wording, positive: itself, negative: the entry).
Loss: in-batch and hard negatives (MultipleNegativesRanking, scale 20) on mean-pooled,
normalised vectors, as sentence-transformers trains e5; the word-embedding matrix (96 M of the
118 M weights) stays frozen, which halves the step time and keeps the vocabulary the FAQ never
shows. One epoch over a 200-entry FAQ (~5,000 triples) takes minutes on 2 cores.

The result is a sentence-transformers folder exported to int8 ONNX like the encoder
(`indexer.onnx_model.prepare_onnx`), under `model_dir/tuned/<key>` where the key hashes the
base model's fingerprint, the training data and the settings; `trolyso-tuned.json` records
what it was trained from. Serving takes the newest tuned folder made from the current base model
on the same FAQ file (`newest_tuned`), also after edits to it, until the next tune; `make run`
and reloads never train.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer.build import faq_dense_texts
from indexer.faq import FaqEntry
from indexer.model_convert import ModelError, swap_into_place
from indexer.model_files import folder_fingerprint, quiet_transformers
from indexer.onnx_model import check_onnx, prepare_onnx
from indexer.text import fold, views

TUNED_DIR = "tuned"
MARKER = "trolyso-tuned.json"
VECTORS = "wordings.npz"
KEEP = 2  # tuned folders kept per FAQ file
TUNE_VERSION = 1
QUERY_PROMPT = "query: "


@dataclass(frozen=True)
class Labelled:
    """One review decision: `text` (a citizen's wording) is (or is not) answered by `faq_id`."""

    text: str
    faq_id: str
    positive: bool


@dataclass(frozen=True)
class TuneConfig:
    epochs: int = 1
    lr: float = 3e-5
    batch_size: int = 16
    seed: int = 0
    max_length: int = 96  # tokens; FAQ wordings are short, citizens' long messages are cut
    scale: float = 20.0
    hard_pool: int = 3  # the hard negative is drawn from the base model's closest other wordings
    max_examples: int = 4000  # a bound on the epoch: 250 steps, ~5 min on 2 free cores


Triple = tuple[str, str, str]


def wordings(entry: FaqEntry) -> list[str]:
    """What the index embeds for an entry (`indexer.build.faq_dense_texts`)."""
    return faq_dense_texts((v.normalized, v.folded) for v in map(views, entry.questions))


def training_triples(entries: Sequence[FaqEntry], labelled: Sequence[Labelled],
                     encode: Callable[[list[str]], np.ndarray], config: TuneConfig) -> list[Triple]:
    """(anchor, positive, hard negative) triples, in a seeded random order."""
    rng = random.Random(config.seed)
    texts: list[str] = []
    owner: list[int] = []
    by_id: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        for w in wordings(e):
            by_id.setdefault(e.id, []).append(len(texts))
            texts.append(w)
            owner.append(i)
    if len(entries) < 2 or not texts:
        raise ModelError("tuning needs an FAQ of at least two entries")
    vecs = encode(texts)
    owners = np.array(owner)

    def hard_negative(vec: np.ndarray, not_entry: int) -> str:
        sims = np.where(owners != not_entry, vecs @ vec, -9.0)
        pool = np.argsort(-sims, kind="stable")[: config.hard_pool]
        return texts[int(rng.choice(list(pool)))]

    triples: list[Triple] = []
    for a, text in enumerate(texts):
        same = [p for p in by_id[entries[owner[a]].id] if texts[p] != text]
        for p in same:
            triples.append((text, texts[p], hard_negative(vecs[a], owner[a])))
    index_of = {e.id: i for i, e in enumerate(entries)}
    taught = [x for x in labelled if x.faq_id in index_of and views(x.text).normalized]
    if taught:
        tvecs = encode([views(x.text).normalized for x in taught])
        for x, vec in zip(taught, tvecs, strict=True):
            text = views(x.text).normalized
            entry = index_of[x.faq_id]
            if x.positive:
                for p in by_id[x.faq_id]:
                    triples.append((text, texts[p], hard_negative(vec, entry)))
            else:  # away from the entry it was wrongly given; its own folded form as the positive
                triples.append((text, fold(text), texts[rng.choice(by_id[x.faq_id])]))
    rng.shuffle(triples)
    return triples[: config.max_examples]


def save_wording_vectors(folder: Path, texts: list[str], progress: bool = False) -> None:
    """The tuned ONNX model's vectors of the FAQ's wordings, so that serving does not encode them
    again at every start (~5 ms a wording: ~7 s at 200 entries, minutes at 10,000)."""
    from indexer.onnx_model import OnnxEncoder

    texts = list(dict.fromkeys(texts))
    vecs = OnnxEncoder(folder).encode(texts, "query", 32, progress, 1) if texts else np.zeros((0, 0), np.float32)
    np.savez(folder / VECTORS, texts=np.array(texts, dtype=str), vectors=vecs)


def load_wording_vectors(folder: Path) -> dict[str, np.ndarray]:
    """What `save_wording_vectors` wrote; empty when it is missing or damaged."""
    try:
        with np.load(folder / VECTORS) as data:
            return dict(zip((str(t) for t in data["texts"]), data["vectors"].astype(np.float32), strict=True))
    except (OSError, ValueError, KeyError):
        return {}


def faq_key(entries: Sequence[FaqEntry], labelled: Sequence[Labelled], base_fingerprint: str,
            config: TuneConfig) -> str:
    h = hashlib.sha256(f"{TUNE_VERSION}\0{base_fingerprint}\0{json.dumps(asdict(config), sort_keys=True)}".encode())
    for e in sorted(entries, key=lambda e: e.id):
        h.update(json.dumps([e.id, list(e.questions)], ensure_ascii=False).encode())
    for x in sorted(labelled, key=lambda x: (x.faq_id, x.text, x.positive)):
        h.update(json.dumps([x.faq_id, x.text, x.positive], ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def read_marker(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def newest_tuned(model_dir: Path, base_fingerprint: str, faq: Path | None = None) -> Path | None:
    """The newest complete tuned folder made from the base model `base_fingerprint` on the FAQ
    file `faq` (any FAQ when None). A model tuned on another FAQ is never used: its entries are
    not the ones it would re-read (an evaluation set's FAQ, say); edits to the same file are."""
    root = Path(model_dir).expanduser() / TUNED_DIR
    want = str(Path(faq).resolve()) if faq is not None else None
    found: list[tuple[str, Path]] = []
    for folder in root.glob("*") if root.is_dir() else []:
        marker = read_marker(folder)
        if (marker and marker.get("base") == base_fingerprint and marker.get("version") == TUNE_VERSION
                and (want is None or marker.get("faq") == want) and check_onnx(folder) is None):
            found.append((str(marker.get("created", "")), folder))
    return max(found)[1] if found else None


def prune(keep: Path, per_faq: int = KEEP) -> None:
    """Delete older tuned folders of the same base model and FAQ file, keeping `per_faq` (the
    newest serves; the one before stays for a rollback). Each folder is ~350 MB."""
    marker = read_marker(keep) or {}
    same = []
    for folder in keep.parent.glob("*"):
        m = read_marker(folder) if folder.is_dir() and not folder.name.startswith(".") else None
        if m and m.get("base") == marker.get("base") and m.get("faq") == marker.get("faq"):
            same.append((folder == keep, str(m.get("created", "")), folder))
    for _, _, folder in sorted(same, reverse=True)[per_faq:]:
        shutil.rmtree(folder, ignore_errors=True)


def tune(base: Path, entries: Sequence[FaqEntry], labelled: Sequence[Labelled], model_dir: Path,
         config: TuneConfig | None = None, *, faq: Path | None = None, progress: bool = True,
         force: bool = False) -> Path:
    """Fine-tune a copy of the encoder folder `base`; return its folder (reused when the same
    data and settings were tuned before, unless `force`)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from tqdm import tqdm

    config = config or TuneConfig()
    base_fp = folder_fingerprint(base)
    key = faq_key(entries, labelled, base_fp, config)
    out = Path(model_dir).expanduser() / TUNED_DIR / key
    if not force and read_marker(out) and check_onnx(out) is None:
        return out

    def say(msg: str) -> None:
        if progress:
            print(f"trolyso: {msg}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    torch.manual_seed(config.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    try:
        with quiet_transformers():
            model = SentenceTransformer(str(base), device="cpu", local_files_only=True)
        bert: Any = model[0].auto_model  # a transformers BertModel
        tokenizer = model.tokenizer

        def encode(texts: list[str]) -> np.ndarray:
            model.eval()
            return np.asarray(model.encode([QUERY_PROMPT + t for t in texts], batch_size=32,
                                           normalize_embeddings=True, convert_to_numpy=True), dtype=np.float32)

        triples = training_triples(entries, labelled, encode, config)
        say(f"tuning the second stage on {len(entries)} entries, {len(labelled)} review decisions, "
            f"{len(triples)} training triples ...")
        for p in bert.embeddings.word_embeddings.parameters():
            p.requires_grad = False
        params = [p for p in bert.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=config.lr)
        steps = max(1, config.epochs * -(-len(triples) // config.batch_size))
        warm = max(1, steps // 10)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, 1 - s / steps))

        def embed(texts: list[str]) -> torch.Tensor:
            b = tokenizer([QUERY_PROMPT + t for t in texts], padding=True, truncation=True,
                          max_length=config.max_length, return_tensors="pt")
            hidden = bert(**b).last_hidden_state
            mask = b["attention_mask"].unsqueeze(-1).float()
            return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)

        rng = random.Random(config.seed + 1)
        bar = tqdm(total=steps, desc="tuning", unit="step", file=sys.stderr, disable=not progress)
        losses: list[float] = []
        bert.train()
        for _ in range(config.epochs):
            order = triples[:]
            rng.shuffle(order)
            for s in range(0, len(order), config.batch_size):
                batch = order[s: s + config.batch_size]
                a, pos, neg = (embed([t[k] for t in batch]) for k in range(3))
                logits = a @ torch.cat([pos, neg]).T * config.scale
                loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                losses.append(float(loss.item()))
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        bar.close()
        bert.eval()
        tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        try:
            bert.half()  # fp16 on disk, as the base folder (half the space; the export reads it back as float32)
            model.save(str(tmp))
            # the tokenizer is not trained: the base's own file (byte for byte) lets serving share
            # one in-memory tokenizer (~280 MB) between the encoder and the second stage
            shutil.copyfile(base / "tokenizer.json", tmp / "tokenizer.json")
            prepare_onnx(tmp, force=True, progress=progress)
            save_wording_vectors(tmp, [w for e in entries for w in wordings(e)], progress)
            marker = {"version": TUNE_VERSION, "base": base_fp, "key": key,
                      "faq": str(Path(faq).resolve()) if faq else None,
                      "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                      "entries": len(entries), "labelled": len(labelled), "triples": len(triples),
                      "config": asdict(config), "loss_first": round(float(np.mean(losses[:20])), 4),
                      "loss_last": round(float(np.mean(losses[-20:])), 4),
                      "seconds": round(time.perf_counter() - t0, 1)}
            (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
            swap_into_place(tmp, out)
            prune(out)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ModelError(f"cannot write the tuned model to {out.parent}: {e.strerror or e}") from e
    finally:
        torch.set_num_threads(threads)
    say(f"second stage ready in {out} ({time.perf_counter() - t0:.0f} s)")
    return out
