"""The hand-offs in the database (tables `handoffs` and `handoff_messages`): a restart keeps an
open one open, every replica sees it; relays are stored redacted, the raw chat id only while open."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.models import Handoff, HandoffMessage, QuestionLog, utcnow
from bot.outbound import Photo
from bot.privacy import redact

log = logging.getLogger(__name__)

RECENT = 3  # the citizen's last questions shown on the team's post
OPEN = ("waiting", "taken")


@dataclass(frozen=True)
class HandoffView:
    id: int
    status: str
    channel: str
    user_key: str
    chat_id: str | None
    commune: str | None
    summary: str
    taken_by: int | None
    taken_name: str | None
    created_at: dt.datetime
    last_activity: dt.datetime
    faq_id: str | None = None

    @property
    def open(self) -> bool:
        return self.status in OPEN

    @classmethod
    def of(cls, h: Handoff) -> HandoffView:
        return cls(h.id, h.status, h.channel, h.user_key, h.chat_id, h.commune, h.summary, h.taken_by,
                   h.taken_name, h.created_at, h.last_activity, h.faq_id)


@dataclass(frozen=True)
class Pending:
    """A relay to the citizen waiting for a second attempt."""

    message_id: int
    handoff_id: int
    channel: str
    chat_id: str
    text: str
    photo: Photo | None = None


def _media(photo: Photo | None) -> str | None:
    return f"{photo.source}:{photo.ref}" if photo is not None else None


def _photo(media: str | None) -> Photo | None:
    source, _, ref = (media or "").partition(":")
    return Photo("telegram" if source == "telegram" else "link", ref) if ref else None


class HandoffStore:
    """The `handoffs` and `handoff_messages` tables."""

    def __init__(self, sessions: sessionmaker[Session], ensure_schema: Callable[[], None] | None = None,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self._sessions = sessions
        self._ensure_schema = ensure_schema
        self.clock = clock

    def _s(self) -> Session:
        if self._ensure_schema is not None:
            self._ensure_schema()
        return self._sessions()

    def open(self, channel: str, user_key: str, chat_id: str, commune: str | None, summary: str) -> HandoffView:
        now = self.clock()
        with self._s() as s, s.begin():
            h = Handoff(channel=channel, user_key=user_key, chat_id=chat_id, commune=commune,
                        summary=redact(summary), status="waiting", created_at=now, last_activity=now)
            s.add(h)
            s.flush()
            return HandoffView.of(h)

    def active(self, channel: str, user_key: str) -> HandoffView | None:
        with self._s() as s:
            h = s.scalars(select(Handoff).where(Handoff.channel == channel, Handoff.user_key == user_key,
                                                Handoff.status.in_(OPEN)).order_by(Handoff.id.desc())).first()
            return HandoffView.of(h) if h else None

    def get(self, hid: int) -> HandoffView | None:
        with self._s() as s:
            h = s.get(Handoff, hid)
            return HandoffView.of(h) if h else None

    def by_group_message(self, chat_id: int, message_id: int) -> int | None:
        with self._s() as s:
            return s.scalar(select(HandoffMessage.handoff_id).where(
                HandoffMessage.group_chat_id == chat_id, HandoffMessage.group_message_id == message_id))

    def add(self, hid: int, direction: str, text: str, *, kind: str = "text", author: int | None = None,
            outcome: str = "sent", pending: str | None = None,
            group: tuple[int, int] | None = None, photo: Photo | None = None) -> int:
        """Record one message (its text redacted here); touching the hand-off unless a post/note.
        `photo`: the reference of a photo relay waiting for a second attempt (no image bytes)."""
        now = self.clock()
        with self._s() as s, s.begin():
            m = HandoffMessage(handoff_id=hid, created_at=now, direction=direction, kind=kind,
                               text=redact(text), author=author, outcome=outcome, pending=pending,
                               media=_media(photo) if outcome == "retry" else None,
                               group_chat_id=group[0] if group else None,
                               group_message_id=group[1] if group else None)
            s.add(m)
            if direction in ("in", "out"):
                values: dict[str, Any] = {"last_activity": now}
                if direction == "out":
                    h = s.get(Handoff, hid)
                    if h is not None and h.first_reply_at is None:
                        values["first_reply_at"] = now
                s.execute(update(Handoff).where(Handoff.id == hid).values(**values))
            s.flush()
            return m.id

    def posts(self, hid: int) -> dict[int, int]:
        """The latest post of the hand-off in each group: chat id -> message id."""
        with self._s() as s:
            rows = s.execute(select(HandoffMessage.group_chat_id, HandoffMessage.group_message_id).where(
                HandoffMessage.handoff_id == hid, HandoffMessage.direction == "post")
                .order_by(HandoffMessage.id)).all()
        return {int(c): int(m) for c, m in rows if c is not None and m is not None}

    def topics(self, hid: int) -> dict[int, int]:
        """The hand-off's forum topic in each group that has topics: chat id -> message_thread_id
        (stored as a group message: a topic's id is the id of its "topic created" message)."""
        with self._s() as s:
            rows = s.execute(select(HandoffMessage.group_chat_id, HandoffMessage.group_message_id).where(
                HandoffMessage.handoff_id == hid, HandoffMessage.direction == "topic")
                .order_by(HandoffMessage.id)).all()
        return {int(c): int(m) for c, m in rows if c is not None and m is not None}

    def take(self, hid: int, user_id: int, name: str) -> tuple[bool, HandoffView | None]:
        """Take a waiting hand-off (one winner across replicas); (taken now?, the hand-off)."""
        now = self.clock()
        with self._s() as s, s.begin():
            done = s.execute(update(Handoff).where(Handoff.id == hid, Handoff.status == "waiting").values(
                status="taken", taken_by=user_id, taken_name=name, taken_at=now, last_activity=now)).rowcount  # type: ignore[attr-defined]
            h = s.get(Handoff, hid)
            return bool(done), HandoffView.of(h) if h else None

    def reroute(self, hid: int, commune: str | None) -> HandoffView | None:
        """Pass an open hand-off to another team; it waits to be taken there."""
        with self._s() as s, s.begin():
            s.execute(update(Handoff).where(Handoff.id == hid, Handoff.status.in_(OPEN)).values(
                commune=commune, status="waiting", taken_by=None, taken_name=None, taken_at=None,
                last_activity=self.clock()))
            h = s.get(Handoff, hid)
            return HandoffView.of(h) if h else None

    def close(self, hid: int, by: str) -> HandoffView | None:
        """Close an open hand-off: the view as it was (with its chat id), or None when it was not
        open. The raw chat id is forgotten."""
        with self._s() as s, s.begin():
            h = s.get(Handoff, hid)
            if h is None or h.status not in OPEN:
                return None
            view = HandoffView.of(h)
            done = s.execute(update(Handoff).where(Handoff.id == hid, Handoff.status.in_(OPEN)).values(
                status="closed", closed_by=by, closed_at=self.clock(), chat_id=None)).rowcount  # type: ignore[attr-defined]
            return view if done else None

    def idle(self, before: dt.datetime) -> list[HandoffView]:
        """Open hand-offs without activity since `before` (naive UTC)."""
        with self._s() as s:
            return [HandoffView.of(h) for h in s.scalars(select(Handoff).where(
                Handoff.status.in_(OPEN), Handoff.last_activity < before).order_by(Handoff.id))]

    def pending(self) -> list[Pending]:
        with self._s() as s:
            rows = s.execute(select(HandoffMessage.id, Handoff.id, Handoff.channel, Handoff.chat_id,
                                    HandoffMessage.pending, HandoffMessage.media).join(Handoff)
                             .where(HandoffMessage.outcome == "retry", Handoff.status.in_(OPEN))).all()
        return [Pending(m, h, c, chat, text or "", _photo(media)) for m, h, c, chat, text, media in rows
                if chat and (text or media)]

    def settle(self, message_id: int, outcome: str) -> None:
        """Record a relay's outcome; its full text is kept only while it is waiting."""
        with self._s() as s, s.begin():
            values: dict[str, Any] = {"outcome": outcome}
            if outcome != "retry":
                values["pending"] = values["media"] = None
            s.execute(update(HandoffMessage).where(HandoffMessage.id == message_id).values(**values))

    def texts(self, hid: int, direction: str) -> list[str]:
        """The texts (a photo: its caption, if any) of one direction, oldest first."""
        with self._s() as s:
            return [t for t in s.scalars(select(HandoffMessage.text).where(
                HandoffMessage.handoff_id == hid, HandoffMessage.direction == direction)
                .order_by(HandoffMessage.id)) if t]

    def set_faq(self, hid: int, faq_id: str) -> None:
        with self._s() as s, s.begin():
            s.execute(update(Handoff).where(Handoff.id == hid).values(faq_id=faq_id))

    def recent_questions(self, user_hash: str, channel: str, since: dt.datetime, limit: int = RECENT) -> list[str]:
        """The citizen's last questions (redacted, as the question log keeps them), oldest first."""
        with self._s() as s:
            rows = s.scalars(select(QuestionLog.text).where(
                QuestionLog.user_hash == user_hash, QuestionLog.channel == channel,
                QuestionLog.created_at >= since).order_by(QuestionLog.id.desc()).limit(limit)).all()
        return list(reversed(rows))

    def question(self, log_id: int) -> str | None:
        with self._s() as s:
            return s.scalar(select(QuestionLog.text).where(QuestionLog.id == log_id))


# -- the team's side, as the service needs it -------------------------------------------------
