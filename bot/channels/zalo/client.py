"""The Zalo Bot Platform API over httpx, and the shape of its updates.

The Bot Platform is Telegram-like but differs in details (anchors.md §1a): getUpdates returns
one update per call and has no offset, HTTP 408 / an empty result means "nothing new", text is
limited to 2000 characters, and there are no buttons, so choices are numbered text replies.
Network errors, 5xx and 429 answers are retried here with `bot.outbound.RetryPolicy`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from bot.outbound import RetryPolicy

log = logging.getLogger(__name__)

CHANNEL = "zalo"
DEFAULT_BASE_URL = "https://bot-api.zaloplatforms.com"


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
        policy: RetryPolicy | None = None,
    ) -> None:
        self._url = f"{base_url.rstrip('/')}/bot{token}/"
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._owns_http = http is None
        self.policy = policy or RetryPolicy()
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
                if attempt >= self.policy.max_retries:
                    raise ZaloError(-1, f"{method}: {type(exc).__name__}: {exc}") from None
                await self._wait(method, self._backoff(attempt), type(exc).__name__)
                attempt += 1
                continue
            body = _json(response)
            code = body.get("error_code") or response.status_code
            if response.status_code == 429 or code == 429:
                if attempt >= self.policy.max_retries:
                    raise ZaloError(429, body.get("description") or "Too Many Requests")
                await self._wait(method, _retry_after(response, body, self._backoff(attempt)), "429")
            elif response.status_code >= 500:
                if attempt >= self.policy.max_retries:
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
        return self.policy.delay(attempt)

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

    async def send_message(self, chat_id: str, text: str) -> Any:
        """Send one message of at most 2000 characters (`ZaloSender` splits longer text)."""
        return await self.call("sendMessage", {"chat_id": chat_id, "text": text})

    async def send_photo(self, chat_id: str, photo: str, caption: str = "") -> Any:
        """Send a photo by its public https link (the Bot API takes no upload), caption <= 2000."""
        payload = {"chat_id": chat_id, "photo": photo}
        if caption:
            payload["caption"] = caption
        return await self.call("sendPhoto", payload)

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> Any:
        return await self.call("sendChatAction", {"chat_id": chat_id, "action": action})


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _dict(value: Any) -> dict:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _retry_after(response: httpx.Response, body: dict, default: float) -> float:
    params = _dict(body.get("parameters"))
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
    photo: str = ""  # the link of an image (message.image.received)

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
    chat = _dict(message.get("chat"))
    sender = _dict(message.get("from"))
    chat_id = str(chat.get("id") or sender.get("id") or "")
    if not chat_id:
        return None
    text = message.get("text")
    if not isinstance(text, str) or not text:
        text = message.get("caption")
    photo = next((v for v in (message.get("photo_url"), message.get("photo"), message.get("url"))
                  if isinstance(v, str) and v.startswith("https://")), "")
    return Incoming(
        event=str(body.get("event_name") or ""),
        message_id=str(message.get("message_id") or ""),
        chat_id=chat_id,
        user_id=str(sender.get("id") or chat_id),
        text=text if isinstance(text, str) else "",
        photo=photo,
    )


