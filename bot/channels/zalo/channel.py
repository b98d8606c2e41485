"""Zalo channel: the conversation over the Assistant (polling loop or webhook, numbered choices,
"đúng"/"sai" feedback). The API client is `bot.channels.zalo.client`; everything it sends goes
through `bot.channels.zalo.sender.ZaloSender`.

What a message means follows the documented precedence (bot.commands): the latest pending prompt
(a numbered choice, a feedback question), then commands, then small talk and retrieval (the
Assistant). Pending prompts live in the conversation state store (`bot.state`), so every replica
sees them and a restart keeps them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot import commands
from bot.channels import common
from bot.channels.render import numbered, reply_text
from bot.channels.zalo.client import CHANNEL, Incoming, ZaloError, parse_update
from bot.channels.zalo.sender import ZaloSender
from bot.outbound import Photo
from bot.quiz import ROUND_TTL, Quiz, Step, topic_of
from bot.replies import citizens as replies
from bot.state import MemoryStateStore, StateStore
from bot.types import Message, Reply

if TYPE_CHECKING:
    from bot.assistant import Assistant
    from bot.channels.common import Metrics, UpdateClaims
    from bot.handoff import HandoffService

log = logging.getLogger(__name__)


# -- conversation -------------------------------------------------------------------------------

GREETINGS = {"xin chào", "chào", "chào bạn", "chào bot", "hello", "hi", "alo"}
GREETED_TTL = 30 * 24 * 3600.0  # a citizen greeted once is not greeted again for a month
YES_WORDS = {"đúng", "dung", "đúng rồi", "đúng ạ", "có", "co", "👍"}
NO_WORDS = {"sai", "sai rồi", "không", "khong", "ko", "không đúng", "chưa đúng", "chưa", "không phải", "khong phai",
            "👎"}
_NUMBER = re.compile(r"^\s*(?:số\s*)?(\d{1,2})\s*[.)]?\s*$", re.IGNORECASE)



@dataclass
class _Choices:
    """A numbered list the citizen can answer with a number."""

    kind: Literal["categories", "questions", "clarify"]
    options: list[tuple[str, str]]  # (category id or faq id, label)
    log_id: int | None = None  # clarify: the question record that "0" sends to review


@dataclass
class _Chat:
    """One citizen's pending prompt, loaded from and saved to the state store."""

    choices: _Choices | None = None
    feedback_log_id: int | None = None  # the answer that "đúng"/"sai" would rate
    greeted: bool = False
    # the commune prompt: None when not asked; [] while a name is awaited; (code, label) choices
    commune: list[tuple[str, str]] | None = None
    quiz: dict[str, Any] | None = None  # the quiz round being played (bot.quiz)
    erase: bool = False  # "xóa dữ liệu của tôi" asked: waiting for "xóa" / "không"
    offer: str | None = None  # the topic of "Thử 3 câu đố?" after an FAQ answer: "thử" starts it
    outbox: list[str] = field(default_factory=list)  # replies, sent once the new state is saved
    user_key: str = ""  # the citizen's hashed id (not saved: the state is keyed by it)

    def prompt(self) -> dict[str, Any] | None:
        if (self.choices is None and self.feedback_log_id is None and self.commune is None
                and self.quiz is None and not self.erase and self.offer is None):
            return None
        choices = None
        if self.choices is not None:
            choices = {"kind": self.choices.kind, "options": [list(o) for o in self.choices.options],
                       "log_id": self.choices.log_id}
        commune = None if self.commune is None else [list(o) for o in self.commune]
        return {"choices": choices, "feedback": self.feedback_log_id, "commune": commune, "quiz": self.quiz,
                "erase": self.erase, "offer": self.offer}

    @classmethod
    def of(cls, prompt: dict[str, Any] | None, greeted: bool) -> _Chat:
        prompt = prompt or {}
        raw = prompt.get("choices")
        choices = (_Choices(raw["kind"], [(str(a), str(b)) for a, b in raw["options"]], raw.get("log_id"))
                   if isinstance(raw, dict) else None)
        commune = prompt.get("commune")
        options = [(str(a), str(b)) for a, b in commune] if isinstance(commune, list) else None
        quiz = prompt.get("quiz")
        offer = prompt.get("offer")
        return cls(choices, prompt.get("feedback"), greeted, options, quiz if isinstance(quiz, dict) else None,
                   bool(prompt.get("erase")), offer if isinstance(offer, str) else None)


def _words(text: str) -> str:
    return " ".join(text.lower().strip(" .!?,;:…\"'").split())


class ZaloChannel:
    """The Zalo adapter: polling loop or webhook, per-chat numbered choices and feedback."""

    name = CHANNEL

    def __init__(
        self,
        assistant: Assistant,
        sender: ZaloSender,
        *,
        claims: UpdateClaims | None = None,
        webhook_url: str | None = None,
        secret_token: str | None = None,
        metrics: Metrics | None = None,
        poll_timeout: int = 30,
        rate_limit_per_minute: int = 20,
        state: StateStore | None = None,
        state_ttl: float = 900.0,
        concurrency: int = 64,
        quiz: Quiz | None = None,
        handoff: HandoffService | None = None,
    ) -> None:
        """`handoff`: talking to a person (bot.handoff); it sees every text message first."""
        if webhook_url and not secret_token:
            raise ValueError("a Zalo webhook needs a secret token")
        self.assistant = assistant
        self.sender = sender
        self.client = sender.client
        self.claims = claims
        self.webhook_url = webhook_url
        self.secret_token = secret_token
        self.metrics = metrics
        self.poll_timeout = poll_timeout
        self.state: StateStore = state if state is not None else MemoryStateStore()
        self.state_ttl = state_ttl
        self.quiz = quiz
        self.handoff = handoff
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
            me = await self.sender.me()  # fails fast on a bad token
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
        await self.sender.stop()

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
                self.claims, CHANNEL, incoming.message_id
            ):
                log.info("Zalo: message %s was already handled; skipping", incoming.message_id)
                return
            async with self._chat_lock(incoming.chat_id), self._slots:
                await self._route(incoming)
        except Exception:
            if self.metrics:
                self.metrics.error(CHANNEL)
            log.exception("Zalo: error while answering")
            await self._send(incoming.chat_id, replies.SORRY_ERROR)

    @asynccontextmanager
    async def _chat_lock(self, chat_id: str) -> AsyncIterator[None]:
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

    def _load(self, user_key: str) -> _Chat:
        prompt = self.state.get(CHANNEL, user_key, "prompt")
        return _Chat.of(prompt, self.state.get(CHANNEL, user_key, "greeted") is not None)

    def _save(self, user_key: str, chat: _Chat, was: _Chat) -> None:
        prompt = chat.prompt()
        if prompt is not None:
            ttl = ROUND_TTL if chat.quiz is not None else self.state_ttl
            self.state.put(CHANNEL, user_key, "prompt", prompt, ttl)
        elif was.prompt() is not None:
            self.state.clear(CHANNEL, user_key, "prompt")
        if chat.greeted and not was.greeted:
            self.state.put(CHANNEL, user_key, "greeted", {}, GREETED_TTL)

    async def _route(self, incoming: Incoming) -> None:
        chat_id = incoming.chat_id
        if incoming.photo and self.handoff is not None:  # a photo is relayed during an open hand-off
            caption = unicodedata.normalize("NFC", incoming.text).strip()
            out = await self.handoff.on_citizen(
                Message(text=caption, channel=CHANNEL, user_id=incoming.user_id, chat_id=chat_id),
                photo=Photo("link", incoming.photo))
            if out is not None:
                for reply in out:
                    await self._send(chat_id, reply)
                return
        if not incoming.is_text or not incoming.text.strip():
            await self._send(chat_id, replies.TEXT_ONLY)
            return
        if self.handoff is not None:  # an open hand-off comes first (bot.commands' precedence)
            text = unicodedata.normalize("NFC", incoming.text).strip()
            out = await self.handoff.on_citizen(
                Message(text=text, channel=CHANNEL, user_id=incoming.user_id, chat_id=chat_id))
            if out is not None:
                for reply in out:
                    await self._send(chat_id, reply)
                return
        user_key = self.assistant.user_key(CHANNEL, incoming.user_id)
        was = await asyncio.to_thread(self._load, user_key)
        chat = _Chat(was.choices, was.feedback_log_id, was.greeted, was.commune, was.quiz, was.erase, was.offer,
                     user_key=user_key)
        try:
            await self._answer(chat, incoming)
            if chat.quiz is not None and (chat.choices is not None or chat.commune is not None):
                chat.quiz = None  # another prompt came after the round: the latest prompt wins
        finally:
            # saved before the replies go out: a quick answer to them (on any replica) sees it
            await asyncio.to_thread(self._save, user_key, chat, was)
        for text in chat.outbox:
            await self._send(incoming.chat_id, text)

    async def _answer(self, chat: _Chat, incoming: Incoming) -> None:
        """Decide what the message means (pending prompt, command, question) and answer it."""
        chat_id = incoming.chat_id
        text = unicodedata.normalize("NFC", incoming.text).strip()
        words = _words(text)
        message = Message(text=text, channel=CHANNEL, user_id=incoming.user_id, chat_id=chat_id)
        number = _NUMBER.match(text)
        if chat.erase:  # the answer to "xóa dữ liệu của tôi?": anything else keeps the data
            chat.erase = False
            if words in replies.ERASE_YES_WORDS:
                chat.choices, chat.feedback_log_id, chat.commune = None, None, None
                chat.outbox.append(await asyncio.to_thread(self.assistant.erase_my_data, CHANNEL, incoming.user_id,
                                                           chat_id))
                return
            if words in NO_WORDS:
                chat.outbox.append(replies.ERASE_KEPT)
                return
        if chat.commune is not None and await self._commune_answer(chat, message, number):
            return  # the message answered the commune prompt (else it falls through)
        if chat.quiz is not None and number and await self._quiz_answer(chat, int(number.group(1))):
            return  # a number answering the open quiz question
        if chat.offer is not None and words in replies.QUIZ_OFFER_WORDS:  # "thử": the offer is taken
            await self._quiz_start(chat, text, chat.offer)
            return

        confirming = chat.choices is not None and chat.choices.kind == "clarify" and len(chat.choices.options) == 1
        if number and chat.choices:
            await self._choose(chat, chat.choices, int(number.group(1)), message)
        elif confirming and chat.choices and words in YES_WORDS | NO_WORDS:  # "đúng" / "không phải"
            await self._choose(chat, chat.choices, 1 if words in YES_WORDS else 0, message)
        elif chat.feedback_log_id is not None and words in YES_WORDS | NO_WORDS:
            log_id, chat.feedback_log_id = chat.feedback_log_id, None
            helpful = words in YES_WORDS
            await asyncio.to_thread(self.assistant.feedback, log_id, helpful, message)
            thanks = replies.FEEDBACK_THANKS if helpful else replies.FEEDBACK_SORRY
            chat.outbox.append(thanks)
        elif (command := commands.match(text)) is not None:
            if command.name == "help":
                chat.outbox.append(commands.help_text())
            elif command.name == "quiz":
                await self._quiz_start(chat, text)
            elif command.name in ("handoff", "end"):  # only here when no hand-off is configured
                chat.outbox.append(replies.HANDOFF_UNAVAILABLE if command.name == "handoff" else replies.HANDOFF_NONE)
            elif command.name == "commune":  # the next message is read as a commune name
                chat.choices, chat.feedback_log_id, chat.commune, chat.quiz = None, None, [], None
                chat.outbox.append(await asyncio.to_thread(self.assistant.commune_prompt, CHANNEL,
                                                           incoming.user_id))
            elif command.name == "subscribe":
                chat.outbox.append(await asyncio.to_thread(self.assistant.subscribe, CHANNEL, incoming.user_id,
                                                           chat_id))
            elif command.name == "unsubscribe":
                chat.outbox.append(await asyncio.to_thread(self.assistant.unsubscribe, CHANNEL, incoming.user_id))
            elif command.name == "my_data":
                chat.outbox.append(await asyncio.to_thread(self.assistant.my_data, CHANNEL, incoming.user_id))
            elif command.name == "erase":  # asks first; the next message confirms
                chat.choices, chat.feedback_log_id, chat.commune, chat.quiz, chat.erase = None, None, None, None, True
                chat.outbox.append(f"{replies.ERASE_CONFIRM}\n\n{replies.ZALO_ERASE_FOOTER}")
            else:  # start, menu: the greeting with the numbered topics
                await self._greet(chat, chat_id, incoming.user_id)
        elif words in GREETINGS and not chat.greeted:
            await self._greet(chat, chat_id, incoming.user_id)
        elif number:
            chat.outbox.append(replies.ZALO_EXPIRED_CHOICE)
        elif not self._limit.allow(incoming.user_id):
            chat.outbox.append(replies.RATE_LIMITED)
        else:
            await self._typing(chat_id)
            reply = await common.ask(self.metrics, CHANNEL, self.assistant.handle, message)
            await self._send_reply(chat, chat_id, reply)

    # -- quiz rounds ---------------------------------------------------------------------------

    async def _quiz_start(self, chat: _Chat, text: str, offer: str | None = None) -> None:
        """A round from "thi" / "/quiz [topic]", or the short one of the offer (`offer`: its topic)."""
        if self.quiz is None:
            chat.outbox.append(replies.QUIZ_OFF)
            return
        step = await asyncio.to_thread(self.quiz.start_offer, offer) if offer is not None else \
            await asyncio.to_thread(self.quiz.start, topic_of(text))
        if step is None:
            chat.outbox.append(replies.QUIZ_NONE)
            return
        chat.choices, chat.feedback_log_id, chat.commune, chat.offer = None, None, None, None
        await self._quiz_step(chat, step)

    async def _quiz_answer(self, chat: _Chat, number: int) -> bool:
        """Score a number; False when it is not one of the options (then it goes on as usual)."""
        quiz = chat.quiz
        if self.quiz is None or quiz is None:
            return False
        high = self.quiz.options_count(quiz)
        if not 1 <= number <= high:
            chat.outbox.append(replies.ZALO_OUT_OF_RANGE.format(low=1, high=high))
            return True
        step = self.quiz.answer(quiz, int(quiz.get("i", 0)), number)
        if step is None:
            return False
        await self._quiz_step(chat, step)
        return True

    async def _quiz_step(self, chat: _Chat, step: Step) -> None:
        """The next question as a numbered list; at the end the score and the FAQ entries to
        read, which the citizen can open by number (a "questions" list)."""
        chat.quiz = step.state
        if step.state is not None:
            listed = numbered(step.options)
            footer = replies.QUIZ_ZALO_FOOTER.format(n=len(step.options))
            chat.outbox.append(f"{step.text}\n{listed}\n\n{footer}")
            return
        if self.quiz is not None and chat.user_key:  # a contest round: counted or not
            note = await asyncio.to_thread(self.quiz.record, CHANNEL, chat.user_key, step)
            if note:
                step.text += f"\n{note}"
        if step.read_more:
            chat.choices = _Choices("questions", list(step.read_more))
            listed = numbered(title for _, title in step.read_more)
            chat.outbox.append(f"{step.text}\n\n{replies.QUIZ_READ_MORE}\n{listed}\n\n"
                               f"{replies.QUIZ_ZALO_READ_MORE_FOOTER}")
        else:
            chat.outbox.append(f"{step.text}\n{replies.QUIZ_AGAIN}")

    async def _commune_answer(self, chat: _Chat, message: Message, number: re.Match[str] | None) -> bool:
        """The message after "đổi xã": a commune name, or a number of the choices offered.
        False when it is something else (it then goes on as any message)."""
        options = chat.commune or []
        if number and options:
            n = int(number.group(1))
            if not 1 <= n <= len(options):
                chat.outbox.append(replies.ZALO_OUT_OF_RANGE.format(low=1, high=len(options)))
                return True
            chat.commune = None
            chat.outbox.append(await asyncio.to_thread(
                self.assistant.set_commune, options[n - 1][0], CHANNEL, message.user_id))
            return True
        reply = await asyncio.to_thread(self.assistant.choose_commune, message.text, CHANNEL, message.user_id)
        if reply.kind == "not_a_name":
            chat.commune = None
            return False
        if reply.kind == "choices":
            chat.commune = list(reply.options)
            listed = numbered(label for _, label in reply.options)
            chat.outbox.append(f"{reply.text}\n{listed}\n\n{replies.ZALO_COMMUNE_FOOTER}")
            return True
        if reply.kind in ("set", "skipped"):
            chat.commune = None
        chat.outbox.append(reply.text)  # retry: the prompt stays open
        return True

    async def _greet(self, chat: _Chat, chat_id: str, user_id: str) -> None:
        greeting = await asyncio.to_thread(self.assistant.greeting, CHANNEL, user_id)
        categories = await asyncio.to_thread(self.assistant.categories)
        chat.greeted = True
        chat.feedback_log_id = None
        if categories:
            chat.choices = _Choices("categories", list(categories))
            topics = numbered(label for _, label in categories)
            text = f"{greeting}\n\n{replies.TOPICS}\n{topics}\n\n{replies.ZALO_TOPICS_FOOTER}"
        else:
            chat.choices = None
            text = greeting
        chat.outbox.append(text)

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
            chat.outbox.append(replies.ZALO_OUT_OF_RANGE.format(low=low, high=len(choices.options)))
            return
        option_id, label = choices.options[number - 1]
        if choices.kind == "categories":
            questions = await asyncio.to_thread(self.assistant.topic_questions, option_id)
            if not questions:
                chat.outbox.append(replies.NO_QUESTIONS_IN_TOPIC)
                return
            chat.choices = _Choices("questions", [(s.faq_id, s.question) for s in questions])
            listed = numbered(s.question for s in questions)
            text = f"{label}\n{replies.TOPIC_QUESTIONS}\n{listed}\n\n{replies.ZALO_QUESTIONS_FOOTER}"
            chat.outbox.append(text)
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
        chat.feedback_log_id, chat.offer = None, None
        if not keep_choices:
            chat.choices = None
        if reply.kind == "clarify" and reply.suggestions:
            chat.choices = _Choices(
                "clarify", [(s.faq_id, s.question) for s in reply.suggestions], reply.log_id
            )
            text = render_clarify(reply)
        elif reply.kind in ("faq", "knowledge") and reply.log_id is not None:
            chat.feedback_log_id = reply.log_id
            text = f"{reply_text(reply)}\n\n{replies.ZALO_FEEDBACK_HINT}"
            if self.quiz is not None and chat.user_key:  # "Thử 3 câu đố?" at most once a day
                topic = await asyncio.to_thread(self.quiz.offer, self.state, CHANNEL, chat.user_key, reply)
                if topic is not None:
                    chat.offer = topic
                    text += f"\n{replies.QUIZ_ZALO_OFFER}"
        else:
            text = reply_text(reply)
        chat.outbox.append(text or replies.SORRY_ERROR)

    async def _typing(self, chat_id: str) -> None:
        await self.sender.typing(chat_id)

    async def _send(self, chat_id: str, text: str) -> None:
        result = await self.sender.send_text(chat_id, text)
        if not result.ok:
            if self.metrics:
                self.metrics.error(CHANNEL)
            log.warning("Zalo: a reply was not delivered (%s): %s", result.outcome, result.problem)
            if result.outcome == "retry" and text != replies.SORRY_ERROR:  # tell the citizen, if Zalo lets us
                await self.sender.send_text(chat_id, replies.SORRY_ERROR)


def render_clarify(reply: Reply) -> str:
    """The clarification as a numbered list, plus "0" for none of them.

    The assistant's clarify text already lists the suggestions as `1. ...`; a text without the
    list gets one, so that the numbers always match the suggestions.
    """
    if len(reply.suggestions) == 1:  # "Có phải bạn hỏi: «…»?": 1 for yes, 0 for no
        text = reply_text(reply) or replies.CONFIRM.format(question=reply.suggestions[0].question)
        return (f"{text}\n1. {replies.CONFIRM_YES}\n0. {replies.CONFIRM_NO}\n\n"
                f"{replies.ZALO_CONFIRM_FOOTER}")
    text = reply_text(reply)
    listed = numbered(s.question for s in reply.suggestions)
    if listed not in text:
        text = f"{text or replies.CLARIFY}\n{listed}"
    footer = replies.ZALO_CLARIFY_FOOTER.format(n=len(reply.suggestions))
    return f"{text}\n0. {replies.CLARIFY_NONE}\n\n{footer}"
