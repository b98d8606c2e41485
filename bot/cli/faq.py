"""`trolyso faq check`: validate an FAQ file (the embedding model only for near-duplicates)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli import common


def cmd_faq_check(args: argparse.Namespace) -> int:
    from indexer.check import check_faq

    settings = common.settings()
    path = Path(args.path) if args.path else settings.faq
    issues = check_faq(path, None if args.no_model else (lambda: common.embedder(settings)),
                       settings.near_duplicate_cosine)
    for issue in issues:
        print(issue)
    errors = sum(1 for i in issues if i.level == "error")
    warnings = len(issues) - errors
    print(f"{path}: {errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return 1 if errors else 0


def register(subparsers: common.Subparsers) -> None:
    faq = subparsers.add_parser("faq", help="FAQ tools").add_subparsers(dest="faq_cmd", required=True)
    chk = faq.add_parser("check", help="validate an FAQ file")
    chk.add_argument("path", nargs="?")
    chk.add_argument("--no-model", action="store_true", help="skip the embedding near-duplicate check")
    chk.set_defaults(func=cmd_faq_check)
