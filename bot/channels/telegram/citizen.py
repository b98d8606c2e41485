"""What the citizens' Telegram handlers share (`channel`, `communes`, `quiz`, `subscriptions`):
their buttons' callback data, the citizen an update comes from, and how they reply.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Protocol

from telegram import Update

from bot.channels.telegram.sender import CHANNEL
from bot.types import Message

if TYPE_CHECKING:
    from bot.assistant import Assistant

MAX_CALLBACK_BYTES = 64

# Callback data prefixes: c:<category>, q:<faq id>, n:<log id or empty>, f:<log id>:<1|0>,
# x:<commune code> (x: alone asks for the commune), z:<question index>:<option number> (a quiz answer),
# s:<1|0> (subscribe / unsubscribe), e:<1|0> (erase my data: confirmed / kept),
# o:<topic> (the quiz offer after an FAQ answer: a 3-question round on that topic).
CB_CATEGORY, CB_QUESTION, CB_NONE, CB_FEEDBACK, CB_COMMUNE, CB_QUIZ = "c", "q", "n", "f", "x", "z"
CB_SUBSCRIBE, CB_ERASE, CB_OFFER = "s", "e", "o"
CB_HANDOFF = "hc"  # hc:<log id>: "Hỏi cán bộ" (bot.channels.telegram.handoff takes it)


class CallbackCodec:
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


class Send(Protocol):
    """The channel's send to a chat (`TelegramChannel._send`): a failure is counted and logged."""

    async def __call__(self, chat_id: int, text: str, markup: Any = None) -> None: ...


def message_of(update: Update, text: str) -> Message:
    """The Assistant's message for an update: who sent it, in which chat."""
    user = update.effective_user
    chat = update.effective_chat
    return Message(
        text=text,
        channel=CHANNEL,
        user_id=str(user.id) if user else "",
        chat_id=str(chat.id) if chat else "",
    )


def prompt_key(assistant: Assistant, update: Update) -> str | None:
    """The citizen's key in the state store, where the pending prompt is kept (slot "prompt")."""
    user = update.effective_user
    return assistant.user_key(CHANNEL, str(user.id)) if user else None
