"""Delivering a bulletin: never twice, and nothing lost silently.

Neither provider's send can be made idempotent, so each (bulletin, subscriber) is one row of
`deliveries` with a unique key, and it moves through these states:

    pending ──claim──► claimed ──send──► delivered   (the provider took it)
       │                  │        └───► failed      (refused: blocked, no such chat; the
       │                  │                           subscriber becomes inactive)
       │                  └── never confirmed (killed, network down) ──► uncertain (never resent)
       └── the citizen opted out before their turn ──► opted_out

A run takes the bulletin's lease (one sender at a time; a second `send` finds it taken and
stops, a lease of a dead process on this host or an expired one is taken over), turns every
`claimed` row of earlier runs into `uncertain`, adds `pending` rows for active subscribers of the
audience that have none (the unique key makes this safe to repeat), then repeats: claim at most
`window` pending rows in one transaction (re-reading each subscription there, so an opt-out
stops it), send them through the channels' `Sender`s at once, confirm them in one transaction.
So an interruption leaves at most `window` rows uncertain. A `retry` outcome (network, flood
control longer than we wait) may or may not have reached the citizen: that row is uncertain and
the run stops, to be run again. Quiet hours pause the run; an expired bulletin is not sent on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from bot.bulletins.files import BulletinFile
from bot.bulletins.schedule import QuietHours, to_utc
from bot.models import Bulletin, Citizen, Delivery, Subscriber, utcnow
from bot.outbound import NoSender, Sender, SendResult
from bot.periodic import repeat

log = logging.getLogger(__name__)

STATES = ("pending", "claimed", "delivered", "failed", "opted_out", "uncertain")
LEASE_SECONDS = 60.0
Clock = Callable[[], dt.datetime]


class BroadcastError(Exception):
    """A problem the admin can fix (one line)."""


class Busy(BroadcastError):
    """Another live process is sending this bulletin."""


@dataclass(frozen=True)
class Counts:
    id: str
    targets: int
    delivered: int
    failed: int
    pending: int
    opted_out: int
    uncertain: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rows(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


def owner_id() -> str:
    """This process: host, pid and a random part (a reused pid is another owner)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


def _owner_dead(owner: str) -> bool:
    """True when the lease owner is a process of this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname()[:80] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class BulletinStore:
    """The bulletins, their delivery rows and leases in the database."""

    def __init__(self, sessions: sessionmaker[Session], ensure_schema: Callable[[], None] | None = None,
                 clock: Clock = utcnow) -> None:
        self._sessions = sessions
        self._ensure_schema = ensure_schema
        self._clock = clock

    def prepare(self) -> None:
        if self._ensure_schema is not None:
            self._ensure_schema()

    # -- bulletins ---------------------------------------------------------------------------

    def register(self, b: BulletinFile) -> bool:
        """Store the bulletin; False when it was stored already (same content). A known id with
        other content is an error: a bulletin is never changed after it was registered."""
        self.prepare()
        with self._sessions() as s, s.begin():
            row = s.get(Bulletin, b.id)
            if row is not None:
                if row.digest != b.digest:
                    raise BroadcastError(f"bulletin {b.id!r} was already registered with other content; "
                                         "give the new version a new id")
                return False
            s.add(Bulletin(id=b.id, digest=b.digest, title=b.title, topic=b.topic, audience=list(b.audience),
                           text=b.text, send_at=to_utc(b.send_at), expires=to_utc(b.expires),
                           created_at=self._clock()))
        return True

    def get(self, bid: str) -> Bulletin | None:
        self.prepare()
        with self._sessions() as s:
            return s.get(Bulletin, bid)

    def all(self) -> list[Bulletin]:
        self.prepare()
        with self._sessions() as s:
            return list(s.scalars(select(Bulletin).order_by(Bulletin.created_at, Bulletin.id)))

    def due(self) -> list[str]:
        """Scheduled bulletins whose time has come, not finished, not expired, lease free."""
        now = self._clock()
        self.prepare()
        with self._sessions() as s:
            return list(s.scalars(select(Bulletin.id).where(
                Bulletin.send_at.is_not(None), Bulletin.send_at <= now, Bulletin.finished_at.is_(None),
                or_(Bulletin.expires.is_(None), Bulletin.expires > now),
                or_(Bulletin.lease_until.is_(None), Bulletin.lease_until < now),
            ).order_by(Bulletin.send_at)))

    # -- the lease -----------------------------------------------------------------------------

    def acquire(self, bid: str, owner: str, seconds: float = LEASE_SECONDS) -> None:
        """Take the bulletin's lease, or raise `Busy`."""
        now = self._clock()
        until = now + dt.timedelta(seconds=seconds)
        with self._sessions() as s, s.begin():
            taken = _rows(s.execute(update(Bulletin).where(
                Bulletin.id == bid,
                or_(Bulletin.lease_owner.is_(None), Bulletin.lease_until < now, Bulletin.lease_owner == owner),
            ).values(lease_owner=owner, lease_until=until)))
            if taken:
                return
            holder = s.scalar(select(Bulletin.lease_owner).where(Bulletin.id == bid))
            if holder and _owner_dead(holder):  # killed on this host: take it over at once
                if _rows(s.execute(update(Bulletin).where(Bulletin.id == bid, Bulletin.lease_owner == holder)
                                   .values(lease_owner=owner, lease_until=until))):
                    log.info("bulletin %s: the previous sender (%s) is gone; resuming", bid, holder)
                    return
        raise Busy(f"bulletin {bid!r} is being sent by another process ({holder}); "
                   f"`trolyso broadcast status {bid}` shows its progress")

    def renew(self, bid: str, owner: str, seconds: float = LEASE_SECONDS) -> bool:
        with self._sessions() as s, s.begin():
            return bool(_rows(s.execute(update(Bulletin).where(Bulletin.id == bid, Bulletin.lease_owner == owner)
                                        .values(lease_until=self._clock() + dt.timedelta(seconds=seconds)))))

    def release(self, bid: str, owner: str) -> None:
        with self._sessions() as s, s.begin():
            s.execute(update(Bulletin).where(Bulletin.id == bid, Bulletin.lease_owner == owner)
                      .values(lease_owner=None, lease_until=None))

    # -- delivery rows ---------------------------------------------------------------------------

    def recover(self, bid: str, owner: str) -> int:
        """Claims of earlier runs were never confirmed: uncertain (the lease holder calls this)."""
        with self._sessions() as s, s.begin():
            return _rows(s.execute(update(Delivery).where(
                Delivery.bulletin_id == bid, Delivery.status == "claimed",
                or_(Delivery.claimed_by.is_(None), Delivery.claimed_by != owner),
            ).values(status="uncertain", updated_at=self._clock(),
                     problem="claimed by a run that stopped before confirming it")))

    def enroll(self, bid: str) -> int:
        """Add a pending row for every active subscriber of the audience that has none."""
        with self._sessions() as s, s.begin():
            bulletin = s.get(Bulletin, bid)
            if bulletin is None:
                raise BroadcastError(f"no bulletin {bid!r}")
            query = select(Subscriber.id, Subscriber.channel).where(Subscriber.status == "active")
            if bulletin.audience:
                query = query.join(Citizen, and_(Citizen.channel == Subscriber.channel,
                                                 Citizen.user_key == Subscriber.user_key)).where(
                    Citizen.commune_code.in_(list(bulletin.audience)))
            has_row = select(Delivery.id).where(Delivery.bulletin_id == bid,
                                                Delivery.subscriber_id == Subscriber.id).exists()
            rows = [{"bulletin_id": bid, "subscriber_id": sid, "channel": channel, "status": "pending",
                     "updated_at": self._clock()} for sid, channel in s.execute(query.where(~has_row))]
            if not rows:
                return 0
            dialect = s.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            added = 0
            for start in range(0, len(rows), 1000):
                statement = insert(Delivery).values(rows[start:start + 1000]).on_conflict_do_nothing(
                    index_elements=["bulletin_id", "subscriber_id"])
                added += max(_rows(s.execute(statement)), 0)
            return added

    def claim(self, bid: str, owner: str, n: int, channels: Sequence[str]) -> tuple[list[tuple[int, str, str]], int]:
        """Claim up to `n` pending rows of these channels: (delivery id, channel, chat id), and how
        many rows were settled without a send (their subscriber left meanwhile: opted_out, or
        failed when inactive)."""
        now = self._clock()
        with self._sessions() as s, s.begin():
            query = (select(Delivery.id).where(Delivery.bulletin_id == bid, Delivery.status == "pending",
                                               Delivery.channel.in_(list(channels)))
                     .order_by(Delivery.id).limit(n))
            if s.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list(s.scalars(query))
            if not ids:
                return [], 0
            s.execute(update(Delivery).where(Delivery.id.in_(ids), Delivery.status == "pending")
                      .values(status="claimed", claimed_by=owner, updated_at=now))
            rows = s.execute(select(Delivery.id, Delivery.channel, Subscriber.status, Subscriber.chat_id)
                             .join(Subscriber, Subscriber.id == Delivery.subscriber_id, isouter=True)
                             .where(Delivery.id.in_(ids), Delivery.status == "claimed",
                                    Delivery.claimed_by == owner)
                             .order_by(Delivery.id)).all()
            claimed: list[tuple[int, str, str]] = []
            skipped = 0
            for did, channel, status, chat_id in rows:
                if status == "active" and chat_id:
                    claimed.append((did, channel, chat_id))
                else:
                    s.execute(update(Delivery).where(Delivery.id == did).values(
                        status="failed" if status == "inactive" else "opted_out", updated_at=now))
                    skipped += 1
            return claimed, skipped

    def confirm(self, results: Sequence[tuple[int, SendResult]]) -> None:
        """Record what the provider said; a refusal makes the subscriber inactive (chat id gone)."""
        now = self._clock()
        status = {"sent": "delivered", "refused": "failed", "retry": "uncertain"}
        with self._sessions() as s, s.begin():
            for did, result in results:
                s.execute(update(Delivery).where(Delivery.id == did, Delivery.status == "claimed")
                          .values(status=status[result.outcome], updated_at=now, problem=result.problem or None))
            refused = [did for did, result in results if result.outcome == "refused"]
            if refused:
                subscribers = select(Delivery.subscriber_id).where(Delivery.id.in_(refused))
                s.execute(update(Subscriber).where(Subscriber.id.in_(subscribers), Subscriber.status == "active")
                          .values(status="inactive", chat_id=None, updated_at=now))

    def finish(self, bid: str) -> bool:
        """Mark the bulletin done when nothing is pending or claimed any more."""
        with self._sessions() as s, s.begin():
            left = s.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.bulletin_id == bid, Delivery.status.in_(("pending", "claimed"))))
            if left:
                return False
            s.execute(update(Bulletin).where(Bulletin.id == bid, Bulletin.finished_at.is_(None))
                      .values(finished_at=self._clock()))
            return True

    def pending(self, bid: str) -> int:
        with self._sessions() as s:
            return s.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.bulletin_id == bid, Delivery.status == "pending")) or 0

    def counts(self, bid: str) -> Counts:
        """Counts per state. Claims of a run still holding the lease count as pending; others
        (their run stopped) as uncertain."""
        self.prepare()
        now = self._clock()
        with self._sessions() as s:
            bulletin = s.get(Bulletin, bid)
            if bulletin is None:
                raise BroadcastError(f"no bulletin {bid!r}")
            live = bulletin.lease_owner if bulletin.lease_until and bulletin.lease_until >= now else None
            by: dict[str, int] = dict.fromkeys(STATES, 0)
            for status, claimed_by, n in s.execute(
                    select(Delivery.status, Delivery.claimed_by, func.count()).where(Delivery.bulletin_id == bid)
                    .group_by(Delivery.status, Delivery.claimed_by)):
                if status == "claimed":
                    status = "pending" if live and claimed_by == live else "uncertain"
                by[status] = by.get(status, 0) + n
        return Counts(bid, sum(by.values()), by["delivered"], by["failed"], by["pending"], by["opted_out"],
                      by["uncertain"])

    def targets(self, bid: str) -> int:
        """How many subscribers the bulletin goes to (rows plus those not enrolled yet)."""
        self.prepare()
        with self._sessions() as s:
            bulletin = s.get(Bulletin, bid)
            if bulletin is None:
                raise BroadcastError(f"no bulletin {bid!r}")
            query = select(Subscriber.id).where(Subscriber.status == "active")
            if bulletin.audience:
                query = query.join(Citizen, and_(Citizen.channel == Subscriber.channel,
                                                 Citizen.user_key == Subscriber.user_key)).where(
                    Citizen.commune_code.in_(list(bulletin.audience)))
            has_row = select(Delivery.id).where(Delivery.bulletin_id == bid,
                                                Delivery.subscriber_id == Subscriber.id).exists()
            new = s.scalar(select(func.count()).select_from(query.where(~has_row).subquery())) or 0
            rows = s.scalar(select(func.count()).select_from(Delivery).where(Delivery.bulletin_id == bid)) or 0
        return new + rows


Progress = Callable[[int], None]  # called with the number of rows settled since the last call


@dataclass
class Outcome:
    """How a run ended: `done` (nothing left), `expired`, `stopped` (a passing failure: run
    again), `lost_lease`; the counts at the end; channels whose sender is not configured."""

    result: str
    counts: Counts
    waiting_channels: tuple[str, ...] = ()


async def broadcast(store: BulletinStore, bid: str, senders: Mapping[str, Sender], *, quiet: QuietHours,
                    window: int = 10, progress: Progress | None = None, owner: str | None = None,
                    sleep: Callable[[float], Any] = asyncio.sleep, on_quiet: Callable[[float], None] | None = None,
                    on_start: Callable[[int], None] | None = None) -> Outcome:
    """Send bulletin `bid` to every subscriber of its audience not served yet (see the module
    docstring). Raises `Busy` when another live process holds it."""
    owner = owner or owner_id()
    run = asyncio.to_thread
    await run(store.prepare)
    await run(store.acquire, bid, owner)
    try:
        bulletin = await run(store.get, bid)
        assert bulletin is not None
        text = bulletin.text
        uncertain = await run(store.recover, bid, owner)
        if uncertain:
            log.warning("bulletin %s: %d delivery(ies) of an interrupted run are uncertain (not resent)",
                        bid, uncertain)
        await run(store.enroll, bid)
        if on_start is not None:
            on_start(await run(store.pending, bid))
        live = [name for name, sender in senders.items() if not isinstance(sender, NoSender)]
        waiting = tuple(sorted(set(senders) - set(live)))
        result = "done"
        while True:
            now = store._clock()
            if bulletin.expires is not None and bulletin.expires <= now:
                result = "expired"
                break
            pause = quiet.wait(now)
            if pause > 0:
                if on_quiet is not None:
                    on_quiet(pause)
                while pause > 0:  # keep the lease while waiting
                    step = min(pause, LEASE_SECONDS / 3)
                    await sleep(step)
                    pause -= step
                    if not await run(store.renew, bid, owner):
                        return Outcome("lost_lease", await run(store.counts, bid), waiting)
                continue
            if not await run(store.renew, bid, owner):
                result = "lost_lease"
                break
            claimed, skipped = await run(store.claim, bid, owner, window, live)
            if not claimed and not skipped:
                break
            sent = await asyncio.gather(*(senders[channel].send_text(chat_id, text)
                                          for _, channel, chat_id in claimed))
            await run(store.confirm, [(did, r) for (did, _, _), r in zip(claimed, sent, strict=True)])
            if progress is not None:
                progress(len(claimed) + skipped)
            if any(r.outcome == "retry" for r in sent):
                problem = next(r.problem for r in sent if r.outcome == "retry")
                log.warning("bulletin %s: a passing failure (%s); stopping, run again to resume", bid, problem)
                result = "stopped"
                break
        if result == "done":
            await run(store.finish, bid)
        return Outcome(result, await run(store.counts, bid), waiting)
    finally:
        await run(store.release, bid, owner)


class BulletinScheduler:
    """`trolyso serve`'s task: every `every` seconds, send the scheduled bulletins that are due
    (`send_at` passed, not expired, not finished, nobody sending them)."""

    def __init__(self, store: BulletinStore, senders: Mapping[str, Sender], quiet: QuietHours, *,
                 window: int = 10, every: float = 30.0) -> None:
        self.store = store
        self.senders = {k: v for k, v in senders.items() if k in ("telegram", "zalo")}
        self.quiet = quiet
        self.window = window
        self.every = every

    async def round(self) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for bid in await asyncio.to_thread(self.store.due):
            try:
                outcome = await broadcast(self.store, bid, self.senders, quiet=self.quiet, window=self.window)
            except Busy:
                continue
            c = outcome.counts
            log.info("bulletin %s: %s; %d delivered, %d failed, %d opted out, %d uncertain, %d pending of %d",
                     bid, outcome.result, c.delivered, c.failed, c.opted_out, c.uncertain, c.pending, c.targets)
            outcomes.append(outcome)
        return outcomes

    async def run(self) -> None:
        await repeat(self.round, self.every, "bulletins")
