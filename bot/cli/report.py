"""`trolyso report`: the activity report of a period (files and/or one JSON object)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.cli import common


def cmd_report(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from bot.report.compose import build_report
    from bot.report.periods import PeriodError, parse_period, timezone
    from bot.report.render import DEFAULT_FORMATS, FORMATS, RenderError, write_report
    from bot.storage import make_engine, migrate
    from indexer.communes import CommuneError, Communes

    settings = common.settings()
    try:
        period = parse_period(args.period, official=args.official)
        tz = timezone(settings.timezone)
    except PeriodError as exc:
        raise common.UserError(str(exc)) from exc
    formats = [f.strip().lower() for f in (args.format or ",".join(DEFAULT_FORMATS)).split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise common.UserError(f"unknown format {unknown[0]!r}; use one or more of {', '.join(FORMATS)}")
    if args.json and args.format is None and args.out is None:
        formats = []  # --json alone: the numbers only
    try:
        communes = Communes.load_if_present(settings.communes)
    except CommuneError as exc:
        raise common.UserError(f"{settings.communes}: {exc}".splitlines()[0]) from exc
    if args.commune is not None and communes.get(args.commune) is None:
        raise common.UserError(f"unknown commune code {args.commune!r} (not in {settings.communes})")
    url = settings.resolved_db_url
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        engine = make_engine(url)
        try:
            migrate(engine)
            report = build_report(engine, period, tz, index_dir=settings.resolved_index_dir, communes=communes,
                                  commune=args.commune, include_cli=args.include_cli)
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        raise common.UserError(f"database unavailable ({shown}): {type(exc).__name__}") from exc
    folder = Path(args.out) if args.out else Path(".")
    if formats:
        try:
            report.files = [str(p) for p in write_report(report, folder, formats)]
        except RenderError as exc:
            raise common.UserError(str(exc)) from exc
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print(report.title())
        print(f"  {report.numbers.questions} câu hỏi, {report.numbers.citizens} người hỏi ({report.period.span()})")
        for path in report.files:
            print(f"  {path}")
    sys.stdout.flush()
    return 0


def register(subparsers: common.Subparsers) -> None:
    p = subparsers.add_parser("report", help="activity report of a period (html, xlsx, pdf, md, csv, json)")
    p.add_argument("--period", required=True, help="2026-11, 2026-H1, 2026 or 2026-11-01..2026-11-30 (local time)")
    p.add_argument("--official", action="store_true", help="state reporting cut-offs (15th to 14th, NĐ 09/2019)")
    p.add_argument("--commune", metavar="CODE", help="one commune's questions (a code of communes.yaml)")
    p.add_argument("--out", metavar="DIR", help="folder for the files (default: the current folder)")
    p.add_argument("--format", metavar="FMT,...", help="md, html, pdf, xlsx, csv (default: html,xlsx)")
    p.add_argument("--json", action="store_true", help="print the numbers as one JSON object")
    p.add_argument("--include-cli", action="store_true", help="count questions asked with trolyso ask/chat too")
    p.set_defaults(func=cmd_report)
