"""Telegram channel: a python-telegram-bot 22.x Application over the Assistant.

Long polling by default; with a webhook URL the Application runs without an Updater and the
ASGI app (bot.server) feeds it the updates that Telegram posts to `/telegram/webhook`.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
import warnings
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram import Message as TgMessage
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    BaseRateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.replies import citizens as replies
from bot.channels import common
from bot.channels.render import TELEGRAM_LIMIT, numbered, reply_text, split_message
from bot.types import Message, Reply

if TYPE_CHECKING:
    from bot.assistant import Assistant
    from bot.channels.common import Metrics

log = logging.getLogger(__name__)

CHANNEL = "telegram"
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
ALLOWED_UPDATES = ["message", "callback_query"]
MAX_CALLBACK_BYTES = 64

# Callback data prefixes: c:<category>, q:<faq id>, n:<log id or empty>, f:<log id>:<1|0>.
CB_CATEGORY, CB_QUESTION, CB_NONE, CB_FEEDBACK = "c", "q", "n", "f"

UNSUPPORTED = (
    filters.Sticker.ALL
    | filters.PHOTO
    | filters.VOICE
    | filters.AUDIO
    | filters.VIDEO
    | filters.VIDEO_NOTE
    | filters.ANIMATION
    | filters.Document.ALL
    | filters.LOCATION
    | filters.CONTACT
)
EXPIRED_BUTTON = "Nút này đã hết hạn. Bạn hãy gõ lại câu hỏi nhé."


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units), measured on the escaped HTML."""
    return len(html.escape(text, quote=False).encode("utf-16-le")) // 2


def render_chunks(reply: Reply) -> list[str]:
    """The HTML-escaped message texts for a reply, each under Telegram's 4096 limit."""
    text = reply_text(reply) or (replies.CLARIFY if reply.kind == "clarify" else replies.UNANSWERED_NOT_LOGGED)
    return [html.escape(c, quote=False) for c in split_message(text, TELEGRAM_LIMIT, telegram_length)]


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # ptb 22 warns that the type will become timedelta
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class RetryingRateLimiter(BaseRateLimiter[None]):
    """Retries Bot API requests: waits out `retry_after` on 429 (pausing every request, as
    Telegram's flood control is per bot) and backs off exponentially on network errors and 5xx.

    getUpdates never passes through a rate limiter; the Updater retries it by itself.
    """

    def __init__(self, max_retries: int = 4, backoff: float = 0.5, max_backoff: float = 8.0):
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._resume_at = 0.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict | list[dict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict | list[dict]:
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            pause = self._resume_at - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt >= self.max_retries:
                    raise
                wait = _retry_seconds(exc) + 0.1
                log.warning("Telegram flood control on %s: waiting %.1f s", endpoint, wait)
                self._resume_at = max(self._resume_at, loop.time() + wait)
            except BadRequest:
                raise  # a 400 is our mistake; sending it again cannot help
            except NetworkError as exc:  # includes timeouts and HTTP 5xx
                if attempt >= self.max_retries:
                    raise
                wait = min(self.max_backoff, self.backoff * 2**attempt)
                log.warning("Telegram %s failed (%s); retrying in %.1f s", endpoint, exc, wait)
                await asyncio.sleep(wait)
            attempt += 1


class _CallbackCodec:
    """Packs `<prefix>:<value>` into Telegram's 64-byte callback data.

    Values too long for it (long FAQ or category ids) travel as a short hash kept in a bounded
    in-memory map; after a restart such a button answers that it has expired.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._long: OrderedDict[str, str] = OrderedDict()
        self._size = size

    def pack(self, prefix: str, value: str) -> str:
        data = f"{prefix}:{value}"
        if len(data.encode("utf-8")) <= MAX_CALLBACK_BYTES:
            return data
        key = hashlib.sha1(value.encode("utf-8")).hexdigest()[:20]
        self._long[key] = value
        self._long.move_to_end(key)
        while len(self._long) > self._size:
            self._long.popitem(last=False)
        return f"{prefix}#{key}"

    def unpack(self, data: str) -> tuple[str, str | None]:
        if len(data) > 1 and data[1] == "#":
            return data[0], self._long.get(data[2:])
        prefix, _, value = data.partition(":")
        return prefix, value


def _addressed_text(message: TgMessage, bot: Bot) -> str | None:
    """The text meant for the bot, or None when a group message is not addressed to it.

    In private chats every message is for the bot; in groups only a reply to one of the bot's
    messages or a message that mentions the bot (the mention itself is removed).
    """
    text = message.text or message.caption or ""
    if message.chat.type == ChatType.PRIVATE:
        return text
    replied = message.reply_to_message
    addressed = bool(replied and replied.from_user and replied.from_user.id == bot.id)
    mention = f"@{bot.username}".lower() if bot.username else None
    entities = message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
    if not entities and message.caption:
        entities = message.parse_caption_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
    for entity, value in entities.items():
        if entity.type == MessageEntity.MENTION and value.lower() == mention:
            addressed = True
            text = text.replace(value, " ")
        elif entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot.id:
            addressed = True
    return " ".join(text.split()) if addressed else None


def _update_key(update: Update) -> str:
    """A key that stays unique for ever: Telegram reuses update ids after a quiet week, but a
    (chat, message id) pair or a callback query id is never reused."""
    if update.callback_query:
        return f"c:{update.callback_query.id}"
    if update.effective_message and update.effective_chat:
        return f"m:{update.effective_chat.id}:{update.effective_message.message_id}"
    return f"u:{update.update_id}"


def _button_text(message: TgMessage | None, data: str) -> str:
    """The label of the button that carried `data` (the question the citizen picked)."""
    markup = getattr(message, "reply_markup", None)
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            if button.callback_data == data:
                return button.text
    return ""


async def drop_buttons(message: TgMessage | None) -> None:
    """Remove the inline buttons of a message that was acted on (answered, rated, reviewed)."""
    if message is None:
        return
    try:
        await message.edit_reply_markup(reply_markup=None)
    except TelegramError as exc:  # e.g. "message is not modified" on a double tap
        log.debug("Telegram: could not remove buttons: %s", exc)


class TelegramChannel:
    """The Telegram adapter. `start()`/`stop()` run it; `webhook()` is the ASGI endpoint."""

    name = CHANNEL

    def __init__(
        self,
        assistant: Assistant,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        webhook_url: str | None = None,
        secret_token: str | None = None,
        metrics: Metrics | None = None,
        poll_timeout: float = 30.0,
        rate_limit_per_minute: int = 20,
        concurrency: int = 64,
        max_retries: int = 4,
        backoff: float = 0.5,
    ) -> None:
        if webhook_url and not secret_token:
            raise ValueError("a Telegram webhook needs a secret token")
        self.assistant = assistant
        self.webhook_url = webhook_url
        self.secret_token = secret_token
        self.metrics = metrics
        self.poll_timeout = poll_timeout
        self._codec = _CallbackCodec()
        self._limit = common.UserRateLimit(rate_limit_per_minute)
        builder = (
            ApplicationBuilder()
            .token(token)
            .base_url(base_url)
            .concurrent_updates(concurrency)
            .rate_limiter(RetryingRateLimiter(max_retries=max_retries, backoff=backoff))
        )
        if webhook_url:
            builder = builder.updater(None)
        self.app: Application = builder.build()
        self._add_handlers()

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook_url else "polling"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self.app.initialize()  # calls getMe: fails fast on a bad token
        except InvalidToken:
            # ptb's own message quotes the token; never let it reach a log.
            raise RuntimeError(
                "Telegram rejected TROLYSO_TELEGRAM_TOKEN; check the token with @BotFather"
            ) from None
        await self.app.start()
        if self.webhook_url:
            await self.app.bot.set_webhook(
                self.webhook_url, secret_token=self.secret_token, allowed_updates=ALLOWED_UPDATES
            )
        else:
            await self.app.updater.start_polling(
                timeout=self.poll_timeout, allowed_updates=ALLOWED_UPDATES, bootstrap_retries=3
            )
        log.info("Telegram: @%s is running (%s)", self.app.bot.username, self.mode)

    async def stop(self) -> None:
        if self.app.updater and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def webhook(self, request: Request) -> Response:
        if not common.secret_matches(
            request.headers.get("X-Telegram-Bot-Api-Secret-Token"), self.secret_token or ""
        ):
            return Response("forbidden", status_code=403)
        try:
            data = await request.json()
            update = Update.de_json(data, self.app.bot)
        except Exception:  # not an update; only someone who knows the secret can send one
            return Response("bad request", status_code=400)
        await self.app.update_queue.put(update)
        return Response(status_code=200)

    # -- handlers ----------------------------------------------------------------------------

    def _add_handlers(self) -> None:
        app = self.app
        app.add_handler(TypeHandler(Update, self._drop_duplicates), group=-1)
        from bot.channels.review_telegram import register_review  # review buttons, answers, /reload

        register_review(self)  # before the citizens' handlers, which would take reviewers' replies
        app.add_handler(CommandHandler(["start", "help"], self._on_start))
        app.add_handler(CallbackQueryHandler(self._on_category, pattern=f"^{CB_CATEGORY}[:#]"))
        app.add_handler(CallbackQueryHandler(self._on_question, pattern=f"^{CB_QUESTION}[:#]"))
        app.add_handler(CallbackQueryHandler(self._on_none, pattern=rf"^{CB_NONE}:\d*$"))
        app.add_handler(CallbackQueryHandler(self._on_feedback, pattern=rf"^{CB_FEEDBACK}:\d+:[01]$"))
        app.add_handler(CallbackQueryHandler(self._on_stale_button))
        app.add_handler(
            MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, self._on_text)
        )
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & UNSUPPORTED, self._on_unsupported))
        app.add_error_handler(self._on_error)

    async def _drop_duplicates(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await common.claim(self.assistant, CHANNEL, _update_key(update)):
            log.info("Telegram: update %s was already handled; skipping", update.update_id)
            raise ApplicationHandlerStop

    async def _on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        greeting = await asyncio.to_thread(self.assistant.greeting)
        categories = await asyncio.to_thread(self.assistant.categories)
        keyboard = [
            [InlineKeyboardButton(label, callback_data=self._codec.pack(CB_CATEGORY, cat_id))]
            for cat_id, label in categories
        ]
        text = f"{greeting}\n\n{replies.TOPICS}" if keyboard else greeting
        await update.effective_message.reply_text(
            html.escape(text, quote=False),
            parse_mode=ParseMode.HTML,
            reply_markup=InlineKeyboardMarkup(keyboard) if keyboard else None,
        )

    async def _on_category(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        _, category = self._codec.unpack(query.data)
        await query.answer()
        if category is None:
            await query.message.reply_text(EXPIRED_BUTTON)
            return
        labels = dict(await asyncio.to_thread(self.assistant.categories))
        questions = await asyncio.to_thread(self.assistant.topic_questions, category)
        if not questions:
            await query.message.reply_text(common.NO_QUESTIONS_IN_TOPIC)
            return
        # Long questions get cut on buttons, so the text lists them in full with numbers.
        keyboard = [
            [InlineKeyboardButton(f"{n}. {s.question}", callback_data=self._codec.pack(CB_QUESTION, s.faq_id))]
            for n, s in enumerate(questions, 1)
        ]
        label = labels.get(category, category)
        text = f"{label}\n{replies.TOPIC_QUESTIONS}\n\n{numbered(s.question for s in questions)}"
        await query.message.reply_text(
            html.escape(text, quote=False),
            parse_mode=ParseMode.HTML,
            reply_markup=InlineKeyboardMarkup(keyboard),
        )

    async def _on_question(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        _, faq_id = self._codec.unpack(query.data)
        await query.answer()
        if not faq_id:
            await query.message.reply_text(EXPIRED_BUTTON)
            return
        reply = await common.ask(
            self.metrics,
            CHANNEL,
            self.assistant.answer_faq,
            faq_id,
            self._message(update, _button_text(query.message, query.data)),
        )
        await self._send_reply(update, reply)

    async def _on_none(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        raw = query.data.partition(":")[2]
        log_id = int(raw) if raw.isdigit() else None
        await query.answer()
        await drop_buttons(query.message)
        reply = await common.ask(
            self.metrics, CHANNEL, self.assistant.reject_suggestions, log_id, self._message(update, "")
        )
        await self._send_reply(update, reply)

    async def _on_feedback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        _, raw_id, raw_helpful = query.data.split(":", 2)
        helpful = raw_helpful == "1"
        await asyncio.to_thread(
            self.assistant.feedback, int(raw_id), helpful, self._message(update, "")
        )
        await query.answer(replies.FEEDBACK_THANKS if helpful else None)
        await drop_buttons(query.message)
        if not helpful:
            await query.message.reply_text(replies.FEEDBACK_SORRY)

    async def _on_stale_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer(EXPIRED_BUTTON)

    async def _on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        text = _addressed_text(message, context.bot)
        if text is None:
            return
        if not text:  # only a mention: greet
            await self._on_start(update, context)
            return
        if not self._limit.allow(str(update.effective_user.id if update.effective_user else message.chat_id)):
            await message.reply_text(replies.RATE_LIMITED)
            return
        await self._typing(message.chat_id)
        reply = await common.ask(
            self.metrics, CHANNEL, self.assistant.handle, self._message(update, text)
        )
        await self._send_reply(update, reply)

    async def _on_unsupported(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if _addressed_text(update.effective_message, context.bot) is None:
            return
        await update.effective_message.reply_text(replies.TEXT_ONLY)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if self.metrics:
            self.metrics.error(CHANNEL)
        error = context.error
        if isinstance(update, Update) and not isinstance(error, TelegramError):
            log.error("Telegram: error while answering", exc_info=error)
            if update.effective_chat:
                try:
                    await context.bot.send_message(update.effective_chat.id, common.SORRY_ERROR)
                except TelegramError as exc:
                    log.warning("Telegram: could not send the error notice: %s", exc)
        else:
            log.warning("Telegram: %s: %s", type(error).__name__, error)

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _message(update: Update, text: str) -> Message:
        user = update.effective_user
        chat = update.effective_chat
        return Message(
            text=text,
            channel=CHANNEL,
            user_id=str(user.id) if user else "",
            chat_id=str(chat.id) if chat else "",
        )

    async def _typing(self, chat_id: int) -> None:
        try:
            await self.app.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as exc:  # the indicator is a nicety; never block the answer on it
            log.debug("Telegram: typing indicator failed: %s", exc)

    def _markup(self, reply: Reply) -> InlineKeyboardMarkup | None:
        if reply.kind == "clarify" and reply.suggestions:
            rows = [
                [InlineKeyboardButton(s.question, callback_data=self._codec.pack(CB_QUESTION, s.faq_id))]
                for s in reply.suggestions
            ]
            none_data = f"{CB_NONE}:{reply.log_id if reply.log_id is not None else ''}"
            rows.append([InlineKeyboardButton(replies.CLARIFY_NONE, callback_data=none_data)])
            return InlineKeyboardMarkup(rows)
        if reply.kind in ("faq", "knowledge") and reply.log_id is not None:
            return InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton("👍 Hữu ích", callback_data=f"{CB_FEEDBACK}:{reply.log_id}:1"),
                        InlineKeyboardButton("👎 Chưa đúng", callback_data=f"{CB_FEEDBACK}:{reply.log_id}:0"),
                    ]
                ]
            )
        return None

    async def _send_reply(self, update: Update, reply: Reply) -> None:
        chat = update.effective_chat
        chunks = render_chunks(reply)
        markup = self._markup(reply)
        # In groups, thread the first chunk under the question it answers.
        reply_to = None
        if chat.type != ChatType.PRIVATE and update.message:
            reply_to = ReplyParameters(update.message.message_id, allow_sending_without_reply=True)
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            await self.app.bot.send_message(
                chat.id,
                chunk,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if last else None,
                reply_parameters=reply_to if index == 0 else None,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
