"""Zalo's outbound path: splitting under 2000 characters, a per-bot rate limit, and outcomes.

The client (`bot.channels.zalo.client`) retries network errors, 5xx and 429 with the shared
`RetryPolicy`; this sender adds what every outbound message needs on top: the text cut into
parts under Zalo's limit, at most `per_second` messages a second for the bot (the OA API documents
about 20 sends per second; the Bot Platform documents none, so the same figure is used), and
`sent` / `refused` / `retry` instead of exceptions.
"""

from __future__ import annotations

import logging
from typing import Any

from aiolimiter import AsyncLimiter

from bot.channels.render import ZALO_LIMIT, split_message
from bot.channels.zalo.client import CHANNEL, DEFAULT_BASE_URL, ZaloClient, ZaloError
from bot.outbound import Photo, RetryPolicy, SendResult

log = logging.getLogger(__name__)

MESSAGES_PER_SECOND = 20


class ZaloSender:
    """Zalo's `bot.outbound.Sender`."""

    channel = CHANNEL

    def __init__(self, client: ZaloClient, *, per_second: float = MESSAGES_PER_SECOND) -> None:
        self.client = client
        self._limit = AsyncLimiter(per_second, 1)

    @classmethod
    def connect(cls, token: str, base_url: str = DEFAULT_BASE_URL, policy: RetryPolicy | None = None,
                **options: Any) -> ZaloSender:
        return cls(ZaloClient(token, base_url, policy=policy), **options)

    async def start(self) -> None:
        return None  # every call carries the token; the channel checks it with getMe

    async def me(self) -> dict[str, Any]:
        result = await self.client.get_me()
        return result if isinstance(result, dict) else {}

    async def stop(self) -> None:
        await self.client.aclose()

    async def send_text(self, chat_id: str, text: str) -> SendResult:
        if not chat_id:
            return SendResult("refused", "zalo: no chat to answer")
        parts = split_message(text, ZALO_LIMIT)
        if not parts:
            return SendResult("refused", "zalo: empty message")
        ids: list[str] = []
        for part in parts:
            await self._limit.acquire()
            try:
                result = await self.client.send_message(chat_id, part)
            except ZaloError as exc:
                if 400 <= exc.code < 500 and exc.code not in (408, 429):
                    return SendResult("refused", f"zalo: {exc}", tuple(ids))
                return SendResult("retry", f"zalo: {exc}", tuple(ids))
            message_id = result.get("message_id") if isinstance(result, dict) else None
            ids.append(str(message_id or ""))
        return SendResult("sent", "", tuple(ids))

    async def send_photo(self, chat_id: str, photo: Photo, caption: str = "") -> SendResult:
        """Send a photo. The Bot API's sendPhoto takes only a public https link (no upload), so a
        Telegram photo (a file id) cannot be sent: `refused`. A caption over the limit follows as text."""
        if not chat_id:
            return SendResult("refused", "zalo: no chat to answer")
        if photo.source != "link" or not photo.ref.startswith("https://"):
            return SendResult("refused", "zalo: the Bot API sends photos only from a public https link")
        short = len(caption) <= ZALO_LIMIT
        await self._limit.acquire()
        try:
            result = await self.client.send_photo(chat_id, photo.ref, caption if short else "")
        except ZaloError as exc:
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                return SendResult("refused", f"zalo: {exc}")
            return SendResult("retry", f"zalo: {exc}")
        message_id = result.get("message_id") if isinstance(result, dict) else None
        if short:
            return SendResult("sent", "", (str(message_id or ""),))
        rest = await self.send_text(chat_id, caption)
        return SendResult(rest.outcome, rest.problem, (str(message_id or ""), *rest.message_ids))

    async def typing(self, chat_id: str) -> None:
        """The typing indicator: a nicety, never blocking or failing the answer."""
        try:
            await self.client.send_chat_action(chat_id, "typing")
        except ZaloError as exc:
            log.debug("Zalo: typing indicator failed: %s", exc)
