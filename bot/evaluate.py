"""`trolyso eval`: score an evaluation set (../shared/eval/SPEC.md), tune and cross-validate thresholds.

Besides the SPEC's metrics it lists the confidently wrong answers ("confusions"): a share says how
often the bot misleads, the list says which entries it mistakes for which, and so what to fix in the
FAQ (a missing alternate, two entries too alike, an entry that attracts near-miss questions).
"""

from __future__ import annotations

import itertools
import json
import random
import statistics
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bot.config import Thresholds
from bot.types import Reply

IN_SCOPE = ("paraphrase", "no_diacritics", "teencode", "verbose")
KNOWLEDGE = ("knowledge", "knowledge_no_diacritics")
NEGATIVE = ("out_of_scope", "hard_negative")

# The reply to question i (of the list being scored) under the given thresholds.
AnswerWith = Callable[[int, Thresholds], Reply]
T = TypeVar("T")


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    kind: str
    expect: str | None
    expect_text: tuple[str, ...]


def load_questions(path: Path) -> list[Question]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            out.append(Question(d["id"], d["text"], d["kind"], d.get("expect"), tuple(d.get("expect_text") or ())))
    return out


def correct(q: Question, r: Reply) -> bool:
    """Whether a reply counts as correct for its question's group (SPEC.md)."""
    if q.kind in IN_SCOPE:
        return r.kind == "faq" and r.faq_id == q.expect
    if q.kind in KNOWLEDGE:
        return r.kind in ("faq", "knowledge") and any(
            unicodedata.normalize("NFC", t) in r.answer for t in q.expect_text)
    if q.kind in NEGATIVE:
        return r.kind == "unanswered"
    if q.kind == "chitchat":
        return r.kind == "chitchat"
    return False


def assisted(q: Question, r: Reply) -> bool:
    """An in-scope question met with a clarification that offers its expected entry."""
    return r.kind == "clarify" and any(s.faq_id == q.expect for s in r.suggestions)


def score(questions: list[Question], replies: list[Reply], latencies_ms: list[float] | None = None) -> dict:
    by_kind: dict[str, list[bool]] = defaultdict(list)
    ins = [(q, r) for q, r in zip(questions, replies, strict=True) if q.kind in IN_SCOPE]
    neg = [(q, r) for q, r in zip(questions, replies, strict=True) if q.kind in NEGATIVE]
    kno = [(q, r) for q, r in zip(questions, replies, strict=True) if q.kind in KNOWLEDGE]
    chi = [(q, r) for q, r in zip(questions, replies, strict=True) if q.kind == "chitchat"]
    for q, r in zip(questions, replies, strict=True):
        by_kind[q.kind].append(correct(q, r))

    def mean(xs: list[bool]) -> float:
        return sum(xs) / len(xs) if xs else 0.0

    m = {
        "questions": len(questions),
        "in_scope_acc": mean([correct(q, r) for q, r in ins]),
        "in_scope_assisted": mean([assisted(q, r) for q, r in ins]),
        # the citizen reaches the right answer either way: at once, or one tap on a suggestion away
        "in_scope_right_or_helped": mean([correct(q, r) or assisted(q, r) for q, r in ins]),
        "in_scope_wrong": mean([r.kind in ("faq", "knowledge") and not correct(q, r) for q, r in ins]),
        "negative_rejection": mean([r.kind == "unanswered" for _, r in neg]),
        "negative_wrong": mean([r.kind in ("faq", "knowledge") for _, r in neg]),
        "knowledge_hit": mean([correct(q, r) for q, r in kno]),
        "chitchat": mean([correct(q, r) for q, r in chi]),
    }
    for kind, xs in sorted(by_kind.items()):
        m[f"acc_{kind}"] = mean(xs)
    if latencies_ms:
        lat = sorted(latencies_ms)
        m["latency_p50_ms"] = round(statistics.median(lat), 2)
        m["latency_p95_ms"] = round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 2)
    return m


def objective(m: dict) -> float:
    """What thresholds are tuned for: right answers and honest rejections, confident wrong costs."""
    return (m["in_scope_acc"] + 0.5 * m["in_scope_assisted"] + m["negative_rejection"] + m["knowledge_hit"]
            - 1.5 * m["in_scope_wrong"] - 0.5 * m["negative_wrong"])


GRID = {
    "answer": [x / 100 for x in range(60, 96, 2)],
    "clarify_gap": [0.0, 0.08, 0.16],
    "knowledge": [x / 100 for x in range(58, 90, 3)],
    "rank_gap": [0.0, 0.5],
}


def grid() -> list[Thresholds]:
    out = []
    for a, g, k, r in itertools.product(GRID["answer"], GRID["clarify_gap"], GRID["knowledge"], GRID["rank_gap"]):
        out.append(Thresholds(answer=a, clarify=round(a - g, 3), knowledge=k, rank_gap=r))
    return out


def tune(questions: list[Question], answer_with: AnswerWith, idx: list[int]) -> Thresholds:
    best, best_t = -1e9, None
    qs = [questions[i] for i in idx]
    for t in grid():
        m = score(qs, [answer_with(i, t) for i in idx])
        o = objective(m)
        if o > best:
            best, best_t = o, t
    assert best_t is not None
    return best_t


def cross_validate(questions: list[Question], answer_with: AnswerWith, repeats: int = 5,
                   seed: int = 0) -> tuple[dict, list[Thresholds]]:
    """Stratified 2-fold CV repeated `repeats` times: tune on one half, score the other."""
    rng = random.Random(seed)
    by_kind: dict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(questions):
        by_kind[q.kind].append(i)
    folds_metrics, chosen = [], []
    for _ in range(repeats):
        a, b = [], []
        for ids in by_kind.values():
            ids = ids[:]
            rng.shuffle(ids)
            a += ids[: len(ids) // 2]
            b += ids[len(ids) // 2:]
        for train, test in ((a, b), (b, a)):
            t = tune(questions, answer_with, train)
            chosen.append(t)
            folds_metrics.append(score([questions[i] for i in test], [answer_with(i, t) for i in test]))
    keys = folds_metrics[0].keys()
    return {k: statistics.mean(m[k] for m in folds_metrics) for k in keys}, chosen


def format_table(rows: list[tuple[str, dict]]) -> str:
    cols = ["in_scope_acc", "in_scope_wrong", "in_scope_assisted", "in_scope_right_or_helped", "negative_rejection",
            "negative_wrong", "knowledge_hit", "chitchat"]
    kinds = sorted({k for _, m in rows for k in m if k.startswith("acc_")})
    head = ["run"] + cols + kinds
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, m in rows:
        lines.append("| " + " | ".join([name] + [f"{m.get(c, 0):.3f}" for c in cols + kinds]) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Confusion:
    """A confidently wrong answer: what the question expected and what the bot answered instead."""

    id: str
    kind: str
    text: str
    expected: str | None  # the FAQ id expected; None for out-of-scope and near-miss questions
    answered: str  # the FAQ id answered, or "kb:<passage id>"
    score: float

    def to_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "text": self.text, "expected": self.expected,
                "answered": self.answered, "score": round(float(self.score), 4)}


def confusions(questions: list[Question], replies: list[Reply]) -> list[Confusion]:
    """The answers counted in `in_scope_wrong` and `negative_wrong`, by kind (in SPEC order) then id."""
    out = []
    for q, r in zip(questions, replies, strict=True):
        if r.kind not in ("faq", "knowledge") or q.kind not in IN_SCOPE + NEGATIVE or correct(q, r):
            continue
        answered = r.faq_id if r.kind == "faq" else r.passage_id
        out.append(Confusion(q.id, q.kind, q.text, q.expect if q.kind in IN_SCOPE else None,
                             answered or f"{r.kind}:?", r.score))
    order = {k: i for i, k in enumerate(IN_SCOPE + NEGATIVE)}
    return sorted(out, key=lambda c: (order[c.kind], c.id))


def confused_pairs(confs: list[Confusion]) -> list[tuple[str | None, str, int]]:
    """(expected, answered, count) for the pairs met more than once, most frequent first."""
    counts = Counter((c.expected, c.answered) for c in confs)
    pairs = [(e, a, n) for (e, a), n in counts.items() if n > 1]
    return sorted(pairs, key=lambda p: (-p[2], p[0] or "", p[1]))


def _short(text: str, width: int = 80) -> str:
    text = " ".join(text.split()).replace("|", "/")
    return text if len(text) <= width else text[: width - 1] + "…"


def format_confusions(confs: list[Confusion], header: str) -> str:
    """The confusions as a table, then the (expected → answered) pairs that repeat."""
    lines = [f"{header}: {len(confs)}"]
    if confs:
        lines += ["| id | kind | question | expected | answered | score |", "|---|---|---|---|---|---|"]
        lines += [f"| {c.id} | {c.kind} | {_short(c.text)} | {c.expected or '—'} | {c.answered} | {c.score:.3f} |"
                  for c in confs]
    pairs = confused_pairs(confs)
    if pairs:
        lines.append("confused pairs (expected → answered, more than once):")
        lines += [f"  {e or '—'} → {a}: {n}" for e, a, n in pairs]
    return "\n".join(lines)


def timed(fn: Callable[..., T], *args: Any) -> tuple[T, float]:
    """`fn(*args)` and how long it took, in milliseconds."""
    t0 = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - t0) * 1000
