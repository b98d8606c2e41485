"""The Telegram channel end to end: the real python-telegram-bot Application, polling or webhook,
against a fake Telegram Bot API on 127.0.0.1 and the real Assistant."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import httpx
import pytest

from bot.replies import citizens as replies
EXPIRED_BUTTON = "Nút này đã hết hạn. Bạn hãy gõ lại câu hỏi nhé."
from bot.config import Settings
from bot.server import build_server
from tests.channels.helpers import as_answer, as_clarify, fast_policy, new_chat_id, serving, telegram_channel, telegram_shown
from tests.fakes.telegram_api import FakeTelegramAPI


@asynccontextmanager
async def polling(api: FakeTelegramAPI, assistant, **kwargs):
    channel = telegram_channel(assistant, api, **kwargs)
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop()


async def ask(api: FakeTelegramAPI, chat_id: int, update: dict, count: int = 1) -> list[dict]:
    """Push an update and wait until the chat has received `count` more messages."""
    before = len(api.messages_to(chat_id))
    api.push(update)
    await api.await_for(lambda calls: len(api.messages_to(chat_id)) >= before + count)
    return api.messages_to(chat_id)[before:]


async def tap(api: FakeTelegramAPI, chat_id: int, sent: dict, data: str, count: int = 1) -> list[dict]:
    """Tap the button carrying `data` under a message the bot sent."""
    assert data in [d for _, d in api.buttons(sent)], api.buttons(sent)
    return await ask(api, chat_id, api.callback_update(chat_id, data, sent["_message_id"]), count)


async def test_start_shows_greeting_and_topic_buttons(telegram_api, spy):
    chat = new_chat_id()
    async with polling(telegram_api, spy):
        [sent] = await ask(telegram_api, chat, telegram_api.text_update(chat, "/start"))
    assert sent["_shown"] == f"{spy.greeting()}\n\n{replies.TOPICS}"
    assert sent["parse_mode"] == "HTML"
    labels = [label for _, label in spy.categories()]
    # the topics, then (for a citizen who has not told their commune) the commune button
    assert [text for text, _ in telegram_api.buttons(sent)] == [*labels, replies.COMMUNE_OFFER_BUTTON]
    assert all(data.startswith("c:") for _, data in telegram_api.buttons(sent)[:-1])
    assert telegram_api.buttons(sent)[-1][1] == "x:"


async def test_topic_menu_then_question(telegram_api, spy):
    chat = new_chat_id()
    async with polling(telegram_api, spy):
        [menu] = await ask(telegram_api, chat, telegram_api.text_update(chat, "/start"))
        category, label = spy.categories()[0]
        [topic] = await tap(telegram_api, chat, menu, f"c:{category}")
        questions = spy.topic_questions(category)
        assert topic["_shown"].startswith(f"{label}\n{replies.TOPIC_QUESTIONS}")
        assert all(f"{n}. {q.question}" in topic["_shown"] for n, q in enumerate(questions, 1))
        assert telegram_api.buttons(topic) == [
            (f"{n}. {q.question}", f"q:{q.faq_id}") for n, q in enumerate(questions, 1)
        ]
        [answer] = await tap(telegram_api, chat, topic, f"q:{questions[0].faq_id}")
    [(args, reply)] = spy.calls_of("answer_faq")
    assert args[0] == questions[0].faq_id
    assert args[1].text == f"1. {questions[0].question}"  # the button the citizen tapped
    assert reply.kind == "faq" and reply.faq_id == questions[0].faq_id
    assert answer["_shown"] == telegram_shown(reply)
    assert f"Nguồn: {reply.source}\n\nKhông đúng câu bạn hỏi? Bấm 👎" in answer["_shown"]


@pytest.mark.parametrize("helpful", [True, False])
async def test_feedback_buttons(telegram_api, spy, faq_questions, helpful):
    chat = new_chat_id()
    api = telegram_api
    async with polling(api, spy):
        [answer] = await ask(api, chat, api.text_update(chat, faq_questions[0].question))
        reply = spy.reply_to(chat)
        assert reply.kind == "faq" and reply.log_id is not None
        assert api.buttons(answer) == [
            ("👍 Hữu ích", f"f:{reply.log_id}:1"),
            ("👎 Chưa đúng", f"f:{reply.log_id}:0"),
        ]
        api.push(api.callback_update(chat, f"f:{reply.log_id}:{int(helpful)}", answer["_message_id"]))
        await api.await_for(lambda calls: api.calls_of("editMessageReplyMarkup"))
        if not helpful:
            await api.await_for(lambda calls: len(api.messages_to(chat)) == 2)
    [(args, _)] = spy.calls_of("feedback")
    assert args[:2] == (reply.log_id, helpful)
    [edit] = api.calls_of("editMessageReplyMarkup")
    assert int(edit.params["message_id"]) == answer["_message_id"]
    assert not edit.params.get("reply_markup")  # the 👍/👎 buttons are gone
    [toast] = api.calls_of("answerCallbackQuery")
    if helpful:
        assert toast.params["text"] == replies.FEEDBACK_THANKS
        assert len(api.messages_to(chat)) == 1
    else:
        assert api.messages_to(chat)[1]["_shown"] == replies.FEEDBACK_SORRY


async def test_text_question_gets_the_right_answer_after_typing(telegram_api, spy, faq_questions):
    chat = new_chat_id()
    question = faq_questions[1]
    async with polling(telegram_api, spy):
        [answer] = await ask(telegram_api, chat, telegram_api.text_update(chat, question.question))
    reply = spy.reply_to(chat)
    assert (reply.kind, reply.faq_id) == ("faq", question.faq_id)
    assert answer["_shown"] == telegram_shown(reply)
    methods = [c.method for c in telegram_api.calls if c.method in ("sendChatAction", "sendMessage")]
    assert methods == ["sendChatAction", "sendMessage"]
    assert telegram_api.calls_of("sendChatAction")[0].params["action"] == "typing"


async def test_clarify_buttons_pick_and_none_of_these(telegram_api, spy, faq_questions):
    chat = new_chat_id()
    suggestions = faq_questions[:3]
    spy.script["giấy tờ đó làm ở đâu"] = as_clarify(suggestions)
    async with polling(telegram_api, spy):
        [clarify] = await ask(telegram_api, chat, telegram_api.text_update(chat, "giấy tờ đó làm ở đâu"))
        log_id = spy.reply_to(chat).log_id
        none_data = f"n:{log_id if log_id is not None else ''}"
        assert telegram_api.buttons(clarify) == [
            *[(s.question, f"q:{s.faq_id}") for s in suggestions],
            (replies.CLARIFY_NONE, none_data),
        ]
        [answer] = await tap(telegram_api, chat, clarify, f"q:{suggestions[1].faq_id}")
        [(args, reply)] = spy.calls_of("answer_faq")
        assert args[0] == suggestions[1].faq_id and reply.faq_id == suggestions[1].faq_id
        assert answer["_shown"] == telegram_shown(reply)

        [rejected] = await tap(telegram_api, chat, clarify, none_data)
        [(args, reply)] = spy.calls_of("reject_suggestions")
        assert args[0] == log_id
        assert rejected["_shown"] == telegram_shown(reply)
        await telegram_api.await_for(lambda calls: telegram_api.calls_of("editMessageReplyMarkup"))


async def test_one_plausible_entry_is_confirmed_with_yes_and_no(telegram_api, spy, faq_questions):
    chat = new_chat_id()
    only = faq_questions[0]
    spy.script["giấy tờ đó làm sao"] = lambda reply: as_clarify([only])(reply)
    async with polling(telegram_api, spy):
        [confirm] = await ask(telegram_api, chat, telegram_api.text_update(chat, "giấy tờ đó làm sao"))
        log_id = spy.reply_to(chat).log_id
        none_data = f"n:{log_id if log_id is not None else ''}"
        assert telegram_api.buttons(confirm) == [("Đúng", f"q:{only.faq_id}"), ("Không phải", none_data)]
        [answer] = await tap(telegram_api, chat, confirm, f"q:{only.faq_id}")
        [(args, reply)] = spy.calls_of("answer_faq")
        assert args[0] == only.faq_id and answer["_shown"].startswith(f"Về câu hỏi: «{only.question}»\n")
        [rejected] = await tap(telegram_api, chat, confirm, none_data)
        [(args, _)] = spy.calls_of("reject_suggestions")
        assert args[0] == log_id and "tổ công nghệ số cộng đồng" in rejected["_shown"]


async def test_long_answer_is_split_and_html_escaped(telegram_api, spy):
    chat = new_chat_id()
    paragraph = (
        "Bước {n}: mở <VNeID> & chọn *Đăng nhập*; không chia sẻ _mã OTP_ [cho ai] `123`. "
        "Cán bộ không bao giờ hỏi mật khẩu của bạn! "
    )
    answer = "\n\n".join((paragraph.format(n=n) * 4).strip() for n in range(1, 40))
    assert len(answer) > 3 * 4096
    spy.script["hướng dẫn chi tiết"] = as_answer(answer, source="Bộ Công an <C06> & Sở TT&TT")
    async with polling(telegram_api, spy):
        api = telegram_api
        api.push(api.text_update(chat, "hướng dẫn chi tiết"))
        await api.await_for(
            lambda calls: api.messages_to(chat) and api.buttons(api.messages_to(chat)[-1]), timeout=15
        )
    sent = api.messages_to(chat)
    assert len(sent) >= 4
    assert all(c.status == 200 for c in api.calls if c.method == "sendMessage")  # Telegram accepted all
    parts = [m["_shown"] for m in sent]
    reply = spy.reply_to(chat)
    assert "\n\n".join(parts) == telegram_shown(reply)  # split only at paragraph boundaries here
    assert parts[-1].endswith("Nguồn: Bộ Công an <C06> & Sở TT&TT\n\nKhông đúng câu bạn hỏi? Bấm 👎")
    assert "&lt;VNeID&gt; &amp; chọn *Đăng nhập*" in sent[0]["text"]  # Markdown characters untouched
    assert all(not api.buttons(m) for m in sent[:-1]) and api.buttons(sent[-1])


async def test_non_text_messages_get_a_polite_reply(telegram_api, spy):
    chat = new_chat_id()
    api = telegram_api
    media = [
        {"sticker": {"file_id": "s1", "file_unique_id": "u1", "width": 512, "height": 512,
                     "is_animated": False, "is_video": False, "type": "regular"}},
        {"photo": [{"file_id": "p1", "file_unique_id": "u2", "width": 90, "height": 90}]},
        {"voice": {"file_id": "v1", "file_unique_id": "u3", "duration": 3}},
        {"document": {"file_id": "d1", "file_unique_id": "u4", "file_name": "don.pdf"}},
    ]
    async with polling(api, spy):
        for fields in media:
            [sent] = await ask(api, chat, api.message_update(chat, **fields))
            assert sent["_shown"] == replies.TEXT_ONLY
    assert not spy.calls_of("handle")


async def test_group_answers_only_when_mentioned_or_replied_to(telegram_api, spy, faq_questions):
    group, user = -new_chat_id(), new_chat_id()
    api = telegram_api
    question = faq_questions[0].question
    async with polling(api, spy):
        api.push(api.text_update(group, question, user_id=user))  # not addressed: ignored
        [mentioned] = await ask(api, group, api.mention_update(group, question, user_id=user))
        assert mentioned["reply_parameters"]["message_id"]  # threaded under the question
        bot_message = api.sent[mentioned["_message_id"]]
        [replied] = await ask(
            api, group, api.text_update(group, question, user_id=user, reply_to_message=bot_message)
        )
    handled = [args[0].text for args, _ in spy.calls_of("handle")]
    assert handled == [question, question]  # the mention is stripped, the first one ignored
    assert mentioned["_shown"] == replied["_shown"] == telegram_shown(spy.reply_to(group))


async def test_flood_control_retry_after_is_honoured(telegram_api, spy, faq_questions):
    chat = new_chat_id()
    api = telegram_api
    api.fail(
        "sendMessage",
        429,
        {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
         "parameters": {"retry_after": 1}},
    )
    async with polling(api, spy):
        [answer] = await ask(api, chat, api.text_update(chat, faq_questions[0].question))
    failed, succeeded = api.calls_of("sendMessage")
    assert failed.status == 429 and succeeded.status == 200
    assert succeeded.at - failed.at >= 1.0
    # the real quiz.yaml may add the once-a-day quiz offer under the answer
    assert answer["_shown"].removesuffix("\n" + replies.QUIZ_OFFER) == telegram_shown(spy.reply_to(chat))


async def test_server_errors_are_retried(telegram_api, spy, faq_questions):
    chat = new_chat_id()
    api = telegram_api
    api.fail("sendMessage", 500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}, times=2)
    async with polling(api, spy):
        [answer] = await ask(api, chat, api.text_update(chat, faq_questions[0].question))
    assert [c.status for c in api.calls_of("sendMessage")] == [500, 500, 200]
    # the real quiz.yaml may add the once-a-day quiz offer under the answer
    assert answer["_shown"].removesuffix("\n" + replies.QUIZ_OFFER) == telegram_shown(spy.reply_to(chat))


async def test_webhook_mode_through_the_asgi_server(telegram_api, spy, faq_questions, tmp_path):
    api = telegram_api
    settings = Settings(
        _env_file=None,
        telegram_token=api.token,
        telegram_base_url=api.base_url,
        zalo_token=None,
        public_url="https://bot.example.org",
        listen="127.0.0.1:0",
        data_dir=tmp_path,
        telegram_webhook_secret=None,
    )
    chat = new_chat_id()
    async with serving(build_server(settings, spy)) as base, httpx.AsyncClient() as http:
        [hook] = api.calls_of("setWebhook")
        assert hook.params["url"] == "https://bot.example.org/telegram/webhook"
        assert hook.params["allowed_updates"] == ["message", "callback_query"]
        secret = hook.params["secret_token"]
        assert secret and (tmp_path / "webhook-secrets.json").exists()
        assert not api.calls_of("getUpdates")

        url = f"{base}/telegram/webhook"
        update = {"update_id": api.next_update_id(), **api.text_update(chat, faq_questions[0].question)}
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            response = await http.post(url, json=update, headers=headers)
            assert response.status_code == 403
        response = await http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret})
        assert response.status_code == 200
        await api.await_for(lambda calls: api.messages_to(chat))
        # Telegram redelivers when unsure: the same update is answered once.
        response = await http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret})
        assert response.status_code == 200
        await api.await_for(lambda calls: len(spy.store.outcomes("telegram")) == 2)
        assert spy.store.outcomes("telegram") == [True, False]  # the redelivery was claimed already
    [answer] = api.messages_to(chat)
    # the real quiz.yaml may add the once-a-day quiz offer under the answer
    assert answer["_shown"].removesuffix("\n" + replies.QUIZ_OFFER) == telegram_shown(spy.reply_to(chat))
    assert len(spy.calls_of("handle")) == 1


async def test_hundred_simultaneous_chats(telegram_api, spy, faq_questions):
    api = telegram_api
    chats = {new_chat_id(): faq_questions[i % len(faq_questions)] for i in range(100)}
    async with polling(api, spy):
        for chat, question in chats.items():
            api.push(api.text_update(chat, question.question))
        await api.await_for(lambda calls: all(api.messages_to(c) for c in chats), timeout=30)
    for chat, question in chats.items():
        [answer] = api.messages_to(chat)
        reply = spy.reply_to(chat)
        assert (reply.kind, reply.faq_id) == ("faq", question.faq_id)
        assert answer["_shown"] == telegram_shown(reply)


async def test_stale_buttons_and_the_per_person_rate_limit(telegram_api, spy, faq_questions):
    chat = new_chat_id()
    api = telegram_api
    async with polling(api, spy, rate_limit_per_minute=2):
        [answer] = await ask(api, chat, api.text_update(chat, faq_questions[0].question))
        api.push(api.callback_update(chat, "x:from-an-old-version", answer["_message_id"]))
        [toast] = await api.await_for(lambda calls: api.calls_of("answerCallbackQuery"))
        await ask(api, chat, api.text_update(chat, faq_questions[1].question))
        [limited] = await ask(api, chat, api.text_update(chat, faq_questions[2].question))
    assert toast.params["text"] == EXPIRED_BUTTON
    assert limited["_shown"] == replies.RATE_LIMITED
    assert len(spy.calls_of("handle")) == 2


async def test_a_failed_send_keeps_the_question_log(telegram_api, spy, faq_questions):
    chat = new_chat_id()
    api = telegram_api
    api.fail("sendMessage", 500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}, times=2)
    async with polling(api, spy, policy=fast_policy(max_retries=1)):
        api.push(api.text_update(chat, faq_questions[0].question))
        await api.await_for(lambda calls: len(api.calls_of("sendMessage")) == 2)
        await asyncio.sleep(0.2)
    assert not api.messages_to(chat)  # Telegram never got the answer...
    reply = spy.reply_to(chat)
    assert reply.log_id is not None and spy.store.question(reply.log_id) is not None  # ...the log kept it
