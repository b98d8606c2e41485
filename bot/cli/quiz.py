"""`trolyso quiz check [PATH] [--json]`: validate the quiz bank like `trolyso faq check`.

Exit 1 with `file:line` messages when it is invalid; `--json` prints one object
`{"questions": N, "topics": {...}, "errors": [...]}`. A `faq_id` must be an entry of the FAQ
(`settings.faq`) when that file is readable and valid.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.cli import common


def cmd_quiz_check(args: argparse.Namespace) -> int:
    from indexer.faq import load_faq
    from indexer.quiz import load_quiz

    settings = common.settings()
    path = Path(args.path) if args.path else settings.quiz
    faq = load_faq(settings.faq) if settings.faq.exists() else None
    known = {e.id for e in faq.entries} if faq is not None and not faq.errors else None
    quiz = load_quiz(path, known)
    if args.json:
        print(json.dumps(quiz.summary(), ensure_ascii=False))
    else:
        for issue in quiz.errors:
            print(issue)
        topics = ", ".join(f"{t} {n}" for t, n in quiz.topics().items())
        print(f"{path}: {len(quiz.questions)} question(s) ({topics or 'none'}), {len(quiz.errors)} error(s)",
              file=sys.stderr)
    return 1 if quiz.errors else 0


def register(subparsers: common.Subparsers) -> None:
    quiz = subparsers.add_parser("quiz", help="quiz bank tools").add_subparsers(dest="quiz_cmd", required=True)
    chk = quiz.add_parser("check", help="validate a quiz file (default: quiz.yaml)")
    chk.add_argument("path", nargs="?")
    chk.add_argument("--json", action="store_true",
                     help='one object: {"questions": N, "topics": {...}, "errors": ["file:line: ..."]}')
    chk.set_defaults(func=cmd_quiz_check)
