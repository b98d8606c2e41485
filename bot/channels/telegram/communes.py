"""The citizen's commune on Telegram: /xa or "đổi xã" opens the prompt (state slot "prompt"),
the next message is read as a commune name (`Assistant.choose_commune`), and a choice among
namesakes comes back as buttons (`x:<commune code>`; `x:` alone, the greeting's button, asks).

`TelegramChannel` wires the handlers; the typed name is the pending-prompt step of `on_text`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.channels.telegram.citizen import CB_COMMUNE, Send, message_of, prompt_key
from bot.channels.telegram.sender import CHANNEL, TelegramSender
from bot.state import StateStore
from bot.types import CommuneReply

if TYPE_CHECKING:
    from bot.assistant import Assistant


class CommuneHandlers:
    """/xa, the commune buttons, and a name typed while the prompt is open."""

    def __init__(self, assistant: Assistant, sender: TelegramSender, send: Send, state: StateStore,
                 state_ttl: float) -> None:
        self.assistant = assistant
        self.sender = sender
        self.send = send
        self.state = state
        self.state_ttl = state_ttl

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._ask(update)

    async def _ask(self, update: Update) -> None:
        chat, key = update.effective_chat, prompt_key(self.assistant, update)
        if chat is None or key is None:
            return
        await asyncio.to_thread(self.state.put, CHANNEL, key, "prompt", {"commune": []}, self.state_ttl)
        text = await asyncio.to_thread(self.assistant.commune_prompt, CHANNEL, message_of(update, "").user_id)
        await self.send(chat.id, text)

    async def on_answer(self, update: Update, text: str) -> bool:
        """A message while the commune prompt is open: read it as a commune name. False when it
        is something else (then it is handled as any message)."""
        key, chat = prompt_key(self.assistant, update), update.effective_chat
        if key is None or chat is None:
            return False
        prompt = await asyncio.to_thread(self.state.get, CHANNEL, key, "prompt")
        if not prompt or prompt.get("commune") is None:
            return False
        message = message_of(update, text)
        reply: CommuneReply = await asyncio.to_thread(
            self.assistant.choose_commune, text, CHANNEL, message.user_id)
        if reply.kind == "retry":
            await self.send(chat.id, reply.text)
            return True
        if reply.kind == "choices":
            await asyncio.to_thread(self.state.put, CHANNEL, key, "prompt",
                                    {"commune": [list(o) for o in reply.options]}, self.state_ttl)
            rows = [[InlineKeyboardButton(label, callback_data=f"{CB_COMMUNE}:{code}")]
                    for code, label in reply.options]
            await self.send(chat.id, reply.text, InlineKeyboardMarkup(rows))
            return True
        await asyncio.to_thread(self.state.clear, CHANNEL, key, "prompt")
        if reply.kind == "not_a_name":
            return False
        await self.send(chat.id, reply.text)
        return True

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data is None:
            return
        code = query.data.partition(":")[2]
        await query.answer()
        if not code:  # the greeting's button: ask for the name
            await self._ask(update)
            return
        key, chat = prompt_key(self.assistant, update), update.effective_chat
        if key is None or chat is None:
            return
        await self.sender.drop_buttons(query.message)
        await asyncio.to_thread(self.state.clear, CHANNEL, key, "prompt")
        text = await asyncio.to_thread(self.assistant.set_commune, code, CHANNEL, message_of(update, "").user_id)
        await self.send(chat.id, text)
