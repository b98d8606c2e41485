"""`trolyso review ...`: the community review queue from the command line (for admins).

    trolyso review list [--json] [--status S|all]   groups, most asked first (JSON lines with --json)
    trolyso review show ID [--json]                  one group with its questions
    trolyso review answer ID "…"                     send the answer to every citizen of the group
    trolyso review link ID FAQ_ID                    answer with an FAQ entry, add the wordings to it
    trolyso review ignore ID                         close without an answer
    trolyso review export --csv FILE [--status S]    one row per group, for commune reports
    trolyso review promote ID [--id NEW] [--category C]   an answered group becomes an FAQ entry

Answers go out through the configured channels' APIs (TROLYSO_TELEGRAM_TOKEN,
TROLYSO_ZALO_TOKEN and their base URLs). The embedding model is loaded only when new questions
have to be grouped.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from bot.cli import common
from bot.review.actions import ActionResult
from bot.review.queue import STATUSES, GroupView, ReviewError, ReviewQueue, iso

if TYPE_CHECKING:
    from bot.retrieval import Index


def _queue(args: argparse.Namespace) -> ReviewQueue:
    from bot.storage import Store

    settings = common.settings()
    store = Store(settings.resolved_db_url, settings.data_dir / "spool.jsonl")
    loaded: list[Index] = []

    def index() -> Index:
        if not loaded:
            from bot.assistant import retrieval_params
            from bot.retrieval import Index, IndexError_

            index_dir = Path(args.index) if getattr(args, "index", None) else settings.resolved_index_dir
            try:
                loaded.append(Index.open(index_dir, common.embedder(settings), retrieval_params(settings)))
            except IndexError_ as exc:
                raise common.UserError(str(exc)) from exc
        return loaded[0]

    queue = ReviewQueue(store, settings, index)
    store.flush_spool()
    queue.assign_pending()
    return queue


def _run(fn: common.Command) -> common.Command:
    """The command, with the queue's problems (unknown group, wrong status, invalid FAQ, database
    down) turned into user errors: one line, exit 1."""

    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except ReviewError as exc:
            raise common.UserError(str(exc)) from exc
        except SQLAlchemyError as exc:
            raise common.UserError(f"database unavailable ({type(exc).__name__}); check TROLYSO_DB_URL") from exc

    return wrapper


def _print_group(g: GroupView, with_items: bool = False) -> None:
    print(f"#{g.id} [{g.status}] {g.count} asked: {g.text}")
    print(f"    first {iso(g.first)}, last {iso(g.last)}, channels: {', '.join(g.channels) or '-'}")
    for c in g.candidates[:3]:
        print(f"    candidate {c['id']} ({c['confidence']:.2f}): {c['question']}")
    if g.faq_id:
        print(f"    FAQ entry: {g.faq_id}")
    if g.answer:
        print("    answer: " + g.answer.replace("\n", "\n            "))
    if with_items:
        for i in g.items:
            print(f"    - item {i.id} {iso(i.created_at)} {i.channel} {i.reason} [{i.status}]: {i.text}")


def _report(result: ActionResult, verb: str) -> None:
    g, r = result.group, result.report
    print(f"group {g.id}: {verb}; {r.summary()} -> status {g.status}")
    for problem in r.problems:
        print(f"    {problem}")
    if r.retry:
        print("    the running bot retries open deliveries every minute")


@_run
def cmd_list(args: argparse.Namespace) -> int:
    groups = _queue(args).groups(None if args.status == "all" else args.status)
    for g in groups:
        if args.json:
            print(json.dumps(g.to_json(), ensure_ascii=False), flush=True)
        else:
            _print_group(g)
    return 0


@_run
def cmd_show(args: argparse.Namespace) -> int:
    g = _queue(args).group(args.id)
    if args.json:
        data = g.to_json()
        data["items"] = [{"id": i.id, "created_at": iso(i.created_at), "channel": i.channel, "reason": i.reason,
                          "status": i.status, "text": i.text} for i in g.items]
        print(json.dumps(data, ensure_ascii=False))
    else:
        _print_group(g, with_items=True)
    return 0


@_run
def cmd_answer(args: argparse.Namespace) -> int:
    from bot.review.actions import answer_group
    from bot.server import open_senders

    queue = _queue(args)

    async def run() -> ActionResult:
        async with open_senders(common.settings(), store=queue.store) as senders:
            return await answer_group(queue, senders, args.id, args.text)

    _report(asyncio.run(run()), "answered")
    return 0


@_run
def cmd_link(args: argparse.Namespace) -> int:
    from bot.review.actions import faq_editor, link_group
    from bot.server import open_senders

    settings = common.settings()
    queue = _queue(args)

    async def run() -> ActionResult:
        async with open_senders(settings, store=queue.store) as senders:
            return await link_group(queue, senders, faq_editor(settings), args.id, args.faq_id)

    result = asyncio.run(run())
    _report(result, f"linked to {args.faq_id}")
    if result.teach_error:
        print(f"    FAQ not changed: {result.teach_error}")
        return 1
    if result.added:
        print(f"    {len(result.added)} wording(s) added to {args.faq_id} in {settings.faq} (backup: {result.backup})")
    else:
        print(f"    {settings.faq}: no new wording for {args.faq_id}")
    return 0


@_run
def cmd_ignore(args: argparse.Namespace) -> int:
    g = _queue(args).ignore(args.id)
    print(f"group {g.id}: ignored ({g.count} question(s))")
    return 0


@_run
def cmd_export(args: argparse.Namespace) -> int:
    queue = _queue(args)
    try:
        n = queue.export_csv(Path(args.csv), None if args.status == "all" else args.status)
    except OSError as exc:
        raise common.UserError(f"cannot write {args.csv}: {exc.strerror or exc}") from exc
    print(f"{n} group(s) written to {args.csv}")
    return 0


@_run
def cmd_promote(args: argparse.Namespace) -> int:
    from bot.review.actions import faq_editor, promote_group

    settings = common.settings()
    result = promote_group(_queue(args), faq_editor(settings), args.id,
                           faq_id=args.faq_id, category=args.category)
    print(f"group {args.id}: new FAQ entry {result.faq_id} in {settings.faq} "
          f"({len(result.added)} wording(s); backup: {result.backup})")
    return 0


def _group_id(value: str) -> int:
    try:
        return int(value.lstrip("#"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a group id: {value!r}") from None


def register(subparsers: common.Subparsers) -> None:
    """Add `review` and its commands to the `trolyso` parser."""
    review = subparsers.add_parser("review", help="the community review queue (unanswered questions)")
    sub = review.add_subparsers(dest="review_cmd", required=True)
    statuses = [*STATUSES, "all"]

    ls = sub.add_parser("list", help="review groups, most asked first")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ls.add_argument("--status", choices=statuses, default="pending")
    ls.set_defaults(func=cmd_list)

    show = sub.add_parser("show", help="one group and its questions")
    show.add_argument("id", type=_group_id)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)

    answer = sub.add_parser("answer", help="send an answer to every citizen of a group")
    answer.add_argument("id", type=_group_id)
    answer.add_argument("text")
    answer.set_defaults(func=cmd_answer)

    link = sub.add_parser("link", help="the group asks an existing FAQ entry: answer with it, teach it")
    link.add_argument("id", type=_group_id)
    link.add_argument("faq_id")
    link.set_defaults(func=cmd_link)

    ignore = sub.add_parser("ignore", help="close a group without an answer")
    ignore.add_argument("id", type=_group_id)
    ignore.set_defaults(func=cmd_ignore)

    export = sub.add_parser("export", help="write the groups to a CSV file")
    export.add_argument("--csv", required=True, metavar="FILE")
    export.add_argument("--status", choices=statuses, default="all")
    export.set_defaults(func=cmd_export)

    promote = sub.add_parser("promote", help="turn an answered group into a new FAQ entry")
    promote.add_argument("id", type=_group_id)
    promote.add_argument("--id", dest="faq_id", help="id of the new entry (default: from the question)")
    promote.add_argument("--category", help="category of the new entry")
    promote.set_defaults(func=cmd_promote)

    for p in (ls, show, answer, link, ignore, export, promote):
        p.add_argument("--index", help="index folder (default: the configured one)")
