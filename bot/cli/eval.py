"""`trolyso eval`: score an evaluation set (optionally tuning thresholds with cross-validation)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli import common


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.evaluation_run import run_eval

    settings = common.settings()
    set_dir = Path(args.set)
    if not (set_dir / "questions.jsonl").exists():
        raise common.UserError(f"{set_dir}: not an evaluation set (no questions.jsonl)")
    return run_eval(settings, set_dir, common.embedder(settings), as_json=args.json, cv=args.cv)


def register(subparsers: common.Subparsers) -> None:
    ev = subparsers.add_parser("eval", help="score an evaluation set")
    ev.add_argument("--set", required=True)
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--cv", type=int, default=0, metavar="N",
                    help="also tune thresholds and cross-validate over N random 2-fold splits")
    ev.set_defaults(func=cmd_eval)
