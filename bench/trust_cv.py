"""Cross-validated comparison of type_penalty values at matched decision policies (dev set).

`trolyso eval --cv` lets the tuner pick the clarify band too; here the band (clarify_gap) is
fixed per row so that a change in the policy is not credited to the feature.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from bot import evaluate as ev
from bot.config import Settings
from bot.evaluation_run import prepare, threshold_replayer
from indexer.embedder import embedder_for


def main(set_dir: Path, repeats: int = 10) -> None:
    s = Settings()
    a = prepare(s, set_dir, embedder_for(s))
    qs = ev.load_questions(set_dir / "questions.jsonl")
    keys = ["in_scope_acc", "in_scope_wrong", "in_scope_assisted", "acc_hard_negative", "acc_out_of_scope",
            "negative_wrong", "knowledge_hit"]
    print("| type_penalty | clarify_gap | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    full = dict(ev.GRID)
    for gaps in ([0.0], [0.08], [0.16], full["clarify_gap"]):
        for tp in (0.0, 0.1, 0.3):
            p = replace(a.index.params, type_penalty=tp)
            base = threshold_replayer(a, qs, p)
            ev.GRID["clarify_gap"] = gaps
            m, _ = ev.cross_validate(qs, base, repeats=repeats)
            ev.GRID["clarify_gap"] = full["clarify_gap"]
            g = "tuned" if len(gaps) > 1 else gaps[0]
            print(f"| {tp} | {g} | " + " | ".join(f"{m[k]:.3f}" for k in keys) + " |", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 10)
