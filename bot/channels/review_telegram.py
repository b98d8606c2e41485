"""Telegram side of the review loop: posts in the review groups, reviewers' buttons and answers,
and the `/reload` command.

- `ReviewPoster` posts each new group of pending questions to every `TROLYSO_REVIEW_CHAT_IDS`
  chat with the buttons **Trả lời**, **Là câu hỏi có sẵn** and **Bỏ qua** (run by the review
  worker inside `serve`, see bot.reload.live_services); it also relays reload errors there.
- `register_review(channel)` adds the handlers to a `TelegramChannel` before the citizens' ones:
  * Trả lời: the bot asks the reviewer to reply; their next message in reply is the answer,
    delivered to every citizen of the group on their own channel (bot.review.answer_group);
  * Là câu hỏi có sẵn: the nearest FAQ entries as buttons; the pick answers the citizens with
    that entry and adds their wording to it as alternates (bot.review.link_group);
  * Bỏ qua: the group is closed without an answer;
  * /reload: rebuild the index now (bot.reload).
  Only members of a review chat (checked with getChatMember) and `TROLYSO_ADMIN_IDS` may act;
  everyone else gets a refusal.

Callback data: `rv:<action>:<group id>[:<candidate number>]`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    ReplyParameters,
    Update,
)
from telegram import Message as TgMessage
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot.channels.render import TELEGRAM_LIMIT, split_message
from bot.channels.telegram import drop_buttons, telegram_length
from bot.config import Settings
from bot.review import (
    ActionResult,
    Deliverer,
    FaqEditor,
    GroupView,
    ReviewError,
    ReviewQueue,
    answer_group,
    link_group,
    promote_group,
)

if TYPE_CHECKING:
    from bot.channels.telegram import TelegramChannel

log = logging.getLogger(__name__)

PREFIX = "rv"
ANSWER, LINK, IGNORE, PICK, CANCEL, PROMOTE = "a", "l", "i", "p", "x", "m"
MEMBER = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}
AUTH_TTL = 120.0  # seconds a membership check is trusted
AWAIT_TTL = 3600.0  # seconds the bot waits for a reviewer's answer after "Trả lời"
VIETNAM = dt.timezone(dt.timedelta(hours=7))
SHOWN_WORDINGS = 5
SHOWN_CHARS = 300
CANCEL_WORDS = {"hủy", "huỷ", "huy", "/huy", "/cancel", "thôi"}

# Texts for reviewers (short, polite Vietnamese).
BUTTON_ANSWER = "✍️ Trả lời"
BUTTON_LINK = "📋 Là câu hỏi có sẵn"
BUTTON_IGNORE = "🚫 Bỏ qua"
BUTTON_CANCEL = "Hủy"
BUTTON_PROMOTE = "📚 Thêm vào câu hỏi thường gặp"
POST_TITLE = "🆕 Nhóm câu hỏi #{gid}: {count} người hỏi"
POST_OTHER = "Cách hỏi khác:"
POST_WHEN = "Kênh: {channels}. Từ {first} đến {last}."
POST_THUMBS = "Trong đó {n} câu bot đã trả lời nhưng người hỏi chê 👎."
POST_CANDIDATES = "Câu có sẵn gần nhất:"
POST_NO_CANDIDATES = "Không có câu có sẵn nào gần."
REFUSED = ("Xin lỗi, chỉ thành viên nhóm duyệt câu hỏi của tổ công nghệ số cộng đồng "
           "mới dùng được chức năng này.")
EXPIRED = "Nút này đã hết hạn."
ALREADY = "Nhóm #{gid} đã được xử lý rồi ({status})."
PROMPT = ("✍️ {who}, xin trả lời tin nhắn này bằng nội dung trả lời cho nhóm #{gid}:\n"
          "“{text}”\nCâu trả lời sẽ được gửi tới {count} người đã hỏi. Gõ “hủy” để thôi.")
PROMPT_PLACEHOLDER = "Câu trả lời cho người dân…"
CANCELLED = "Đã hủy."
PICK_TITLE = "Nhóm #{gid}: chọn câu hỏi có sẵn trùng ý với “{text}”:"
NO_CANDIDATES = "Không có câu có sẵn nào gần. Quản trị viên có thể dùng lệnh: trolyso review link {gid} <mã câu hỏi>"
ANSWERED = "✅ Nhóm #{gid}: đã gửi câu trả lời tới {sent} người."
LINKED = "✅ Nhóm #{gid}: đã gửi câu trả lời có sẵn ({faq_id}) tới {sent} người."
UNDELIVERABLE = "{n} người không nhận được (có thể đã chặn bot)."
RETRY = "{n} người chưa gửi được, bot sẽ tự gửi lại sau."
TAUGHT = "📚 Đã thêm {n} cách hỏi mới vào mục {faq_id}; bot sẽ tự cập nhật sau ít giây."
NOTHING_TAUGHT = "Các cách hỏi này đã có trong mục {faq_id}."
TEACH_FAILED = "⚠️ Chưa ghi được vào tệp câu hỏi thường gặp:\n{error}"
PROMOTED = "📚 Đã thêm nhóm #{gid} thành câu hỏi thường gặp mới: {faq_id}. Bot sẽ tự cập nhật sau ít giây."
IGNORED = "🚫 {who} đã bỏ qua nhóm #{gid}."
FAILED = "⚠️ Không làm được: {error}"
RELOADING = "⏳ Đang cập nhật dữ liệu…"
CHANNEL_NAMES = {"telegram": "Telegram", "zalo": "Zalo", "cli": "dòng lệnh"}


def _short(text: str, limit: int = SHOWN_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _local(value: dt.datetime) -> str:
    return value.replace(tzinfo=dt.timezone.utc).astimezone(VIETNAM).strftime("%H:%M %d/%m")


def post_text(group: GroupView) -> str:
    """The post of a new group in the review chats (plain text; escape it for HTML)."""
    lines = [POST_TITLE.format(gid=group.id, count=group.count), f"“{_short(group.text)}”"]
    others = group.wordings(SHOWN_WORDINGS + 1)[1:]
    if others:
        lines += ["", POST_OTHER, *(f"• {_short(w)}" for w in others)]
    channels = ", ".join(CHANNEL_NAMES.get(c, c) for c in group.channels)
    lines += ["", POST_WHEN.format(channels=channels, first=_local(group.first), last=_local(group.last))]
    thumbs = sum(1 for i in group.items if i.reason == "thumbs_down")
    if thumbs:
        lines.append(POST_THUMBS.format(n=thumbs))
    if group.candidates:
        lines += ["", POST_CANDIDATES]
        lines += [f"{n}. {_short(c['question'], 150)} ({c['confidence']:.2f})"
                  for n, c in enumerate(group.candidates[:3], 1)]
    else:
        lines += ["", POST_NO_CANDIDATES]
    return "\n".join(lines)


def post_markup(gid: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(BUTTON_ANSWER, callback_data=f"{PREFIX}:{ANSWER}:{gid}"),
         InlineKeyboardButton(BUTTON_LINK, callback_data=f"{PREFIX}:{LINK}:{gid}")],
        [InlineKeyboardButton(BUTTON_IGNORE, callback_data=f"{PREFIX}:{IGNORE}:{gid}")],
    ])


def _chunks(text: str) -> list[str]:
    return [html.escape(c, quote=False) for c in split_message(text, TELEGRAM_LIMIT, telegram_length)]


async def _send(bot: Bot, chat_id: int, text: str, **kwargs: Any) -> TgMessage:
    """Send plain text (escaped for HTML), split if long; markup and threading go on the first
    chunk. Returns the first message."""
    chunks = _chunks(text)
    first = None
    for n, chunk in enumerate(chunks):
        sent = await bot.send_message(chat_id, chunk, parse_mode=ParseMode.HTML,
                                      link_preview_options=LinkPreviewOptions(is_disabled=True),
                                      **(kwargs if n == 0 else {}))
        first = first or sent
    assert first is not None
    return first


class Authorizer:
    """Who may act on review groups: `TROLYSO_ADMIN_IDS`, and members of a review chat."""

    def __init__(self, settings: Settings, ttl: float = AUTH_TTL):
        self.settings = settings
        self.ttl = ttl
        self._cache: dict[int, tuple[bool, float]] = {}

    async def allowed(self, bot: Bot, user_id: int | None) -> bool:
        if user_id is None:
            return False
        if user_id in self.settings.admin_ids:
            return True
        cached = self._cache.get(user_id)
        now = time.monotonic()
        if cached and now - cached[1] < self.ttl:
            return cached[0]
        ok = False
        for chat_id in self.settings.review_chat_ids:
            try:
                member = await bot.get_chat_member(chat_id, user_id)
            except TelegramError as exc:  # e.g. "user not found": not a member of that chat
                log.debug("review: membership of %s in %s unknown: %s", user_id, chat_id, exc)
                continue
            if member.status in MEMBER or (member.status == ChatMemberStatus.RESTRICTED
                                           and getattr(member, "is_member", False)):
                ok = True
                break
        self._cache[user_id] = (ok, now)
        return ok


class ReviewPoster:
    """Posts new review groups and admin notices to the review chats with its own Bot client."""

    def __init__(self, settings: Settings, bot: Bot | None = None):
        self.settings = settings
        self.bot = bot or Bot(settings.telegram_token or "", base_url=settings.telegram_base_url)
        self._owned = bot is None
        self._ready = False

    async def start(self) -> None:
        """Connect now if Telegram answers; otherwise the first post or notice tries again."""
        try:
            await self._connect()
        except TelegramError as exc:
            log.warning("review: Telegram not reachable yet (%s); posting will retry", type(exc).__name__)

    async def _connect(self) -> None:
        if not self._ready:
            await self.bot.initialize()
            self._ready = True

    async def stop(self) -> None:
        if self._ready and self._owned:
            await self.bot.shutdown()

    async def post(self, group: GroupView) -> bool:
        """Post to every review chat. False only when a passing failure should be retried."""
        try:
            await self._connect()
        except TelegramError as exc:
            log.warning("review: cannot reach Telegram to post group %s (%s); will retry", group.id, exc)
            return False
        retry = False
        for chat_id in self.settings.review_chat_ids:
            try:
                await _send(self.bot, chat_id, post_text(group), reply_markup=post_markup(group.id))
            except (Forbidden, BadRequest) as exc:  # the bot is not in that chat: retrying cannot help
                log.error("review: cannot post group %s to chat %s: %s", group.id, chat_id, exc)
            except TelegramError as exc:
                log.warning("review: posting group %s to chat %s failed (%s); will retry", group.id, chat_id, exc)
                retry = True
        return not retry

    async def notice(self, text: str) -> None:
        try:
            await self._connect()
        except TelegramError as exc:
            log.warning("review: cannot reach Telegram to send a notice (%s)", exc)
            return
        for chat_id in self.settings.review_chat_ids:
            try:
                await _send(self.bot, chat_id, text)
            except TelegramError as exc:
                log.warning("review: cannot send a notice to chat %s: %s", chat_id, exc)


@dataclass
class _Awaiting:
    """A reviewer pressed "Trả lời": their next message in reply is the answer."""

    group_id: int
    chat_id: int
    prompt_id: int | None
    post_id: int | None
    since: float


class ReviewHandlers:
    def __init__(self, channel: TelegramChannel, settings: Settings):
        self.channel = channel
        self.assistant = channel.assistant
        self.settings = settings
        store = getattr(self.assistant, "store", None)
        self.queue = ReviewQueue(store, settings, lambda: self.assistant.index) if store is not None else None
        self.editor = FaqEditor.from_settings(settings)
        self.auth = Authorizer(settings)
        self._awaiting: dict[tuple[int, int], _Awaiting] = {}

    # -- registration ------------------------------------------------------------------------
    def register(self) -> None:
        app = self.channel.app
        app.add_handler(CallbackQueryHandler(self.on_button, pattern=rf"^{PREFIX}:"))
        app.add_handler(CommandHandler("reload", self.on_reload))
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & _AwaitingAnswer(self),
                                       self.on_answer_text))

    def awaiting(self, message: TgMessage) -> _Awaiting | None:
        user = message.from_user
        if user is None:
            return None
        entry = self._awaiting.get((message.chat.id, user.id))
        if entry is None:
            return None
        if time.monotonic() - entry.since > AWAIT_TTL:
            self._awaiting.pop((message.chat.id, user.id), None)
            return None
        if message.chat.type == ChatType.PRIVATE:
            return entry
        replied = message.reply_to_message
        if replied is not None and (entry.prompt_id is None or replied.message_id in (entry.prompt_id, entry.post_id)):
            return entry  # prompt_id is None while the prompt is being sent: a quick reply still counts
        return None

    def _deliverer(self, context: ContextTypes.DEFAULT_TYPE) -> Deliverer:
        return Deliverer(self.settings, telegram_bot=context.bot)

    # -- buttons -----------------------------------------------------------------------------
    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        user = update.effective_user
        if not await self.auth.allowed(context.bot, user.id if user else None):
            log.info("review: refused a review button for user %s", user.id if user else None)
            await query.answer(REFUSED, show_alert=True)
            return
        parts = (query.data or "").split(":")
        if self.queue is None or len(parts) < 3 or not parts[2].isdigit():
            await query.answer(EXPIRED)
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
                await drop_buttons(query.message)
                await self._reply(query.message, IGNORED.format(who=_name(user), gid=gid))
            elif action == PROMOTE:
                result = await asyncio.to_thread(promote_group, self.queue, self.editor, gid)
                await query.answer()
                await drop_buttons(query.message)
                await self._reply(query.message, PROMOTED.format(gid=gid, faq_id=result.faq_id))
            elif action == CANCEL:
                await query.answer(CANCELLED)
                await drop_buttons(query.message)
            else:
                await query.answer(EXPIRED)
        except ReviewError as exc:
            await self._refuse_action(query, gid, exc)

    async def _refuse_action(self, query: Any, gid: int, exc: ReviewError) -> None:
        try:
            group = await asyncio.to_thread(self.queue.group, gid)  # type: ignore[union-attr]
            text = ALREADY.format(gid=gid, status=group.status) if group.status != "pending" else str(exc)
        except ReviewError:
            text = EXPIRED
        try:
            await query.answer(_short(text, 190), show_alert=True)
            shown = len(text) <= 190
        except BadRequest:  # the button was already answered (e.g. before a long delivery)
            shown = False
        if not shown and query.message is not None:
            await self._reply(query.message, FAILED.format(error=exc))

    async def _pending_group(self, query: Any, gid: int) -> GroupView | None:
        group = await asyncio.to_thread(self.queue.group, gid)  # type: ignore[union-attr]
        if group.status != "pending":
            await query.answer(ALREADY.format(gid=gid, status=group.status), show_alert=True)
            await drop_buttons(query.message)
            return None
        return group

    async def _ask_answer(self, query: Any, user: Any, gid: int, context: ContextTypes.DEFAULT_TYPE) -> None:
        group = await self._pending_group(query, gid)
        if group is None:
            return
        chat_id = query.message.chat.id if query.message else user.id
        post_id = query.message.message_id if query.message else None
        who = f'<a href="tg://user?id={user.id}">{html.escape(_name(user), quote=False)}</a>'
        text = html.escape(PROMPT.format(who="\x00", gid=gid, text=_short(group.text), count=group.count),
                           quote=False).replace("\x00", who)
        # Wait for the answer before the prompt is out: updates are handled concurrently, and a
        # reply can arrive before send_message returns.
        entry = self._awaiting[(chat_id, user.id)] = _Awaiting(gid, chat_id, None, post_id, time.monotonic())
        prompt = await context.bot.send_message(
            chat_id, text, parse_mode=ParseMode.HTML,
            reply_markup=ForceReply(selective=True, input_field_placeholder=PROMPT_PLACEHOLDER),
            reply_parameters=ReplyParameters(post_id, allow_sending_without_reply=True) if post_id else None,
        )
        entry.prompt_id = prompt.message_id
        await query.answer()

    async def _show_candidates(self, query: Any, gid: int, context: ContextTypes.DEFAULT_TYPE) -> None:
        group = await self._pending_group(query, gid)
        if group is None:
            return
        await query.answer()
        if not group.candidates:
            await self._reply(query.message, NO_CANDIDATES.format(gid=gid))
            return
        rows = [[InlineKeyboardButton(f"{n}. {_short(c['question'], 60)}", callback_data=f"{PREFIX}:{PICK}:{gid}:{n - 1}")]
                for n, c in enumerate(group.candidates, 1)]
        rows.append([InlineKeyboardButton(BUTTON_CANCEL, callback_data=f"{PREFIX}:{CANCEL}:{gid}")])
        listed = "\n".join(f"{n}. {c['question']}" for n, c in enumerate(group.candidates, 1))
        text = PICK_TITLE.format(gid=gid, text=_short(group.text)) + "\n" + listed
        await self._reply(query.message, text, reply_markup=InlineKeyboardMarkup(rows))

    async def _pick(self, query: Any, gid: int, n: int, context: ContextTypes.DEFAULT_TYPE) -> None:
        group = await asyncio.to_thread(self.queue.group, gid)  # type: ignore[union-attr]
        if not 0 <= n < len(group.candidates):
            await query.answer(EXPIRED)
            return
        await query.answer()
        faq_id = group.candidates[n]["id"]
        async with self._deliverer(context) as deliverer:
            result = await link_group(self.queue, deliverer, self.editor, gid, faq_id,  # type: ignore[arg-type]
                                      self.assistant.index)
        await drop_buttons(query.message)
        await self._reply(query.message, self._summary(result))

    # -- the reviewer's answer ---------------------------------------------------------------
    async def on_answer_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        entry = self.awaiting(message)
        user = update.effective_user
        if entry is None or user is None:
            return
        text = (message.text or "").strip()
        self._awaiting.pop((message.chat.id, user.id), None)
        if text.lower() in CANCEL_WORDS:
            await message.reply_text(CANCELLED)
            return
        if not await self.auth.allowed(context.bot, user.id):
            await message.reply_text(REFUSED)
            return
        try:
            async with self._deliverer(context) as deliverer:
                result = await answer_group(self.queue, deliverer, entry.group_id, text)  # type: ignore[arg-type]
        except ReviewError as exc:
            await message.reply_text(FAILED.format(error=exc))
            return
        markup = None
        if result.group.status in ("answered", "undeliverable"):
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(
                BUTTON_PROMOTE, callback_data=f"{PREFIX}:{PROMOTE}:{entry.group_id}")]])
        await _send(context.bot, message.chat.id, self._summary(result), reply_markup=markup,
                    reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True))
        if entry.post_id is not None:
            try:
                await context.bot.edit_message_reply_markup(entry.chat_id, entry.post_id, reply_markup=None)
            except TelegramError as exc:
                log.debug("review: could not remove the buttons of the post: %s", exc)

    # -- /reload -----------------------------------------------------------------------------
    async def on_reload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        from bot.reload import reloader_for

        message = update.effective_message
        user = update.effective_user
        if not await self.auth.allowed(context.bot, user.id if user else None):
            await message.reply_text(REFUSED)
            return
        await message.reply_text(RELOADING)
        result = await reloader_for(self.assistant, self.settings).reload("/reload", notify=False)
        await _send(context.bot, message.chat.id, result.message())

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _summary(result: ActionResult) -> str:
        g, r = result.group, result.report
        lines = [LINKED.format(gid=g.id, faq_id=result.faq_id, sent=r.sent) if result.faq_id
                 else ANSWERED.format(gid=g.id, sent=r.sent)]
        if r.undeliverable:
            lines.append(UNDELIVERABLE.format(n=r.undeliverable))
        if r.retry:
            lines.append(RETRY.format(n=r.retry))
        if result.teach_error:
            lines.append(TEACH_FAILED.format(error=result.teach_error))
        elif result.faq_id:
            lines.append(TAUGHT.format(n=len(result.added), faq_id=result.faq_id) if result.added
                         else NOTHING_TAUGHT.format(faq_id=result.faq_id))
        return "\n".join(lines)

    async def _reply(self, message: TgMessage | None, text: str, **kwargs: Any) -> None:
        if message is None:
            return
        await _send(message.get_bot(), message.chat.id, text,
                    reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
                    **kwargs)


class _AwaitingAnswer(filters.MessageFilter):
    """Messages that answer a review group (see `ReviewHandlers.awaiting`)."""

    def __init__(self, handlers: ReviewHandlers):
        super().__init__(name="review_answer")
        self.handlers = handlers

    def filter(self, message: TgMessage) -> bool:
        return self.handlers.awaiting(message) is not None


def _name(user: Any) -> str:
    if user is None:
        return "Thành viên"
    return user.full_name or (f"@{user.username}" if user.username else str(user.id))


def register_review(channel: TelegramChannel) -> ReviewHandlers | None:
    """Add the review handlers to a Telegram channel (call before the citizens' handlers)."""
    settings = getattr(channel.assistant, "settings", None)
    if not isinstance(settings, Settings):
        return None
    handlers = ReviewHandlers(channel, settings)
    handlers.register()
    channel.review = handlers  # type: ignore[attr-defined]
    return handlers
