"""`trolyso quiz check [PATH] [--json]`: validate the quiz bank like `trolyso faq check`.
`trolyso quiz results CONTEST [--json]`: a contest's commune leaderboards (bot.contests).

check: exit 1 with `file:line` messages when it is invalid; `--json` prints one object
`{"questions": N, "topics": {...}, "errors": [...]}`. A `faq_id` must be an entry of the FAQ
(`settings.faq`) when that file is readable and valid. `contests.yaml` next to the bank is
checked too (its errors are listed with the bank's).

results: the whole contest and each week, per commune (participants, rounds, average score,
share of right answers); communes with fewer than 5 participants are not ranked. Exit 1 for
an unknown contest or an invalid contests.yaml.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.cli import common


def cmd_quiz_check(args: argparse.Namespace) -> int:
    from indexer.faq import load_faq
    from indexer.quiz import contests_path, load_contests, load_quiz

    settings = common.settings()
    path = Path(args.path) if args.path else settings.quiz
    faq = load_faq(settings.faq) if settings.faq.exists() else None
    known = {e.id for e in faq.entries} if faq is not None and not faq.errors else None
    quiz = load_quiz(path, known)
    contests = load_contests(contests_path(path))
    errors = [*quiz.errors, *contests.errors]
    if args.json:
        summary = quiz.summary()
        summary["errors"] = [str(e) for e in errors]
        print(json.dumps(summary, ensure_ascii=False))
    else:
        for issue in errors:
            print(issue)
        topics = ", ".join(f"{t} {n}" for t, n in quiz.topics().items())
        print(f"{path}: {len(quiz.questions)} question(s) ({topics or 'none'}), {len(quiz.errors)} error(s)",
              file=sys.stderr)
        if contests.contests or contests.errors:
            print(f"{contests.path}: {len(contests.contests)} contest(s), {len(contests.errors)} error(s)",
                  file=sys.stderr)
    return 1 if errors else 0


def cmd_quiz_results(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import sessionmaker

    from bot.contests import ContestResults, results
    from bot.storage import make_engine, migrate
    from indexer.communes import CommuneError, Communes
    from indexer.quiz import contests_path, load_contests

    settings = common.settings()
    contests = load_contests(contests_path(settings.quiz))
    if contests.errors:
        for issue in contests.errors:
            print(issue)
        return 1
    contest = contests.get(args.contest)
    if contest is None:
        known = ", ".join(c.id for c in contests.contests) or "none"
        raise common.UserError(f"unknown contest {args.contest!r} (in {contests.path}: {known})")
    try:
        communes = Communes.load_if_present(settings.communes)
    except CommuneError as exc:
        raise common.UserError(f"{settings.communes}: {exc}".splitlines()[0]) from exc
    try:
        engine = make_engine(settings.resolved_db_url)
        migrate(engine)
        rows = ContestResults(sessionmaker(engine, expire_on_commit=False)).rows(contest.id)
    except SQLAlchemyError as exc:
        raise common.UserError(f"database unavailable ({type(exc).__name__}); check TROLYSO_DB_URL") from exc

    def label(code: str) -> str | None:
        commune = communes.get(code)
        return commune.label if commune is not None else None

    data = results(contest, rows, label)
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return 0
    print(f"{contest.title} ({contest.id}), {contest.start} - {contest.end}: "
          f"{data['participants']} participant(s), {data['rounds']} round(s)")
    for name, board in [("whole contest", data["overall"]),
                        *((f"week {w['week']}", w) for w in data["weeks"])]:
        print(f"\n{name} ({board['start']} - {board['end']})")
        if not board["communes"]:
            print("  no commune with 5 or more participants")
        for n, c in enumerate(board["communes"], 1):
            print(f"  {n:>3}. {c['name'] or c['commune']}: {c['participants']} participant(s), "
                  f"{c['rounds']} round(s), average {c['average']:.2f}, {c['percent']:.1f}% right")
        if board["hidden_communes"]:
            print(f"  ({board['hidden_communes']} commune(s) with fewer than 5 participants not ranked)")
    return 0


def register(subparsers: common.Subparsers) -> None:
    quiz = subparsers.add_parser("quiz", help="quiz bank tools").add_subparsers(dest="quiz_cmd", required=True)
    chk = quiz.add_parser("check", help="validate a quiz file (default: quiz.yaml)")
    chk.add_argument("path", nargs="?")
    chk.add_argument("--json", action="store_true",
                     help='one object: {"questions": N, "topics": {...}, "errors": ["file:line: ..."]}')
    chk.set_defaults(func=cmd_quiz_check)
    res = quiz.add_parser("results", help="a contest's commune leaderboards (contests.yaml)")
    res.add_argument("contest", help="the contest id")
    res.add_argument("--json", action="store_true",
                     help='one object: {"contest", "overall": {"communes": [...]}, "weeks": [...]}')
    res.set_defaults(func=cmd_quiz_results)
