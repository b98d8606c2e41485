"""`trolyso faq check`: validate an FAQ file (the embedding model only for near-duplicates);
`trolyso faq stale`: the entries to look at again (review_by passed, reviewed over a year ago,
citing a superseded legal document)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from bot.cli import common


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def cmd_faq_check(args: argparse.Namespace) -> int:
    from indexer.check import check_faq

    settings = common.settings()
    path = Path(args.path) if args.path else settings.faq
    issues = check_faq(path, None if args.no_model else (lambda: common.embedder(settings)),
                       settings.near_duplicate_cosine, today=args.as_of)
    for issue in issues:
        print(issue)
    errors = sum(1 for i in issues if i.level == "error")
    warnings = len(issues) - errors
    print(f"{path}: {errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return 1 if errors else 0


def cmd_faq_stale(args: argparse.Namespace) -> int:
    from indexer.faq import load_faq
    from indexer.freshness import load_superseded, stale_entries, superseded_path_for

    path = Path(args.path) if args.path else common.settings().faq
    faq = load_faq(path)
    table, table_issues = load_superseded(superseded_path_for(path))
    errors = faq.errors + table_issues
    if errors or not path.exists():
        for issue in errors:
            print(issue, file=sys.stderr)
        print(f"{path}: fix the errors first (trolyso faq check)", file=sys.stderr)
        return 1
    stale = stale_entries(faq, table, args.as_of or dt.date.today())
    for s in stale:
        print(json.dumps(s.as_dict(), ensure_ascii=False) if args.json else f"{path}:{s.line}: {s.message}")
    if not args.json:
        print(f"{path}: {len(stale)} to review ({len({s.id for s in stale})} entries)", file=sys.stderr)
    return 0


def register(subparsers: common.Subparsers) -> None:
    faq = subparsers.add_parser("faq", help="FAQ tools").add_subparsers(dest="faq_cmd", required=True)
    as_of = {"type": _date, "metavar": "DATE",
             "help": "take DATE (YYYY-MM-DD) as today for the review dates (default: today)"}
    chk = faq.add_parser("check", help="validate an FAQ file")
    chk.add_argument("path", nargs="?")
    chk.add_argument("--no-model", action="store_true", help="skip the embedding near-duplicate check")
    chk.add_argument("--as-of", **as_of)  # type: ignore[arg-type]
    chk.set_defaults(func=cmd_faq_check)
    stl = faq.add_parser("stale", help="list FAQ entries to review again")
    stl.add_argument("path", nargs="?")
    stl.add_argument("--json", action="store_true", help="one JSON object per line: id, line, reason, date")
    stl.add_argument("--as-of", **as_of)  # type: ignore[arg-type]
    stl.set_defaults(func=cmd_faq_stale)
