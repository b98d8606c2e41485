"""Telegram channel: a python-telegram-bot 22.x Application over the Assistant.

Long polling by default; with a webhook URL the Application runs without an Updater and the
ASGI app (bot.server) feeds it the updates that Telegram posts to `/telegram/webhook`.

This module is the adapter: it wires every handler (`_add_handlers`, in the precedence that
bot.commands documents), answers the citizens' questions (topics, FAQ buttons, feedback, free
text) and renders the replies. The other citizens' handlers live by role: `communes` (the
commune prompt), `quiz` (quiz rounds), `subscriptions` (bulletins and personal data).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    MessageEntity,
    Update,
)
from telegram import Message as TgMessage
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import commands
from bot.channels import common
from bot.channels.render import numbered, reply_text
from bot.channels.telegram.citizen import (
    CB_CATEGORY,
    CB_COMMUNE,
    CB_ERASE,
    CB_FEEDBACK,
    CB_HANDOFF,
    CB_NONE,
    CB_OFFER,
    CB_QUESTION,
    CB_QUIZ,
    CB_SUBSCRIBE,
    CallbackCodec,
    message_of,
)
from bot.channels.telegram.communes import CommuneHandlers
from bot.channels.telegram.quiz import QuizHandlers
from bot.channels.telegram.sender import CHANNEL, TelegramSender, html_parts
from bot.channels.telegram.subscriptions import SubscriptionHandlers
from bot.quiz import Quiz
from bot.replies import citizens as replies
from bot.state import MemoryStateStore, StateStore
from bot.types import Reply

if TYPE_CHECKING:
    from bot.assistant import Assistant
    from bot.channels.common import Metrics, UpdateClaims

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]

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


def render_chunks(reply: Reply) -> list[str]:
    """The HTML-escaped message texts for a reply, each under Telegram's 4096 limit."""
    return html_parts(_reply_text(reply))


def _reply_text(reply: Reply) -> str:
    return reply_text(reply) or (replies.CLARIFY if reply.kind == "clarify" else replies.UNANSWERED_NOT_LOGGED)


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


def _button_text(message: MaybeInaccessibleMessage | None, data: str) -> str:
    """The label of the button that carried `data` (the question the citizen picked)."""
    markup = getattr(message, "reply_markup", None)
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            if button.callback_data == data:
                return button.text
    return ""


class TelegramChannel:
    """The Telegram adapter. `start()`/`stop()` run it; `webhook()` is the ASGI endpoint."""

    name = CHANNEL

    def __init__(
        self,
        assistant: Assistant,
        sender: TelegramSender,
        *,
        claims: UpdateClaims | None = None,
        handlers: Sequence[BaseHandler[Any, Any, Any]] = (),
        early_handlers: Sequence[BaseHandler[Any, Any, Any]] = (),
        webhook_url: str | None = None,
        secret_token: str | None = None,
        metrics: Metrics | None = None,
        poll_timeout: float = 30.0,
        rate_limit_per_minute: int = 20,
        concurrency: int = 64,
        state: StateStore | None = None,
        state_ttl: float = 900.0,
        quiz: Quiz | None = None,
        handoff_button: bool = False,
    ) -> None:
        """`handoff_button`: a "Hỏi cán bộ" button under unanswered replies and clarifications
        (`hc:<question log id>`, taken by bot.channels.telegram.handoff);
        `handlers` (e.g. the review buttons) are tried before the citizens' ones;
        `state` keeps the pending commune prompt or quiz round (slot "prompt") for every replica;
        `quiz` runs the quiz rounds (/quiz, "thi");
        `early_handlers` see every update first and stop it by raising ApplicationHandlerStop
        (a reviewer's answer); `claims` deduplicates updates across processes."""
        if webhook_url and not secret_token:
            raise ValueError("a Telegram webhook needs a secret token")
        self.assistant = assistant
        self.sender = sender
        self.claims = claims
        self.webhook_url = webhook_url
        self.secret_token = secret_token
        self.metrics = metrics
        self.poll_timeout = poll_timeout
        self._codec = CallbackCodec()
        state = state if state is not None else MemoryStateStore()
        self.communes = CommuneHandlers(assistant, sender, self._send, state, state_ttl)
        self.quizzes = QuizHandlers(quiz, assistant, sender, self._send, state, self._codec)
        self.subscriptions = SubscriptionHandlers(assistant, sender, self._send, state)
        self.handoff_button = handoff_button
        self._limit = common.UserRateLimit(rate_limit_per_minute)
        builder = ApplicationBuilder().bot(sender.bot).concurrent_updates(concurrency)
        if webhook_url:
            builder = builder.updater(None)
        self.app: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self._add_handlers(handlers, early_handlers)

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook_url else "polling"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self.sender.start()  # getMe: fails fast on a bad token
        await self.app.initialize()
        await self.app.start()
        if self.webhook_url:
            await self.app.bot.set_webhook(
                self.webhook_url, secret_token=self.secret_token, allowed_updates=ALLOWED_UPDATES
            )
        else:
            updater = self.app.updater
            if updater is None:  # built without one only for a webhook
                raise RuntimeError("Telegram: polling needs the Application's Updater")
            await updater.start_polling(
                timeout=dt.timedelta(seconds=self.poll_timeout), allowed_updates=ALLOWED_UPDATES, bootstrap_retries=3
            )
        await self.sender.set_commands(commands.telegram_menu())  # the menu lists what /help lists
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

    def _add_handlers(self, extra: Sequence[BaseHandler[Any, Any, Any]],
                      early: Sequence[BaseHandler[Any, Any, Any]]) -> None:
        app = self.app
        app.add_handler(TypeHandler(Update, self._drop_duplicates), group=-len(early) - 1)
        for n, handler in enumerate(early):  # each in a group of its own: every one sees the update
            app.add_handler(handler, group=-len(early) + n)
        for handler in extra:  # before the citizens' handlers, which would take reviewers' replies
            app.add_handler(handler)
        app.add_handler(CommandHandler(["start", "menu"], self._on_start))
        app.add_handler(CommandHandler("help", self._on_help))
        app.add_handler(CommandHandler("xa", self.communes.on_command))
        app.add_handler(CommandHandler("quiz", self.quizzes.on_command))
        app.add_handler(CallbackQueryHandler(self.quizzes.on_button, pattern=rf"^{CB_QUIZ}:\d+:\d+$"))
        app.add_handler(CallbackQueryHandler(self.quizzes.on_offer_button, pattern=rf"^{CB_OFFER}:[a-z0-9-]+$"))
        app.add_handler(CommandHandler(["canbo", "ketthuc"], self._on_no_handoff))
        app.add_handler(CommandHandler("dangky", self.subscriptions.on_subscribe))
        app.add_handler(CommandHandler("huydangky", self.subscriptions.on_unsubscribe))
        app.add_handler(CommandHandler("dulieu", self.subscriptions.on_my_data))
        app.add_handler(CommandHandler("xoadulieu", self.subscriptions.on_erase))
        app.add_handler(CallbackQueryHandler(self.subscriptions.on_subscribe_button, pattern=rf"^{CB_SUBSCRIBE}:[01]$"))
        app.add_handler(CallbackQueryHandler(self.subscriptions.on_erase_button, pattern=rf"^{CB_ERASE}:[01]$"))
        app.add_handler(CallbackQueryHandler(self.communes.on_button, pattern=rf"^{CB_COMMUNE}:\d*$"))
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
        if not await common.claim(self.claims, CHANNEL, _update_key(update)):
            log.info("Telegram: update %s was already handled; skipping", update.update_id)
            raise ApplicationHandlerStop

    async def _on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        user_id = message_of(update, "").user_id
        greeting = await asyncio.to_thread(self.assistant.greeting, CHANNEL, user_id)
        categories = await asyncio.to_thread(self.assistant.categories)
        keyboard = [
            [InlineKeyboardButton(label, callback_data=self._codec.pack(CB_CATEGORY, cat_id))]
            for cat_id, label in categories
        ]
        text = f"{greeting}\n\n{replies.TOPICS}" if keyboard else greeting
        if replies.COMMUNE_OFFER in greeting:  # not told yet: a button opens the commune prompt
            keyboard.append([InlineKeyboardButton(replies.COMMUNE_OFFER_BUTTON, callback_data=f"{CB_COMMUNE}:")])
        await self._send(chat.id, text, InlineKeyboardMarkup(keyboard) if keyboard else None)

    async def _on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        await self._send(chat.id, commands.help_text())

    async def _on_no_handoff(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """"gặp cán bộ" / "kết thúc" when no hand-off is configured (else bot.channels.telegram.handoff
        takes them first)."""
        chat, message = update.effective_chat, update.effective_message
        if chat is None or message is None:
            return
        command = commands.match(message.text or "")
        ending = command is not None and command.name == "end"
        await self._send(chat.id, replies.HANDOFF_NONE if ending else replies.HANDOFF_UNAVAILABLE)

    async def _on_category(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data is None or query.message is None:
            return
        chat_id = query.message.chat.id
        _, category = self._codec.unpack(query.data)
        await query.answer()
        if category is None:
            await self._send(chat_id, replies.EXPIRED_BUTTON)
            return
        labels = dict(await asyncio.to_thread(self.assistant.categories))
        questions = await asyncio.to_thread(self.assistant.topic_questions, category)
        if not questions:
            await self._send(chat_id, replies.NO_QUESTIONS_IN_TOPIC)
            return
        # Long questions get cut on buttons, so the text lists them in full with numbers.
        keyboard = [
            [InlineKeyboardButton(f"{n}. {s.question}", callback_data=self._codec.pack(CB_QUESTION, s.faq_id))]
            for n, s in enumerate(questions, 1)
        ]
        label = labels.get(category, category)
        text = f"{label}\n{replies.TOPIC_QUESTIONS}\n\n{numbered(s.question for s in questions)}"
        await self._send(chat_id, text, InlineKeyboardMarkup(keyboard))

    async def _on_question(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data is None or query.message is None:
            return
        _, faq_id = self._codec.unpack(query.data)
        await query.answer()
        if not faq_id:
            await self._send(query.message.chat.id, replies.EXPIRED_BUTTON)
            return
        reply = await common.ask(
            self.metrics,
            CHANNEL,
            self.assistant.answer_faq,
            faq_id,
            message_of(update, _button_text(query.message, query.data)),
        )
        await self._send_reply(update, reply)

    async def _on_none(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data is None:
            return
        raw = query.data.partition(":")[2]
        log_id = int(raw) if raw.isdigit() else None
        await query.answer()
        await self.sender.drop_buttons(query.message)
        reply = await common.ask(
            self.metrics, CHANNEL, self.assistant.reject_suggestions, log_id, message_of(update, "")
        )
        await self._send_reply(update, reply)

    async def _on_feedback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data is None:
            return
        _, raw_id, raw_helpful = query.data.split(":", 2)
        helpful = raw_helpful == "1"
        await asyncio.to_thread(
            self.assistant.feedback, int(raw_id), helpful, message_of(update, "")
        )
        await query.answer(replies.FEEDBACK_THANKS if helpful else None)
        await self.sender.drop_buttons(query.message)
        if not helpful and query.message is not None:
            await self._send(query.message.chat.id, replies.FEEDBACK_SORRY)

    async def _on_stale_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        await query.answer(replies.EXPIRED_BUTTON)

    async def _on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        text = _addressed_text(message, context.bot)
        if text is None:
            return
        if not text:  # only a mention: greet
            await self._on_start(update, context)
            return
        if await self.communes.on_answer(update, text):
            return  # the message answered the pending commune prompt
        if await self.quizzes.on_answer(update, text):
            return  # a number answering the pending quiz question
        command = commands.match(text)  # "trợ giúp", "menu", "đổi xã": commands typed as words
        if command is not None:
            subs = self.subscriptions
            handler = {"help": self._on_help, "commune": self.communes.on_command, "quiz": self.quizzes.on_command,
                       "handoff": self._on_no_handoff, "end": self._on_no_handoff,
                       "subscribe": subs.on_subscribe, "unsubscribe": subs.on_unsubscribe,
                       "my_data": subs.on_my_data, "erase": subs.on_erase}.get(command.name, self._on_start)
            await handler(update, context)
            return
        if not self._limit.allow(str(update.effective_user.id if update.effective_user else message.chat_id)):
            await self._send(message.chat_id, replies.RATE_LIMITED)
            return
        await self.sender.typing(message.chat_id)
        reply = await common.ask(
            self.metrics, CHANNEL, self.assistant.handle, message_of(update, text)
        )
        await self._send_reply(update, reply)

    async def _on_unsupported(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or _addressed_text(message, context.bot) is None:
            return
        await self._send(message.chat_id, replies.TEXT_ONLY)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if self.metrics:
            self.metrics.error(CHANNEL)
        error = context.error
        if isinstance(update, Update) and not isinstance(error, TelegramError):
            log.error("Telegram: error while answering", exc_info=error)
            if update.effective_chat:
                await self._send(update.effective_chat.id, replies.SORRY_ERROR)
        else:
            log.warning("Telegram: %s: %s", type(error).__name__, error)

    # -- helpers -----------------------------------------------------------------------------

    async def _send(self, chat_id: int, text: str, markup: Any = None, reply_to: int | None = None) -> None:
        result = await self.sender.send(chat_id, text, markup=markup, reply_to=reply_to)
        if not result.ok:
            if self.metrics:
                self.metrics.error(CHANNEL)
            log.warning("Telegram: a reply was not delivered (%s): %s", result.outcome, result.problem)

    def _markup(self, reply: Reply) -> InlineKeyboardMarkup | None:
        markup = self._reply_markup(reply)
        if not self.handoff_button or reply.kind not in ("unanswered", "clarify") or reply.answer == replies.EMPTY:
            return markup
        ask = [InlineKeyboardButton(replies.HANDOFF_BUTTON,
                                    callback_data=f"{CB_HANDOFF}:{reply.log_id if reply.log_id is not None else ''}")]
        return InlineKeyboardMarkup([*(markup.inline_keyboard if markup else ()), ask])

    def _reply_markup(self, reply: Reply) -> InlineKeyboardMarkup | None:
        none_data = f"{CB_NONE}:{reply.log_id if reply.log_id is not None else ''}"
        if reply.kind == "clarify" and len(reply.suggestions) == 1:  # "Có phải bạn hỏi: «…»?"
            only = reply.suggestions[0]
            return InlineKeyboardMarkup([[
                InlineKeyboardButton(replies.CONFIRM_YES, callback_data=self._codec.pack(CB_QUESTION, only.faq_id)),
                InlineKeyboardButton(replies.CONFIRM_NO, callback_data=none_data),
            ]])
        if reply.kind == "clarify" and reply.suggestions:
            rows = [
                [InlineKeyboardButton(s.question, callback_data=self._codec.pack(CB_QUESTION, s.faq_id))]
                for s in reply.suggestions
            ]
            rows.append([InlineKeyboardButton(replies.CLARIFY_NONE, callback_data=none_data)])
            return InlineKeyboardMarkup(rows)
        if reply.kind in ("faq", "knowledge") and reply.log_id is not None:
            return InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(replies.FEEDBACK_HELPFUL, callback_data=f"{CB_FEEDBACK}:{reply.log_id}:1"),
                        InlineKeyboardButton(replies.FEEDBACK_WRONG, callback_data=f"{CB_FEEDBACK}:{reply.log_id}:0"),
                    ]
                ]
            )
        return None

    async def _send_reply(self, update: Update, reply: Reply) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        # In groups, thread the first part under the question it answers.
        reply_to = None
        if chat.type != ChatType.PRIVATE and update.message:
            reply_to = update.message.message_id
        text = _reply_text(reply)
        if reply.kind in ("faq", "knowledge") and reply.log_id is not None:
            text += "\n\n" + replies.FEEDBACK_PROMPT  # the 👎 button below sends it to the community team
        markup = self._markup(reply)
        offer = await self.quizzes.offer(update, reply)  # "Thử 3 câu đố?" at most once a day
        if offer is not None:
            text += "\n" + replies.QUIZ_OFFER
            markup = InlineKeyboardMarkup([*(markup.inline_keyboard if markup else ()), [offer]])
        await self._send(chat.id, text, markup, reply_to)
