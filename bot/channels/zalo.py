"""Zalo channel: a small httpx client for the Zalo Bot Platform and the adapter over the Assistant.

The Bot Platform is Telegram-like but differs in details (anchors.md §1a): getUpdates returns
one update per call and has no offset, HTTP 408 / an empty result means "nothing new", text is
limited to 2000 characters, and there are no buttons, so choices are numbered text replies.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import unicodedata
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.replies import citizens as replies
from bot.channels import common
from bot.channels.render import ZALO_LIMIT, numbered, reply_text, split_message
from bot.types import Message, Reply

if TYPE_CHECKING:
    from bot.assistant import Assistant
    from bot.channels.common import Metrics

log = logging.getLogger(__name__)

CHANNEL = "zalo"
DEFAULT_BASE_URL = "https://bot-api.zaloplatforms.com"


# -- client -------------------------------------------------------------------------------------


class ZaloError(Exception):
    """An error answer of the Zalo Bot API (`ok: false`), or a request that kept failing."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"Zalo API error {code}: {description}")
        self.code = code
        self.description = description


class ZaloClient:
    """Zalo Bot Platform API over httpx: `POST {base}/bot{token}/{method}` with a JSON body.

    Network errors and 5xx answers are retried with exponential backoff; 429 waits for the
    `retry_after` the server gives (body `parameters.retry_after` or the Retry-After header).
    The token is part of every URL, so URLs are never logged.
    """

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: float = 15.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self._url = f"{base_url.rstrip('/')}/bot{token}/"
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._owns_http = http is None
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = asyncio.sleep  # replaceable in tests

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def call(self, method: str, payload: dict | None = None, *, timeout: float | None = None) -> Any:
        """Call one API method and return its `result`; raise ZaloError on an error answer."""
        attempt = 0
        while True:
            try:
                response = await self._http.post(
                    self._url + method,
                    json=payload or {},
                    timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as exc:
                # str(exc) of httpx transport errors does not carry the URL (and so the token).
                if attempt >= self.max_retries:
                    raise ZaloError(-1, f"{method}: {type(exc).__name__}: {exc}") from None
                await self._wait(method, self._backoff(attempt), type(exc).__name__)
                attempt += 1
                continue
            body = _json(response)
            code = body.get("error_code") or response.status_code
            if response.status_code == 429 or code == 429:
                if attempt >= self.max_retries:
                    raise ZaloError(429, body.get("description") or "Too Many Requests")
                await self._wait(method, _retry_after(response, body, self._backoff(attempt)), "429")
            elif response.status_code >= 500:
                if attempt >= self.max_retries:
                    raise ZaloError(response.status_code, body.get("description") or response.reason_phrase)
                await self._wait(method, self._backoff(attempt), str(response.status_code))
            elif response.status_code == 408 or code == 408:
                raise ZaloError(408, body.get("description") or "Request timeout")
            elif response.status_code >= 400 or not body.get("ok"):
                raise ZaloError(int(code), body.get("description") or response.reason_phrase)
            else:
                return body.get("result")
            attempt += 1

    def _backoff(self, attempt: int) -> float:
        return min(self.max_backoff, self.backoff * 2**attempt)

    async def _wait(self, method: str, seconds: float, why: str) -> None:
        log.warning("Zalo %s failed (%s); retrying in %.1f s", method, why, seconds)
        await self._sleep(seconds)

    async def get_me(self) -> dict:
        return await self.call("getMe")

    async def get_updates(self, timeout: int = 30) -> list[dict]:
        """Long-poll for updates. Zalo returns one update per call; an HTTP 408 or an empty
        result means nothing new, and yields an empty list."""
        try:
            result = await self.call("getUpdates", {"timeout": str(int(timeout))}, timeout=timeout + 5)
        except ZaloError as exc:
            if exc.code == 408:
                return []
            raise
        if not result:
            return []
        if isinstance(result, list):  # tolerate a Telegram-like array, should the API add one
            return [u for u in result if isinstance(u, dict)]
        return [result] if isinstance(result, dict) else []

    async def set_webhook(self, url: str, secret_token: str) -> dict:
        return await self.call("setWebhook", {"url": url, "secret_token": secret_token})

    async def delete_webhook(self) -> dict:
        return await self.call("deleteWebhook")

    async def get_webhook_info(self) -> dict:
        return await self.call("getWebhookInfo")

    async def send_message(self, chat_id: str, text: str) -> list[dict]:
        """Send `text`, split into messages of at most 2000 characters."""
        return [
            await self.call("sendMessage", {"chat_id": chat_id, "text": chunk})
            for chunk in split_message(text, ZALO_LIMIT)
        ]

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> Any:
        return await self.call("sendChatAction", {"chat_id": chat_id, "action": action})


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(response: httpx.Response, body: dict, default: float) -> float:
    params = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
    for value in (params.get("retry_after"), body.get("retry_after"), response.headers.get("Retry-After")):
        try:
            if value is not None:
                return max(0.0, float(value))
        except (TypeError, ValueError):
            continue
    return default


# -- updates ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Incoming:
    """One incoming Zalo message, parsed defensively (field names vary between sources)."""

    event: str
    message_id: str
    chat_id: str
    user_id: str
    text: str

    @property
    def is_text(self) -> bool:
        return self.event == "message.text.received" or (not self.event and bool(self.text))


def parse_update(body: Any) -> Incoming | None:
    """Accept the bare update `{event_name, message}` and the wrapped `{ok, result: {...}}`."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("result"), dict):
        body = body["result"]
    message = body.get("message")
    if not isinstance(message, dict):
        return None
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    chat_id = str(chat.get("id") or sender.get("id") or "")
    if not chat_id:
        return None
    text = message.get("text")
    return Incoming(
        event=str(body.get("event_name") or ""),
        message_id=str(message.get("message_id") or ""),
        chat_id=chat_id,
        user_id=str(sender.get("id") or chat_id),
        text=text if isinstance(text, str) else "",
    )


# -- conversation -------------------------------------------------------------------------------

GREETINGS = {"xin chào", "chào", "chào bạn", "chào bot", "hello", "hi", "alo", "/start", "bắt đầu", "start"}
MENU_WORDS = {"menu", "chủ đề", "danh mục", "/help", "help", "trợ giúp"}
YES_WORDS = {"đúng", "dung", "đúng rồi", "đúng ạ", "có", "co", "👍"}
NO_WORDS = {"sai", "sai rồi", "không", "khong", "ko", "không đúng", "chưa đúng", "chưa", "👎"}
_NUMBER = re.compile(r"^\s*(?:số\s*)?(\d{1,2})\s*[.)]?\s*$", re.IGNORECASE)

TOPICS_FOOTER = "Bạn trả lời bằng một số để xem các câu hỏi, hoặc gõ câu hỏi của mình."
QUESTIONS_FOOTER = "Bạn trả lời bằng số thứ tự để xem câu trả lời."
CLARIFY_FOOTER = "Bạn trả lời bằng số thứ tự (1–{n}), hoặc 0 nếu không có câu nào đúng."
FEEDBACK_HINT = "Câu trả lời có đúng ý bạn không? Bạn nhắn “đúng” hoặc “sai” nhé."
OUT_OF_RANGE = "Bạn hãy trả lời bằng một số từ {low} đến {high}, hoặc gõ câu hỏi của mình."
EXPIRED_CHOICE = "Danh sách lựa chọn đã hết hạn. Bạn hãy gõ lại câu hỏi nhé."


@dataclass
class _Choices:
    """A numbered list the citizen can answer with a number."""

    kind: Literal["categories", "questions", "clarify"]
    options: list[tuple[str, str]]  # (category id or faq id, label)
    log_id: int | None = None  # clarify: the question record that "0" sends to review


@dataclass
class _Chat:
    choices: _Choices | None = None
    feedback_log_id: int | None = None  # the answer that "đúng"/"sai" would rate
    greeted: bool = False
    seen: float = field(default_factory=time.monotonic)


def _words(text: str) -> str:
    return " ".join(text.lower().strip(" .!?,;:…\"'").split())


class ZaloChannel:
    """The Zalo adapter: polling loop or webhook, per-chat numbered choices and feedback."""

    name = CHANNEL

    def __init__(
        self,
        assistant: Assistant,
        client: ZaloClient,
        *,
        webhook_url: str | None = None,
        secret_token: str | None = None,
        metrics: Metrics | None = None,
        poll_timeout: int = 30,
        rate_limit_per_minute: int = 20,
        state_ttl: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        concurrency: int = 64,
    ) -> None:
        if webhook_url and not secret_token:
            raise ValueError("a Zalo webhook needs a secret token")
        self.assistant = assistant
        self.client = client
        self.webhook_url = webhook_url
        self.secret_token = secret_token
        self.metrics = metrics
        self.poll_timeout = poll_timeout
        self.state_ttl = state_ttl
        self._clock = clock
        self._chats: dict[str, _Chat] = {}
        self._limit = common.UserRateLimit(rate_limit_per_minute)
        self._locks: dict[str, list] = {}  # chat id -> [lock, users]
        self._tasks: set[asyncio.Task] = set()
        self._poller: asyncio.Task | None = None
        # at most `concurrency` messages being answered at once, as Telegram's concurrent_updates:
        # a flood on one channel then cannot fill the shared worker threads' queue on its own
        self._slots = asyncio.Semaphore(concurrency)

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook_url else "polling"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            me = await self.client.get_me()  # fails fast on a bad token
        except ZaloError as exc:
            if exc.code == 401:
                raise RuntimeError("Zalo rejected TROLYSO_ZALO_TOKEN; check the token in Zalo Bot Manager") from None
            raise
        if self.webhook_url:
            await self.client.set_webhook(self.webhook_url, self.secret_token or "")
        else:
            await self.client.delete_webhook()  # getUpdates does not work while a webhook is set
            self._poller = asyncio.create_task(self._poll(), name="zalo-polling")
        log.info("Zalo: %s is running (%s)", (me or {}).get("account_name", "bot"), self.mode)

    async def stop(self) -> None:
        if self._poller:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)
        await self.client.aclose()

    async def _poll(self) -> None:
        failures = 0
        while True:
            try:
                updates = await self.client.get_updates(self.poll_timeout)
            except Exception as exc:  # the client already retried; wait longer and go on
                if isinstance(exc, ZaloError) and exc.code == 401:
                    log.error("Zalo: the token was rejected (401); polling stops")
                    raise
                failures += 1
                wait = min(60.0, 2.0**failures)
                log.warning("Zalo: getUpdates failed (%s); polling again in %.0f s", exc, wait)
                await asyncio.sleep(wait)
                continue
            failures = 0
            for update in updates:
                self._spawn(update)

    async def webhook(self, request: Request) -> Response:
        if not common.secret_matches(request.headers.get("X-Bot-Api-Secret-Token"), self.secret_token or ""):
            return JSONResponse({"ok": False, "description": "unauthorized"}, status_code=401)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"ok": False, "description": "invalid JSON"}, status_code=400)
        self._spawn(body)  # answer 200 at once; Zalo should not wait for the assistant
        return JSONResponse({"ok": True})

    def _spawn(self, body: Any) -> None:
        task = asyncio.create_task(self.process(body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- processing --------------------------------------------------------------------------

    async def process(self, body: Any) -> None:
        """Handle one update (either body shape): dedupe, then answer within the chat's order."""
        incoming = parse_update(body)
        if incoming is None:
            log.debug("Zalo: ignoring an update without a message")
            return
        try:
            if incoming.message_id and not await common.claim(
                self.assistant, CHANNEL, incoming.message_id
            ):
                log.info("Zalo: message %s was already handled; skipping", incoming.message_id)
                return
            async with self._chat_lock(incoming.chat_id), self._slots:
                await self._route(incoming)
        except Exception:
            if self.metrics:
                self.metrics.error(CHANNEL)
            log.exception("Zalo: error while answering")
            try:
                await self.client.send_message(incoming.chat_id, common.SORRY_ERROR)
            except ZaloError as exc:
                log.warning("Zalo: could not send the error notice: %s", exc)

    @asynccontextmanager
    async def _chat_lock(self, chat_id: str):
        """Serialize the messages of one chat: a number answers the list sent just before."""
        entry = self._locks.setdefault(chat_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._locks[chat_id]

    def _chat(self, chat_id: str) -> _Chat:
        now = self._clock()
        if len(self._chats) > 10_000:
            for key in [k for k, c in self._chats.items() if now - c.seen > self.state_ttl]:
                del self._chats[key]
        chat = self._chats.get(chat_id)
        if chat is None or now - chat.seen > self.state_ttl:
            greeted = chat.greeted if chat else False
            chat = self._chats[chat_id] = _Chat(greeted=greeted, seen=now)
        return chat

    async def _route(self, incoming: Incoming) -> None:
        chat_id = incoming.chat_id
        if not incoming.is_text or not incoming.text.strip():
            await self.client.send_message(chat_id, replies.TEXT_ONLY)
            return
        chat = self._chat(chat_id)
        chat.seen = self._clock()
        text = unicodedata.normalize("NFC", incoming.text).strip()
        words = _words(text)
        message = Message(text=text, channel=CHANNEL, user_id=incoming.user_id, chat_id=chat_id)
        number = _NUMBER.match(text)

        if number and chat.choices:
            await self._choose(chat, chat.choices, int(number.group(1)), message)
        elif chat.feedback_log_id is not None and words in YES_WORDS | NO_WORDS:
            log_id, chat.feedback_log_id = chat.feedback_log_id, None
            helpful = words in YES_WORDS
            await asyncio.to_thread(self.assistant.feedback, log_id, helpful, message)
            thanks = replies.FEEDBACK_THANKS if helpful else replies.FEEDBACK_SORRY
            await self.client.send_message(chat_id, thanks)
        elif (words in GREETINGS and not chat.greeted) or words in MENU_WORDS:
            await self._greet(chat, chat_id)
        elif number:
            await self.client.send_message(chat_id, EXPIRED_CHOICE)
        elif not self._limit.allow(incoming.user_id):
            await self.client.send_message(chat_id, replies.RATE_LIMITED)
        else:
            await self._typing(chat_id)
            reply = await common.ask(self.metrics, CHANNEL, self.assistant.handle, message)
            await self._send_reply(chat, chat_id, reply)

    async def _greet(self, chat: _Chat, chat_id: str) -> None:
        greeting = await asyncio.to_thread(self.assistant.greeting)
        categories = await asyncio.to_thread(self.assistant.categories)
        chat.greeted = True
        chat.feedback_log_id = None
        if categories:
            chat.choices = _Choices("categories", list(categories))
            topics = numbered(label for _, label in categories)
            text = f"{greeting}\n\n{replies.TOPICS}\n{topics}\n\n{TOPICS_FOOTER}"
        else:
            chat.choices = None
            text = greeting
        await self.client.send_message(chat_id, text)

    async def _choose(self, chat: _Chat, choices: _Choices, number: int, message: Message) -> None:
        chat_id = message.chat_id
        if choices.kind == "clarify" and number == 0:
            chat.choices = None
            reply = await common.ask(
                self.metrics, CHANNEL, self.assistant.reject_suggestions, choices.log_id, message
            )
            await self._send_reply(chat, chat_id, reply)
            return
        if not 1 <= number <= len(choices.options):
            low = 0 if choices.kind == "clarify" else 1
            await self.client.send_message(chat_id, OUT_OF_RANGE.format(low=low, high=len(choices.options)))
            return
        option_id, label = choices.options[number - 1]
        if choices.kind == "categories":
            questions = await asyncio.to_thread(self.assistant.topic_questions, option_id)
            if not questions:
                await self.client.send_message(chat_id, common.NO_QUESTIONS_IN_TOPIC)
                return
            chat.choices = _Choices("questions", [(s.faq_id, s.question) for s in questions])
            listed = numbered(s.question for s in questions)
            text = f"{label}\n{replies.TOPIC_QUESTIONS}\n{listed}\n\n{QUESTIONS_FOOTER}"
            await self.client.send_message(chat_id, text)
            return
        # A question from a topic list or a clarification: answer that FAQ entry. A topic list
        # stays open so the citizen can pick another number; a clarification is settled.
        if choices.kind == "clarify":
            chat.choices = None
        await self._typing(chat_id)
        picked = Message(text=label, channel=CHANNEL, user_id=message.user_id, chat_id=chat_id)
        reply = await common.ask(self.metrics, CHANNEL, self.assistant.answer_faq, option_id, picked)
        await self._send_reply(chat, chat_id, reply, keep_choices=True)

    async def _send_reply(self, chat: _Chat, chat_id: str, reply: Reply, keep_choices: bool = False) -> None:
        chat.feedback_log_id = None
        if not keep_choices:
            chat.choices = None
        if reply.kind == "clarify" and reply.suggestions:
            chat.choices = _Choices(
                "clarify", [(s.faq_id, s.question) for s in reply.suggestions], reply.log_id
            )
            text = render_clarify(reply)
        elif reply.kind in ("faq", "knowledge") and reply.log_id is not None:
            chat.feedback_log_id = reply.log_id
            text = f"{reply_text(reply)}\n\n{FEEDBACK_HINT}"
        else:
            text = reply_text(reply)
        await self.client.send_message(chat_id, text or common.SORRY_ERROR)

    async def _typing(self, chat_id: str) -> None:
        try:
            await self.client.send_chat_action(chat_id, "typing")
        except ZaloError as exc:  # the indicator is a nicety; never block the answer on it
            log.debug("Zalo: typing indicator failed: %s", exc)


def render_clarify(reply: Reply) -> str:
    """The clarification as a numbered list, plus "0" for none of them.

    The assistant's clarify text already lists the suggestions as `1. ...`; a text without the
    list gets one, so that the numbers always match the suggestions.
    """
    text = reply_text(reply)
    listed = numbered(s.question for s in reply.suggestions)
    if listed not in text:
        text = f"{text or replies.CLARIFY}\n{listed}"
    footer = CLARIFY_FOOTER.format(n=len(reply.suggestions))
    return f"{text}\n0. {replies.CLARIFY_NONE}\n\n{footer}"
