"""Web-chat sessions and the messages that reach a session later, plus the web's `Sender`.

A session is a random token the server issues (`secrets.token_urlsafe`, 192 bits) and the
browser keeps in its storage; the database keeps only a hash of it (`key`), so a leaked
database cannot be used to read anybody's conversation. The key is the session's chat id in the
review loop: a community team's answer is delivered by `WebSender` into `web_messages`, and the
widget picks it up with `GET /api/messages` (when the page is open, or when the citizen comes
back). A missing, unknown or expired session simply gets a new one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.models import WebMessage, WebSession, utcnow
from bot.outbound import SendResult

log = logging.getLogger(__name__)

CHANNEL = "web"
SESSION_DAYS = 30  # a session unused this long is forgotten


class Sessions(Protocol):
    def __call__(self) -> Session: ...


def session_key(token: str) -> str:
    """The stored form of a session token (and the session's chat id)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:48]


@dataclass(frozen=True)
class Later:
    """A message that reached the session after its question."""

    id: int
    text: str
    at: dt.datetime


class WebSessions:
    """Issues and checks session tokens; keeps the messages that arrive later."""

    def __init__(self, sessions: Sessions, days: float = SESSION_DAYS) -> None:
        self._sessions = sessions
        self.ttl = dt.timedelta(days=days)

    def resolve(self, token: str | None) -> tuple[str, str]:
        """(token, key) of a valid session: the given one, refreshed, or a new one."""
        if token and 16 <= len(token) <= 128:
            key = session_key(token)
            with self._sessions() as s, s.begin():
                result = cast(CursorResult[Any], s.execute(
                    update(WebSession).where(WebSession.key == key, WebSession.last_seen >= utcnow() - self.ttl)
                    .values(last_seen=utcnow())))
                seen = result.rowcount
            if seen:
                return token, key
        token = secrets.token_urlsafe(24)
        key = session_key(token)
        with self._sessions() as s, s.begin():
            s.add(WebSession(key=key))
        return token, key

    def known(self, token: str | None) -> str | None:
        """The key of a valid session, or None."""
        if not token or len(token) > 128:
            return None
        key = session_key(token)
        with self._sessions() as s:
            found = s.scalar(select(WebSession.key).where(WebSession.key == key,
                                                          WebSession.last_seen >= utcnow() - self.ttl))
        return found

    def forget(self, token: str) -> None:
        """Delete a session and its messages ("Xóa cuộc trò chuyện")."""
        key = session_key(token)
        with self._sessions() as s, s.begin():
            s.execute(delete(WebMessage).where(WebMessage.session_key == key))
            s.execute(delete(WebSession).where(WebSession.key == key))

    def add(self, key: str, text: str) -> int | None:
        """Keep a message for a session; None when the session no longer exists."""
        with self._sessions() as s, s.begin():
            if s.get(WebSession, key) is None:
                return None
            message = WebMessage(session_key=key, text=text)
            s.add(message)
            s.flush()
            return message.id

    def count(self, key: str) -> int:
        """How many messages are kept for a session (what `/dulieu` tells)."""
        with self._sessions() as s:
            return s.scalar(select(func.count()).select_from(WebMessage).where(WebMessage.session_key == key)) or 0

    def after(self, key: str, after: int, limit: int = 50) -> list[Later]:
        with self._sessions() as s:
            rows = s.scalars(select(WebMessage).where(WebMessage.session_key == key, WebMessage.id > after)
                             .order_by(WebMessage.id).limit(limit)).all()
            return [Later(m.id, m.text, m.created_at) for m in rows]

    def purge(self) -> int:
        """Forget sessions unused for longer than the TTL (and their messages)."""
        cutoff = utcnow() - self.ttl
        with self._sessions() as s, s.begin():
            old = list(s.scalars(select(WebSession.key).where(WebSession.last_seen < cutoff)))
            if old:
                s.execute(delete(WebMessage).where(WebMessage.session_key.in_(old)))
                s.execute(delete(WebSession).where(WebSession.key.in_(old)))
        return len(old)


class WebSender:
    """The web's `bot.outbound.Sender`: a message for a session waits in the database until the
    widget fetches it. No splitting (the widget shows any length) and no provider limits."""

    channel = CHANNEL

    def __init__(self, sessions: WebSessions) -> None:
        self.sessions = sessions

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send_text(self, chat_id: str, text: str) -> SendResult:
        import asyncio

        if not chat_id:
            return SendResult("refused", "web: no session to answer")
        try:
            message_id = await asyncio.to_thread(self.sessions.add, chat_id, text)
        except SQLAlchemyError as exc:
            return SendResult("retry", f"web: database unavailable ({type(exc).__name__})")
        if message_id is None:
            return SendResult("refused", "web: the session was closed")
        return SendResult("sent", "", (str(message_id),))
