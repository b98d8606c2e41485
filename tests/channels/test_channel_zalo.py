"""The Zalo channel: the httpx client (unit, over httpx.MockTransport) and the adapter end to
end (polling loop and webhook) against a fake Zalo Bot API on 127.0.0.1 and the real Assistant."""

from __future__ import annotations

import datetime as dt

import asyncio
import json
from contextlib import asynccontextmanager

import httpx
import pytest

from bot.replies import citizens as replies
from bot.channels.zalo import channel as zalo
from bot.channels.zalo.client import ZaloClient, ZaloError, parse_update
from bot.channels.zalo.sender import ZaloSender
from bot.outbound import RetryPolicy
from bot.state import MemoryStateStore
from bot.config import Settings
from bot.types import Reply, Suggestion
from bot.server import build_server
from tests.channels.helpers import as_answer, as_clarify, new_chat_id, serving, shown, zalo_channel
from tests.fakes.zalo_api import FakeZaloAPI

TOKEN = "12345:abc-secret"

FEEDBACK_HINT = "Không đúng câu bạn hỏi? Bạn gõ “sai”. Đúng rồi thì gõ “đúng” nhé."


# -- client, over a mocked transport ------------------------------------------------------------


def mock_client(handler, **kwargs) -> tuple[ZaloClient, list[float]]:
    """A ZaloClient over httpx.MockTransport whose sleeps are recorded instead of waited."""
    client = ZaloClient(
        TOKEN, "https://zalo.test/", http=httpx.AsyncClient(transport=httpx.MockTransport(handler)), **kwargs
    )
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    client._sleep = fake_sleep
    return client, sleeps


async def test_client_wire_format():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, str(request.url), request.headers["content-type"], json.loads(request.content)))
        return httpx.Response(200, json={"ok": True, "result": {"message_id": "m1", "date": 1}})

    client, _ = mock_client(handler)
    await client.send_message("chat1", "Xin chào")
    await client.send_chat_action("chat1")
    await client.set_webhook("https://bot.example.org/zalo/webhook", "s" * 16)
    assert seen == [
        ("POST", f"https://zalo.test/bot{TOKEN}/sendMessage", "application/json", {"chat_id": "chat1", "text": "Xin chào"}),
        ("POST", f"https://zalo.test/bot{TOKEN}/sendChatAction", "application/json", {"chat_id": "chat1", "action": "typing"}),
        ("POST", f"https://zalo.test/bot{TOKEN}/setWebhook", "application/json",
         {"url": "https://bot.example.org/zalo/webhook", "secret_token": "s" * 16}),
    ]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (408, {"ok": False, "error_code": 408, "description": "Request timeout"}, []),
        (200, {"ok": False, "error_code": 408, "description": "Request timeout"}, []),
        (200, {"ok": True, "result": {}}, []),
        (200, {"ok": True, "result": None}, []),
        (200, {"ok": True, "result": {"event_name": "message.text.received"}}, [{"event_name": "message.text.received"}]),
    ],
)
async def test_get_updates_idle_and_one_update(status, body, expected):
    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content) == {"timeout": "30"}
        return httpx.Response(status, json=body)

    client, _ = mock_client(handler)
    assert await client.get_updates(30) == expected


async def test_client_honours_429_and_retries_5xx_and_network_errors():
    answers = iter(
        [
            httpx.Response(429, json={"ok": False, "error_code": 429, "description": "Too Many Requests",
                                      "parameters": {"retry_after": 7}}),
            httpx.Response(429, headers={"Retry-After": "3"}, text="slow down"),
            httpx.Response(502, text="Bad Gateway"),
            httpx.ConnectError("connection refused"),
            httpx.Response(200, json={"ok": True, "result": {"message_id": "m"}}),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client, sleeps = mock_client(handler, policy=RetryPolicy(backoff=0.5))
    assert await client.send_chat_action("c") == {"message_id": "m"}
    assert sleeps == [7.0, 3.0, 2.0, 4.0]  # retry_after, Retry-After, then backoff 0.5 * 2**n


async def test_client_gives_up_and_reports_errors():
    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"ok": False, "error_code": 500, "description": "boom"})

    client, sleeps = mock_client(failing, policy=RetryPolicy(max_retries=2))
    with pytest.raises(ZaloError) as info:
        await client.get_me()
    assert info.value.code == 500 and len(sleeps) == 2

    def unauthorized(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"ok": False, "error_code": 401, "description": "Unauthorized"})

    client, sleeps = mock_client(unauthorized)
    with pytest.raises(ZaloError) as info:
        await client.get_me()
    assert info.value.code == 401 and sleeps == []  # a bad token is not retried
    assert TOKEN not in str(info.value)


async def test_the_sender_splits_at_2000_characters():
    texts = []

    def handler(request: httpx.Request) -> httpx.Response:
        texts.append(json.loads(request.content)["text"])
        return httpx.Response(200, json={"ok": True, "result": {"message_id": "m"}})

    client, _ = mock_client(handler)
    text = "\n\n".join(f"Đoạn {i}. " + " ".join(["chữ"] * 120) for i in range(9))
    result = await ZaloSender(client).send_text("c", text)
    assert result.ok and len(result.message_ids) == len(texts)
    assert len(texts) > 2 and all(len(t) <= 2000 for t in texts)
    assert "\n\n".join(texts) == text


def test_parse_update_accepts_both_shapes():
    bare = FakeZaloAPI.update("chat1", "message.text.received", "m1", text="Xin chào")
    for body in (bare, {"ok": True, "result": bare}):
        incoming = parse_update(body)
        assert (incoming.chat_id, incoming.message_id, incoming.text, incoming.is_text) == ("chat1", "m1", "Xin chào", True)
    image = parse_update(FakeZaloAPI.update("c", "message.image.received", photo_url="https://x/y.jpg"))
    assert not image.is_text
    assert parse_update({"ok": True, "result": {}}) is None
    assert parse_update(["not", "a", "dict"]) is None


def test_render_clarify_numbers_once():
    suggestions = (Suggestion("a", "Câu một?"), Suggestion("b", "Câu hai?"))
    listed = f"{replies.CLARIFY}\n1. Câu một?\n2. Câu hai?"
    footer = "Bạn trả lời bằng số thứ tự (1–{n}), hoặc 0 nếu không có câu nào đúng.".format(n=2)
    expected = f"{listed}\n0. {replies.CLARIFY_NONE}\n\n{footer}"
    # the assistant's text already lists the suggestions: not listed twice
    assert zalo.render_clarify(Reply("q", "clarify", listed, suggestions=suggestions)) == expected
    # a text without the list gets it
    assert zalo.render_clarify(Reply("q", "clarify", replies.CLARIFY, suggestions=suggestions)) == expected


# -- the adapter, end to end -------------------------------------------------------------------


@asynccontextmanager
async def polling(api: FakeZaloAPI, assistant, **kwargs):
    channel = zalo_channel(assistant, api, **kwargs)
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop()


async def say(api: FakeZaloAPI, chat: str, text: str, count: int = 1) -> list[str]:
    """The citizen sends `text`; wait for `count` more messages to the chat and return them."""
    before = len(api.messages_to(chat))
    api.push(api.text_update(chat, text))
    await api.await_for(lambda calls: len(api.messages_to(chat)) >= before + count)
    return api.messages_to(chat)[before:]


def chat_id() -> str:
    return f"zalo{new_chat_id():x}"


async def test_greeting_topics_numbered_questions_and_feedback(zalo_api, spy):
    api, chat = zalo_api, chat_id()
    categories = spy.categories()
    async with polling(api, spy):
        [greeting] = await say(api, chat, "Xin chào")
        assert greeting.startswith(spy.greeting())
        assert f"{replies.TOPICS}\n1. {categories[0][1]}\n2. {categories[1][1]}" in greeting

        [topic] = await say(api, chat, "2")
        questions = spy.topic_questions(categories[1][0])
        assert topic.startswith(f"{categories[1][1]}\n{replies.TOPIC_QUESTIONS}\n1. {questions[0].question}")

        [answer] = await say(api, chat, "1")
        [(args, reply)] = spy.calls_of("answer_faq")
        assert args[0] == questions[0].faq_id and reply.faq_id == questions[0].faq_id
        assert answer.startswith(shown(reply))

        # the topic list stays open: another number picks another question
        if len(questions) > 1:
            await say(api, chat, "2")
            assert spy.calls_of("answer_faq")[1][0][0] == questions[1].faq_id

        # a typed question, then "sai" rates that answer
        [typed] = await say(api, chat, questions[0].question)
        reply = spy.reply_to(chat)
        assert (reply.kind, reply.faq_id) == ("faq", questions[0].faq_id)
        assert typed == f"{shown(reply)}\n\n{FEEDBACK_HINT}"
        [thanks] = await say(api, chat, "Sai")
        assert thanks == replies.FEEDBACK_SORRY
        assert spy.calls_of("feedback")[0][0][:2] == (reply.log_id, False)

        # a second "xin chào" is small talk for the assistant, not the menu again
        await say(api, chat, "xin chào")
        assert spy.calls_of("handle")[-1][0][0].text == "xin chào"
    assert [c.method for c in api.calls[:2]] == ["getMe", "deleteWebhook"]
    typing = [i for i, c in enumerate(api.calls) if c.method == "sendChatAction"]
    assert typing and all(api.calls[i].params == {"chat_id": chat, "action": "typing"} for i in typing)


async def test_clarify_numbers_and_zero(zalo_api, spy, faq_questions):
    api, chat = zalo_api, chat_id()
    suggestions = faq_questions[:3]
    spy.script["hỏi về giấy tờ"] = as_clarify(suggestions)
    async with polling(api, spy):
        [clarify] = await say(api, chat, "hỏi về giấy tờ")
        for n, s in enumerate(suggestions, 1):
            assert f"{n}. {s.question}" in clarify
        assert f"\n0. {replies.CLARIFY_NONE}\n" in clarify

        [out_of_range] = await say(api, chat, "7")
        assert out_of_range == "Bạn hãy trả lời bằng một số từ {low} đến {high}, hoặc gõ câu hỏi của mình.".format(low=0, high=3)

        [answer] = await say(api, chat, "2")
        [(args, reply)] = spy.calls_of("answer_faq")
        assert args[0] == suggestions[1].faq_id and answer.startswith(shown(reply))

        [expired] = await say(api, chat, "1")  # the clarification is settled
        assert expired == "Danh sách lựa chọn đã hết hạn. Bạn hãy gõ lại câu hỏi nhé."

        await say(api, chat, "hỏi về giấy tờ")
        log_id = spy.reply_to(chat).log_id
        [rejected] = await say(api, chat, "0")
        [(args, reply)] = spy.calls_of("reject_suggestions")
        assert args[0] == log_id and rejected == shown(reply)


async def test_one_plausible_entry_is_confirmed_by_number_or_word(zalo_api, spy, faq_questions):
    api = zalo_api
    only = faq_questions[0]
    spy.script["giấy tờ đó làm sao"] = as_clarify([only])
    async with polling(api, spy):
        chat = chat_id()
        [confirm] = await say(api, chat, "giấy tờ đó làm sao")
        assert confirm.endswith("\n1. Đúng\n0. Không phải\n\nBạn trả lời 1 hoặc 0.")
        [answer] = await say(api, chat, "đúng ạ")
        [(args, reply)] = spy.calls_of("answer_faq")
        assert args[0] == only.faq_id and answer.startswith(f"Về câu hỏi: «{only.question}»\n")
        other = chat_id()
        await say(api, other, "giấy tờ đó làm sao")
        [rejected] = await say(api, other, "không phải")
        assert len(spy.calls_of("reject_suggestions")) == 1 and "tổ công nghệ số cộng đồng" in rejected


async def test_choices_expire(zalo_api, spy):
    api, chat = zalo_api, chat_id()
    now = [dt.datetime(2026, 12, 6, 8, 0)]
    state = MemoryStateStore(clock=lambda: now[0])
    async with polling(api, spy, state_ttl=60, state=state):
        await say(api, chat, "xin chào")
        now[0] += dt.timedelta(seconds=61)
        [expired] = await say(api, chat, "1")
    assert expired == "Danh sách lựa chọn đã hết hạn. Bạn hãy gõ lại câu hỏi nhé."


async def test_images_and_stickers_get_a_polite_reply(zalo_api, spy):
    api, chat = zalo_api, chat_id()
    async with polling(api, spy):
        for n, update in enumerate((api.image_update(chat), api.sticker_update(chat)), 1):
            api.push(update)
            await api.await_for(lambda calls, n=n: len(api.messages_to(chat)) == n)
    assert api.messages_to(chat) == [replies.TEXT_ONLY] * 2
    assert not spy.calls_of("handle")


async def test_per_person_rate_limit(zalo_api, spy, faq_questions):
    api, chat = zalo_api, chat_id()
    async with polling(api, spy, rate_limit_per_minute=2):
        for question in faq_questions[:2]:
            await say(api, chat, question.question)
        [limited] = await say(api, chat, faq_questions[2].question)
    assert limited == replies.RATE_LIMITED
    assert len(spy.calls_of("handle")) == 2


async def test_long_answer_is_split_at_2000(zalo_api, spy):
    api, chat = zalo_api, chat_id()
    answer = "\n\n".join(f"Bước {n}: " + "mở ứng dụng, chọn mục cần làm rồi làm theo hướng dẫn. " * 6 for n in range(20))
    spy.script["hướng dẫn đầy đủ"] = as_answer(answer)
    async with polling(api, spy):
        api.push(api.text_update(chat, "hướng dẫn đầy đủ"))
        await api.await_for(lambda calls: any(FEEDBACK_HINT in m for m in api.messages_to(chat)))
    sent = api.messages_to(chat)
    assert len(sent) >= 3 and all(len(m) <= 2000 for m in sent)
    assert all(c.status == 200 for c in api.calls_of("sendMessage"))
    assert "\n\n".join(sent) == f"{shown(spy.reply_to(chat))}\n\n{FEEDBACK_HINT}"


async def test_rate_limit_429_and_server_errors_are_retried(zalo_api, spy, faq_questions):
    api, chat = zalo_api, chat_id()
    api.fail("sendMessage", 429, {"ok": False, "error_code": 429, "description": "Too Many Requests",
                                  "parameters": {"retry_after": 1}})
    api.fail("sendMessage", 500, {"ok": False, "error_code": 500, "description": "Internal error"}, times=2)
    async with polling(api, spy):
        [answer] = await say(api, chat, faq_questions[0].question)
    sends = api.calls_of("sendMessage")
    assert [c.status for c in sends] == [429, 500, 500, 200]
    assert sends[1].at - sends[0].at >= 1.0  # retry_after honoured
    assert answer.startswith(shown(spy.reply_to(chat)))


async def test_polling_survives_idle_empty_results_and_outages(spy, faq_questions):
    with FakeZaloAPI(max_poll=0.1, idle="empty") as api:
        api.fail("getUpdates", 502, "Bad Gateway", times=2)
        chat = chat_id()
        async with polling(api, spy):
            await asyncio.sleep(0.5)  # several empty polls
            [answer] = await say(api, chat, faq_questions[0].question)
        assert answer.startswith(shown(spy.reply_to(chat)))
        assert len(api.calls_of("getUpdates")) > 3


@asynccontextmanager
async def zalo_webhook_server(api: FakeZaloAPI, spy, tmp_path):
    settings = Settings(
        _env_file=None,
        zalo_token=api.token,
        zalo_base_url=api.base_url,
        telegram_token=None,
        public_url="https://bot.example.org/",
        listen="127.0.0.1:0",
        data_dir=tmp_path,
    )
    async with serving(build_server(settings, spy)) as base:
        [hook] = api.calls_of("setWebhook")
        assert hook.params["url"] == "https://bot.example.org/zalo/webhook"
        yield f"{base}/zalo/webhook", hook.params["secret_token"]


async def test_webhook_secret_body_shapes_and_duplicates(zalo_api, spy, faq_questions, tmp_path):
    api = zalo_api
    async with zalo_webhook_server(api, spy, tmp_path) as (url, secret):
        assert not api.calls_of("getUpdates") and not api.calls_of("deleteWebhook")
        bare_chat, wrapped_chat = chat_id(), chat_id()
        update = api.text_update(bare_chat, faq_questions[0].question)
        for wrong in (None, "", "wrong-secret", secret + "x"):
            response = await api.deliver(url, update, wrong)
            assert response.status_code == 401
        await asyncio.sleep(0.2)
        assert not api.messages_to(bare_chat)

        # the same delivery three times at once, then once more later: answered once
        responses = await asyncio.gather(*(api.deliver(url, update, secret) for _ in range(3)))
        assert [r.status_code for r in responses] == [200, 200, 200]
        await api.await_for(lambda calls: api.messages_to(bare_chat))
        assert (await api.deliver(url, update, secret)).status_code == 200

        wrapped = api.text_update(wrapped_chat, faq_questions[1].question)
        assert (await api.deliver(url, wrapped, secret, wrapped=True)).status_code == 200
        await api.await_for(lambda calls: api.messages_to(wrapped_chat))
        # five deliveries, two updates: each claimed once in the database, the rest refused
        await api.await_for(lambda calls: len(spy.store.outcomes("zalo")) == 5)
        assert sorted(spy.store.outcomes("zalo")) == [False, False, False, True, True]
    assert len(api.messages_to(bare_chat)) == 1
    assert api.messages_to(bare_chat)[0].startswith(shown(spy.reply_to(bare_chat)))
    assert spy.reply_to(wrapped_chat).faq_id == faq_questions[1].faq_id
    assert len([a for a, _ in spy.calls_of("handle") if a[0].chat_id == bare_chat]) == 1


async def test_hundred_simultaneous_chats(zalo_api, spy, faq_questions, tmp_path):
    api = zalo_api
    chats = {chat_id(): faq_questions[i % len(faq_questions)] for i in range(100)}
    async with zalo_webhook_server(api, spy, tmp_path) as (url, secret):
        async with httpx.AsyncClient() as http:
            responses = await asyncio.gather(
                *(
                    http.post(url, json=api.text_update(chat, q.question), headers={"X-Bot-Api-Secret-Token": secret})
                    for chat, q in chats.items()
                )
            )
        assert all(r.status_code == 200 for r in responses)
        await api.await_for(lambda calls: all(api.messages_to(c) for c in chats), timeout=30)
    for chat, question in chats.items():
        [answer] = api.messages_to(chat)
        reply = spy.reply_to(chat)
        assert (reply.kind, reply.faq_id) == ("faq", question.faq_id)
        # the real quiz.yaml may add the once-a-day quiz offer under the answer
        assert answer.removesuffix("\n" + replies.QUIZ_ZALO_OFFER) == f"{shown(reply)}\n\n{FEEDBACK_HINT}"


async def test_at_most_concurrency_messages_are_answered_at_once(zalo_api, assistant, faq_questions):
    """Like Telegram's concurrent_updates: a flood of Zalo messages waits its turn instead of
    filling the worker threads that both channels share."""
    import threading
    import time as _time

    class Slow:
        def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
            self.real, self.now, self.most, self.lock = real, 0, 0, threading.Lock()

        def __getattr__(self, name):  # type: ignore[no-untyped-def]
            return getattr(self.real, name)

        def handle(self, message):  # type: ignore[no-untyped-def]
            with self.lock:
                self.now += 1
                self.most = max(self.most, self.now)
            _time.sleep(0.05)
            try:
                return self.real.handle(message)
            finally:
                with self.lock:
                    self.now -= 1

    slow = Slow(assistant)
    chats = [chat_id() for _ in range(12)]
    async with polling(zalo_api, slow, concurrency=2):
        for i, chat in enumerate(chats):
            zalo_api.push(zalo_api.text_update(chat, faq_questions[i % len(faq_questions)].question))
        await zalo_api.await_for(lambda calls: all(zalo_api.messages_to(c) for c in chats), timeout=30)
    assert slow.most == 2  # every message answered, never more than two at once
