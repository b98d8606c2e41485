"""The hand-off service: opening, routing, relaying both ways through the senders, closing, and
the worker (retries, idle closing). See the package docstring for the whole flow."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot import commands
from bot.handoff.hours import VIETNAM, Hours, looks_like_scam, parse_hours, when_label
from bot.handoff.store import HandoffStore, HandoffView
from bot.outbound import Photo, Sender, SendResult
from bot.replies import citizens as replies
from bot.replies import reviewers as say
from bot.state import StateStore
from bot.types import Message

if TYPE_CHECKING:
    from bot.assistant import Assistant
    from bot.config import Settings

from bot.periodic import repeat

log = logging.getLogger(__name__)

SLOT = "handoff"  # state slot: the bot asked for the one-line summary
SUMMARY_TTL = 900.0


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
        await repeat(self.sweep, every, "handoff")

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
