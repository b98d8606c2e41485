"""Run `trolyso eval`: build a fresh index for the set, answer every question, print the metrics."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bot import evaluate as ev
from bot.assistant import Assistant, retrieval_params
from bot.chitchat import detect as detect_chitchat
from bot.config import Settings, Thresholds
from bot.decide import decide
from bot.retrieval import Features, Index, RetrievalParams, score_features
from bot.types import Candidate, Message, Reply
from indexer.build import build_index
from indexer.text import views

if TYPE_CHECKING:
    from indexer.embedder import TextEmbedder


class Replayer(Protocol):
    """The reply to question i under `thresholds` (and scoring params `p`, default the index's)."""

    def __call__(self, i: int, thresholds: Thresholds, p: RetrievalParams | None = None) -> Reply: ...


def prepare(settings: Settings, set_dir: Path, embedder: TextEmbedder, progress: bool = False) -> Assistant:
    """A fresh index of the set (embeddings cached between runs), and an assistant that logs nothing."""
    key = hashlib.sha1(str(set_dir.resolve()).encode()).hexdigest()[:12]
    out = settings.data_dir / "eval" / f"{set_dir.resolve().name}-{key}"
    faq = set_dir / "faq.yaml"
    build_index(faq if faq.exists() else None, set_dir / "knowledge", out, embedder,
                exact_max=settings.faiss_exact_max, progress=progress, log=lambda s: None)
    index = Index.open(out, embedder, retrieval_params(settings, faq))
    return Assistant(settings, index, store=None)


def run_eval(settings: Settings, set_dir: Path, embedder: TextEmbedder, as_json: bool = False, cv: int = 0) -> int:
    assistant = prepare(settings, set_dir, embedder, progress=not as_json)
    questions = ev.load_questions(set_dir / "questions.jsonl")
    replies, latencies = [], []
    assistant.handle(Message("khởi động"))  # warm-up, not measured
    assistant.index.wait_warm()
    for q in questions:
        t0 = time.perf_counter()
        replies.append(assistant.handle(Message(q.text, channel="eval")))
        latencies.append((time.perf_counter() - t0) * 1000)
    metrics = ev.score(questions, replies, latencies)
    confusions = ev.confusions(questions, replies)
    result: dict = dict(metrics)
    rows = [("configured thresholds", metrics)]
    if cv:
        answer_with = threshold_replayer(assistant, questions)
        cv_metrics, chosen = ev.cross_validate(questions, answer_with, repeats=cv)
        tuned = ev.tune(questions, answer_with, list(range(len(questions))))
        insample = ev.score(questions, [answer_with(i, tuned) for i in range(len(questions))])
        rows += [(f"cross-validated ({cv}x2 folds)", cv_metrics), ("tuned in-sample", insample)]
        result["cv"] = cv_metrics
        result["tuned_in_sample"] = insample
        result["tuned_thresholds"] = tuned.model_dump()
    result["confusions"] = [c.to_json() for c in confusions]
    result["confused_pairs"] = [{"expected": e, "answered": a, "count": n} for e, a, n in ev.confused_pairs(confusions)]
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"evaluation set: {set_dir} ({len(questions)} questions)")
        print(ev.format_table(rows))
        print(f"latency per question: p50 {metrics['latency_p50_ms']:.1f} ms, p95 {metrics['latency_p95_ms']:.1f} ms")
        if cv:
            print("thresholds tuned on the whole set: " + json.dumps(result["tuned_thresholds"]))
        # the cross-validated folds each reply under other thresholds: the list is the configured run's
        print()
        print(ev.format_confusions(confusions, "confidently wrong answers at the configured thresholds"
                                   + (" (not the cross-validated folds)" if cv else "")))
    return 0


def threshold_replayer(assistant: Assistant, questions: list[ev.Question],
                       params: RetrievalParams | None = None) -> Replayer:
    """Retrieval once per question; replies for any thresholds (and scoring params) are then cheap."""
    index = assistant.index
    params = params or index.params
    fixed: dict[int, Reply] = {}
    feats: dict[int, Features] = {}
    for i, q in enumerate(questions):
        v = views(q.text)
        if not v.has_content or detect_chitchat(v.folded):
            fixed[i] = assistant.handle(Message(q.text))
        else:
            feats[i] = index.features(v)
    cache: dict[int, list[Candidate]] = {}

    def answer_with(i: int, thresholds: Thresholds, p: RetrievalParams | None = None) -> Reply:
        if i in fixed:
            return fixed[i]
        if p is None:
            if i not in cache:
                cache[i] = index.rescore(views(questions[i].text), score_features(feats[i], params))
            cands = cache[i]
        else:
            cands = index.rescore(views(questions[i].text), score_features(feats[i], p))
        return assistant._reply(questions[i].text, decide(cands, thresholds), index)

    return answer_with
