"""`trolyso privacy purge --older-than 180d`: delete old question logs (data retention).

What goes, in one transaction:
- question log records older than the cutoff, except those an open review item still points to;
- closed review items (any status but the open ones) older than the cutoff;
- closed review groups not touched since the cutoff that no longer hold any item;
- channel delivery keys (`processed_updates`, used to answer a redelivered update once) older
  than the cutoff or than 7 days, whichever is shorter: they are only needed for a few days
  and a Telegram key holds the raw chat id;
- bulletin subscribers who opted out or blocked the bot (`inactive`) and have not been touched
  since the cutoff (their chat id was deleted already; this removes the hashed user id too).
Open review items (and the question records they point to) are always kept. On SQLite the file
is vacuumed afterwards so that deleted text does not linger in free pages.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from typing import TYPE_CHECKING, Any, Protocol, cast

from bot.cli import common

if TYPE_CHECKING:
    from sqlalchemy import Delete
    from sqlalchemy.engine import CursorResult, Engine
    from sqlalchemy.orm import Session

OPEN_STATUSES = ("pending", "open")  # review items/groups still waiting for a person
UPDATE_KEYS_MAX_AGE = dt.timedelta(days=7)
_DURATION = re.compile(r"^\s*(\d+)\s*([dhw]?)\s*$", re.IGNORECASE)
_UNITS = {"": "days", "d": "days", "h": "hours", "w": "weeks"}


def parse_age(text: str) -> dt.timedelta:
    """`180d`, `26w`, `36h` or a bare number of days."""
    m = _DURATION.match(text or "")
    if not m:
        raise argparse.ArgumentTypeError(f"invalid age {text!r}: use e.g. 180d, 26w or 36h")
    return dt.timedelta(**{_UNITS[m.group(2).lower()]: int(m.group(1))})


def _describe(age: dt.timedelta) -> str:
    if age.seconds == 0 and age.microseconds == 0:
        return f"{age.days} day(s)"
    return f"{age.total_seconds() / 3600:g} hour(s)"


class Database(Protocol):
    """What `purge` needs: a `bot.storage.Store`, or `_Database` below."""

    engine: Engine

    def ensure_schema(self) -> None: ...

    def session(self) -> Session: ...


def _deleted(s: Session, statement: Delete) -> int:
    """Rows a DELETE removed (a DML statement's result is a CursorResult; Session types it as Result)."""
    return cast("CursorResult[Any]", s.execute(statement)).rowcount


def purge(store: Database, older_than: dt.timedelta, *, dry_run: bool = False,
          now: dt.datetime | None = None) -> dict[str, int]:
    """Delete what is older than `older_than` (see the module docstring); return the counts."""
    from sqlalchemy import delete, exists, func, select, text

    from bot.models import ProcessedUpdate, QuestionLog, ReviewGroup, ReviewItem, Subscriber, utcnow

    now = now or utcnow()
    cutoff = now - older_than
    keys_cutoff = now - min(older_than, UPDATE_KEYS_MAX_AGE)
    store.ensure_schema()
    counts: dict[str, int] = {}
    with store.session() as s:
        tx = s.begin()
        try:
            counts["review_items"] = _deleted(s, delete(ReviewItem).where(
                ReviewItem.status.not_in(OPEN_STATUSES), ReviewItem.created_at < cutoff))
            still_referenced = select(ReviewItem.question_id).where(ReviewItem.question_id.is_not(None))
            counts["questions"] = _deleted(s, delete(QuestionLog).where(
                QuestionLog.created_at < cutoff, QuestionLog.id.not_in(still_referenced)))
            counts["review_groups"] = _deleted(s, delete(ReviewGroup).where(
                ReviewGroup.status.not_in(OPEN_STATUSES),
                ReviewGroup.updated_at < cutoff,
                ~exists().where(ReviewItem.group_id == ReviewGroup.id),
            ))
            counts["update_keys"] = _deleted(s, delete(ProcessedUpdate).where(ProcessedUpdate.created_at < keys_cutoff))
            counts["subscribers"] = _deleted(s, delete(Subscriber).where(
                Subscriber.status.in_(("inactive", "opted_out")), Subscriber.updated_at < cutoff))
            counts["kept_open_review_items"] = s.scalar(
                select(func.count()).select_from(ReviewItem).where(ReviewItem.status.in_(OPEN_STATUSES))
            ) or 0
            counts["kept_questions"] = s.scalar(select(func.count()).select_from(QuestionLog)) or 0
            if dry_run:
                tx.rollback()
            else:
                tx.commit()
        except BaseException:
            tx.rollback()
            raise
    if not dry_run and store.engine.dialect.name == "sqlite" and any(
            counts[k] for k in ("review_items", "questions", "review_groups", "update_keys", "subscribers")):
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM"))
    return counts


class _Database:
    """What `purge` needs from a Store, without the Store's start-up spool warnings."""

    def __init__(self, url: str) -> None:
        from sqlalchemy.orm import sessionmaker

        from bot.storage import make_engine

        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def ensure_schema(self) -> None:
        from bot.storage import migrate

        migrate(self.engine)

    def session(self) -> Session:
        return self._sessions()


def cmd_privacy_purge(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from bot.storage import normalize_url

    settings = common.settings()
    url = settings.resolved_db_url
    shown = make_url(normalize_url(url)).render_as_string(hide_password=True)
    db = _Database(url)
    try:
        counts = purge(db, args.older_than, dry_run=args.dry_run)
    except SQLAlchemyError as exc:
        detail = (str(getattr(exc, "orig", None) or "").strip().splitlines() or [""])[0][:200]
        message = f"cannot purge the database {shown}: {exc.__class__.__name__}: {detail}".rstrip(": ")
        raise common.UserError(message) from exc
    finally:
        db.engine.dispose()
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {counts['questions']} question log record(s), {counts['review_items']} closed review "
          f"item(s), {counts['review_groups']} closed review group(s) and {counts['update_keys']} delivery "
          f"key(s) older than {_describe(args.older_than)}; kept {counts['kept_open_review_items']} open "
          f"review item(s) and {counts['kept_questions']} question log record(s)")
    print(f"{verb} {counts['subscribers']} bulletin subscriber(s) who opted out or blocked the bot, "
          f"inactive for more than {_describe(args.older_than)}")
    return 0


def register(subparsers: common.Subparsers) -> None:
    """Add `trolyso privacy purge` to the CLI's subcommands."""
    privacy = subparsers.add_parser("privacy", help="personal data: retention").add_subparsers(
        dest="privacy_cmd", required=True)
    purge_p = privacy.add_parser("purge", help="delete question logs and closed review items older than an age")
    purge_p.add_argument("--older-than", required=True, type=parse_age, metavar="AGE",
                         help="e.g. 180d (days), 26w (weeks) or 36h (hours)")
    purge_p.add_argument("--dry-run", action="store_true", help="count only, delete nothing")
    purge_p.set_defaults(func=cmd_privacy_purge)
