"""Quiz rounds on Telegram (bot.quiz): /quiz [topic] or "thi" starts one, each question comes
with its options as buttons (`z:<question index>:<option number>`; a typed number answers too),
and the round lives in the state store (slot "prompt") until its end. After an FAQ answer, at
most once a day, "Thử 3 câu đố" (`o:<topic>`) offers a short round on the answer's topic.

`TelegramChannel` wires the handlers; the typed number is the pending-prompt step of `on_text`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.channels.telegram.citizen import CB_OFFER, CB_QUESTION, CB_QUIZ, CallbackCodec, Send, prompt_key
from bot.channels.telegram.sender import CHANNEL, TelegramSender
from bot.quiz import ROUND_TTL, Quiz, Step, topic_of
from bot.replies import citizens as replies
from bot.state import StateStore
from bot.types import Reply

if TYPE_CHECKING:
    from bot.assistant import Assistant


class QuizHandlers:
    """/quiz, the answer and offer buttons, a typed answer, and the offer under an answer.
    Without a `quiz` every round answers that the quiz is off."""

    def __init__(self, quiz: Quiz | None, assistant: Assistant, sender: TelegramSender, send: Send,
                 state: StateStore, codec: CallbackCodec) -> None:
        """`assistant` keys the citizen in `state`; `codec` packs the FAQ buttons at a round's end."""
        self.quiz = quiz
        self.assistant = assistant
        self.sender = sender
        self.send = send
        self.state = state
        self.codec = codec

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/quiz [topic] or "thi": a new round replaces whatever prompt was pending."""
        chat, key, message = update.effective_chat, prompt_key(self.assistant, update), update.effective_message
        if chat is None or key is None:
            return
        if self.quiz is None:
            await self.send(chat.id, replies.QUIZ_OFF)
            return
        topic = topic_of(message.text or "") if message is not None else None
        step = await asyncio.to_thread(self.quiz.start, topic)
        if step is None:
            await self.send(chat.id, replies.QUIZ_NONE)
            return
        await self._step(chat.id, key, step)

    async def on_offer_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """"Thử 3 câu đố" under an FAQ answer: a short round on the answer's topic."""
        query, key, chat = update.callback_query, prompt_key(self.assistant, update), update.effective_chat
        if query is None or query.data is None or key is None or chat is None:
            return
        await query.answer()
        topic = query.data.partition(":")[2]
        step = await asyncio.to_thread(self.quiz.start_offer, topic) if self.quiz is not None else None
        if step is None:
            await self.send(chat.id, replies.QUIZ_OFF if self.quiz is None else replies.QUIZ_NONE)
            return
        await self._step(chat.id, key, step)

    async def _step(self, chat_id: int, key: str, step: Step) -> None:
        """Save the round (or clear it when over), then send the step: options as buttons; at
        the end the score and the FAQ entries to read as buttons."""
        if step.state is not None:
            await asyncio.to_thread(self.state.put, CHANNEL, key, "prompt", {"quiz": step.state}, ROUND_TTL)
            rows = [[InlineKeyboardButton(f"{n}. {o}", callback_data=f"{CB_QUIZ}:{step.index}:{n}")]
                    for n, o in enumerate(step.options, 1)]
            await self.send(chat_id, step.text, InlineKeyboardMarkup(rows))
            return
        await asyncio.to_thread(self.state.clear, CHANNEL, key, "prompt")
        text = step.text
        if self.quiz is not None and (note := await asyncio.to_thread(self.quiz.record, CHANNEL, key, step)):
            text += f"\n{note}"  # a contest round: counted or not
        markup = None
        if step.read_more:
            text += f"\n\n{replies.QUIZ_READ_MORE}"
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(
                title, callback_data=self.codec.pack(CB_QUESTION, faq_id))] for faq_id, title in step.read_more])
        await self.send(chat_id, f"{text}\n{replies.QUIZ_AGAIN}", markup)

    async def _round(self, key: str) -> dict[str, Any] | None:
        prompt = await asyncio.to_thread(self.state.get, CHANNEL, key, "prompt")
        quiz = prompt.get("quiz") if prompt else None
        return quiz if isinstance(quiz, dict) else None

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query, key, chat = update.callback_query, prompt_key(self.assistant, update), update.effective_chat
        if query is None or query.data is None or key is None or chat is None:
            return
        _, index, number = query.data.split(":")
        quiz = await self._round(key)
        if quiz is None or self.quiz is None:
            await query.answer()
            await self.sender.drop_buttons(query.message)
            await self.send(chat.id, replies.QUIZ_EXPIRED)
            return
        step = await asyncio.to_thread(self.quiz.answer, quiz, int(index), int(number))
        if step is None:
            await query.answer(replies.QUIZ_ALREADY)
            return
        await query.answer()
        await self.sender.drop_buttons(query.message)
        await self._step(chat.id, key, step)

    async def on_answer(self, update: Update, text: str) -> bool:
        """A number typed while a quiz question is open answers it (as the button would)."""
        key, chat = prompt_key(self.assistant, update), update.effective_chat
        number = text.strip().rstrip(".)")
        if key is None or chat is None or self.quiz is None or not number.isdigit() or len(number) > 2:
            return False
        quiz = await self._round(key)
        if quiz is None or not 1 <= int(number) <= self.quiz.options_count(quiz):
            return False
        step = await asyncio.to_thread(self.quiz.answer, quiz, int(quiz.get("i", 0)), int(number))
        if step is None:
            return False
        await self._step(chat.id, key, step)
        return True

    async def offer(self, update: Update, reply: Reply) -> InlineKeyboardButton | None:
        """The "Thử 3 câu đố" button to put under `reply`, when the quiz offers a round on its
        topic (at most once a day: `Quiz.offer` notes the offer in `state`)."""
        key = prompt_key(self.assistant, update)
        if self.quiz is None or key is None:
            return None
        topic = await asyncio.to_thread(self.quiz.offer, self.state, CHANNEL, key, reply)
        return InlineKeyboardButton(replies.QUIZ_OFFER_BUTTON, callback_data=f"{CB_OFFER}:{topic}") \
            if topic is not None else None
