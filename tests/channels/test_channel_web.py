"""The web chat's JSON API, end to end over HTTP against `trolyso serve`'s app on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.models import ReviewItem
from bot.review.actions import answer_group
from bot.review.queue import ReviewQueue
from bot.server import build_server, open_senders
from tests.channels.helpers import serving


def web_settings(tmp_path, **overrides) -> Settings:
    values = {"telegram_token": None, "zalo_token": None, "listen": "127.0.0.1:0", "data_dir": tmp_path,
              "review_poll_seconds": 0.2}
    return Settings(_env_file=None, **{**values, **overrides})


@asynccontextmanager
async def web(spy, tmp_path, **overrides):
    settings = web_settings(tmp_path, **overrides)
    async with serving(build_server(settings, spy)) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        yield http


async def test_start_gives_the_greeting_topics_and_every_text(spy, tmp_path):
    async with web(spy, tmp_path) as http:
        info = (await http.get("/api/start")).json()
    assert info["greeting"].startswith("Xin chào! Tôi là Trợ lý số")
    assert info["topics"] and all({"id", "label"} <= set(t) for t in info["topics"])
    assert info["texts"]["clear"] == "Xóa cuộc trò chuyện" and info["texts"]["send"] == "Gửi"


async def test_a_question_gets_a_session_and_the_answer_with_its_source(spy, tmp_path, faq_questions):
    question = faq_questions[0]
    async with web(spy, tmp_path) as http:
        first = (await http.post("/api/chat", json={"session": None, "text": question.question})).json()
        session = first["session"]
        assert len(session) >= 24 and first["kind"] == "faq" and first["faq_id"] == question.faq_id
        assert first["matched"] == question.question and first["source"] and first["reply_id"] is not None
        again = (await http.post("/api/chat", json={"session": session, "text": "cảm ơn"})).json()
        assert again["session"] == session and again["kind"] == "chitchat" and again["reply_id"] is None
        stranger = (await http.post("/api/chat", json={"session": "x" * 30, "text": "cảm ơn"})).json()
        assert stranger["session"] not in (session, "x" * 30)  # unknown: a new session, silently
    [(args, reply)] = [c for c in spy.calls_of("handle") if c[0][0].text == question.question]
    assert args[0].channel == "web" and args[0].user_id != session  # the token itself is never the id


async def test_choose_an_entry_a_topic_or_none_of_them(spy, tmp_path, faq_questions):
    async with web(spy, tmp_path) as http:
        start = (await http.get("/api/start")).json()
        topic = (await http.post("/api/choose", json={"session": None, "category": start["topics"][0]["id"]})).json()
        assert topic["kind"] == "topic" and topic["questions"]
        session = topic["session"]
        picked = topic["questions"][0]
        answer = (await http.post("/api/choose", json={"session": session, "faq_id": picked["faq_id"]})).json()
        assert answer["kind"] == "faq" and answer["faq_id"] == picked["faq_id"] and answer["session"] == session
        asked = (await http.post("/api/chat", json={"session": session, "text": "giá lúa hôm nay"})).json()
        none = (await http.post("/api/choose", json={"session": session, "none_of": asked["reply_id"]})).json()
        assert none["kind"] == "unanswered" and "tổ công nghệ số cộng đồng" in none["answer"]


async def test_feedback_only_on_the_sessions_own_replies(spy, tmp_path, faq_questions):
    async with web(spy, tmp_path) as http:
        mine = (await http.post("/api/chat", json={"session": None, "text": faq_questions[0].question})).json()
        other = (await http.post("/api/chat", json={"session": None, "text": faq_questions[1].question})).json()
        ok = await http.post("/api/feedback", json={"session": mine["session"], "reply_id": mine["reply_id"],
                                                    "helpful": False})
        assert ok.status_code == 200 and ok.json()["message"].startswith("Xin lỗi vì câu trả lời chưa đúng")
        theirs = await http.post("/api/feedback", json={"session": mine["session"], "reply_id": other["reply_id"],
                                                        "helpful": False})
        assert theirs.status_code == 404
    with spy.store.session() as s:
        reasons = s.scalars(select(ReviewItem.reason).where(ReviewItem.channel == "web")).all()
    assert reasons == ["thumbs_down"]


async def test_bad_requests_never_500(spy, tmp_path):
    async with web(spy, tmp_path) as http:
        cases = [
            (b"{not json", 400),
            (b"[1, 2]", 422),
            (json.dumps({"session": None}).encode(), 422),
            (json.dumps({"session": None, "text": 5}).encode(), 422),
            (json.dumps({"session": None, "text": "a" * 2001}).encode(), 413),
            (json.dumps({"session": None, "text": "a" * 20_000}).encode(), 413),
        ]
        for body, status in cases:
            response = await http.post("/api/chat", content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == status, (body[:40], response.status_code, response.text)
        assert (await http.post("/api/feedback", json={"session": "nope", "reply_id": 1, "helpful": True})).status_code == 404
        assert (await http.get("/api/messages", params={"session": "nope", "after": "x"})).status_code == 422


async def test_only_allowed_origins_may_call(spy, tmp_path):
    allowed = "https://laichau.gov.vn"
    async with web(spy, tmp_path, web_origins=allowed) as http:
        ok = await http.post("/api/chat", json={"session": None, "text": "xin chào"}, headers={"Origin": allowed})
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == allowed
        preflight = await http.options("/api/chat", headers={"Origin": allowed, "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == allowed
        evil = await http.post("/api/chat", json={"session": None, "text": "xin chào"},
                               headers={"Origin": "https://evil.example"})
        assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers
        own = await http.post("/api/chat", json={"session": None, "text": "xin chào"},
                              headers={"Origin": str(http.base_url).rstrip("/")})
        assert own.status_code == 200 and "access-control-allow-origin" not in own.headers


async def test_rate_limits_per_session_and_per_address(spy, tmp_path):
    async with web(spy, tmp_path, rate_limit_per_minute=3, web_ip_rate_limit_per_minute=5) as http:
        session = None
        statuses = []
        for _ in range(4):
            r = await http.post("/api/chat", json={"session": session, "text": "cảm ơn"})
            session = r.json().get("session", session)
            statuses.append(r.status_code)
        assert statuses == [200, 200, 200, 429]
        assert r.json()["message"] == "Bạn hỏi nhanh quá, xin chờ một chút rồi hỏi tiếp nhé."
        other = [(await http.post("/api/chat", json={"session": None, "text": "cảm ơn"})).status_code for _ in range(2)]
        assert other == [200, 429]  # the same address: 5 a minute in all


async def test_a_community_answer_reaches_the_session_later(spy, tmp_path):
    async with web(spy, tmp_path) as http:
        asked = (await http.post("/api/chat", json={"session": None, "text": "Giá lúa hôm nay bao nhiêu?"})).json()
        session = asked["session"]
        assert asked["kind"] == "unanswered"
        assert (await http.get("/api/messages", params={"session": session})).json()["messages"] == []
        queue = ReviewQueue(spy.store, web_settings(tmp_path), lambda: spy.index)
        [gid] = queue.assign_pending()
        async with open_senders(web_settings(tmp_path), store=spy.store) as senders:
            result = await answer_group(queue, senders, gid, "Bà con xem bản tin nông nghiệp của xã.")
        assert result.report.sent == 1
        later = (await http.get("/api/messages", params={"session": session, "after": 0})).json()["messages"]
        assert [m["text"] for m in later] == [
            'Trả lời từ tổ công nghệ số cộng đồng cho câu hỏi "Giá lúa hôm nay bao nhiêu?":\n'
            "Bà con xem bản tin nông nghiệp của xã."]
        assert (await http.get("/api/messages", params={"session": session, "after": later[0]["id"]})).json()[
            "messages"] == []
        await http.post("/api/forget", json={"session": session})
        assert (await http.get("/api/messages", params={"session": session})).json()["session"] is None


async def test_the_widget_and_the_demo_page(spy, tmp_path):
    async with web(spy, tmp_path) as http:
        script = await http.get("/widget.js")
        page = await http.get("/")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert len(gzip.compress(script.content)) < 30_000
    assert "attachShadow" in script.text and ".innerHTML" not in script.text  # text only, never HTML
    assert page.status_code == 200 and '<script src="/widget.js"' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_forwarded_addresses_are_believed_only_from_trusted_proxies(spy, tmp_path):
    from starlette.requests import Request

    from bot.channels.web.channel import WebChannel
    from bot.channels.web.sessions import WebSessions

    def request(client: str, forwarded: str) -> Request:
        return Request({"type": "http", "method": "POST", "path": "/api/chat", "client": (client, 1234),
                        "headers": [(b"x-forwarded-for", forwarded.encode())], "query_string": b"",
                        "server": ("127.0.0.1", 80), "scheme": "http"})

    channel = WebChannel(spy, WebSessions(spy.store.sessions), web_settings(tmp_path, trusted_proxies="10.0.0.0/8"))
    assert channel.client_address(request("10.1.2.3", "203.0.113.9, 10.0.0.7")) == "203.0.113.9"
    assert channel.client_address(request("198.51.100.4", "203.0.113.9")) == "198.51.100.4"  # not a proxy: ignored


async def _web_load(spy, tmp_path, sessions: int, per_session: int, faq_questions) -> None:
    """`sessions` browsers at once, each asking `per_session` questions one after another: every
    question answered (HTTP 200 with a kind), none lost, each session kept."""
    import asyncio

    questions = [q.question for q in faq_questions] + ["cảm ơn", "giá lúa hôm nay"]
    limits = {"rate_limit_per_minute": per_session + 5, "web_ip_rate_limit_per_minute": sessions * per_session + 10}
    async with web(spy, tmp_path, **limits) as http:
        async def citizen(n: int) -> list[str]:
            session, kinds = None, []
            for k in range(per_session):
                r = await http.post("/api/chat", json={"session": session,
                                                       "text": questions[(n + k) % len(questions)]})
                assert r.status_code == 200, r.text
                body = r.json()
                assert session in (None, body["session"])
                session = body["session"]
                kinds.append(body["kind"])
            return kinds

        answered = await asyncio.gather(*(citizen(n) for n in range(sessions)))
    assert sum(len(k) for k in answered) == sessions * per_session
    assert len([c for c in spy.calls_of("handle") if c[0][0].channel == "web"]) == sessions * per_session


async def test_many_web_sessions_at_once_small(spy, tmp_path, faq_questions):
    await _web_load(spy, tmp_path, 20, 3, faq_questions)


@pytest.mark.bench
async def test_many_web_sessions_at_once_bench(spy, tmp_path, faq_questions):
    await _web_load(spy, tmp_path, 200, 10, faq_questions)


async def test_a_web_citizen_tells_their_commune(spy, tmp_path):
    async with web(spy, tmp_path) as http:
        start = (await http.get("/api/start")).json()
        assert "đổi xã" in start["greeting"]  # the greeting offers it; never required
        ask = (await http.post("/api/chat", json={"session": None, "text": "đổi xã"})).json()
        session = ask["session"]
        assert ask["kind"] == "commune" and "Bạn ở xã, phường nào?" in ask["answer"]
        choices = (await http.post("/api/chat", json={"session": session, "text": "muong te"})).json()
        assert choices["kind"] == "commune" and len(choices["communes"]) >= 2
        picked = choices["communes"][0]
        done = (await http.post("/api/choose", json={"session": session, "commune": picked["code"]})).json()
        assert done["answer"].startswith("Đã ghi nhận: bạn ở") and picked["label"] in done["answer"]
        again = (await http.post("/api/chat", json={"session": session, "text": "đổi xã"})).json()
        assert picked["label"] in again["answer"]  # "Hiện tôi ghi bạn ở …"
        via = (await http.post("/api/chat", json={"session": session, "text": "ta mung"})).json()
        assert "nay thuộc" in via["answer"] and "Mường Kim" in via["answer"]
        after = (await http.get("/api/start", params={"session": session})).json()
        assert "đổi xã" not in after["greeting"]  # told once: no more offers
        asked = (await http.post("/api/chat", json={"session": session, "text": "Giá lúa hôm nay bao nhiêu?"})).json()
        assert asked["kind"] == "unanswered"
    with spy.store.session() as s:
        [commune] = s.scalars(select(ReviewItem.commune).where(ReviewItem.channel == "web")).all()
    assert commune is not None


async def test_a_quiz_round_in_the_web_chat(spy, tmp_path):
    async with web(spy, tmp_path) as http:
        first = (await http.post("/api/chat", json={"session": None, "text": "đố vui"})).json()
        session = first["session"]
        assert first["kind"] == "quiz" and first["answer"].startswith("Đố vui kỹ năng số: 5 câu.")
        reply = first
        for n in range(5):
            assert reply["quiz"]["index"] == n and len(reply["quiz"]["options"]) >= 3
            assert f"Câu {n + 1}/5:" in reply["answer"]
            reply = (await http.post("/api/choose", json={"session": session, "quiz_answer": 1,
                                                          "quiz_index": n})).json()
            assert reply["answer"].startswith(("✅ Đúng rồi!", "❌ Chưa đúng."))
        assert "quiz" not in reply and "Bạn trả lời đúng" in reply["answer"]
        again = (await http.post("/api/choose", json={"session": session, "quiz_answer": 1, "quiz_index": 4})).json()
        assert again["answer"] == "Lượt đố vui này đã hết giờ. Bạn gõ “thi” để chơi lượt mới nhé."


async def test_the_quiz_offer_after_an_faq_answer_once_a_day(spy, tmp_path, faq_questions):
    from bot.quiz import QuizBank
    from bot.replies import citizens as replies

    bank = QuizBank(web_settings(tmp_path).quiz)
    topics = {t.id: t.category for t in spy.index.targets if t.kind == "faq"}
    question = next(q for q in faq_questions if bank.questions(topics[q.faq_id]))
    topic = topics[question.faq_id]
    async with web(spy, tmp_path) as http:
        hello = (await http.post("/api/chat", json={"session": None, "text": "cảm ơn"})).json()
        assert hello["offer"] is None  # small talk: no offer
        session = hello["session"]
        first = (await http.post("/api/chat", json={"session": session, "text": question.question})).json()
        assert first["kind"] == "faq" and first["offer"] == {
            "topic": topic, "text": replies.QUIZ_OFFER, "button": replies.QUIZ_OFFER_BUTTON}
        assert replies.QUIZ_OFFER not in first["answer"]  # the widget shows it under the answer
        again = (await http.post("/api/choose", json={"session": session, "faq_id": question.faq_id,
                                                      "question": question.question})).json()
        assert again["kind"] == "faq" and again["offer"] is None  # once a day per citizen
        # another citizen gets it; taking it starts a 3-question round on that topic
        other = (await http.post("/api/chat", json={"session": None, "text": question.question})).json()
        assert other["offer"]["topic"] == topic
        started = (await http.post("/api/choose", json={"session": other["session"], "quiz_offer": topic})).json()
        assert started["kind"] == "quiz" and "Câu 1/3:" in started["answer"] and started["quiz"]["index"] == 0
        reply = started
        for n in range(3):
            reply = (await http.post("/api/choose", json={"session": other["session"], "quiz_answer": 1,
                                                          "quiz_index": n})).json()
        assert "quiz" not in reply and "/3 câu" in reply["answer"]
        none = (await http.post("/api/choose", json={"session": session, "quiz_offer": "khong-co"})).json()
        assert none["answer"] == replies.QUIZ_NONE
        script = (await http.get("/widget.js")).text
        assert "quiz_offer" in script and "reply.offer" in script


def _web_rows(spy, key: str) -> dict[str, int]:
    """What the database keeps for one web session: its state (keyed by the session's key, and by
    the hashed user id), its data keyed by the hashed user id, the session and its messages."""
    from bot.models import Citizen, ConversationState, QuestionLog, Subscriber, WebMessage, WebSession

    user = spy.user_key("web", key)
    with spy.store.session() as s:
        def count(model, *where) -> int:  # type: ignore[no-untyped-def]
            return len(s.execute(select(model).where(*where)).all())

        return {
            "state": count(ConversationState, ConversationState.channel == "web",
                           ConversationState.user_key.in_((key, user))),
            "citizens": count(Citizen, Citizen.channel == "web", Citizen.user_key == user),
            "questions": count(QuestionLog, QuestionLog.channel == "web", QuestionLog.user_hash == user),
            "review_items": count(ReviewItem, ReviewItem.question_id.in_(
                select(QuestionLog.id).where(QuestionLog.channel == "web", QuestionLog.user_hash == user))),
            "subscribers": count(Subscriber, Subscriber.channel == "web"),
            "sessions": count(WebSession, WebSession.key == key),
            "messages": count(WebMessage, WebMessage.session_key == key),
        }


async def test_my_data_bulletins_and_erasing_in_the_web_chat(spy, tmp_path, faq_questions):
    from bot.channels.web.sessions import session_key
    from bot.quiz import QuizBank
    from bot.replies import citizens as replies

    bank = QuizBank(web_settings(tmp_path).quiz)
    topics = {t.id: t.category for t in spy.index.targets if t.kind == "faq"}
    with_offer = next(q for q in faq_questions if bank.questions(topics[q.faq_id]))
    async with web(spy, tmp_path) as http:
        async def say(session, text):  # type: ignore[no-untyped-def]
            response = await http.post("/api/chat", json={"session": session, "text": text})
            assert response.status_code == 200, response.text
            return response.json()

        # another citizen's data must survive this one's erasure
        other = (await say(None, "Giá lúa hôm nay bao nhiêu?"))["session"]
        session = (await say(None, "đổi xã"))["session"]
        key = session_key(session)
        assert "Đã ghi nhận: bạn ở xã Mường Kim." in (await say(session, "ta mung"))["answer"]
        assert (await say(session, "Giá lúa hôm nay bao nhiêu?"))["kind"] == "unanswered"
        assert (await say(session, with_offer.question))["offer"] is not None  # state: today's quiz offer

        mine = await say(session, "dữ liệu của tôi")
        lines = mine["answer"].split("\n")
        assert mine["kind"] == "my_data" and lines[0] == "Tôi đang lưu về bạn:"
        assert "• Xã, phường: xã Mường Kim." in lines and "• Câu hỏi bạn đã hỏi: 2 câu" in mine["answer"]
        assert "• Câu hỏi đang chờ cán bộ trả lời: 1 câu." in lines
        assert not any(line.startswith("• Tin nhắn của tổ") for line in lines)  # none yet

        # a community team answers: the message waits in the session, and /dulieu tells it
        queue = ReviewQueue(spy.store, web_settings(tmp_path), lambda: spy.index)
        queue.assign_pending()  # (serve's review worker may have grouped them already)
        with spy.store.session() as s:
            gids = set(s.scalars(select(ReviewItem.group_id).where(ReviewItem.channel == "web")))
        for gid in gids:
            async with open_senders(web_settings(tmp_path), store=spy.store) as senders:
                await answer_group(queue, senders, gid, "Bà con xem bản tin nông nghiệp của xã.")
        mine = await say(session, "/dulieu")
        lines = mine["answer"].split("\n")
        assert lines[-2] == replies.WEB_MY_DATA_MESSAGES.format(n=1)
        assert lines[-1] == "Muốn xóa hết, bạn gõ “xóa dữ liệu của tôi”."

        # bulletins are not sent to web sessions: a polite pointer to Telegram and Zalo, no subscription
        for text in ("đăng ký nhận tin", "/dangky", "hủy đăng ký ạ"):
            reply = await say(session, text)
            assert (reply["kind"], reply["answer"]) == ("bulletins", replies.WEB_NO_BULLETINS)
        assert "Telegram" in replies.WEB_NO_BULLETINS and "Zalo" in replies.WEB_NO_BULLETINS

        kept = {"state": 1, "citizens": 1, "questions": 2, "review_items": 1, "subscribers": 0, "sessions": 1,
                "messages": 1}
        assert _web_rows(spy, key) == kept
        # asked, then "Không xóa"; a button without a pending question; asked, then typed "không"
        asked = await say(session, "Xóa dữ liệu của tôi!")
        assert asked["kind"] == "erase_confirm" and asked["answer"].startswith(replies.ERASE_CONFIRM)
        assert replies.WEB_ERASE_ALSO in asked["answer"]
        no = (await http.post("/api/choose", json={"session": session, "erase": False})).json()
        assert (no["kind"], no["answer"], no["session"]) == ("erase_kept", replies.ERASE_KEPT, session)
        late = (await http.post("/api/choose", json={"session": session, "erase": True})).json()
        assert (late["kind"], late["answer"]) == ("erase_kept", replies.WEB_ERASE_EXPIRED)
        assert (await say(session, "/xoadulieu"))["kind"] == "erase_confirm"
        assert (await say(session, "không"))["answer"] == replies.ERASE_KEPT
        assert _web_rows(spy, key) == kept
        bad = await http.post("/api/choose", json={"session": session, "erase": "yes"})
        assert bad.status_code == 422

        # asked, then confirmed with the button: everything of this session goes, the session too
        assert (await say(session, "xoa du lieu cua toi"))["kind"] == "erase_confirm"
        done = (await http.post("/api/choose", json={"session": session, "erase": True})).json()
        assert (done["kind"], done["answer"], done["session"]) == ("erased", replies.ERASED, None)
        assert _web_rows(spy, key) == dict.fromkeys(kept, 0)
        assert (await http.get("/api/messages", params={"session": session})).json()["session"] is None
        after = await say(session, "dữ liệu của tôi")  # the old token: a new, empty session
        assert after["session"] != session and "• Câu hỏi bạn đã hỏi: 0 câu" in after["answer"]
        assert "• Xã, phường: chưa cho biết." in after["answer"]
        assert _web_rows(spy, session_key(other))["questions"] == 1  # only this citizen's data went


        # the other citizen confirms by typing
        assert (await say(other, "xóa dữ liệu của tôi"))["kind"] == "erase_confirm"
        typed = await say(other, "Xóa")
        assert (typed["kind"], typed["session"]) == ("erased", None)
    assert _web_rows(spy, session_key(other))["questions"] == 0
