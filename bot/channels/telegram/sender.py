"""Telegram's outbound path: one Bot API client, its rate limits, retries, splitting and escaping.

Every request the bot makes to Telegram goes through `TelegramRateLimiter` (python-telegram-bot
calls it around each Bot API request): messages wait for Telegram's documented flood limits
(about 30 per second overall, 20 per minute in one group), a 429 pauses every request for its
`retry_after`, and network errors and 5xx answers are retried with `bot.outbound.RetryPolicy`.
`TelegramSender` owns the client (the Telegram channel's Application uses the same one), turns
plain text into HTML-escaped parts under the 4096 limit, and reports `sent` / `refused` /
`retry` instead of raising.
"""

from __future__ import annotations

import asyncio
import html
import logging
import warnings
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import InlineKeyboardMarkup, LinkPreviewOptions, MaybeInaccessibleMessage, ReplyParameters
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter, ExtBot
from telegram.request import HTTPXRequest

from bot.channels.render import TELEGRAM_LIMIT, split_message
from bot.outbound import Photo, RetryPolicy, SendResult

log = logging.getLogger(__name__)

CHANNEL = "telegram"
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
MESSAGES_PER_SECOND = 30  # Telegram: "no more than 30 messages per second" for one bot
GROUP_MESSAGES_PER_MINUTE = 20  # Telegram: "no more than 20 messages per minute" in one group
CAPTION_LIMIT = 1024  # Telegram: a photo's caption, after entity parsing
TOPIC_NAME_LIMIT = 128  # Telegram: a forum topic's name, 1-128 characters
CONNECTIONS = 256  # as python-telegram-bot's ApplicationBuilder sets for a bot


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units), measured on the escaped HTML."""
    return len(html.escape(text, quote=False).encode("utf-16-le")) // 2


def html_parts(text: str) -> list[str]:
    """Plain text as HTML-escaped message parts, each under Telegram's 4096 limit."""
    return [html.escape(c, quote=False) for c in split_message(text, TELEGRAM_LIMIT, telegram_length)]


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # ptb 22 warns that the type will become timedelta
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _is_message(endpoint: str, data: dict[str, Any]) -> bool:
    """Requests that Telegram's per-second and per-group message limits count."""
    return "chat_id" in data and (endpoint.startswith("send") and endpoint != "sendChatAction"
                                  or endpoint in ("copyMessage", "forwardMessage"))


def _group_of(chat_id: Any) -> int | str | None:
    try:
        number = int(chat_id)
    except (TypeError, ValueError):
        return str(chat_id) if chat_id else None  # "@channel" names are groups or channels
    return number if number < 0 else None


class TelegramRateLimiter(BaseRateLimiter[None]):
    """Flood limits, `retry_after` and retries for every Bot API request of one bot.

    getUpdates never passes through a rate limiter; the Updater retries it by itself.
    """

    def __init__(self, policy: RetryPolicy | None = None, *, per_second: float = MESSAGES_PER_SECOND,
                 group_per_minute: float = GROUP_MESSAGES_PER_MINUTE) -> None:
        self.policy = policy or RetryPolicy()
        self._overall = AsyncLimiter(per_second, 1)
        self._group_rate = group_per_minute
        self._groups: OrderedDict[int | str, AsyncLimiter] = OrderedDict()
        self._resume_at = 0.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def _group_limiter(self, group: int | str) -> AsyncLimiter:
        limiter = self._groups.get(group)
        if limiter is None:
            limiter = self._groups[group] = AsyncLimiter(self._group_rate, 60)
            while len(self._groups) > 10_000:
                self._groups.popitem(last=False)
        self._groups.move_to_end(group)
        return limiter

    async def _limits(self, endpoint: str, data: dict[str, Any]) -> None:
        if not _is_message(endpoint, data):
            return
        group = _group_of(data.get("chat_id"))
        if group is not None:
            await self._group_limiter(group).acquire()
        await self._overall.acquire()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            pause = self._resume_at - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)
            await self._limits(endpoint, data)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_seconds(exc) + 0.1
                if attempt >= self.policy.max_retries or wait > self.policy.max_retry_after:
                    raise
                log.warning("Telegram flood control on %s: waiting %.1f s", endpoint, wait)
                self._resume_at = max(self._resume_at, loop.time() + wait)  # flood control is per bot
            except BadRequest:
                raise  # a 400 is our mistake; sending it again cannot help
            except NetworkError as exc:  # includes timeouts and HTTP 5xx
                if attempt >= self.policy.max_retries:
                    raise
                wait = self.policy.delay(attempt)
                log.warning("Telegram %s failed (%s); retrying in %.1f s", endpoint, exc, wait)
                await asyncio.sleep(wait)
            attempt += 1


def file_base_url(base_url: str) -> str:
    """Where Telegram serves the files of a Bot API at `base_url` (".../bot" -> ".../file/bot")."""
    return base_url[: -len("bot")] + "file/bot" if base_url.endswith("/bot") else "https://api.telegram.org/file/bot"


def make_bot(token: str, base_url: str = DEFAULT_BASE_URL, policy: RetryPolicy | None = None,
             **limits: float) -> ExtBot[None]:
    """A Bot API client with the rate limiter; the Telegram channel's Application uses it too."""
    return ExtBot(
        token,
        base_url=base_url,
        base_file_url=file_base_url(base_url),
        request=HTTPXRequest(connection_pool_size=CONNECTIONS),
        get_updates_request=HTTPXRequest(connection_pool_size=1),
        rate_limiter=TelegramRateLimiter(policy, **limits),
    )


class TelegramSender:
    """Telegram's `bot.outbound.Sender`, plus the richer sends the Telegram adapters need
    (buttons, threading, typing, removing buttons), all through one rate-limited client."""

    channel = CHANNEL

    def __init__(self, bot: ExtBot[None]) -> None:
        self.bot = bot
        self._ready = False

    @classmethod
    def connect(cls, token: str, base_url: str = DEFAULT_BASE_URL, policy: RetryPolicy | None = None,
                **limits: float) -> TelegramSender:
        return cls(make_bot(token, base_url, policy, **limits))

    async def start(self) -> None:
        """Check the token (getMe). A bad token is an error; an unreachable Telegram is not."""
        try:
            await self._connect()
        except InvalidToken:
            # ptb's own message quotes the token; never let it reach a log.
            raise RuntimeError("Telegram rejected TROLYSO_TELEGRAM_TOKEN; check the token with @BotFather") from None
        except TelegramError as exc:
            log.warning("Telegram not reachable yet (%s); sending will retry", type(exc).__name__)

    async def _connect(self) -> None:
        if not self._ready:
            await self.bot.initialize()
            self._ready = True

    async def stop(self) -> None:
        if self._ready:
            await self.bot.shutdown()
            self._ready = False

    async def send_text(self, chat_id: str, text: str) -> SendResult:
        return await self.send(chat_id, text)

    async def send(
        self,
        chat_id: int | str,
        text: str,
        *,
        markup: Any = None,
        markup_on_first: bool = False,
        reply_to: int | None = None,
        escaped: bool = False,
        thread: int | None = None,
    ) -> SendResult:
        """Send text split under the limit. `markup` goes on the last part (the first with
        `markup_on_first`), threading (`reply_to`) on the first. `escaped`: `text` is already
        HTML (kept whole: it must fit one message). `thread`: a forum topic's message_thread_id."""
        target: int | str = int(chat_id) if str(chat_id).lstrip("-").isdigit() else chat_id
        parts = [text] if escaped else html_parts(text)
        if not parts:
            return SendResult("refused", "telegram: empty message")
        ids: list[str] = []
        try:
            await self._connect()
            for n, part in enumerate(parts):
                with_markup = n == (0 if markup_on_first else len(parts) - 1)
                sent = await self.bot.send_message(
                    target,
                    part,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup if with_markup else None,
                    reply_parameters=(ReplyParameters(reply_to, allow_sending_without_reply=True)
                                      if reply_to is not None and n == 0 else None),
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                    message_thread_id=thread,
                )
                ids.append(str(sent.message_id))
        except (Forbidden, BadRequest) as exc:  # blocked, chat not found, kicked: never deliverable
            return SendResult("refused", f"telegram: {exc}", tuple(ids))
        except (InvalidToken, TelegramError) as exc:
            return SendResult("retry", f"telegram: {type(exc).__name__}: {exc}", tuple(ids))
        return SendResult("sent", "", tuple(ids))

    async def send_photo(self, chat_id: int | str, photo: Photo, caption: str = "", *,
                         reply_to: int | None = None, thread: int | None = None) -> SendResult:
        """Send a photo by reference (a Telegram file id of this bot, or a link Telegram fetches)
        with a plain-text caption; a caption over Telegram's limit follows as a text message."""
        target: int | str = int(chat_id) if str(chat_id).lstrip("-").isdigit() else chat_id
        short = telegram_length(caption) <= CAPTION_LIMIT
        try:
            await self._connect()
            sent = await self.bot.send_photo(
                target, photo.ref,
                caption=html.escape(caption, quote=False) if caption and short else None,
                parse_mode=ParseMode.HTML,
                reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True)
                if reply_to is not None else None,
                message_thread_id=thread,
            )
        except (Forbidden, BadRequest) as exc:  # blocked, or a file id / link Telegram cannot use
            return SendResult("refused", f"telegram: {exc}")
        except (InvalidToken, TelegramError) as exc:
            return SendResult("retry", f"telegram: {type(exc).__name__}: {exc}")
        if short:
            return SendResult("sent", "", (str(sent.message_id),))
        rest = await self.send(target, caption, reply_to=sent.message_id, thread=thread)
        return SendResult(rest.outcome, rest.problem, (str(sent.message_id), *rest.message_ids))

    async def send_document(self, chat_id: int | str, path: Path, caption: str = "") -> SendResult:
        """Send a file (a report) with an optional plain-text caption."""
        target: int | str = int(chat_id) if str(chat_id).lstrip("-").isdigit() else chat_id
        try:
            await self._connect()
            with open(path, "rb") as fh:
                sent = await self.bot.send_document(target, fh, filename=path.name,
                                                    caption=html.escape(caption, quote=False) or None,
                                                    parse_mode=ParseMode.HTML)
        except OSError as exc:
            return SendResult("refused", f"telegram: cannot read {path.name}: {exc.strerror or exc}")
        except (Forbidden, BadRequest) as exc:
            return SendResult("refused", f"telegram: {exc}")
        except (InvalidToken, TelegramError) as exc:
            return SendResult("retry", f"telegram: {type(exc).__name__}: {exc}")
        return SendResult("sent", "", (str(sent.message_id),))

    async def file_url(self, file_id: str) -> str | None:
        """Telegram's download link of a file (getFile), or None. It contains the bot token:
        fetch it, never show or log it."""
        try:
            await self._connect()
            found = await self.bot.get_file(file_id)
        except TelegramError as exc:
            log.warning("Telegram: getFile failed: %s", type(exc).__name__)
            return None
        return found.file_path or None

    async def is_forum(self, chat_id: int) -> bool:
        """Whether a group has forum topics (getChat's `is_forum`); False when Telegram cannot say."""
        try:
            await self._connect()
            chat = await self.bot.get_chat(chat_id)
        except TelegramError as exc:
            log.warning("Telegram: getChat failed for %s: %s", chat_id, exc)
            return False
        return bool(chat.is_forum)

    async def create_topic(self, chat_id: int, name: str) -> int | None:
        """Open a forum topic (the bot needs the "manage topics" right); its message_thread_id,
        or None when Telegram refuses (the caller falls back to a reply chain)."""
        try:
            await self._connect()
            topic = await self.bot.create_forum_topic(chat_id, name[:TOPIC_NAME_LIMIT].strip() or "?")
        except TelegramError as exc:
            log.warning("Telegram: cannot create a topic in %s: %s", chat_id, exc)
            return None
        return int(topic.message_thread_id)

    async def close_topic(self, chat_id: int, thread: int) -> bool:
        try:
            await self._connect()
            return bool(await self.bot.close_forum_topic(chat_id, thread))
        except TelegramError as exc:  # e.g. TOPIC_NOT_MODIFIED: closed already
            log.info("Telegram: could not close topic %s in %s: %s", thread, chat_id, exc)
            return False

    async def typing(self, chat_id: int | str) -> None:
        """The typing indicator: a nicety, never blocking or failing the answer."""
        try:
            await self.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as exc:
            log.debug("Telegram: typing indicator failed: %s", exc)

    async def drop_buttons(self, message: MaybeInaccessibleMessage | None) -> None:
        """Remove the inline buttons of a message that was acted on (answered, rated, reviewed); an
        inaccessible one (deleted, or too old for the bot to see) has the chat and message id needed."""
        if message is None:
            return
        try:
            await self.bot.edit_message_reply_markup(message.chat.id, message.message_id, reply_markup=None)
        except TelegramError as exc:  # e.g. "message is not modified" on a double tap
            log.debug("Telegram: could not remove buttons: %s", exc)

    async def drop_buttons_of(self, chat_id: int, message_id: int) -> None:
        try:
            await self.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)
        except TelegramError as exc:
            log.debug("Telegram: could not remove buttons: %s", exc)

    async def set_commands(self, commands: list[tuple[str, str]]) -> None:
        """The command menu Telegram shows next to the text box (best effort)."""
        from telegram import BotCommand

        try:
            await self.bot.set_my_commands([BotCommand(name, description) for name, description in commands])
        except TelegramError as exc:
            log.warning("Telegram: could not set the command menu: %s", exc)


def keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Inline buttons from (label, callback data) rows."""
    from telegram import InlineKeyboardButton

    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in row]
                                 for row in rows])
