"""`trolyso broadcast preview|send|status|list`: bulletins to subscribers (bot.bulletins).

- `preview FILE`: validate, then send it to the admin chats as citizens will see it.
- `send FILE [--yes]`: validate, register (a known id with other content: exit 1), ask (without
  a terminal and without --yes: exit 2), then send it now with a progress bar, or leave it to
  `trolyso serve` when its `send_at` is still to come. Run again after an interruption: it
  resumes, and never sends anyone a second copy.
- `status ID [--json]`: counts (JSON keys id, targets, delivered, failed, pending, opted_out,
  uncertain); `list`: every bulletin with its counts.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from bot.cli import common

if TYPE_CHECKING:
    from bot.bulletins.delivery import BulletinStore
    from bot.bulletins.files import BulletinFile
    from bot.config import Settings


def _run(fn: common.Command) -> common.Command:
    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace) -> int:
        from bot.bulletins.delivery import BroadcastError
        from bot.bulletins.files import BulletinError

        try:
            return fn(args)
        except BulletinError as exc:
            for issue in exc.issues:
                print(issue, file=sys.stderr)
            return 1
        except (BroadcastError, ValueError) as exc:
            raise common.UserError(str(exc)) from exc
        except SQLAlchemyError as exc:
            raise common.UserError(f"database unavailable ({type(exc).__name__}); check TROLYSO_DB_URL") from exc

    return wrapper


def _store(settings: Settings) -> BulletinStore:
    from sqlalchemy.orm import sessionmaker

    from bot.bulletins.delivery import BulletinStore
    from bot.storage import make_engine, migrate

    engine = make_engine(settings.resolved_db_url)
    migrated: list[bool] = []

    def ensure() -> None:
        if not migrated:
            migrate(engine)
            migrated.append(True)

    return BulletinStore(sessionmaker(engine, expire_on_commit=False), ensure)


def _load(settings: Settings, path: str) -> BulletinFile:
    from bot.bulletins.files import load_bulletin
    from indexer.communes import Communes

    return load_bulletin(Path(path), Communes.load_if_present(settings.communes))


def _local(value: object, settings: Settings) -> str:
    import datetime as dt

    from bot.bulletins.schedule import local, zone

    if not isinstance(value, dt.datetime):
        return "-"
    return local(value, zone(settings.timezone)).strftime("%Y-%m-%d %H:%M %Z")


@_run
def cmd_preview(args: argparse.Namespace) -> int:
    from bot.replies import admins

    settings = common.settings()
    bulletin = _load(settings, args.file)
    chats = settings.resolved_admin_chat_ids
    print(bulletin.text)
    if not chats:
        raise common.UserError("no admin chat to preview in: set TROLYSO_ADMIN_CHAT_IDS or TROLYSO_ADMIN_IDS")
    if not settings.telegram_token:
        raise common.UserError("previews go to the admins' Telegram chats: set TROLYSO_TELEGRAM_TOKEN")

    async def send() -> list[str]:
        from bot.server import open_senders

        problems: list[str] = []
        async with open_senders(settings) as senders:
            for chat in chats:
                header = await senders["telegram"].send_text(str(chat), admins.BROADCAST_PREVIEW_HEADER.format(
                    id=bulletin.id))
                result = await senders["telegram"].send_text(str(chat), bulletin.text) if header.ok else header
                if not result.ok:
                    problems.append(f"chat {chat}: {result.outcome}: {result.problem}")
        return problems

    problems = asyncio.run(send())
    for problem in problems:
        print(f"preview not delivered to {problem}", file=sys.stderr)
    print(f"preview sent to {len(chats) - len(problems)} of {len(chats)} admin chat(s)", file=sys.stderr)
    return 1 if problems else 0


@_run
def cmd_send(args: argparse.Namespace) -> int:
    from bot.bulletins.delivery import BroadcastError, broadcast
    from bot.bulletins.schedule import QuietHours, to_utc
    from bot.models import utcnow
    from bot.replies import admins

    settings = common.settings()
    quiet = QuietHours.parse(settings.quiet_hours, settings.timezone)
    bulletin = _load(settings, args.file)
    store = _store(settings)
    now = utcnow()
    expires = to_utc(bulletin.expires)
    if expires is not None and expires <= now:
        raise common.UserError(f"bulletin {bulletin.id!r} expired at {_local(expires, settings)}; it is not sent")
    known = store.get(bulletin.id)
    if known is not None and known.digest != bulletin.digest:
        raise BroadcastError(f"bulletin {bulletin.id!r} was already registered with other content; "
                             "give the new version a new id")
    if not args.yes:
        if not sys.stdin.isatty():
            raise SystemExit(common.usage_error("broadcast send", "no terminal to confirm on: add --yes"))
        if known is None:
            store.register(bulletin)
        try:
            answer = input(admins.BROADCAST_CONFIRM.format(id=bulletin.id, targets=store.targets(bulletin.id)))
        except EOFError:  # Ctrl-D at the question: no
            answer = ""
            print(file=sys.stderr)
        if answer.strip().lower() not in admins.BROADCAST_CONFIRM_YES:
            print("not sent", file=sys.stderr)
            return 1
    store.register(bulletin)
    send_at = to_utc(bulletin.send_at)
    if send_at is not None and send_at > now:
        print(f"bulletin {bulletin.id} scheduled for {_local(send_at, settings)}; `trolyso serve` sends it then")
        return 0

    from tqdm import tqdm

    bar = tqdm(total=0, unit="msg", desc=bulletin.id, file=sys.stderr, disable=None)

    def start(total: int) -> None:
        bar.reset(total=total)

    def advance(n: int) -> None:
        bar.update(n)

    def quiet_wait(seconds: float) -> None:
        bar.write(f"quiet hours ({settings.quiet_hours}): waiting {seconds / 60:.0f} min")

    async def send() -> object:
        from bot.server import open_senders

        async with open_senders(settings) as senders:
            chosen = {k: v for k, v in senders.items() if k in ("telegram", "zalo")}
            return await broadcast(store, bulletin.id, chosen, quiet=quiet, window=settings.broadcast_window,
                                   progress=advance, on_start=start, on_quiet=quiet_wait)

    try:
        outcome = asyncio.run(send())
    finally:
        bar.close()
    from bot.bulletins.delivery import Outcome

    assert isinstance(outcome, Outcome)
    c = outcome.counts
    print(f"bulletin {c.id}: {c.delivered} delivered, {c.failed} failed, {c.opted_out} opted out, "
          f"{c.uncertain} uncertain, {c.pending} pending of {c.targets}")
    for channel in outcome.waiting_channels:
        print(f"warning: {channel} is not configured; its subscribers wait (pending)", file=sys.stderr)
    if outcome.result == "expired":
        print(f"the bulletin expired at {_local(expires, settings)}; the rest is not sent", file=sys.stderr)
        return 1
    if outcome.result in ("stopped", "lost_lease"):
        print("sending stopped (network or provider problem); run the same command again to resume",
              file=sys.stderr)
        return 1
    return 0


@_run
def cmd_status(args: argparse.Namespace) -> int:
    settings = common.settings()
    store = _store(settings)
    counts = store.counts(args.id)
    if args.json:
        print(json.dumps(counts.as_dict(), ensure_ascii=False))
        return 0
    bulletin = store.get(args.id)
    assert bulletin is not None
    print(f"{bulletin.id}: {bulletin.title}")
    print(f"  audience: {', '.join(bulletin.audience) or 'all'}; send_at: {_local(bulletin.send_at, settings)}; "
          f"expires: {_local(bulletin.expires, settings)}; finished: {_local(bulletin.finished_at, settings)}")
    print(f"  targets {counts.targets}: delivered {counts.delivered}, failed {counts.failed}, "
          f"pending {counts.pending}, opted out {counts.opted_out}, uncertain {counts.uncertain}")
    if counts.uncertain:
        print("  uncertain: the sender stopped between sending and recording these; they may or may not have "
              "arrived and are never sent again")
    return 0


@_run
def cmd_list(args: argparse.Namespace) -> int:
    settings = common.settings()
    store = _store(settings)
    for b in store.all():
        c = store.counts(b.id)
        state = "finished" if b.finished_at else ("scheduled" if b.send_at and not c.targets else "open")
        print(f"{b.id}\t{state}\t{_local(b.send_at or b.created_at, settings)}\t{c.delivered}/{c.targets} "
              f"delivered\t{c.uncertain} uncertain\t{b.title}")
    return 0


def register(subparsers: common.Subparsers) -> None:
    """Add `trolyso broadcast ...` to the CLI's subcommands."""
    p = subparsers.add_parser("broadcast", help="bulletins to subscribed citizens").add_subparsers(
        dest="broadcast_cmd", required=True)
    preview = p.add_parser("preview", help="send a bulletin file to the admin chats as citizens will see it")
    preview.add_argument("file")
    preview.set_defaults(func=cmd_preview)
    send = p.add_parser("send", help="send a bulletin file to its audience (or schedule it: send_at)")
    send.add_argument("file")
    send.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    send.set_defaults(func=cmd_send)
    status = p.add_parser("status", help="delivery counts of a bulletin")
    status.add_argument("id")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    listing = p.add_parser("list", help="every bulletin with its counts")
    listing.set_defaults(func=cmd_list)
