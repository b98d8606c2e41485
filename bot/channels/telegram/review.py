"""Telegram side of the review loop: posts in the review groups, reviewers' buttons and answers,
and the `/reload` command.

- `ReviewPoster` posts each new group of pending questions to every `TROLYSO_REVIEW_CHAT_IDS`
  chat (or, for a group of a commune with its own `review_chat_ids` in communes.yaml, to that
  commune's chats) with the buttons **Trả lời**, **Là câu hỏi có sẵn** and **Bỏ qua** (run by the review
  worker inside `serve`); it also relays reload errors there.
- `ReviewHandlers.handlers()` are given to the `TelegramChannel` (by `bot.server`, the one
  wiring place), which runs them before the citizens' ones:
  * Trả lời: the bot asks the reviewer to reply; their next message in reply is the answer,
    delivered to every citizen of the group on their own channel (bot.review.actions);
  * Là câu hỏi có sẵn: the nearest FAQ entries as buttons; the pick answers the citizens with
    that entry and teaches it their wording (its `learned` list);
  * Bỏ qua: the group is closed without an answer;
  * /reload: rebuild the index now (bot.reload).
  Only members of a provincial review chat (checked with getChatMember), members of the review
  chats of the group's commune, and `TROLYSO_ADMIN_IDS` may act; everyone else gets a refusal.

Everything is sent through the one `TelegramSender`.

Callback data: `rv:<action>:<group id>[:<candidate number>]`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import html
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import (
    Bot,
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Update,
)
from telegram import Message as TgMessage
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.telegram.sender import TelegramSender, keyboard
from bot.config import Settings
from bot.reload import Reloader
from bot.replies import reviewers as say
from bot.retrieval import Index
from bot.review.actions import ActionResult, answer_group, link_group, promote_group
from bot.review.delivery import Senders
from bot.review.queue import GroupView, ReviewError, ReviewQueue
from bot.state import StateStore
from indexer.communes import Communes
from indexer.faq_edit import FaqEditor

log = logging.getLogger(__name__)

PREFIX = "rv"
ANSWER, LINK, IGNORE, PICK, CANCEL, PROMOTE = "a", "l", "i", "p", "x", "m"
MEMBER = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}
AUTH_TTL = 120.0  # seconds a membership check is trusted
AWAIT_TTL = 3600.0  # seconds the bot waits for a reviewer's answer after "Trả lời"
STATE_CHANNEL, STATE_SLOT = "telegram-review", "review-answer"  # where that wait is kept
VIETNAM = dt.timezone(dt.timedelta(hours=7))
SHOWN_WORDINGS = 5
SHOWN_CHARS = 300
CANCEL_WORDS = {"hủy", "huỷ", "huy", "/huy", "/cancel", "thôi"}



def _short(text: str, limit: int = SHOWN_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _local(value: dt.datetime) -> str:
    return value.replace(tzinfo=dt.UTC).astimezone(VIETNAM).strftime("%H:%M %d/%m")


def post_text(group: GroupView, communes: Communes | None = None) -> str:
    """The post of a new group in the review chats (plain text; escape it for HTML)."""
    lines = [say.POST_TITLE.format(gid=group.id, count=group.count), f"“{_short(group.text)}”"]
    known = [c for c in (communes.get(code) for code in group.communes) if c] if communes else []
    if known:
        lines.append(say.POST_COMMUNE.format(names=", ".join(c.label for c in known)))
    others = group.wordings(SHOWN_WORDINGS + 1)[1:]
    if others:
        lines += ["", say.POST_OTHER, *(f"• {_short(w)}" for w in others)]
    channels = ", ".join(say.CHANNEL_NAMES.get(c, c) for c in group.channels)
    lines += ["", say.POST_WHEN.format(channels=channels, first=_local(group.first), last=_local(group.last))]
    thumbs = sum(1 for i in group.items if i.reason == "thumbs_down")
    if thumbs:
        lines.append(say.POST_THUMBS.format(n=thumbs))
    if group.candidates:
        lines += ["", say.POST_CANDIDATES]
        lines += [f"{n}. {_short(c['question'], 150)} ({c['confidence']:.2f})"
                  for n, c in enumerate(group.candidates[:3], 1)]
    else:
        lines += ["", say.POST_NO_CANDIDATES]
    return "\n".join(lines)


def post_markup(gid: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(say.BUTTON_ANSWER, callback_data=f"{PREFIX}:{ANSWER}:{gid}"),
         InlineKeyboardButton(say.BUTTON_LINK, callback_data=f"{PREFIX}:{LINK}:{gid}")],
        [InlineKeyboardButton(say.BUTTON_IGNORE, callback_data=f"{PREFIX}:{IGNORE}:{gid}")],
    ])


class Authorizer:
    """Who may act on review groups: `TROLYSO_ADMIN_IDS`, members of a provincial review chat,
    and, for a commune's group, members of that commune's review chats (`chats`)."""

    def __init__(self, settings: Settings, ttl: float = AUTH_TTL):
        self.settings = settings
        self.ttl = ttl
        self._cache: dict[tuple[int, tuple[int, ...]], tuple[bool, float]] = {}

    async def allowed(self, bot: Bot, user_id: int | None, chats: tuple[int, ...] = ()) -> bool:
        if user_id is None:
            return False
        if user_id in self.settings.admin_ids:
            return True
        key = (user_id, chats)
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached and now - cached[1] < self.ttl:
            return cached[0]
        ok = False
        for chat_id in (*self.settings.review_chat_ids, *chats):
            try:
                member = await bot.get_chat_member(chat_id, user_id)
            except TelegramError as exc:  # e.g. "user not found": not a member of that chat
                log.debug("review: membership of %s in %s unknown: %s", user_id, chat_id, exc)
                continue
            if member.status in MEMBER or (member.status == ChatMemberStatus.RESTRICTED
                                           and getattr(member, "is_member", False)):
                ok = True
                break
        self._cache[key] = (ok, now)
        return ok


class ReviewPoster:
    """Posts new review groups and admin notices to the review chats."""

    def __init__(self, settings: Settings, sender: TelegramSender, communes: Communes | None = None):
        self.settings = settings
        self.sender = sender
        self.communes = communes or Communes()

    def chats(self, group: GroupView) -> tuple[int, ...]:
        """Where a group is reviewed: its commune's chats, else the provincial ones."""
        return self.communes.review_chats(group.commune) or tuple(self.settings.review_chat_ids)

    async def post(self, group: GroupView) -> bool:
        """Post to every review chat of the group. False only when a passing failure should be retried."""
        retry = False
        for chat_id in self.chats(group):
            result = await self.sender.send(chat_id, post_text(group, self.communes), markup=post_markup(group.id),
                                            markup_on_first=True)
            if result.outcome == "refused":  # the bot is not in that chat: retrying cannot help
                log.error("review: cannot post group %s to chat %s: %s", group.id, chat_id, result.problem)
            elif result.outcome == "retry":
                log.warning("review: posting group %s to chat %s failed (%s); will retry",
                            group.id, chat_id, result.problem)
                retry = True
        return not retry

    async def notice(self, text: str) -> None:
        for chat_id in self.settings.review_chat_ids:
            result = await self.sender.send(chat_id, text)
            if not result.ok:
                log.warning("review: cannot send a notice to chat %s: %s", chat_id, result.problem)


@dataclass
class _Awaiting:
    """A reviewer pressed "Trả lời": their next message in reply is the answer. Kept in the
    conversation state store (slot "review-answer"), so any replica takes the answer."""

    group_id: int
    chat_id: int
    prompt_id: int | None
    post_id: int | None

    def data(self) -> dict[str, Any]:
        return {"group_id": self.group_id, "chat_id": self.chat_id, "prompt_id": self.prompt_id,
                "post_id": self.post_id}

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> _Awaiting | None:
        try:
            return cls(int(data["group_id"]), int(data["chat_id"]), data.get("prompt_id"), data.get("post_id")) \
                if data else None
        except (KeyError, TypeError, ValueError):
            return None


def _reviewer_key(chat_id: int, user_id: int) -> str:
    return hashlib.sha256(f"{chat_id}:{user_id}".encode()).hexdigest()[:32]


class ReviewHandlers:
    """The reviewers' side of the Telegram bot: buttons on review posts, answers, /reload."""

    def __init__(self, settings: Settings, sender: TelegramSender, queue: ReviewQueue, senders: Senders,
                 editor: FaqEditor, reloader: Reloader, index: Callable[[], Index], state: StateStore,
                 communes: Communes | None = None):
        self.settings = settings
        self.sender = sender
        self.queue = queue
        self.senders = senders
        self.editor = editor
        self.reloader = reloader
        self.index = index
        self.auth = Authorizer(settings)
        self.state = state
        self.communes = communes or Communes()

    async def _group_chats(self, gid: int) -> tuple[int, ...]:
        """The review chats of the group's commune (their members may act on it too)."""
        try:
            group = await asyncio.to_thread(self.queue.group, gid)
        except ReviewError:
            return ()
        return self.communes.review_chats(group.commune)

    def handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        """For `TelegramChannel(handlers=...)`: they run before the citizens' handlers."""
        return [
            CallbackQueryHandler(self.on_button, pattern=rf"^{PREFIX}:"),
            CommandHandler("reload", self.on_reload),
        ]

    def early_handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        """For `TelegramChannel(early_handlers=...)`: a text that answers a review group is taken
        here (and goes no further); any other text goes on to the citizens' handlers."""
        return [MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, self.on_text)]

    def _awaiting(self, message: TgMessage) -> _Awaiting | None:
        user = message.from_user
        if user is None:
            return None
        entry = _Awaiting.of(self.state.get(STATE_CHANNEL, _reviewer_key(message.chat.id, user.id), STATE_SLOT))
        if entry is None:
            return None
        if message.chat.type == ChatType.PRIVATE:
            return entry
        replied = message.reply_to_message
        if replied is not None and (entry.prompt_id is None or replied.message_id in (entry.prompt_id, entry.post_id)):
            return entry  # prompt_id is None while the prompt is being sent: a quick reply still counts
        return None

    def _await(self, user_id: int, entry: _Awaiting) -> None:
        self.state.put(STATE_CHANNEL, _reviewer_key(entry.chat_id, user_id), STATE_SLOT, entry.data(), AWAIT_TTL)

    def _done(self, chat_id: int, user_id: int) -> None:
        self.state.clear(STATE_CHANNEL, _reviewer_key(chat_id, user_id), STATE_SLOT)

    # -- buttons -----------------------------------------------------------------------------
    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        user = update.effective_user
        parts = (query.data or "").split(":")
        chats = await self._group_chats(int(parts[2])) if len(parts) >= 3 and parts[2].isdigit() else ()
        if not await self.auth.allowed(context.bot, user.id if user else None, chats):
            log.info("review: refused a review button for user %s", user.id if user else None)
            await query.answer(say.REFUSED, show_alert=True)
            return
        if len(parts) < 3 or not parts[2].isdigit():
            await query.answer(say.EXPIRED)
            return
        action, gid = parts[1], int(parts[2])
        try:
            if action == ANSWER:
                await self._ask_answer(query, user, gid, context)
            elif action == LINK:
                await self._show_candidates(query, gid, context)
            elif action == PICK and len(parts) == 4 and parts[3].isdigit():
                await self._pick(query, gid, int(parts[3]), context)
            elif action == IGNORE:
                await asyncio.to_thread(self.queue.ignore, gid)
                await query.answer()
                await self.sender.drop_buttons(query.message)
                await self._reply(query.message, say.IGNORED.format(who=_name(user), gid=gid))
            elif action == PROMOTE:
                result = await asyncio.to_thread(promote_group, self.queue, self.editor, gid)
                await query.answer()
                await self.sender.drop_buttons(query.message)
                await self._reply(query.message, say.PROMOTED.format(gid=gid, faq_id=result.faq_id))
            elif action == CANCEL:
                await query.answer(say.CANCELLED)
                await self.sender.drop_buttons(query.message)
            else:
                await query.answer(say.EXPIRED)
        except ReviewError as exc:
            await self._refuse_action(query, gid, exc)

    async def _refuse_action(self, query: CallbackQuery, gid: int, exc: ReviewError) -> None:
        try:
            group = await asyncio.to_thread(self.queue.group, gid)
            text = say.ALREADY.format(gid=gid, status=group.status) if group.status != "pending" else str(exc)
        except ReviewError:
            text = say.EXPIRED
        try:
            await query.answer(_short(text, 190), show_alert=True)
            shown = len(text) <= 190
        except BadRequest:  # the button was already answered (e.g. before a long delivery)
            shown = False
        if not shown and query.message is not None:
            await self._reply(query.message, say.FAILED.format(error=exc))

    async def _pending_group(self, query: CallbackQuery, gid: int) -> GroupView | None:
        group = await asyncio.to_thread(self.queue.group, gid)
        if group.status != "pending":
            await query.answer(say.ALREADY.format(gid=gid, status=group.status), show_alert=True)
            await self.sender.drop_buttons(query.message)
            return None
        return group

    async def _ask_answer(self, query: CallbackQuery, user: Any, gid: int,
                          context: ContextTypes.DEFAULT_TYPE) -> None:
        group = await self._pending_group(query, gid)
        if group is None:
            return
        chat_id = query.message.chat.id if query.message else user.id
        post_id = query.message.message_id if query.message else None
        who = f'<a href="tg://user?id={user.id}">{html.escape(_name(user), quote=False)}</a>'
        text = html.escape(say.PROMPT.format(who="\x00", gid=gid, text=_short(group.text), count=group.count),
                           quote=False).replace("\x00", who)
        # Wait for the answer before the prompt is out: updates are handled concurrently, and a
        # reply can arrive before send_message returns.
        entry = _Awaiting(gid, chat_id, None, post_id)
        await asyncio.to_thread(self._await, user.id, entry)
        sent = await self.sender.send(
            chat_id, text, escaped=True, reply_to=post_id,
            markup=ForceReply(selective=True, input_field_placeholder=say.PROMPT_PLACEHOLDER),
        )
        entry.prompt_id = int(sent.message_ids[0]) if sent.message_ids else None
        await asyncio.to_thread(self._await, user.id, entry)
        await query.answer()

    async def _show_candidates(self, query: CallbackQuery, gid: int, context: ContextTypes.DEFAULT_TYPE) -> None:
        group = await self._pending_group(query, gid)
        if group is None:
            return
        await query.answer()
        if not group.candidates:
            await self._reply(query.message, say.NO_CANDIDATES.format(gid=gid))
            return
        rows = [[InlineKeyboardButton(f"{n}. {_short(c['question'], 60)}",
                                      callback_data=f"{PREFIX}:{PICK}:{gid}:{n - 1}")]
                for n, c in enumerate(group.candidates, 1)]
        rows.append([InlineKeyboardButton(say.BUTTON_CANCEL, callback_data=f"{PREFIX}:{CANCEL}:{gid}")])
        listed = "\n".join(f"{n}. {c['question']}" for n, c in enumerate(group.candidates, 1))
        text = say.PICK_TITLE.format(gid=gid, text=_short(group.text)) + "\n" + listed
        await self._reply(query.message, text, markup=InlineKeyboardMarkup(rows))

    async def _pick(self, query: CallbackQuery, gid: int, n: int, context: ContextTypes.DEFAULT_TYPE) -> None:
        group = await asyncio.to_thread(self.queue.group, gid)
        if not 0 <= n < len(group.candidates):
            await query.answer(say.EXPIRED)
            return
        await query.answer()
        faq_id = group.candidates[n]["id"]
        result = await link_group(self.queue, self.senders, self.editor, gid, faq_id, self.index())
        await self.sender.drop_buttons(query.message)
        await self._reply(query.message, self._summary(result))

    # -- the reviewer's answer ---------------------------------------------------------------
    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        user = update.effective_user
        if message is None or user is None:
            return
        entry = await asyncio.to_thread(self._awaiting, message)
        if entry is None:
            return  # not an answer to a review group: the citizens' handlers take it
        await self._take_answer(message, user.id, entry, context)
        raise ApplicationHandlerStop  # the citizens' handlers must not answer it as a question

    async def _take_answer(self, message: TgMessage, user_id: int, entry: _Awaiting,
                           context: ContextTypes.DEFAULT_TYPE) -> None:
        text = (message.text or "").strip()
        await asyncio.to_thread(self._done, message.chat.id, user_id)
        if text.lower() in CANCEL_WORDS:
            await self._reply(message, say.CANCELLED)
            return
        if not await self.auth.allowed(context.bot, user_id, await self._group_chats(entry.group_id)):
            await self._reply(message, say.REFUSED)
            return
        try:
            result = await answer_group(self.queue, self.senders, entry.group_id, text)
        except ReviewError as exc:
            await self._reply(message, say.FAILED.format(error=exc))
            return
        markup = None
        if result.group.status in ("answered", "undeliverable"):
            markup = keyboard([[(say.BUTTON_PROMOTE, f"{PREFIX}:{PROMOTE}:{entry.group_id}")]])
        await self._reply(message, self._summary(result), markup=markup)
        if entry.post_id is not None:
            await self.sender.drop_buttons_of(entry.chat_id, entry.post_id)

    # -- /reload -----------------------------------------------------------------------------
    async def on_reload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        user = update.effective_user
        if not await self.auth.allowed(context.bot, user.id if user else None):
            await self._reply(message, say.REFUSED)
            return
        await self._reply(message, say.RELOADING)
        result = await self.reloader.reload("/reload", notify=False)
        await self.sender.send(message.chat.id, result.message())

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _summary(result: ActionResult) -> str:
        g, r = result.group, result.report
        lines = [say.LINKED.format(gid=g.id, faq_id=result.faq_id, sent=r.sent) if result.faq_id
                 else say.ANSWERED.format(gid=g.id, sent=r.sent)]
        if r.undeliverable:
            lines.append(say.UNDELIVERABLE.format(n=r.undeliverable))
        if r.retry:
            lines.append(say.RETRY.format(n=r.retry))
        if result.teach_error:
            lines.append(say.TEACH_FAILED.format(error=result.teach_error))
        elif result.faq_id:
            lines.append(say.TAUGHT.format(n=len(result.added), faq_id=result.faq_id) if result.added
                         else say.NOTHING_TAUGHT.format(faq_id=result.faq_id))
        return "\n".join(lines)

    async def _reply(self, message: MaybeInaccessibleMessage | None, text: str, markup: Any = None) -> None:
        if message is None:
            return
        result = await self.sender.send(message.chat.id, text, markup=markup, markup_on_first=True,
                                        reply_to=message.message_id)
        if not result.ok:
            log.warning("review: a reply to a reviewer was not delivered: %s", result.problem)


def _name(user: Any) -> str:
    if user is None:
        return say.MEMBER
    return user.full_name or (f"@{user.username}" if user.username else str(user.id))
