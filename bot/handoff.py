"""Talking to a person: a citizen's conversation handed to their community team (issue 16).

The citizen asks ("gặp cán bộ", "/canbo", the "Hỏi cán bộ" button); the hand-off is opened in the
database (table `handoffs`, so a restart keeps it open and every replica sees it) and posted to
the team's Telegram group (the commune's `review_chat_ids`, else `TROLYSO_REVIEW_CHAT_IDS`) by a
`TeamDesk` (bot.channels.telegram.handoff), in a topic of its own where the group has forum
topics (a `handoff_messages` row of direction "topic"; closed when it ends). While it is open,
every message of that citizen goes to the group and the bot answers nothing (step 1 of the
precedence in `bot.commands`), except "kết thúc" / `/ketthuc`, which ends it. A member's replies
reach the citizen through the citizen's channel's `Sender`, signed with the member's first name
(or the team's name).

Photos are relayed both ways by reference (`bot.outbound.Photo`: a Telegram file id or a link),
never downloaded or stored: a message of kind photo keeps only its redacted caption; the citizen
is reminded not to send photos of ID cards, bank cards or OTP codes. The web chat shows no images.
Zalo's Bot API sends only public links: with `TROLYSO_PUBLIC_URL` set, a member's photo reaches a
Zalo citizen through a short-lived link of our own (`PhotoLinks`, bot.channels.telegram.media),
minted at each send (a retry gets a fresh one); without it the member is asked to describe it.

Every relayed message is stored redacted (`handoff_messages`) and delivered in full; a relay to
the citizen that fails for a passing reason keeps its full text (`pending`) until the worker
(`HandoffService.run`) delivers it; one that can never be delivered is reported to the team.
The worker also closes hand-offs idle for `handoff_idle_hours`; until a member takes one, only
the team's working hours count (a Friday-evening request is not closed over the weekend).

Working hours come from the commune (`hours` in communes.yaml) or `TROLYSO_HANDOFF_HOURS`
(default 7:30-17:00 Monday to Friday, Vietnam time); outside them the citizen is told when to
expect an answer. A message that looks like a scam in progress gets the emergency steps at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot import commands
from bot.models import Handoff, HandoffMessage, QuestionLog, utcnow
from bot.outbound import Photo, Sender, SendResult
from bot.privacy import redact
from bot.replies import citizens as replies
from bot.replies import reviewers as say
from bot.state import StateStore
from bot.types import Message
from indexer.text import clean, fold

if TYPE_CHECKING:
    from bot.assistant import Assistant
    from bot.config import Settings

log = logging.getLogger(__name__)

VIETNAM = dt.timezone(dt.timedelta(hours=7))
SLOT = "handoff"  # state slot: the bot asked for the one-line summary
SUMMARY_TTL = 900.0
RECENT = 3  # the citizen's last questions shown on the team's post
OPEN = ("waiting", "taken")

# -- working hours ----------------------------------------------------------------------------

_TIME_RANGE = re.compile(r"(\d{1,2})\s*(?:[:hg]\s*(\d{2}))?\s*[-–]\s*(\d{1,2})\s*(?:[:hg]\s*(\d{2}))?")
_DAY_WORDS = {"hai": 0, "2": 0, "ba": 1, "3": 1, "tu": 2, "4": 2, "nam": 3, "5": 3, "sau": 4, "6": 4,
              "bay": 5, "7": 5}
_DAY = re.compile(r"(?:thu\s*|t)(hai|ba|tu|nam|sau|bay|[2-7])\b|(chu\s*nhat|\bcn\b)")


@dataclass(frozen=True)
class Hours:
    """Opening hours: minute ranges of the day and the weekdays (0 = Monday) they apply to."""

    ranges: tuple[tuple[int, int], ...]
    days: frozenset[int]

    def open_at(self, local: dt.datetime) -> bool:
        minute = local.hour * 60 + local.minute
        return local.weekday() in self.days and any(a <= minute < b for a, b in self.ranges)

    def next_open(self, local: dt.datetime) -> dt.datetime:
        """The next opening time at or after `local` (itself when open now)."""
        if self.open_at(local):
            return local
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for n in range(8):
            date = day + dt.timedelta(days=n)
            if date.weekday() not in self.days:
                continue
            for start, _ in sorted(self.ranges):
                at = date + dt.timedelta(minutes=start)
                if at > local:
                    return at
        return local

    def worked(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """How much of [start, end) falls within the opening hours (naive local times)."""
        total = dt.timedelta()
        if end <= start:
            return total
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        while day < end:
            if day.weekday() in self.days:
                for a, b in self.ranges:
                    lo = max(start, day + dt.timedelta(minutes=a))
                    hi = min(end, day + dt.timedelta(minutes=b))
                    if hi > lo:
                        total += hi - lo
            day += dt.timedelta(days=1)
        return total


DEFAULT_HOURS = Hours(((7 * 60 + 30, 17 * 60),), frozenset(range(5)))


def parse_hours(text: str | None) -> Hours:
    """"7:30-11:30, 13:30-17:00 thứ Hai đến thứ Sáu" -> Hours. Without time ranges: the default;
    without days: Monday to Friday."""
    if not text:
        return DEFAULT_HOURS
    folded = fold(clean(text).lower())
    ranges = []
    for m in _TIME_RANGE.finditer(folded):
        start = int(m.group(1)) * 60 + int(m.group(2) or 0)
        end = int(m.group(3)) * 60 + int(m.group(4) or 0)
        if 0 <= start < end <= 24 * 60:
            ranges.append((start, end))
    rest = _TIME_RANGE.sub(" ", folded)
    found = [6 if m.group(2) else _DAY_WORDS[m.group(1)] for m in _DAY.finditer(rest)]
    if len(found) == 2 and re.search(r"den|[-–]", rest):
        a, b = found
        days = frozenset(range(a, b + 1)) if a <= b else frozenset([*range(a, 7), *range(0, b + 1)])
    elif found:
        days = frozenset(found)
    else:
        days = DEFAULT_HOURS.days
    return Hours(tuple(ranges) or DEFAULT_HOURS.ranges, days)


def when_label(at: dt.datetime) -> str:
    """"7:30 thứ Hai (15/12)"."""
    return replies.HANDOFF_WHEN.format(time=f"{at.hour}:{at.minute:02d}",
                                       day=replies.HANDOFF_WEEKDAYS[at.weekday()], date=at.strftime("%d/%m"))


# -- scams in progress --------------------------------------------------------------------------

_SCAM = ("dang bi lua", "vua bi lua", "bi lua dao", "bi lua", "vua chuyen tien", "vua chuyen khoan", "vua ck",
         "lo chuyen tien", "lo chuyen khoan", "da chuyen tien cho", "bi lua mat tien", "mat tien roi")


def looks_like_scam(text: str) -> bool:
    """A message that sounds like a scam happening now ("đang bị lừa", "vừa chuyển tiền")."""
    folded = " " + " ".join(re.sub(r"[\W_]+", " ", fold(clean(text).lower())).split()) + " "
    return any(f" {p} " in folded for p in _SCAM)


# -- storage ------------------------------------------------------------------------------------

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

class TeamDesk(Protocol):
    """Where the teams see hand-offs (their Telegram groups)."""

    def chats(self, commune: str | None) -> tuple[int, ...]:
        """The groups of a commune's team (None: the provincial team)."""
        ...

    async def open_topics(self, view: HandoffView) -> list[tuple[int, int]]:
        """A topic of its own in each group that is a forum: the (chat, message_thread_id) of each."""
        ...

    async def close_topics(self, topics: Mapping[int, int]) -> None:
        """Close the hand-off's topics (it has ended)."""
        ...

    async def post(self, view: HandoffView, recent: list[str], later: str | None, scam: bool,
                   note: str | None = None, topics: Mapping[int, int] | None = None) -> list[tuple[int, int]]:
        """Post the hand-off to its groups (in its topic where there is one); the (chat, message)
        of each post sent."""
        ...

    async def relay(self, view: HandoffView, text: str, posts: Mapping[int, int],
                    topics: Mapping[int, int] | None = None) -> list[tuple[int, int]]:
        """Send a citizen's message (in full) to the groups: into the topic, else as a reply to the post."""
        ...

    async def relay_photo(self, view: HandoffView, photo: Photo, caption: str, posts: Mapping[int, int],
                          topics: Mapping[int, int] | None = None) -> list[tuple[int, int]]:
        """Send a citizen's photo (with its caption) to the groups, like `relay`."""
        ...

    async def notice(self, view: HandoffView, text: str, posts: Mapping[int, int],
                     topics: Mapping[int, int] | None = None) -> list[tuple[int, int]]:
        """A line from the bot about the hand-off (closed, undeliverable...)."""
        ...


class PhotoLinks(Protocol):
    """Public links to Telegram photos, for channels that send photos only from a link (Zalo)."""

    async def link(self, photo: Photo) -> Photo | None: ...


LINK_ONLY = ("zalo",)  # channels whose senders take a photo only as a public https link


@dataclass(frozen=True)
class Relayed:
    """What happened to a member's message to the citizen."""

    result: SendResult
    view: HandoffView
    unsupported: bool = False  # a photo the citizen's channel cannot receive (nothing was sent)


class HandoffService:
    """The hand-off, for every channel (citizens) and the team's Telegram handlers."""

    def __init__(self, settings: Settings, assistant: Assistant, store: HandoffStore, senders: Mapping[str, Sender],
                 state: StateStore, desk: TeamDesk | None = None,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                 media: PhotoLinks | None = None) -> None:
        self.settings = settings
        self.assistant = assistant
        self.store = store
        self.senders = senders
        self.state = state
        self.desk = desk
        self.clock = clock  # aware UTC
        self.media = media

    @property
    def enabled(self) -> bool:
        return self.desk is not None

    # -- what the citizen sees ------------------------------------------------------------------

    def hours(self, commune: str | None) -> Hours:
        unit = self.assistant.communes.get(commune)
        return parse_hours(unit.hours if unit is not None and unit.hours else self.settings.handoff_hours)

    def team_name(self, commune: str | None) -> str:
        unit = self.assistant.communes.get(commune)
        if unit is None:
            return replies.HANDOFF_TEAM_PROVINCE
        return unit.team or replies.HANDOFF_TEAM_COMMUNE.format(label=unit.label)

    def later(self, commune: str | None) -> str | None:
        """When the team answers, if it is outside working hours now (else None)."""
        local = self.clock().astimezone(VIETNAM).replace(tzinfo=None)
        hours = self.hours(commune)
        return None if hours.open_at(local) else when_label(hours.next_open(local))

    def emergency(self) -> str:
        """The emergency steps: the fixed lines, then the FAQ's entry on what to do at once."""
        target = self.assistant.index.target(self.settings.handoff_emergency_faq)
        if target is None or target.kind != "faq":
            return replies.HANDOFF_EMERGENCY
        return f"{replies.HANDOFF_EMERGENCY}\n\n{target.answer.strip()}"

    def signature(self, view: HandoffView, name: str | None, text: str) -> str:
        if self.settings.handoff_signature == "team" or not name:
            return replies.HANDOFF_FROM_TEAM.format(team=self.team_name(view.commune)[:1].upper()
                                                    + self.team_name(view.commune)[1:], text=text)
        return replies.HANDOFF_FROM_MEMBER.format(name=name, text=text)

    # -- the citizen's messages (precedence step 1, and the request itself) ---------------------

    async def on_citizen(self, message: Message, *, photo: Photo | None = None, log_id: int | None = None,
                         asked: bool = False) -> list[str] | None:
        """Texts to send the citizen when the message is a hand-off matter (possibly none: the bot
        stays quiet), or None when it is not (it then goes on to the pending prompt, commands...).
        `asked`: the "Hỏi cán bộ" button (with the question's `log_id`). `photo`: the message is a
        photo (`message.text` its caption), relayed only during an open hand-off."""
        if not self.enabled:
            return None
        channel = message.channel
        key = self.assistant.user_key(channel, message.user_id)
        text = (message.text or "").strip()
        command = commands.match(text) if text else None
        name = command.name if command is not None else None
        active = await asyncio.to_thread(self.store.active, channel, key)
        if photo is not None:
            return None if active is None else await self._relay_in(active, text, photo)
        if active is not None:
            if name == "end":
                return await self.close_by_citizen(active)
            if name == "handoff" or asked:
                return [replies.HANDOFF_ALREADY]
            return await self._relay_in(active, text, None)
        waiting = await asyncio.to_thread(self.state.get, channel, key, SLOT)
        if waiting is not None and not asked:
            await asyncio.to_thread(self.state.clear, channel, key, SLOT)
            if name == "end":
                return [replies.HANDOFF_NONE]
            if text and name is None:
                return await self._open(message, key, text)
        if name == "handoff" or asked:
            summary = await asyncio.to_thread(self._summary, message, key, log_id)
            if not summary:
                await asyncio.to_thread(self.state.put, channel, key, SLOT, {"asked": True}, SUMMARY_TTL)
                return [replies.HANDOFF_ASK_SUMMARY]
            return await self._open(message, key, summary)
        if name == "end":
            return [replies.HANDOFF_NONE]
        return None

    def _summary(self, message: Message, key: str, log_id: int | None) -> str | None:
        if log_id is not None:
            text = self.store.question(log_id)
            if text:
                return text
        since = self.clock().replace(tzinfo=None) - dt.timedelta(minutes=self.settings.handoff_summary_minutes)
        recent = self.store.recent_questions(key, message.channel, since, 1)
        return recent[-1] if recent else None

    async def _open(self, message: Message, key: str, summary: str) -> list[str]:
        assert self.desk is not None
        unit = await asyncio.to_thread(self.assistant.commune_of, message.channel, message.user_id)
        commune = unit.code if unit is not None and unit.review_chat_ids else None
        if not self.desk.chats(commune):
            commune = None
        since = self.clock().replace(tzinfo=None) - dt.timedelta(hours=1)
        recent = await asyncio.to_thread(self.store.recent_questions, key, message.channel, since)
        view = await asyncio.to_thread(self.store.open, message.channel, key, message.chat_id, commune, summary)
        later = self.later(commune)
        scam = looks_like_scam(summary) or any(looks_like_scam(q) for q in recent)
        topics = await self._open_topics(view)
        posted = await self.desk.post(view, recent, later, scam, topics=topics)
        for group in posted:
            await asyncio.to_thread(self.store.add, view.id, "post", summary, group=group)
        if not posted:
            await asyncio.to_thread(self.store.close, view.id, "unposted")
            out = [replies.HANDOFF_NOT_SENT]
        else:
            lines = [replies.HANDOFF_OPENED.format(team=self.team_name(commune), summary=view.summary),
                     replies.HANDOFF_LATER.format(when=later) if later else replies.HANDOFF_SOON,
                     replies.HANDOFF_WARNING, replies.HANDOFF_HOW]
            out = ["\n\n".join(lines)]
        return [self.emergency(), *out] if scam else out

    async def _relay_in(self, view: HandoffView, text: str, photo: Photo | None) -> list[str]:
        """The citizen's message (or photo, stored as its caption: never the image) to the groups."""
        assert self.desk is not None
        posts = await asyncio.to_thread(self.store.posts, view.id)
        topics = await asyncio.to_thread(self.store.topics, view.id)
        kind = "text" if photo is None else "photo"
        sent = (await self.desk.relay(view, text, posts, topics) if photo is None
                else await self.desk.relay_photo(view, photo, text, posts, topics))
        if not sent:
            await asyncio.to_thread(self.store.add, view.id, "in", text, kind=kind, outcome="retry")
            return [replies.HANDOFF_NOT_SENT]
        for group in sent:
            await asyncio.to_thread(self.store.add, view.id, "in", text, kind=kind, group=group)
        out = [replies.HANDOFF_PHOTO_REMINDER] if photo is not None else []
        if text and looks_like_scam(text):
            out.insert(0, self.emergency())
        return out

    async def close_by_citizen(self, view: HandoffView) -> list[str]:
        closed = await asyncio.to_thread(self.store.close, view.id, "citizen")
        if closed is not None and self.desk is not None:
            await self._notice(closed, say.HANDOFF_ENDED_CITIZEN.format(hid=closed.id))
            await self.close_topics(closed.id)
        return [replies.HANDOFF_CLOSED_CITIZEN]

    # -- the team's actions -------------------------------------------------------------------------

    async def take(self, hid: int, user_id: int, name: str) -> tuple[bool, HandoffView | None]:
        taken, view = await asyncio.to_thread(self.store.take, hid, user_id, name)
        if taken and view is not None and view.chat_id:
            shown = name if self.settings.handoff_signature != "team" else self.team_name(view.commune)
            await self._to_citizen(view, replies.HANDOFF_TAKEN.format(name=shown), record=False)
        return taken, view

    async def transfer(self, hid: int, note: str) -> HandoffView | None:
        """Pass the hand-off to the provincial team (posted in its groups)."""
        assert self.desk is not None
        view = await asyncio.to_thread(self.store.reroute, hid, None)
        if view is None or not view.open:
            return None
        since = self.clock().replace(tzinfo=None) - dt.timedelta(hours=1)
        recent = await asyncio.to_thread(self.store.recent_questions, view.user_key, view.channel, since)
        known = await asyncio.to_thread(self.store.topics, view.id)
        topics = {**known, **await self._open_topics(view, skip=known)}
        for group in await self.desk.post(view, recent, self.later(None), False, note, topics=topics):
            await asyncio.to_thread(self.store.add, view.id, "post", view.summary, group=group)
        return view

    async def close_by_team(self, hid: int) -> HandoffView | None:
        closed = await asyncio.to_thread(self.store.close, hid, "team")
        if closed is not None and closed.chat_id:
            await self._to_citizen(closed, replies.HANDOFF_CLOSED_TEAM, record=False)
        return closed

    async def relay_out(self, hid: int, user_id: int, name: str, text: str) -> Relayed | None:
        """A member's message to the citizen: stored redacted, delivered in full and signed."""
        view = await asyncio.to_thread(self.store.get, hid)
        if view is None or not view.open or not view.chat_id:
            return None
        if view.status == "waiting":  # replying takes it
            _, taken = await self.take(hid, user_id, name)
            view = taken or view
        signed = self.signature(view, name, text)
        chat_id = view.chat_id or ""
        mid = await asyncio.to_thread(self.store.add, hid, "out", text, author=user_id, outcome="retry",
                                      pending=signed)
        result = await self._send(view.channel, chat_id, signed)
        await asyncio.to_thread(self.store.settle, mid, result.outcome)
        return Relayed(result, view)

    def can_send_photo(self, channel: str, photo: Photo) -> bool:
        """Whether the citizen's channel can receive this photo: the web chat shows none, and the
        Zalo Bot API sends only public links (a Telegram photo has one only through `media`)."""
        if not hasattr(self.senders.get(channel), "send_photo"):
            return False
        return not (channel in LINK_ONLY and photo.source != "link" and self.media is None)

    async def relay_photo_out(self, hid: int, user_id: int, name: str, photo: Photo, caption: str) -> Relayed | None:
        """A member's photo to the citizen, signed in its caption; stored as its caption only."""
        view = await asyncio.to_thread(self.store.get, hid)
        if view is None or not view.open or not view.chat_id:
            return None
        if not self.can_send_photo(view.channel, photo):
            return Relayed(SendResult("refused", f"{view.channel}: photos cannot be sent"), view, unsupported=True)
        if view.status == "waiting":  # replying takes it
            _, taken = await self.take(hid, user_id, name)
            view = taken or view
        signed = self.signature(view, name, caption).rstrip()
        mid = await asyncio.to_thread(self.store.add, hid, "out", caption, kind="photo", author=user_id,
                                      outcome="retry", pending=signed, photo=photo)
        result = await self._send(view.channel, view.chat_id or "", signed, photo)
        await asyncio.to_thread(self.store.settle, mid, result.outcome)
        return Relayed(result, view)

    async def _open_topics(self, view: HandoffView, skip: Mapping[int, int] | None = None) -> dict[int, int]:
        """A forum topic for the hand-off in each of its groups that has topics (recorded)."""
        assert self.desk is not None
        opened = {chat: thread for chat, thread in await self.desk.open_topics(view) if chat not in (skip or {})}
        for chat, thread in opened.items():
            await asyncio.to_thread(self.store.add, view.id, "topic", view.summary, group=(chat, thread))
        return opened

    async def close_topics(self, hid: int) -> None:
        """Close the topics of a hand-off that has ended (groups without topics: nothing to do)."""
        if self.desk is None:
            return
        topics = await asyncio.to_thread(self.store.topics, hid)
        if topics:
            await self.desk.close_topics(topics)

    async def note(self, hid: int, group: tuple[int, int]) -> None:
        """A bot message in the group that members may reply to (the thread of the hand-off)."""
        await asyncio.to_thread(self.store.add, hid, "note", "", group=group)

    # -- the worker -----------------------------------------------------------------------------------

    def idle_for(self, view: HandoffView, now: dt.datetime) -> dt.timedelta:
        """How long a hand-off has been idle at `now` (aware UTC). Until a member takes it, only
        the team's working hours count: a request sent on Friday evening does not close over
        the weekend while nobody is on duty."""
        since = view.last_activity.replace(tzinfo=dt.UTC)
        if view.status != "waiting":
            return now - since
        local = lambda t: t.astimezone(VIETNAM).replace(tzinfo=None)  # noqa: E731
        return self.hours(view.commune).worked(local(since), local(now))

    async def sweep(self) -> None:
        """Close idle hand-offs (telling both sides) and retry relays that failed for a passing reason."""
        now = self.clock()
        limit = dt.timedelta(hours=self.settings.handoff_idle_hours)
        # working time never exceeds wall time: the wall-clock cutoff finds every candidate
        for view in await asyncio.to_thread(self.store.idle, now.replace(tzinfo=None) - limit):
            if self.idle_for(view, now) < limit:
                continue
            hid = view.id
            closed = await asyncio.to_thread(self.store.close, hid, "idle")
            if closed is None:
                continue
            if closed.chat_id:
                await self._send(closed.channel, closed.chat_id, replies.HANDOFF_CLOSED_IDLE)
            await self._notice(closed, say.HANDOFF_ENDED_IDLE.format(
                hid=hid, hours=f"{self.settings.handoff_idle_hours:g}"))
            await self.close_topics(hid)
        for p in await asyncio.to_thread(self.store.pending):
            result = await self._send(p.channel, p.chat_id, p.text, p.photo)
            await asyncio.to_thread(self.store.settle, p.message_id, result.outcome)
            if result.outcome == "refused":
                of = await asyncio.to_thread(self.store.get, p.handoff_id)
                if of is not None:
                    await self._notice(of, say.HANDOFF_UNDELIVERABLE.format(
                        hid=p.handoff_id, problem=result.problem))

    async def run(self, every: float = 60.0) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - the loop must survive a bad round
                log.exception("handoff: the sweep failed; trying again later")
            await asyncio.sleep(every)

    # -- helpers ------------------------------------------------------------------------------------

    async def _notice(self, view: HandoffView, text: str) -> None:
        if self.desk is None:
            return
        posts = await asyncio.to_thread(self.store.posts, view.id)
        topics = await asyncio.to_thread(self.store.topics, view.id)
        for group in await self.desk.notice(view, text, posts, topics):
            await asyncio.to_thread(self.store.add, view.id, "note", text, group=group)

    async def _to_citizen(self, view: HandoffView, text: str, record: bool = True) -> SendResult:
        assert view.chat_id
        result = await self._send(view.channel, view.chat_id, text)
        if not result.ok:
            log.warning("handoff #%s: a message to the citizen was not delivered (%s): %s", view.id,
                        result.outcome, result.problem)
        return result

    async def _send(self, channel: str, chat_id: str, text: str, photo: Photo | None = None) -> SendResult:
        sender = self.senders.get(channel)
        if sender is None:
            return SendResult("refused", f"{channel}: this channel cannot receive messages")
        try:
            if photo is not None:
                send_photo = getattr(sender, "send_photo", None)
                if send_photo is None:
                    return SendResult("refused", f"{channel}: this channel cannot receive photos")
                if channel in LINK_ONLY and photo.source != "link" and self.media is not None:
                    linked = await self.media.link(photo)  # fresh at each attempt: links expire
                    if linked is None:
                        return SendResult("retry", f"{channel}: no public link for the photo yet")
                    photo = linked
                result: SendResult = await send_photo(chat_id, photo, text)
                return result
            return await sender.send_text(chat_id, text)
        except Exception as exc:  # noqa: BLE001 - a failure must not lose the message
            log.exception("handoff: sending through %s failed", channel)
            return SendResult("retry", f"{channel}: {type(exc).__name__}")

