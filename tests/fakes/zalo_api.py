"""A fake Zalo Bot Platform API on 127.0.0.1 speaking its wire format (anchors.md §1a).

Every method is `POST /bot<token>/<method>` with a JSON body; answers are `{"ok": true, "result"}`
or `{"ok": false, "error_code", "description"}`. getUpdates returns ONE update object per call
(no offset), and answers HTTP 408 "Request timeout" when nothing arrived within the poll time
(or an empty result, with `idle="empty"`). sendMessage rejects text outside 1..2000 characters.

    with FakeZaloAPI() as api:
        client = ZaloClient(api.token, api.base_url)
        api.push(api.text_update("chat1", "xin chào"))
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, Literal

import httpx

from tests.fakes._server import FakeBotAPI

MAX_TEXT = 2000


def _ms() -> int:
    return int(time.time() * 1000)


class FakeZaloAPI(FakeBotAPI):
    ME = {"id": "1459232241454765289", "account_name": "bot.TroLySo", "account_type": "BASIC", "can_join_groups": False}

    def __init__(
        self,
        token: str = "1459232241454765289:TEST-zalo-secret",
        max_poll: float = 1.0,
        idle: Literal["408", "empty"] = "408",
    ) -> None:
        super().__init__(token)
        self.max_poll = max_poll
        self.idle = idle
        self.updates: list[dict] = []
        self.webhook: dict[str, Any] = {}

    @property
    def base_url(self) -> str:
        """What ZaloClient takes as base URL (requests go to `{base}/bot{token}/{method}`)."""
        return self.root

    def parse_params(self, content_type: str, raw: bytes) -> dict[str, Any]:
        return json.loads(raw or b"{}")

    @staticmethod
    def ok(result: Any) -> tuple[int, dict]:
        return 200, {"ok": True, "result": result}

    @staticmethod
    def error(code: int, description: str, status: int | None = None) -> tuple[int, dict]:
        return status or code, {"ok": False, "error_code": code, "description": description}

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict]:
        if method == "getMe":
            return self.ok(self.ME)
        if method == "getUpdates":
            return self._get_updates(params)
        if method == "setWebhook":
            url, secret = params.get("url", ""), params.get("secret_token", "")
            if not url.startswith("https://"):
                return self.error(400, "Bad Request: webhook url must be https")
            if not 8 <= len(secret) <= 256:
                return self.error(400, "Bad Request: secret_token must be 8-256 characters")
            with self.cond:
                self.webhook = {"url": url, "secret_token": secret, "updated_at": _ms()}
            return self.ok({"url": url, "updated_at": _ms()})
        if method == "deleteWebhook":
            with self.cond:
                self.webhook = {}
            return self.ok({"url": "", "updated_at": _ms()})
        if method == "getWebhookInfo":
            return self.ok({"url": self.webhook.get("url", ""), "updated_at": self.webhook.get("updated_at", 0)})
        if method == "sendMessage":
            text = params.get("text")
            if not params.get("chat_id"):
                return self.error(400, "Bad Request: chat_id is required")
            if not isinstance(text, str) or not 1 <= len(text) <= MAX_TEXT:
                return self.error(400, "Bad Request: text must be 1-2000 characters")
            return self.ok({"message_id": secrets.token_hex(16), "date": _ms()})
        if method == "sendPhoto":
            photo, caption = params.get("photo"), params.get("caption", "")
            if not params.get("chat_id"):
                return self.error(400, "Bad Request: chat_id is required")
            if not isinstance(photo, str) or not photo.startswith("https://"):
                return self.error(400, "Bad Request: photo must be an https URL")
            if not isinstance(caption, str) or len(caption) > MAX_TEXT:
                return self.error(400, "Bad Request: caption must be at most 2000 characters")
            return self.ok({"message_id": secrets.token_hex(16), "date": _ms()})
        if method == "sendChatAction":
            return self.ok(True)
        return self.error(404, "Not Found")

    def _get_updates(self, params: dict[str, Any]) -> tuple[int, dict]:
        with self.cond:
            if self.webhook:
                return self.error(400, "Bad Request: getUpdates is unavailable while a webhook is set")
        timeout = min(float(params.get("timeout") or 30), self.max_poll)
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.updates and not self.closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.cond.wait(remaining)
            if self.updates:
                return self.ok(self.updates.pop(0))  # one update per call, no offset
        if self.idle == "empty":
            return self.ok({})
        return self.error(408, "Request timeout")

    # -- building updates ---------------------------------------------------------------------

    def push(self, update: dict) -> dict:
        """Queue an update for getUpdates."""
        with self.cond:
            self.updates.append(update)
            self.cond.notify_all()
        return update

    @staticmethod
    def update(chat_id: str, event: str, message_id: str | None = None, **fields: Any) -> dict:
        """A bare update `{event_name, message}` as Zalo sends it."""
        return {
            "event_name": event,
            "message": {
                "message_id": message_id or secrets.token_hex(16),
                "date": _ms(),
                "chat": {"id": chat_id, "chat_type": "PRIVATE"},
                "from": {"id": chat_id, "display_name": "Người dân", "is_bot": False},
                **fields,
            },
        }

    def text_update(self, chat_id: str, text: str, message_id: str | None = None) -> dict:
        return self.update(chat_id, "message.text.received", message_id, text=text)

    def image_update(self, chat_id: str, url: str = "https://example.org/a.jpg", caption: str | None = None) -> dict:
        fields: dict[str, Any] = {"photo_url": url}
        if caption:
            fields["caption"] = caption
        return self.update(chat_id, "message.image.received", **fields)

    def sticker_update(self, chat_id: str) -> dict:
        return self.update(chat_id, "message.sticker.received", sticker="abc")

    async def deliver(
        self, webhook_url: str, update: dict, secret: str | None, wrapped: bool = False
    ) -> httpx.Response:
        """POST an update to a webhook as Zalo does (bare, or wrapped in `{ok, result}`)."""
        body = {"ok": True, "result": update} if wrapped else update
        headers = {"X-Bot-Api-Secret-Token": secret} if secret is not None else {}
        async with httpx.AsyncClient() as http:
            return await http.post(webhook_url, json=body, headers=headers)

    # -- reading what the bot did -------------------------------------------------------------

    def messages_to(self, chat_id: str) -> list[str]:
        """Texts of the sendMessage calls that succeeded for a chat, oldest first."""
        with self.cond:
            return [
                c.params["text"] for c in self.calls
                if c.method == "sendMessage" and c.status == 200 and c.params.get("chat_id") == chat_id
            ]

    def photos_to(self, chat_id: str) -> list[tuple[str, str]]:
        """(photo link, caption) of the sendPhoto calls that succeeded for a chat, oldest first."""
        with self.cond:
            return [(c.params["photo"], c.params.get("caption", "")) for c in self.calls
                    if c.method == "sendPhoto" and c.status == 200 and c.params.get("chat_id") == chat_id]
