"""Conversation state: what a multi-step exchange is waiting for, in one store.

A numbered choice on Zalo, a pending "đúng"/"sai" question, a commune being chosen, a quiz round
or a hand-off in progress each keep a small JSON object keyed by (channel, user key, slot) with
an expiry. In production the store is the database (`SqlStateStore`), so every replica sees the
same state and a restart loses nothing; `MemoryStateStore` serves an assistant that writes
nothing (`trolyso ask --no-log`) and is the fallback while the database is down.

Conventions:
- `user_key` is the keyed hash of the user id (as in the question log), never a raw id.
- `slot` names the piece of state: "prompt" (the latest pending prompt), "handoff", "greeted".
- `data` must be JSON (a dict); `get` returns a fresh copy, so changing it changes nothing stored.
- Times are naive UTC (`bot.models.utcnow`); `ttl` is in seconds. Last writer wins.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.models import ConversationState, utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
Key = tuple[str, str, str]  # (channel, user key, slot)

_LIMITS = (("channel", 32), ("user_key", 64), ("slot", 32))  # the column sizes
_UPSERT_ATTEMPTS = 5


class StateStore(Protocol):
    """Short-lived conversation state keyed by (channel, user key, slot)."""

    def get(self, channel: str, user_key: str, slot: str) -> dict[str, Any] | None:
        """The stored data, or None when there is none or it has expired."""
        ...

    def put(self, channel: str, user_key: str, slot: str, data: dict[str, Any], ttl: float) -> None:
        """Store `data` for `ttl` seconds, replacing what was there (last writer wins)."""
        ...

    def clear(self, channel: str, user_key: str, slot: str) -> None:
        """Forget the slot (nothing happens when it is empty)."""
        ...

    def purge_expired(self) -> int:
        """Delete expired entries; returns how many were deleted."""
        ...


def _key(channel: str, user_key: str, slot: str) -> Key:
    """Check the key against the column sizes: a too-long key is a bug, not a database outage."""
    key = (channel, user_key, slot)
    for (name, limit), value in zip(_LIMITS, key, strict=True):
        if not value or len(value) > limit:
            raise ValueError(f"state {name} must be 1-{limit} characters, got {len(value)}")
    return key


def _json_copy(data: dict[str, Any]) -> dict[str, Any]:
    """A deep copy through JSON: memory behaves like the JSON column (and rejects the same data)."""
    if not isinstance(data, dict):
        raise TypeError(f"state data must be a dict, got {type(data).__name__}")
    return cast(dict[str, Any], json.loads(json.dumps(data, ensure_ascii=False)))


@dataclass(frozen=True)
class _Entry:
    data: dict[str, Any]
    expires_at: dt.datetime
    updated_at: dt.datetime


class MemoryStateStore:
    """State in this process only: lost on restart and not shared between replicas."""

    def __init__(self, clock: Clock = utcnow, max_entries: int = 100_000) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[Key, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, channel: str, user_key: str, slot: str) -> dict[str, Any] | None:
        entry = self._entry(_key(channel, user_key, slot))
        return None if entry is None else _json_copy(entry.data)

    def put(self, channel: str, user_key: str, slot: str, data: dict[str, Any], ttl: float) -> None:
        now = self._clock()
        entry = _Entry(_json_copy(data), now + dt.timedelta(seconds=ttl), now)
        self._store(_key(channel, user_key, slot), entry)

    def clear(self, channel: str, user_key: str, slot: str) -> None:
        self._pop(_key(channel, user_key, slot))

    def purge_expired(self) -> int:
        now = self._clock()
        with self._lock:
            expired = [k for k, e in self._entries.items() if e.expires_at <= now]
            for k in expired:
                del self._entries[k]
        return len(expired)

    def __len__(self) -> int:
        return len(self._entries)

    # -- used by SqlStateStore for what it could not write to the database ---------------------

    def _entry(self, key: Key) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(key)
        return entry if entry is not None and entry.expires_at > self._clock() else None

    def _store(self, key: Key, entry: _Entry) -> None:
        if len(self._entries) >= self._max_entries:
            self.purge_expired()
        with self._lock:
            if len(self._entries) >= self._max_entries:  # still full: the stalest goes
                del self._entries[min(self._entries, key=lambda k: self._entries[k].updated_at)]
            self._entries[key] = entry

    def _pop(self, key: Key) -> _Entry | None:
        with self._lock:
            return self._entries.pop(key, None)

    def _keys(self) -> list[Key]:
        with self._lock:
            return list(self._entries)


class SqlStateStore:
    """State in the `conversation_state` table, shared by every process using the database.

    When the database fails, the conversation goes on in memory: a warning is logged once per
    outage, writes are kept in an in-process `MemoryStateStore` (clears as tombstones), reads
    fall back to it, and what was kept is written back once the database answers again (on the
    next access to that key, or by `purge_expired`) unless another process wrote later.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock = utcnow,
        *,
        ensure_schema: Callable[[], None] | None = None,
    ) -> None:
        """`ensure_schema` (e.g. `Store.ensure_schema`) runs before each access, so a database
        that was down at start-up gets its tables once it is back."""
        self._sessions = sessions
        self._clock = clock
        self._ensure_schema = ensure_schema
        self.fallback = MemoryStateStore(clock)
        self._cleared: dict[Key, dt.datetime] = {}  # clears that did not reach the database
        self._lock = threading.Lock()
        self._failing = False

    # -- the API -----------------------------------------------------------------------------

    def get(self, channel: str, user_key: str, slot: str) -> dict[str, Any] | None:
        key = _key(channel, user_key, slot)
        try:
            self._prepare()
            self._write_back(key)
            with self._sessions() as s:
                row = s.execute(
                    select(ConversationState.data, ConversationState.expires_at).where(*_match(key))
                ).first()
        except SQLAlchemyError as exc:
            self._failed(exc)
            return self.fallback.get(*key)
        self._recovered()
        if row is None or row.expires_at <= self._clock() or not isinstance(row.data, dict):
            return None
        return cast(dict[str, Any], row.data)

    def put(self, channel: str, user_key: str, slot: str, data: dict[str, Any], ttl: float) -> None:
        key = _key(channel, user_key, slot)
        now = self._clock()
        entry = _Entry(_json_copy(data), now + dt.timedelta(seconds=ttl), now)
        try:
            self._prepare()
            self._upsert(key, entry)
        except SQLAlchemyError as exc:
            self._failed(exc)
            self.fallback._store(key, entry)
            return
        self._recovered()
        self._forget_pending(key)

    def clear(self, channel: str, user_key: str, slot: str) -> None:
        key = _key(channel, user_key, slot)
        now = self._clock()
        try:
            self._prepare()
            with self._sessions() as s, s.begin():
                s.execute(delete(ConversationState).where(*_match(key)))
        except SQLAlchemyError as exc:
            self._failed(exc)
            self.fallback._pop(key)
            with self._lock:
                self._cleared[key] = now
            return
        self._recovered()
        self._forget_pending(key)

    def purge_expired(self) -> int:
        """Delete expired rows (and expired memory entries); write back what memory kept."""
        purged = self.fallback.purge_expired()
        try:
            self._prepare()
            for key in set(self.fallback._keys()) | set(self._cleared):
                self._write_back(key)
            with self._sessions() as s, s.begin():
                result = s.execute(delete(ConversationState).where(
                    ConversationState.expires_at <= self._clock()))
                purged += cast(CursorResult[Any], result).rowcount
        except SQLAlchemyError as exc:
            self._failed(exc)
            return purged
        self._recovered()
        return purged

    # -- the database --------------------------------------------------------------------------

    def _prepare(self) -> None:
        if self._ensure_schema is not None:
            self._ensure_schema()

    def _upsert(self, key: Key, entry: _Entry, *, unless_newer: bool = False) -> None:
        """Update the row, or insert it; an insert losing a race with another process (unique
        violation) becomes an update. `unless_newer`: keep a row another process wrote later."""
        values = {"data": entry.data, "expires_at": entry.expires_at, "updated_at": entry.updated_at}
        for attempt in range(_UPSERT_ATTEMPTS):
            with self._sessions() as s, s.begin():
                stmt = update(ConversationState).where(*_match(key))
                if unless_newer:
                    stmt = stmt.where(ConversationState.updated_at <= entry.updated_at)
                if cast(CursorResult[Any], s.execute(stmt.values(**values))).rowcount:
                    return
                if unless_newer and s.scalar(select(ConversationState.id).where(*_match(key))):
                    return
            try:
                with self._sessions() as s, s.begin():
                    s.add(ConversationState(channel=key[0], user_key=key[1], slot=key[2], **values))
                return
            except IntegrityError:
                if attempt == _UPSERT_ATTEMPTS - 1:
                    raise

    def _write_back(self, key: Key) -> None:
        """Write what memory kept for `key` while the database was down, then forget it."""
        with self._lock:
            cleared_at = self._cleared.get(key)
        entry = self.fallback._entry(key)
        if cleared_at is not None:
            with self._sessions() as s, s.begin():
                s.execute(delete(ConversationState).where(
                    *_match(key), ConversationState.updated_at <= cleared_at))
        if entry is not None:
            self._upsert(key, entry, unless_newer=True)
        self._forget_pending(key)

    def _forget_pending(self, key: Key) -> None:
        self.fallback._pop(key)
        with self._lock:
            self._cleared.pop(key, None)

    def _failed(self, exc: SQLAlchemyError) -> None:
        if not self._failing:
            self._failing = True
            log.warning("database unavailable for conversation state (%s); kept in memory until "
                        "it is back", exc.__class__.__name__)

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            log.info("database available again for conversation state")


def _match(key: Key) -> tuple[Any, ...]:
    return (ConversationState.channel == key[0], ConversationState.user_key == key[1],
            ConversationState.slot == key[2])
