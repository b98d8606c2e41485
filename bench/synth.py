"""Synthetic FAQ collections of any size, made from real Vietnamese questions, with embeddings.

Texts: every real question (and alternate) of faq.yaml, the dev set's faq.yaml and the public
health FAQ in ../shared/eval/external is cut in two at its middle word. A synthetic question is
the first half of one real question joined to the second half of another (e.g. "Làm tài khoản
định danh điện tử" + "có mất phí không?"); each entry also gets one alternate made the same way
from two other questions, so it has 4 dense vectors like a real entry (accented and folded
text of the question and of the alternate). Answers are a real answer plus the first sentence of
another. Every text is unique after folding (the FAQ validator requires it).

Embeddings: every real question half-pair source is embedded with the real model (accented and
folded forms, "query: " prompt), and the vector of a combined text is
normalise(E[a] + E[b] + noise), noise ~ N(0, 0.015^2) per dimension (|noise| ~ 0.3, about a fifth
of |E[a] + E[b]|), in the same form (accented/folded). This keeps the neighbourhood structure of
real e5 vectors (anisotropic, high cosines) without embedding 400,000 texts; the vectors are put
into the embedding cache of a seed build under the real model's fingerprint, so `build_index`
runs unchanged and finds every vector cached (it embeds only what the cache lacks).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench._common import DEV_SET, ROOT, SHARED, WORK

NOISE = 0.015
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Source:
    question: str
    answer: str
    category: str


def sources() -> list[Source]:
    from indexer.faq import load_faq

    out: list[Source] = []
    for path in (ROOT / "faq.yaml", DEV_SET / "faq.yaml", ROOT / "tests" / "data" / "faq.yaml"):
        if path.exists():
            for e in load_faq(path).entries:
                for q in e.questions:
                    out.append(Source(q, e.answer, e.category or "vneid"))
    health = SHARED / "eval" / "external" / "pubhealthqa_moh_faq" / "faq_entries.jsonl"
    if health.exists():
        for line in health.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            if d.get("question") and d.get("answer") and len(d["question"].split()) >= 4:
                out.append(Source(d["question"].strip(), d["answer"].strip(), "suckhoe"))
    seen, uniq = set(), []
    for s in out:
        if s.question not in seen and len(s.question.split()) >= 3:
            seen.add(s.question)
            uniq.append(s)
    return uniq


def halves(q: str) -> tuple[str, str]:
    words = q.strip().rstrip("?").split()
    cut = max(1, len(words) // 2)
    return " ".join(words[:cut]), " ".join(words[cut:])


def source_vectors(embedder, srcs: list[Source]) -> tuple[np.ndarray, np.ndarray]:
    """Real embeddings (accented normalised form, folded form) of every source question, cached."""
    from indexer.text import views

    WORK.mkdir(parents=True, exist_ok=True)
    cache = WORK / f"synth-sources-{embedder.fingerprint[:12]}-{len(srcs)}.npz"
    if cache.exists():
        with np.load(cache) as d:
            return d["norm"], d["fold"]
    norm = embedder.encode_queries([views(s.question).normalized for s in srcs], batch_size=64)
    fold = embedder.encode_queries([views(s.question).folded for s in srcs], batch_size=64)
    np.savez(cache, norm=norm, fold=fold)
    return norm, fold


@dataclass
class Synthetic:
    entries: list  # indexer.faq.FaqEntry
    vectors: dict[str, np.ndarray]  # text_key -> vector, for every dense text of every entry


def make(n: int, embedder, seed: int = 0) -> Synthetic:
    """n synthetic FAQ entries with a vector for every dense text they produce."""
    from indexer.text import views
    from indexer.build import dense_docs, faq_target, text_key
    from indexer.faq import FaqEntry
    from indexer.text_cache import derive

    srcs = sources()
    norm, fold = source_vectors(embedder, srcs)
    heads = [halves(s.question)[0] for s in srcs]
    tails = [halves(s.question)[1] for s in srcs]
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    used: set[str] = set()
    entries, vectors = [], {}
    m = len(srcs)

    def combine() -> tuple[str, int, int]:
        while True:
            a, b = rng.randrange(m), rng.randrange(m)
            if a == b or not tails[b]:
                continue
            text = f"{heads[a]} {tails[b]}?"
            key = views(text).folded
            if key not in used:
                used.add(key)
                return text, a, b

    def vec(base: np.ndarray, a: int, b: int) -> np.ndarray:
        v = base[a] + base[b] + nrng.normal(0.0, NOISE, base.shape[1]).astype(np.float32)
        return (v / np.linalg.norm(v)).astype(np.float32)

    for i in range(n):
        q, a, b = combine()
        alt, c, d = combine()
        first = _SENTENCE.split(srcs[b].answer.strip())[0]
        entry = FaqEntry(id=f"syn-{i:06d}", question=q, answer=f"{srcs[a].answer.strip()}\n{first}",
                         category=srcs[a].category, alternates=(alt,), source="Dữ liệu tổng hợp cho đo đạc")
        entries.append(entry)
        pairs = {q: (a, b), alt: (c, d)}
        target = faq_target(entry)
        for prompt, text in dense_docs(target, derive(target)):
            for src_text, (x, y) in pairs.items():
                v = views(src_text)
                if text == v.normalized:
                    vectors[text_key(prompt, text)] = vec(norm, x, y)
                    break
                if text == v.folded:
                    vectors[text_key(prompt, text)] = vec(fold, x, y)
                    break
    return Synthetic(entries, vectors)


def write_yaml(entries, path: Path) -> None:
    """The entries as an FAQ file in the project's format (../shared/eval/SPEC.md)."""
    import yaml

    data = {"version": 1, "faqs": [
        {"id": e.id, "category": e.category, "question": e.question, "alternates": list(e.alternates),
         "answer": e.answer, "source": e.source} for e in entries]}
    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper, value: str):  # type: ignore[no-untyped-def]
        style = "|" if "\n" in value else None  # answers as block literals, like faq.yaml
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        yaml.dump(data, fh, Dumper=Dumper, allow_unicode=True, sort_keys=False, width=1000)


def seed_cache(out: Path, embedder, vectors: dict[str, np.ndarray]) -> None:
    """A seed build under `out` whose embedding cache holds `vectors` (the real model's
    fingerprint), so that build_index finds them as if a previous build had embedded them."""
    import os

    import faiss

    from indexer.build import EmbeddingCache, make_faiss_index

    seed = out / "builds" / "00000000-seed"
    seed.mkdir(parents=True, exist_ok=True)
    keys = list(vectors)
    matrix = np.stack([vectors[k] for k in keys]).astype(np.float32)
    faiss.write_index(make_faiss_index(matrix, matrix.shape[1], len(keys)), str(seed / "dense.faiss"))
    EmbeddingCache.save(seed, embedder.fingerprint, keys)
    link = out / ".current-seed"
    if link.is_symlink():
        link.unlink()
    link.symlink_to(Path("builds") / seed.name)
    os.replace(link, out / "current")
