"""Which commune a citizen told the bot, per channel and hashed user id (table `citizens`).

Only the keyed hash of the user id (`Assistant.user_key`) and the commune's code are kept: no
name, no phone number, no raw id. `SqlCitizens` keeps it in the database (shared by every
replica, kept across restarts); when the database is down it answers from, and writes to, memory
until it is back (a citizen may then be asked again later: nothing else is lost).
`MemoryCitizens` serves an assistant that writes nothing (`trolyso ask --no-log`).
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.models import Citizen, utcnow

log = logging.getLogger(__name__)


class CitizenStore(Protocol):
    def commune(self, channel: str, user_key: str) -> str | None:
        """The citizen's commune code, or None when they have not told it."""
        ...

    def set_commune(self, channel: str, user_key: str, code: str | None) -> None:
        """Remember (or, with None, forget) the citizen's commune."""
        ...


class MemoryCitizens:
    def __init__(self) -> None:
        self._codes: dict[tuple[str, str], str | None] = {}
        self._lock = threading.Lock()

    def commune(self, channel: str, user_key: str) -> str | None:
        with self._lock:
            return self._codes.get((channel, user_key))

    def set_commune(self, channel: str, user_key: str, code: str | None) -> None:
        with self._lock:
            self._codes[(channel, user_key)] = code


class SqlCitizens:
    def __init__(self, sessions: sessionmaker[Session], ensure_schema: object = None) -> None:
        self._sessions = sessions
        self._ensure_schema = ensure_schema
        self.fallback = MemoryCitizens()
        self._pending: set[tuple[str, str]] = set()  # set in memory while the database was down
        self._lock = threading.Lock()

    def _prepare(self) -> None:
        if callable(self._ensure_schema):
            self._ensure_schema()

    def commune(self, channel: str, user_key: str) -> str | None:
        with self._lock:
            pending = (channel, user_key) in self._pending
        if pending:  # written while the database was down: try to write it now
            self.set_commune(channel, user_key, self.fallback.commune(channel, user_key))
            return self.fallback.commune(channel, user_key)
        try:
            self._prepare()
            with self._sessions() as s:
                return s.scalar(select(Citizen.commune_code).where(
                    Citizen.channel == channel, Citizen.user_key == user_key))
        except SQLAlchemyError as exc:
            log.warning("citizens: database unavailable (%s); commune unknown for now", type(exc).__name__)
            return self.fallback.commune(channel, user_key)

    def set_commune(self, channel: str, user_key: str, code: str | None) -> None:
        key = (channel, user_key)
        try:
            self._prepare()
            self._upsert(channel, user_key, code)
        except SQLAlchemyError as exc:
            log.warning("citizens: database unavailable (%s); commune kept in memory", type(exc).__name__)
            self.fallback.set_commune(channel, user_key, code)
            with self._lock:
                self._pending.add(key)
            return
        with self._lock:
            self._pending.discard(key)

    def _upsert(self, channel: str, user_key: str, code: str | None) -> None:
        for attempt in range(3):
            with self._sessions() as s, s.begin():
                done = s.execute(update(Citizen).where(Citizen.channel == channel, Citizen.user_key == user_key)
                                 .values(commune_code=code, updated_at=utcnow())).rowcount  # type: ignore[attr-defined]
                if done:
                    return
            try:
                with self._sessions() as s, s.begin():
                    s.add(Citizen(channel=channel, user_key=user_key, commune_code=code))
                return
            except IntegrityError:  # another replica inserted it meanwhile: update it
                if attempt == 2:
                    raise
