"""Helpers of the channel tests: a spy over the real Assistant, reply scripts, a server runner."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import uvicorn

from bot.types import Message, Reply, Suggestion

_ids = itertools.count(1)


def new_chat_id() -> int:
    """A chat/user id no other test used (the assistant rate-limits per user)."""
    return 7_000_000 + next(_ids)


class ClaimSpy:
    """The real store, with every update claim recorded: (channel, key, first time?)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.claims: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def claim_update(self, channel: str, key: str) -> bool:
        first = self.real.claim_update(channel, key)
        with self._lock:
            self.claims.append((channel, key, first))
        return first

    def outcomes(self, channel: str) -> list[bool]:
        with self._lock:
            return [first for c, _, first in self.claims if c == channel]


class SpyAssistant:
    """The real Assistant, with every channel-facing call recorded.

    `script[text] = edit` rewrites the real reply to a question with that text, for reply shapes
    a small FAQ does not produce on demand (a clarification, a 9000-character answer, HTML).
    """

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[tuple[str, tuple, Any]] = []
        self.script: dict[str, Callable[[Reply], Reply]] = {}
        self._lock = threading.Lock()
        self.store = ClaimSpy(real.store) if getattr(real, "store", None) is not None else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def _record(self, method: str, args: tuple, result: Any) -> Any:
        with self._lock:
            self.calls.append((method, args, result))
        return result

    def handle(self, message: Message) -> Reply:
        reply = self.real.handle(message)
        edit = self.script.get(message.text)
        return self._record("handle", (message,), edit(reply) if edit else reply)

    def answer_faq(self, faq_id: str, message: Message) -> Reply:
        return self._record("answer_faq", (faq_id, message), self.real.answer_faq(faq_id, message))

    def reject_suggestions(self, log_id: int | None, message: Message) -> Reply:
        return self._record("reject_suggestions", (log_id, message), self.real.reject_suggestions(log_id, message))

    def feedback(self, log_id: int, helpful: bool, message: Message) -> None:
        return self._record("feedback", (log_id, helpful, message), self.real.feedback(log_id, helpful, message))

    def calls_of(self, method: str) -> list[tuple[tuple, Any]]:
        with self._lock:
            return [(args, result) for name, args, result in self.calls if name == method]

    def reply_to(self, chat_id: Any) -> Reply:
        """The last reply of `handle` for a chat."""
        replies = [r for args, r in self.calls_of("handle") if args[0].chat_id == str(chat_id)]
        assert replies, f"handle was not called for chat {chat_id}"
        return replies[-1]


def as_clarify(suggestions: list[Suggestion]) -> Callable[[Reply], Reply]:
    """A script edit that turns the real reply (and its log record) into a clarification."""
    return lambda reply: replace(
        reply,
        kind="clarify",
        answer="Có phải bạn muốn hỏi:",
        faq_id=None,
        source=None,
        suggestions=tuple(suggestions),
    )


def as_answer(answer: str, source: str | None = "Tài liệu thử nghiệm") -> Callable[[Reply], Reply]:
    """A script edit that replaces the answer text of the real reply."""
    return lambda reply: replace(reply, kind="faq", answer=answer, source=source)


@asynccontextmanager
async def serving(server: uvicorn.Server):
    """Run a uvicorn server (configured with port 0) and yield its http://127.0.0.1:<port>."""
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raise the startup error, if any
            raise RuntimeError("the server stopped during startup")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


def asgi_server(app: Any) -> uvicorn.Server:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_config=None, access_log=False)
    return uvicorn.Server(config)


# -- one channel harness for the Telegram, Zalo and fault tests -----------------------------------

def fast_policy(**overrides: Any) -> Any:
    from bot.outbound import RetryPolicy

    return RetryPolicy(**{"backoff": 0.05, **overrides})


def telegram_channel(assistant: Any, api: Any, *, policy: Any = None, **kwargs: Any) -> Any:
    """The real TelegramChannel over the fake API, wired as `bot.server` wires it."""
    from bot.channels.telegram.channel import TelegramChannel
    from bot.channels.telegram.sender import TelegramSender

    sender = TelegramSender.connect(api.token, api.base_url, policy or fast_policy())
    kwargs.setdefault("poll_timeout", 1)
    kwargs.setdefault("claims", getattr(assistant, "store", None))
    return TelegramChannel(assistant, sender, **kwargs)


def zalo_channel(assistant: Any, api: Any, *, policy: Any = None, **kwargs: Any) -> Any:
    """The real ZaloChannel over the fake API, wired as `bot.server` wires it."""
    from bot.channels.zalo.channel import ZaloChannel
    from bot.channels.zalo.sender import ZaloSender

    sender = ZaloSender.connect(api.token, api.base_url, policy or fast_policy())
    kwargs.setdefault("poll_timeout", 1)
    kwargs.setdefault("claims", getattr(assistant, "store", None))
    return ZaloChannel(assistant, sender, **kwargs)


def shown(reply: Reply) -> str:
    """What a citizen must see for a core reply, written out here rather than taken from the
    channels' own rendering (bot.channels.render is what these tests check): for FAQ answers the
    question answered, the answer, then "Nguồn: …" (knowledge answers open with their source)."""
    text = "\n".join(line.rstrip() for line in reply.answer.strip().splitlines())
    if reply.kind == "faq" and reply.source:
        text += f"\n\nNguồn: {reply.source.strip()}"
    if reply.kind == "faq" and reply.matched:
        text = f"Về câu hỏi: «{reply.matched}»\n{text}"
    return text


TELEGRAM_FEEDBACK = "\n\nKhông đúng câu bạn hỏi? Bấm 👎"  # under answers that have the 👍/👎 buttons


def telegram_shown(reply: Reply) -> str:
    """`shown`, plus the line that points to the 👎 button under answers that have it."""
    feedback = reply.kind in ("faq", "knowledge") and reply.log_id is not None
    return shown(reply) + (TELEGRAM_FEEDBACK if feedback else "")
