"""Bulletins and personal data on Telegram: /dangky and /huydangky (with the button that undoes
each: `s:<1|0>`), /dulieu (what the bot keeps), /xoadulieu (asked first: `e:<1|0>`). The
Assistant does the work; these handlers translate.

`TelegramChannel` wires the handlers (and routes the same commands typed as words here).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.channels.telegram.citizen import CB_ERASE, CB_SUBSCRIBE, Send, message_of, prompt_key
from bot.channels.telegram.sender import CHANNEL, TelegramSender
from bot.replies import citizens as replies
from bot.state import StateStore

if TYPE_CHECKING:
    from bot.assistant import Assistant


class SubscriptionHandlers:
    """/dangky, /huydangky, /dulieu, /xoadulieu and their buttons."""

    def __init__(self, assistant: Assistant, sender: TelegramSender, send: Send, state: StateStore) -> None:
        """`state`: erasing the citizen's data clears their pending prompt there too."""
        self.assistant = assistant
        self.sender = sender
        self.send = send
        self.state = state

    async def on_subscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, message = update.effective_chat, message_of(update, "")
        if chat is None:
            return
        text = await asyncio.to_thread(self.assistant.subscribe, CHANNEL, message.user_id, message.chat_id)
        button = [[InlineKeyboardButton(replies.UNSUBSCRIBE_BUTTON, callback_data=f"{CB_SUBSCRIBE}:0")]]
        await self.send(chat.id, text, InlineKeyboardMarkup(button) if text == replies.SUBSCRIBED else None)

    async def on_unsubscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, message = update.effective_chat, message_of(update, "")
        if chat is None:
            return
        text = await asyncio.to_thread(self.assistant.unsubscribe, CHANNEL, message.user_id)
        button = [[InlineKeyboardButton(replies.SUBSCRIBE_BUTTON, callback_data=f"{CB_SUBSCRIBE}:1")]]
        await self.send(chat.id, text, InlineKeyboardMarkup(button) if text == replies.UNSUBSCRIBED else None)

    async def on_subscribe_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data is None:
            return
        await query.answer()
        await self.sender.drop_buttons(query.message)
        if query.data.endswith(":1"):
            await self.on_subscribe(update, context)
        else:
            await self.on_unsubscribe(update, context)

    async def on_my_data(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, message = update.effective_chat, message_of(update, "")
        if chat is None:
            return
        await self.send(chat.id, await asyncio.to_thread(self.assistant.my_data, CHANNEL, message.user_id))

    async def on_erase(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Ask first: the buttons carry the confirmation."""
        chat = update.effective_chat
        if chat is None:
            return
        buttons = [[InlineKeyboardButton(replies.ERASE_YES, callback_data=f"{CB_ERASE}:1"),
                    InlineKeyboardButton(replies.ERASE_NO, callback_data=f"{CB_ERASE}:0")]]
        await self.send(chat.id, replies.ERASE_CONFIRM, InlineKeyboardMarkup(buttons))

    async def on_erase_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query, chat = update.callback_query, update.effective_chat
        if query is None or query.data is None or chat is None:
            return
        await query.answer()
        await self.sender.drop_buttons(query.message)
        if not query.data.endswith(":1"):
            await self.send(chat.id, replies.ERASE_KEPT)
            return
        message = message_of(update, "")
        key = prompt_key(self.assistant, update)
        if key is not None:  # the pending prompt goes too (it lives in the state store)
            await asyncio.to_thread(self.state.clear, CHANNEL, key, "prompt")
        text = await asyncio.to_thread(self.assistant.erase_my_data, CHANNEL, message.user_id, message.chat_id)
        await self.send(chat.id, text)
