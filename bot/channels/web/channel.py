"""The web chat: a JSON API over the Assistant, the widget's script, and a demo portal page.

    POST /api/chat      {"session": null | "<token>", "text": "..."}
                        -> {"session", "reply_id", "kind", "answer", "source", "suggestions", "matched",
                            "offer"} (offer: null, or after an FAQ answer at most once a day
                            {"topic", "text", "button"}: "Thử 3 câu đố về chủ đề này?")
    POST /api/choose    {"session", "faq_id"} (a suggestion or topic question: its answer)
                        {"session", "category"} -> {"session", "kind": "topic", "questions": [...]}
                        {"session", "none_of": reply_id} ("none of these": to the community team)
                        {"session", "commune": code} (a commune picked among the choices offered)
                        {"session", "quiz_answer": n, "quiz_index": i} (an option of the quiz question)
                        {"session", "quiz_offer": topic} (the offer taken: a 3-question round)
                        {"session", "erase": true | false} (the answer to "xóa dữ liệu của tôi?")
    POST /api/feedback  {"session", "reply_id", "helpful"}
    POST /api/forget    {"session"}             ("Xóa cuộc trò chuyện": the session is deleted)
    GET  /api/start     greeting, topics and every text the widget shows (Vietnamese lives here)
    GET  /api/messages?session=…&after=N        answers that arrived later (a community team's)
    GET  /widget.js     the widget (`<script src="https://BOT/widget.js" data-title="…" async>`)
    GET  /              a demo page of a provincial portal with the widget

A channel like the others: questions go through `Assistant.handle` (channel `web`, the user id is
the session's key, hashed again like every user id), unanswered ones reach the review loop, and
a reviewer's answer comes back through `WebSender`. Safe on the open internet: only
`TROLYSO_WEB_ORIGINS` (or the bot's own origin) get CORS grants and may post; per-session and
per-address rate limits (the address from X-Forwarded-For only behind `TROLYSO_TRUSTED_PROXIES`);
bodies over 16 KB and texts over 2,000 characters get 413; malformed JSON 400, wrong fields 422;
answers are plain text (the widget never renders HTML from the server).

Personal data as on Telegram and Zalo: "dữ liệu của tôi" (`/dulieu`, kind `my_data`) tells what is
kept about the session; "xóa dữ liệu của tôi" (`/xoadulieu`, kind `erase_confirm`) asks first: the
question waits in the state store (slot "prompt", 15 minutes), answered by the widget's buttons
(`/api/choose` `erase`) or by typing "xóa" / "không". Once confirmed, kind `erased` with `session`
null: the citizen's data (`Assistant.erase_my_data`), the session's state, and the session with
its messages are deleted; the widget forgets the conversation on the device too. Bulletins are
not sent to web sessions (a message only shows when the page is opened again, with no
notification): "đăng ký nhận tin" and "dừng nhận tin" get kind `bulletins`, pointing to Telegram
and Zalo.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from importlib import resources
from ipaddress import ip_address, ip_network
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import commands
from bot.channels import common
from bot.channels.web.sessions import CHANNEL, WebSessions
from bot.quiz import OFFER_SLOT, ROUND_TTL, Quiz, Step, topic_of
from bot.replies import citizens as replies
from bot.state import MemoryStateStore, StateStore
from bot.types import Message, Reply

if TYPE_CHECKING:
    from bot.assistant import Assistant
    from bot.channels.common import Metrics
    from bot.config import Settings
    from bot.handoff import HandoffService

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
PROMPT_SLOT, PROMPT_TTL = "prompt", 900.0  # "đổi xã" waits 15 minutes for the commune's name
MAX_TEXT = 2000
CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

Handler = Callable[[Request], Awaitable[Response]]


class BadRequest(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _static(name: str) -> bytes:
    return resources.files("bot.channels.web").joinpath("static", name).read_bytes()


def _texts() -> dict[str, str]:
    """Every sentence the widget shows, from bot.replies.citizens (the widget has none of its own)."""
    return {
        "title": replies.WEB_TITLE, "open": replies.WEB_OPEN, "close": replies.WEB_CLOSE,
        "placeholder": replies.WEB_PLACEHOLDER, "send": replies.WEB_SEND, "clear": replies.WEB_CLEAR,
        "cleared": replies.WEB_CLEARED, "typing": replies.WEB_TYPING, "you": replies.WEB_YOU,
        "bot": replies.WEB_BOT, "team": replies.WEB_TEAM, "error": replies.WEB_ERROR,
        "tooLong": replies.WEB_TOO_LONG, "helpful": replies.WEB_HELPFUL, "notHelpful": replies.WEB_NOT_HELPFUL,
        "thanks": replies.FEEDBACK_THANKS, "sorry": replies.FEEDBACK_SORRY, "source": replies.WEB_SOURCE,
        "topics": replies.TOPICS, "topicQuestions": replies.TOPIC_QUESTIONS, "none": replies.CLARIFY_NONE,
        "yes": replies.CONFIRM_YES, "no": replies.CONFIRM_NO, "matched": replies.MATCHED_QUESTION,
        "feedbackPrompt": replies.FEEDBACK_PROMPT, "rateLimited": replies.RATE_LIMITED,
        "eraseYes": replies.ERASE_YES, "eraseNo": replies.ERASE_NO,
    }


def _words(text: str) -> str:
    """A short answer as typed, for the confirmation words ("Xóa!" -> "xóa")."""
    return " ".join(text.lower().strip(" .!?,;:…\"'").split())


class WebChannel:
    """The web adapter: routes for the ASGI app (no polling, no webhook of a provider)."""

    name = CHANNEL

    def __init__(self, assistant: Assistant, sessions: WebSessions, settings: Settings,
                 metrics: Metrics | None = None, state: StateStore | None = None, quiz: Quiz | None = None,
                 handoff: HandoffService | None = None) -> None:
        """`handoff`: talking to a person (bot.handoff); set by bot.server once it is built."""
        self.assistant = assistant
        self.quiz = quiz
        self.handoff = handoff
        self.sessions = sessions
        self.state: StateStore = state if state is not None else MemoryStateStore()
        self.metrics = metrics
        self.origins = {o.lower() for o in settings.web_origins}
        self.proxies = [ip_network(p, strict=False) for p in settings.trusted_proxies]
        self._per_session = common.UserRateLimit(settings.rate_limit_per_minute)
        self._per_address = common.UserRateLimit(settings.web_ip_rate_limit_per_minute)

    @property
    def mode(self) -> str:
        return "web"

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def webhook(self, request: Request) -> Response:
        return Response(status_code=404)

    def routes(self) -> list[Route]:
        api = [("/api/chat", self.chat), ("/api/choose", self.choose), ("/api/feedback", self.feedback),
               ("/api/forget", self.forget)]
        return [
            *(Route(path, self._guard(fn), methods=["POST", "OPTIONS"]) for path, fn in api),
            Route("/api/start", self._guard(self.start_info), methods=["GET", "OPTIONS"]),
            Route("/api/messages", self._guard(self.messages), methods=["GET", "OPTIONS"]),
            Route("/widget.js", self.widget, methods=["GET"]),
            Route("/demo.css", self.demo_css, methods=["GET"]),
            Route("/", self.demo, methods=["GET"]),
        ]

    # -- safety --------------------------------------------------------------------------------

    def _allowed(self, request: Request) -> tuple[bool, str | None]:
        """(may call the API, origin to grant CORS to). No Origin header: not a browser's
        cross-site request (curl, the same page's navigation), allowed without a grant."""
        origin = request.headers.get("origin")
        if not origin:
            return True, None
        origin = origin.rstrip("/").lower()
        own = f"{request.url.scheme}://{request.url.netloc}".lower()
        forwarded = request.headers.get("x-forwarded-host")
        if origin == own or (forwarded and self._from_proxy(request) and origin.endswith("://" + forwarded.lower())):
            return True, None
        if origin in self.origins:
            return True, origin
        return False, None

    def _from_proxy(self, request: Request) -> bool:
        client = request.client.host if request.client else ""
        try:
            address = ip_address(client)
        except ValueError:
            return False
        return any(address in net for net in self.proxies)

    def client_address(self, request: Request) -> str:
        """The citizen's address: X-Forwarded-For is believed only from a trusted proxy, and
        only up to the first address that is not one."""
        client = request.client.host if request.client else "?"
        if not self._from_proxy(request):
            return client
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
        for hop in reversed(hops):
            try:
                address = ip_address(hop)
            except ValueError:
                return client
            if not any(address in net for net in self.proxies):
                return hop
        return hops[0] if hops else client

    def _guard(self, fn: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            ok, grant = self._allowed(request)
            headers = {"Vary": "Origin", "Cache-Control": "no-store"}
            if grant:
                headers.update({"Access-Control-Allow-Origin": grant,
                                "Access-Control-Allow-Methods": "GET, POST",
                                "Access-Control-Allow-Headers": "Content-Type",
                                "Access-Control-Max-Age": "600"})
            if not ok:
                return JSONResponse({"error": "origin not allowed"}, status_code=403, headers=headers)
            if request.method == "OPTIONS":
                return Response(status_code=204, headers=headers)
            try:
                response = await fn(request)
            except BadRequest as exc:
                response = JSONResponse({"error": exc.detail}, status_code=exc.status)
            response.headers.update(headers)
            return response

        return guarded

    async def _body(self, request: Request) -> dict[str, Any]:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY:
            raise BadRequest(413, "request too large")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                raise BadRequest(413, "request too large")
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            raise BadRequest(400, "malformed JSON") from None
        if not isinstance(body, dict):
            raise BadRequest(422, "a JSON object is expected")
        return body

    @staticmethod
    def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], required: bool = True) -> Any:
        value = body.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
            raise BadRequest(422, f"`{name}` is missing or of the wrong type")
        return value

    def _limited(self, request: Request, key: str) -> Response | None:
        if not self._per_address.allow(self.client_address(request)) or not self._per_session.allow(key):
            return JSONResponse({"error": "rate limited", "message": replies.RATE_LIMITED}, status_code=429)
        return None

    # -- the API -------------------------------------------------------------------------------

    async def start_info(self, request: Request) -> Response:
        token = request.query_params.get("session")
        key = await asyncio.to_thread(self.sessions.known, token) if token else None
        greeting = await asyncio.to_thread(self.assistant.greeting, CHANNEL, key or "")
        categories = await asyncio.to_thread(self.assistant.categories)
        return JSONResponse({"greeting": greeting, "topics": [{"id": c, "label": label} for c, label in categories],
                             "texts": _texts()})

    async def chat(self, request: Request) -> Response:
        body = await self._body(request)
        text = self._field(body, "text", str)
        token = self._field(body, "session", str, required=False)
        if len(text) > MAX_TEXT:
            raise BadRequest(413, f"text longer than {MAX_TEXT} characters")
        token, key = await asyncio.to_thread(self.sessions.resolve, token)
        if (limited := self._limited(request, key)) is not None:
            return limited
        # the documented precedence: an open hand-off (bot.handoff), the pending commune prompt,
        # then commands, then the Assistant
        if self.handoff is not None:
            out = await self.handoff.on_citizen(self._message(key, text))
            if out is not None:  # the team's messages arrive through GET /api/messages
                return JSONResponse({"session": token, "kind": "handoff", "answer": "\n\n".join(out),
                                     "suggestions": [], "reply_id": None, "source": None, "faq_id": None,
                                     "matched": None})
        pending = await asyncio.to_thread(self.state.get, CHANNEL, key, PROMPT_SLOT)
        if pending is not None and pending.get("erase"):  # the answer to "xóa dữ liệu của tôi?"
            await asyncio.to_thread(self.state.clear, CHANNEL, key, PROMPT_SLOT)
            if _words(text) in replies.ERASE_YES_WORDS:
                return JSONResponse(await self._erase(token, key))
            if _words(text) in replies.ERASE_NO_WORDS:
                return JSONResponse(self._plain(token, "erase_kept", replies.ERASE_KEPT))
            pending = None  # anything else keeps the data and is read as usual
        if pending is not None and pending.get("commune"):
            answer = await asyncio.to_thread(self.assistant.choose_commune, text, CHANNEL, key)
            if answer.kind != "not_a_name":
                return JSONResponse(await self._commune(token, key, answer.kind, answer.text, answer.options))
            await asyncio.to_thread(self.state.clear, CHANNEL, key, PROMPT_SLOT)
        command = commands.match(text)
        if command is not None and command.name == "commune":  # "đổi xã": the next text is a commune
            await asyncio.to_thread(self.state.put, CHANNEL, key, PROMPT_SLOT, {"commune": True}, PROMPT_TTL)
            ask = await asyncio.to_thread(self.assistant.commune_prompt, CHANNEL, key)
            return JSONResponse({"session": token, "kind": "commune", "answer": ask, "suggestions": [],
                                 "reply_id": None, "source": None, "faq_id": None, "matched": None})
        if command is not None and command.name == "quiz":
            return JSONResponse(await self._quiz_start(token, key, text))
        if command is not None and command.name in ("handoff", "end"):  # no hand-off configured
            unavailable = replies.HANDOFF_UNAVAILABLE if command.name == "handoff" else replies.HANDOFF_NONE
            return JSONResponse({"session": token, "kind": "help", "answer": unavailable,
                                 "suggestions": [], "reply_id": None, "source": None, "faq_id": None,
                                 "matched": None})
        if command is not None and command.name == "help":
            return JSONResponse({"session": token, "kind": "help", "answer": commands.help_text(),
                                 "suggestions": [], "reply_id": None, "source": None, "faq_id": None,
                                 "matched": None})
        if command is not None and command.name in ("subscribe", "unsubscribe"):  # Telegram and Zalo only
            return JSONResponse(self._plain(token, "bulletins", replies.WEB_NO_BULLETINS))
        if command is not None and command.name == "my_data":
            return JSONResponse(self._plain(token, "my_data", await self._my_data(key)))
        if command is not None and command.name == "erase":  # asks first; the answer is read from the state
            await asyncio.to_thread(self.state.put, CHANNEL, key, PROMPT_SLOT, {"erase": True}, PROMPT_TTL)
            return JSONResponse(self._plain(token, "erase_confirm",
                                            f"{replies.ERASE_CONFIRM}\n{replies.WEB_ERASE_ALSO}"))
        reply = await common.ask(self.metrics, CHANNEL, self.assistant.handle, self._message(key, text))
        return JSONResponse(await self._offered(self._reply(token, reply), key, reply))

    async def _offered(self, data: dict[str, Any], key: str, reply: Reply) -> dict[str, Any]:
        """`data` with the quiz offer after an FAQ answer (at most once a day, bot.quiz)."""
        topic = None
        if self.quiz is not None:
            topic = await asyncio.to_thread(self.quiz.offer, self.state, CHANNEL, key, reply)
        data["offer"] = None if topic is None else {"topic": topic, "text": replies.QUIZ_OFFER,
                                                    "button": replies.QUIZ_OFFER_BUTTON}
        return data

    async def _quiz_start(self, token: str, key: str, text: str) -> dict[str, Any]:
        step = self.quiz.start(topic_of(text)) if self.quiz is not None else None
        if step is None:
            message = replies.QUIZ_OFF if self.quiz is None else replies.QUIZ_NONE
            return self._plain(token, "quiz", message)
        return await self._quiz_step(token, key, step)

    async def _quiz_step(self, token: str, key: str, step: Step) -> dict[str, Any]:
        """The next question with its options as buttons; at the end the score and FAQ entries."""
        if step.state is not None:
            await asyncio.to_thread(self.state.put, CHANNEL, key, PROMPT_SLOT, {"quiz": step.state}, ROUND_TTL)
        else:
            await asyncio.to_thread(self.state.clear, CHANNEL, key, PROMPT_SLOT)
            if self.quiz is not None and (note := await asyncio.to_thread(self.quiz.record, CHANNEL, key, step)):
                step.text += f"\n{note}"  # a contest round: counted or not
        data = self._plain(token, "quiz", step.text if step.state is not None or step.read_more
                           else f"{step.text}\n{replies.QUIZ_AGAIN}")
        if step.state is not None:
            data["quiz"] = {"index": step.index, "options": step.options}
        elif step.read_more:
            data["answer"] += f"\n\n{replies.QUIZ_READ_MORE}"
            data["suggestions"] = [{"faq_id": faq_id, "question": question} for faq_id, question in step.read_more]
        return data

    async def _my_data(self, key: str) -> str:
        """What is kept about the session: the Assistant's report, plus the messages waiting in
        the session (a community team's answers), when there are some."""
        text = await asyncio.to_thread(self.assistant.my_data, CHANNEL, key)
        kept = await asyncio.to_thread(self.sessions.count, key)
        if kept and text != replies.SERVICE_UNAVAILABLE:  # before the closing line on erasing
            head, _, last = text.rpartition("\n")
            text = f"{head}\n{replies.WEB_MY_DATA_MESSAGES.format(n=kept)}\n{last}"
        return text

    async def _erase(self, token: str, key: str) -> dict[str, Any]:
        """Erase what is kept about the session (confirmed), then the session itself: its state,
        its messages and its token. `session` null tells the widget to forget it on the device."""
        for slot in (PROMPT_SLOT, OFFER_SLOT):  # the web keys its state by the session, not the hash
            await asyncio.to_thread(self.state.clear, CHANNEL, key, slot)
        text = await asyncio.to_thread(self.assistant.erase_my_data, CHANNEL, key, key)
        if text != replies.ERASED:  # the database is away: nothing was erased, the session stays
            return self._plain(token, "erase_kept", text)
        await asyncio.to_thread(self.sessions.forget, token)
        return self._plain(None, "erased", text)

    @staticmethod
    def _plain(token: str | None, kind: str, text: str) -> dict[str, Any]:
        return {"session": token, "kind": kind, "answer": text, "suggestions": [], "reply_id": None,
                "source": None, "faq_id": None, "matched": None}

    async def _commune(self, token: str, key: str, kind: str, text: str,
                       options: tuple[tuple[str, str], ...]) -> dict[str, Any]:
        """The reply to a commune name: remembered, choices (as buttons), or ask again."""
        if kind in ("set", "skipped"):
            await asyncio.to_thread(self.state.clear, CHANNEL, key, PROMPT_SLOT)
        return {"session": token, "kind": "commune", "answer": text, "reply_id": None, "source": None,
                "faq_id": None, "matched": None,
                "communes": [{"code": code, "label": label} for code, label in options]}

    async def choose(self, request: Request) -> Response:
        body = await self._body(request)
        token, key = await asyncio.to_thread(self.sessions.resolve, self._field(body, "session", str, required=False))
        if (limited := self._limited(request, key)) is not None:
            return limited
        if "none_of" in body:  # "none of these" / "Không phải": the question goes to the community team
            log_id = self._field(body, "none_of", int, required=False)
            if log_id is not None and not await asyncio.to_thread(self._owns, key, log_id):
                raise BadRequest(404, "no such reply in this session")
            reply = await common.ask(self.metrics, CHANNEL, self.assistant.reject_suggestions, log_id,
                                     self._message(key, ""))
            return JSONResponse(self._reply(token, reply))
        if "quiz_answer" in body:  # an option of the open quiz question (1-based, as shown)
            number = self._field(body, "quiz_answer", int)
            index = self._field(body, "quiz_index", int)
            pending = await asyncio.to_thread(self.state.get, CHANNEL, key, PROMPT_SLOT) or {}
            round_ = pending.get("quiz")
            step = self.quiz.answer(round_, index, number) if self.quiz is not None and round_ else None
            if step is None:
                return JSONResponse(self._plain(token, "quiz", replies.QUIZ_EXPIRED if not round_
                                                else replies.QUIZ_ALREADY))
            return JSONResponse(await self._quiz_step(token, key, step))
        if "erase" in body:  # "🗑 Xóa hết" / "Không xóa": only while the question is pending
            confirmed = self._field(body, "erase", bool)
            asked = await asyncio.to_thread(self.state.get, CHANNEL, key, PROMPT_SLOT)
            if not (asked or {}).get("erase"):
                return JSONResponse(self._plain(token, "erase_kept", replies.WEB_ERASE_EXPIRED))
            await asyncio.to_thread(self.state.clear, CHANNEL, key, PROMPT_SLOT)
            if not confirmed:
                return JSONResponse(self._plain(token, "erase_kept", replies.ERASE_KEPT))
            return JSONResponse(await self._erase(token, key))
        offer = self._field(body, "quiz_offer", str, required=False)
        if offer is not None:  # "Thử 3 câu đố" under an FAQ answer: a short round, never counted
            step = await asyncio.to_thread(self.quiz.start_offer, offer[:64]) if self.quiz is not None else None
            if step is None:
                return JSONResponse(self._plain(token, "quiz", replies.QUIZ_OFF if self.quiz is None
                                                else replies.QUIZ_NONE))
            return JSONResponse(await self._quiz_step(token, key, step))
        commune = self._field(body, "commune", str, required=False)
        if commune is not None:  # a button of the commune choices
            await asyncio.to_thread(self.state.clear, CHANNEL, key, PROMPT_SLOT)
            text = await asyncio.to_thread(self.assistant.set_commune, commune, CHANNEL, key)
            return JSONResponse(await self._commune(token, key, "set", text, ()))
        faq_id = self._field(body, "faq_id", str, required=False)
        if faq_id is not None:
            label = self._field(body, "question", str, required=False) or ""
            reply = await common.ask(self.metrics, CHANNEL, self.assistant.answer_faq, faq_id,
                                     self._message(key, label[:MAX_TEXT]))
            return JSONResponse(await self._offered(self._reply(token, reply), key, reply))
        category = self._field(body, "category", str)
        questions = await asyncio.to_thread(self.assistant.topic_questions, category)
        labels = dict(await asyncio.to_thread(self.assistant.categories))
        return JSONResponse({"session": token, "kind": "topic", "label": labels.get(category, category),
                             "questions": [asdict(q) for q in questions]})

    async def feedback(self, request: Request) -> Response:
        body = await self._body(request)
        token = self._field(body, "session", str)
        reply_id = self._field(body, "reply_id", int)
        helpful = self._field(body, "helpful", bool)
        key = await asyncio.to_thread(self.sessions.known, token)
        if key is None or not await asyncio.to_thread(self._owns, key, reply_id):
            raise BadRequest(404, "no such reply in this session")
        await asyncio.to_thread(self.assistant.feedback, reply_id, helpful, self._message(key, ""))
        return JSONResponse({"ok": True, "message": replies.FEEDBACK_THANKS if helpful else replies.FEEDBACK_SORRY})

    async def forget(self, request: Request) -> Response:
        body = await self._body(request)
        token = self._field(body, "session", str)
        await asyncio.to_thread(self.sessions.forget, token)
        return JSONResponse({"ok": True})

    async def messages(self, request: Request) -> Response:
        token = request.query_params.get("session")
        after = request.query_params.get("after", "0")
        if not after.isdigit():
            raise BadRequest(422, "`after` must be a number")
        key = await asyncio.to_thread(self.sessions.known, token)
        if key is None:
            return JSONResponse({"messages": [], "session": None})
        found = await asyncio.to_thread(self.sessions.after, key, int(after))
        return JSONResponse({"session": token, "messages": [
            {"id": m.id, "text": m.text, "at": m.at.replace(microsecond=0).isoformat() + "Z"} for m in found]})

    async def widget(self, request: Request) -> Response:
        return Response(_static("widget.js"), media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"})

    async def demo_css(self, request: Request) -> Response:
        return Response(_static("demo.css"), media_type="text/css; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300"})

    async def demo(self, request: Request) -> Response:
        return Response(_static("demo.html"), media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                                 "Referrer-Policy": "no-referrer"})

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _message(key: str, text: str) -> Message:
        return Message(text=text, channel=CHANNEL, user_id=key, chat_id=key)

    def _owns(self, key: str, reply_id: int) -> bool:
        store = self.assistant.store
        question = store.question(reply_id) if store is not None else None
        return question is not None and question.channel == CHANNEL and \
            question.user_hash == self.assistant.user_key(CHANNEL, key)

    @staticmethod
    def _reply(token: str, reply: Reply) -> dict[str, Any]:
        data = reply.to_json()
        return {"session": token, "reply_id": reply.log_id, "kind": data["kind"], "answer": data["answer"],
                "source": data["source"], "suggestions": data["suggestions"], "faq_id": data["faq_id"],
                "matched": reply.matched}
