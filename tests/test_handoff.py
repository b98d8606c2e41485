"""Talking to a person (issue 16): working hours, scam words, the hand-off store, and end to end as
`serve` runs it through the fake Telegram and Zalo servers: a Zalo citizen of xã Mường Kim asks
for a person, the commune's group gets the post, a non-member is refused, a member takes it, three
messages flow both ways while the bot stays silent, a restart in the middle keeps it, the member
ends it and adds the citizen's wording to an FAQ entry as an alternate."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import text

from bot import commands
from bot.handoff import DEFAULT_HOURS, VIETNAM, HandoffStore, looks_like_scam, parse_hours, when_label
from bot.replies import citizens as replies
from bot.replies import reviewers as say
from indexer.faq import load_faq
from tests.channels.helpers import new_chat_id
from tests.review_fixtures import (
    COMMUNE_CHAT,
    COMMUNE_MEMBER,
    OUTSIDER,
    REVIEW_CHAT,
    REVIEWER,
    RICE,
    commune_apis,
    commune_env,
    running,
    wait,
)

ALWAYS_OPEN = "0:00-24:00 thứ Hai đến Chủ nhật"

# -- pure parts ---------------------------------------------------------------------------------


def test_working_hours_are_read_from_the_communes_wording():
    h = parse_hours("7:30-11:30, 13:30-17:00 thứ Hai đến thứ Sáu")
    assert h.ranges == ((450, 690), (810, 1020)) and h.days == frozenset(range(5))
    monday = dt.datetime(2026, 12, 14, 12, 0)  # a Monday, at lunch
    assert not h.open_at(monday) and h.next_open(monday) == monday.replace(hour=13, minute=30)
    friday_evening = dt.datetime(2026, 12, 18, 18, 0)
    assert h.next_open(friday_evening) == dt.datetime(2026, 12, 21, 7, 30)
    assert when_label(dt.datetime(2026, 12, 21, 7, 30)) == "7:30 thứ Hai (21/12)"
    assert parse_hours(None) == DEFAULT_HOURS and parse_hours("giờ hành chính") == DEFAULT_HOURS
    assert parse_hours("7h-11h thứ 2 - thứ 7").days == frozenset(range(6))
    assert parse_hours(ALWAYS_OPEN).open_at(dt.datetime(2026, 12, 20, 3, 0))  # a Sunday night


@pytest.mark.parametrize("words, scam", [
    ("Tôi đang bị lừa, họ bắt chuyển tiền", True), ("vua chuyen tien cho nguoi la", True),
    ("Vừa CK 5 triệu cho người tự xưng công an", True),
    ("vua ck cho no roi", True), ("VNeID mức 2 báo đang xử lý", False), ("chuyển tiền qua ngân hàng", False),
])
def test_scam_words(words, scam):
    assert looks_like_scam(words) is scam


def test_handoff_commands():
    for phrase in ("gặp cán bộ", "Gap can bo a", "nói chuyện với người thật", "/canbo", "hỏi cán bộ nhé"):
        assert commands.match(phrase).name == "handoff", phrase
    for phrase in ("kết thúc", "ket thuc", "/ketthuc"):
        assert commands.match(phrase).name == "end", phrase
    assert commands.match("cán bộ xã làm việc mấy giờ") is None


def test_the_store_keeps_an_open_handoff_and_forgets_the_chat_id_on_close(tmp_path):
    from bot.storage import Store

    store = Store(f"sqlite:///{tmp_path / 'h.db'}", tmp_path / "spool.jsonl")
    try:
        handoffs = HandoffStore(store.sessions, store.ensure_schema)
        view = handoffs.open("zalo", "k1", "chat-1", None, "Số căn cước của tôi là 012345678901, bị lỗi")
        assert "012345678901" not in view.summary  # redacted
        assert handoffs.active("zalo", "k1") == view and handoffs.active("telegram", "k1") is None
        handoffs.add(view.id, "post", "", group=(-100, 55))
        assert handoffs.by_group_message(-100, 55) == view.id and handoffs.posts(view.id) == {-100: 55}
        assert handoffs.take(view.id, 7, "Lan")[0] and not handoffs.take(view.id, 8, "Minh")[0]
        closed = handoffs.close(view.id, "team")
        assert closed is not None and closed.chat_id == "chat-1"
        assert handoffs.close(view.id, "team") is None
        assert handoffs.get(view.id).chat_id is None and handoffs.active("zalo", "k1") is None
    finally:
        store.close()


# -- end to end -----------------------------------------------------------------------------------

@pytest.fixture
def apis():
    with commune_apis() as both:
        yield both


@pytest.fixture
def env(tmp_path, small_index_dir, embedder, model_dir, apis):
    tg, zalo = apis
    e = commune_env(tmp_path, small_index_dir, embedder, model_dir, tg, zalo, handoff_hours=ALWAYS_OPEN)
    yield e
    e.store.close()


def in_group(tg, containing: str, chat: int = COMMUNE_CHAT) -> list[dict]:
    return [m for m in tg.messages_to(chat) if containing in m["_shown"]]


async def test_a_zalo_citizen_talks_to_the_communes_team_member(env, apis):
    tg, zalo = apis
    citizen = f"z{new_chat_id()}"
    said = lambda: zalo.messages_to(citizen)  # noqa: E731

    async with running(env):
        # the citizen tells their commune and asks what the bot cannot answer
        for n, words in enumerate(("doi xa", "Ta Mung", RICE), 1):
            zalo.push(zalo.text_update(citizen, words))
            await wait(zalo, lambda c, n=n: said()[n - 1:])
        assert said()[-1] == replies.UNANSWERED

        # 1. asking for a person: the last question is the summary; who answers; the warning
        zalo.push(zalo.text_update(citizen, "gặp cán bộ ạ"))
        await wait(zalo, lambda c: said()[3:])
        opened = said()[3]
        assert opened.startswith(replies.HANDOFF_OPENED.format(team="Tổ công nghệ số xã Mường Kim", summary=RICE))
        assert replies.HANDOFF_SOON in opened and replies.HANDOFF_WARNING in opened

        # 2. the commune's group gets the post (not the provincial one)
        [post] = await wait(tg, lambda c: in_group(tg, "Người dân cần gặp cán bộ"))
        hid = int(post["_shown"].split("#")[1].split(")")[0])
        assert RICE in post["_shown"] and "Zalo" in post["_shown"] and "xã Mường Kim" in post["_shown"]
        assert [t for t, _ in tg.buttons(post)] == [say.HANDOFF_BUTTON_TAKE, say.HANDOFF_BUTTON_PROVINCE,
                                                   say.HANDOFF_BUTTON_END]
        assert not in_group(tg, "Người dân cần gặp cán bộ", REVIEW_CHAT)

        # 3. someone outside the commune's group (and the province's) is refused
        tg.push(tg.callback_update(COMMUNE_CHAT, f"ho:t:{hid}", post["_message_id"], user_id=OUTSIDER))
        [alert] = await wait(tg, lambda c: [a for a in tg.answers() if a.get("show_alert")])
        assert alert["text"] == say.REFUSED
        with env.store.session() as s:
            assert s.execute(text("select status from handoffs where id = :i"), {"i": hid}).scalar() == "waiting"

        # 4. a member takes it; the citizen is told who
        tg.push(tg.callback_update(COMMUNE_CHAT, f"ho:t:{hid}", post["_message_id"], user_id=COMMUNE_MEMBER))
        await wait(tg, lambda c: in_group(tg, f"đã nhận #{hid}"))
        await wait(zalo, lambda c: said()[4:])
        assert said()[4] == replies.HANDOFF_TAKEN.format(name="Dân")

        # 5. three messages each way; the bot answers none of the citizen's (even an FAQ question)
        faq_question = env.assistant.index.target("vneid-quen-mat-khau").question
        citizen_says = ["VNeID của tôi báo đang xử lý đã 10 ngày", faq_question]
        member_says = ["Bạn đăng ký mức 2 ở đâu ạ?", "Bạn mang căn cước ra công an xã nhé."]
        for n, (mine, theirs) in enumerate(zip(citizen_says, member_says, strict=True)):
            zalo.push(zalo.text_update(citizen, mine))
            [relayed] = await wait(tg, lambda c, mine=mine: in_group(tg, mine))
            assert relayed["_shown"] == say.HANDOFF_FROM_CITIZEN.format(hid=hid, text=mine)
            tg.push(tg.text_update(COMMUNE_CHAT, theirs, user_id=COMMUNE_MEMBER,
                                   reply_to_message=tg.sent[relayed["_message_id"]]))
            await wait(zalo, lambda c, n=n: said()[5 + n:])
            assert said()[5 + n] == replies.HANDOFF_FROM_MEMBER.format(name="Dân", text=theirs)
        assert len(said()) == 7  # nothing but the member's two messages

    # 6. a restart in the middle: the hand-off is still open (its state is in the database)
    async with running(env) as services:
        assert services.handoff is not None
        # the fake Zalo server still holds the stopped poller's long poll for up to a second, and
        # would hand it (and lose) the next update
        await asyncio.sleep(1.5)
        third = "Cảm ơn, tôi sẽ ra công an xã"
        zalo.push(zalo.text_update(citizen, third))
        [relayed] = await wait(tg, lambda c: in_group(tg, third))
        tg.push(tg.text_update(COMMUNE_CHAT, "Vâng, chúc bạn thành công.", user_id=COMMUNE_MEMBER,
                               reply_to_message=tg.sent[relayed["_message_id"]]))
        await wait(zalo, lambda c: said()[7:])
        assert said()[7] == replies.HANDOFF_FROM_MEMBER.format(name="Dân", text="Vâng, chúc bạn thành công.")
        # a non-member's reply in the thread is refused and reaches nobody
        tg.push(tg.text_update(COMMUNE_CHAT, "xin chào", user_id=OUTSIDER,
                               reply_to_message=tg.sent[relayed["_message_id"]]))
        await wait(tg, lambda c: in_group(tg, say.REFUSED))
        assert len(said()) == 8

        # 7. the member ends it: both sides are told; the bot answers the citizen again
        tg.push(tg.callback_update(COMMUNE_CHAT, f"ho:e:{hid}", post["_message_id"], user_id=COMMUNE_MEMBER))
        [ended] = await wait(tg, lambda c: in_group(tg, f"đã kết thúc #{hid}"))
        await wait(zalo, lambda c: said()[8:])
        assert said()[8] == replies.HANDOFF_CLOSED_TEAM
        zalo.push(zalo.text_update(citizen, RICE))
        await wait(zalo, lambda c: said()[9:])
        assert said()[9] == replies.UNANSWERED

        # 8. two taps teach the bot: the citizen's wording becomes a learned wording of an FAQ entry
        [link] = [d for t, d in tg.buttons(ended) if t == say.HANDOFF_BUTTON_LINK]
        tg.push(tg.callback_update(COMMUNE_CHAT, link, ended["_message_id"], user_id=COMMUNE_MEMBER))
        [choices] = await wait(tg, lambda c: in_group(tg, f"#{hid}: chọn câu hỏi có sẵn"))
        first_label, pick = tg.buttons(choices)[0]
        tg.push(tg.callback_update(COMMUNE_CHAT, pick, choices["_message_id"], user_id=COMMUNE_MEMBER))
        [taught] = await wait(tg, lambda c: in_group(tg, "vào các câu người dân đã hỏi của mục"))
        faq_id = taught["_shown"].split("của mục ")[1].split()[0]
        entry = next(e for e in load_faq(env.faq).entries if e.id == faq_id)
        assert RICE in entry.learned and RICE not in entry.alternates
        with env.store.session() as s:
            row = s.execute(text("select status, closed_by, chat_id, faq_id from handoffs where id = :i"),
                            {"i": hid}).one()
            relays = s.execute(text("select direction, outcome from handoff_messages where handoff_id = :i "
                                    "and direction in ('in', 'out')"), {"i": hid}).all()
        assert tuple(row) == ("closed", "team", None, faq_id)
        assert sorted(relays) == [("in", "sent")] * 3 + [("out", "sent")] * 3


async def test_a_telegram_citizen_uses_the_button_and_ends_it_with_ket_thuc(env, apis):
    tg, _ = apis
    citizen = new_chat_id()
    async with running(env):
        tg.push(tg.text_update(citizen, "Tôi vừa chuyển tiền cho người lạ, giờ sao?"))
        [unanswered] = await wait(tg, lambda c: tg.messages_to(citizen))
        [ask] = [d for t, d in tg.buttons(unanswered) if t == replies.HANDOFF_BUTTON]
        tg.push(tg.callback_update(citizen, ask, unanswered["_message_id"], user_id=citizen))
        await wait(tg, lambda c: tg.messages_to(citizen)[2:])
        shown = tg.messages_to(citizen)[1:]
        # a scam in progress: the emergency steps at once, then who will answer
        assert shown[0]["_shown"].startswith(replies.HANDOFF_EMERGENCY)
        assert shown[1]["_shown"].startswith(replies.HANDOFF_OPENED.format(
            team=replies.HANDOFF_TEAM_PROVINCE, summary="Tôi vừa chuyển tiền cho người lạ, giờ sao?"))
        [post] = await wait(tg, lambda c: in_group(tg, "Người dân cần gặp cán bộ", REVIEW_CHAT))
        assert say.HANDOFF_SCAM in post["_shown"]
        assert say.HANDOFF_BUTTON_PROVINCE not in [t for t, _ in tg.buttons(post)]  # already the province's

        tg.push(tg.text_update(citizen, "/ketthuc"))
        await wait(tg, lambda c: tg.messages_to(citizen)[3:])
        assert tg.messages_to(citizen)[3]["_shown"] == replies.HANDOFF_CLOSED_CITIZEN
        await wait(tg, lambda c: in_group(tg, "Người dân đã kết thúc", REVIEW_CHAT))


async def test_without_a_question_the_bot_asks_for_a_summary_first(env, apis):
    tg, _ = apis
    citizen = new_chat_id()
    async with running(env):
        tg.push(tg.text_update(citizen, "/canbo"))
        await wait(tg, lambda c: tg.messages_to(citizen))
        assert tg.messages_to(citizen)[0]["_shown"] == replies.HANDOFF_ASK_SUMMARY
        tg.push(tg.text_update(citizen, "Không đăng nhập được Cổng dịch vụ công"))
        await wait(tg, lambda c: tg.messages_to(citizen)[1:])
        assert "“Không đăng nhập được Cổng dịch vụ công”" in tg.messages_to(citizen)[1]["_shown"]
        await wait(tg, lambda c: in_group(tg, "Không đăng nhập được Cổng dịch vụ công", REVIEW_CHAT))


async def test_a_web_chat_citizen_gets_the_members_messages_through_api_messages(env, apis):
    import httpx

    from bot.server import build_services
    from tests.channels.helpers import serving

    tg, _ = apis
    services = build_services(env.settings, env.assistant)
    async with serving(services.server()) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        asked = (await http.post("/api/chat", json={"session": None, "text": RICE})).json()
        session = asked["session"]
        opened = (await http.post("/api/chat", json={"session": session, "text": "gặp cán bộ"})).json()
        assert opened["kind"] == "handoff" and replies.HANDOFF_WARNING in opened["answer"]
        [post] = await wait(tg, lambda c: in_group(tg, "Người dân cần gặp cán bộ", REVIEW_CHAT))
        assert "trò chuyện trên web" in post["_shown"]
        quiet = (await http.post("/api/chat", json={"session": session, "text": "Tôi ở bản Nà Hừ"})).json()
        assert quiet["answer"] == ""  # the bot stays quiet: the message went to the group
        [relayed] = await wait(tg, lambda c: in_group(tg, "Tôi ở bản Nà Hừ", REVIEW_CHAT))
        tg.push(tg.text_update(REVIEW_CHAT, "Chào bạn, tôi gọi lại ngay.", user_id=REVIEWER,
                               reply_to_message=tg.sent[relayed["_message_id"]]))
        await wait(tg, lambda c: in_group(tg, say.HANDOFF_SENT, REVIEW_CHAT))
        later = (await http.get("/api/messages", params={"session": session, "after": 0})).json()["messages"]
        assert replies.HANDOFF_FROM_MEMBER.format(name="Dân", text="Chào bạn, tôi gọi lại ngay.") in \
            [m["text"] for m in later]
        ended = (await http.post("/api/chat", json={"session": session, "text": "kết thúc"})).json()
        assert ended["answer"] == replies.HANDOFF_CLOSED_CITIZEN


# -- the worker, with an injected clock --------------------------------------------------------

class _Clock:
    """Aware UTC time the tests move by hand."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at

    def naive(self) -> dt.datetime:
        return self.at.replace(tzinfo=None)


class _Desk:
    """The team's groups as the service sees them (bot.handoff.TeamDesk), recording what it is given."""

    def __init__(self) -> None:
        self.notices: list[str] = []
        self.relays: list[str] = []
        self.photos: list[tuple[str, str]] = []
        self.posted: list[tuple[int, str | None]] = []

    def chats(self, commune):
        return (-100,)

    async def open_topics(self, view):
        return []

    async def close_topics(self, topics):
        return None

    async def post(self, view, recent, later, scam, note=None, topics=None):
        self.posted.append((view.id, note))
        return [(-100, 500 + len(self.posted))]

    async def relay(self, view, text, posts, topics=None):
        self.relays.append(text)
        return [(-100, 600 + len(self.relays))]

    async def relay_photo(self, view, photo, caption, posts, topics=None):
        self.photos.append((photo.ref, caption))
        return [(-100, 700 + len(self.photos))]

    async def notice(self, view, text, posts, topics=None):
        self.notices.append(text)
        return [(-100, 800 + len(self.notices))]


class _Sender:
    """A citizen channel's sender whose next outcomes the test chooses (else `sent`)."""

    channel = "zalo"

    def __init__(self) -> None:
        self.outcomes: list[tuple[str, str]] = []
        self.texts: list[tuple[str, str]] = []
        self.photos: list[tuple[str, str, str]] = []

    def _next(self):
        from bot.outbound import SendResult

        outcome, problem = self.outcomes.pop(0) if self.outcomes else ("sent", "")
        return SendResult(outcome, problem, ("1",) if outcome == "sent" else ())

    async def send_text(self, chat_id, text):
        result = self._next()
        if result.ok:
            self.texts.append((chat_id, text))
        return result

    async def send_photo(self, chat_id, photo, caption=""):
        result = self._next()
        if result.ok:
            self.photos.append((chat_id, photo.ref, caption))
        return result


@pytest.fixture
def rig(tmp_path):
    """A HandoffService over a real database, with the desk and the citizen's sender faked and the
    clock in the test's hands (default hours: 7:30-17:00 Monday to Friday)."""
    from types import SimpleNamespace

    from bot.config import Settings
    from bot.handoff import HandoffService
    from bot.state import MemoryStateStore
    from bot.storage import Store

    store = Store(f"sqlite:///{tmp_path / 'h.db'}", tmp_path / "spool.jsonl")
    clock = _Clock(dt.datetime(2026, 12, 18, 11, 0, tzinfo=dt.UTC))  # Friday 18:00 in Vietnam
    handoffs = HandoffStore(store.sessions, store.ensure_schema, clock=clock.naive)
    settings = Settings(_env_file=None, data_dir=tmp_path, handoff_idle_hours=2)
    assistant = SimpleNamespace(communes=SimpleNamespace(get=lambda code: None))
    desk, sender = _Desk(), _Sender()
    service = HandoffService(settings, assistant, handoffs, {"zalo": sender}, MemoryStateStore(),
                             desk, clock=clock)
    yield SimpleNamespace(service=service, store=handoffs, clock=clock, desk=desk, sender=sender)
    store.close()


def _status(rig, hid):
    return rig.store.get(hid).status


async def test_a_waiting_request_counts_idle_time_only_in_working_hours(rig):
    view = rig.store.open("zalo", "k1", "chat-1", None, "VNeID báo đang xử lý")  # Friday 18:00
    for day, hour in ((19, 12), (20, 23), (21, 7)):  # Saturday noon, Sunday night, Monday 7:00 (VN)
        rig.clock.at = dt.datetime(2026, 12, day, hour, 0, tzinfo=VIETNAM).astimezone(dt.UTC)
        await rig.service.sweep()
        assert _status(rig, view.id) == "waiting", (day, hour)
    rig.clock.at = dt.datetime(2026, 12, 21, 9, 29, tzinfo=VIETNAM).astimezone(dt.UTC)  # 1 h 59 of work
    await rig.service.sweep()
    assert _status(rig, view.id) == "waiting" and not rig.sender.texts and not rig.desk.notices
    rig.clock.at = dt.datetime(2026, 12, 21, 9, 31, tzinfo=VIETNAM).astimezone(dt.UTC)
    await rig.service.sweep()
    # closed, with the closing message to both sides
    assert _status(rig, view.id) == "closed" and rig.store.get(view.id).chat_id is None
    assert rig.sender.texts == [("chat-1", replies.HANDOFF_CLOSED_IDLE)]
    assert rig.desk.notices == [say.HANDOFF_ENDED_IDLE.format(hid=view.id, hours="2")]


async def test_a_taken_handoff_closes_after_its_idle_time_on_the_clock(rig):
    view = rig.store.open("zalo", "k1", "chat-1", None, "VNeID báo đang xử lý")
    assert rig.store.take(view.id, 7, "Lan")[0]  # a member took it on Friday evening
    rig.clock.at += dt.timedelta(hours=1, minutes=59)
    await rig.service.sweep()
    assert _status(rig, view.id) == "taken"
    rig.clock.at += dt.timedelta(minutes=2)  # Friday 20:01: the member's own time, not office hours
    await rig.service.sweep()
    assert _status(rig, view.id) == "closed"
    assert rig.sender.texts == [("chat-1", replies.HANDOFF_CLOSED_IDLE)] and len(rig.desk.notices) == 1


def test_working_time_between_two_moments():
    friday = dt.datetime(2026, 12, 18, 16, 0)
    # Friday 16:00-17:00, then Monday 7:30-16:00
    assert DEFAULT_HOURS.worked(friday, friday + dt.timedelta(days=3)) == dt.timedelta(hours=9, minutes=30)
    lunch = parse_hours("7:30-11:30, 13:30-17:00")
    monday = dt.datetime(2026, 12, 21, 11, 0)
    assert lunch.worked(monday, monday.replace(hour=14)) == dt.timedelta(hours=1)
    assert lunch.worked(monday, monday) == dt.timedelta() == lunch.worked(monday, friday)


def _relays(rig, hid):
    from sqlalchemy import select

    from bot.models import HandoffMessage

    with rig.store._s() as s:
        return [(m.direction, m.kind, m.outcome, m.pending) for m in s.scalars(
            select(HandoffMessage).where(HandoffMessage.handoff_id == hid, HandoffMessage.direction == "out"))]


async def test_the_worker_sends_a_failed_relay_to_the_citizen_again(rig):
    view = rig.store.open("zalo", "k1", "chat-1", None, "VNeID báo đang xử lý")
    rig.sender.outcomes = [("sent", ""), ("retry", "zalo: Zalo API error 500")]  # taken notice; the relay
    relayed = await rig.service.relay_out(view.id, 7, "Lan", "Số CCCD 012345678901 của bạn đúng chưa?")
    assert relayed is not None and relayed.result.outcome == "retry"
    signed = replies.HANDOFF_FROM_MEMBER.format(name="Lan", text="Số CCCD 012345678901 của bạn đúng chưa?")
    [(_, kind, outcome, pending)] = _relays(rig, view.id)
    assert (kind, outcome, pending) == ("text", "retry", signed)  # the full text waits, only while it waits

    await rig.service.sweep()
    assert rig.sender.texts[-1] == ("chat-1", signed)
    assert _relays(rig, view.id) == [("out", "text", "sent", None)]
    await rig.service.sweep()  # delivered once
    assert [t for _, t in rig.sender.texts].count(signed) == 1 and not rig.desk.notices


async def test_a_relay_that_can_never_be_delivered_is_reported_to_the_team(rig):
    view = rig.store.open("zalo", "k1", "chat-1", None, "VNeID báo đang xử lý")
    rig.store.take(view.id, 7, "Lan")
    rig.sender.outcomes = [("retry", "zalo: timeout"), ("refused", "zalo: Zalo API error 403: blocked")]
    await rig.service.relay_out(view.id, 7, "Lan", "Bạn còn cần giúp không?")
    await rig.service.sweep()
    assert rig.desk.notices == [say.HANDOFF_UNDELIVERABLE.format(hid=view.id,
                                                                 problem="zalo: Zalo API error 403: blocked")]
    assert _relays(rig, view.id) == [("out", "text", "refused", None)]
    await rig.service.sweep()  # reported once, never sent again
    assert len(rig.desk.notices) == 1 and not rig.sender.texts


async def test_chuyen_tinh_passes_the_handoff_to_the_provincial_group(env, apis):
    tg, zalo = apis
    citizen = f"z{new_chat_id()}"
    said = lambda: zalo.messages_to(citizen)  # noqa: E731
    async with running(env):
        for n, words in enumerate(("doi xa", "Ta Mung", "gặp cán bộ"), 1):
            zalo.push(zalo.text_update(citizen, words))
            await wait(zalo, lambda c, n=n: said()[n - 1:])
        zalo.push(zalo.text_update(citizen, "Tài khoản VNeID bị khóa"))
        await wait(zalo, lambda c: said()[3:])
        [post] = await wait(tg, lambda c: in_group(tg, "Người dân cần gặp cán bộ"))
        hid = int(post["_shown"].split("#")[1].split(")")[0])

        # the commune's member passes it up: the province's group gets the post, with where it came from
        tg.push(tg.callback_update(COMMUNE_CHAT, f"ho:p:{hid}", post["_message_id"], user_id=COMMUNE_MEMBER))
        [up] = await wait(tg, lambda c: in_group(tg, "Người dân cần gặp cán bộ", REVIEW_CHAT))
        assert say.HANDOFF_TRANSFERRED_NOTE.format(commune="xã Mường Kim") in up["_shown"]
        assert "Tài khoản VNeID bị khóa" in up["_shown"]
        assert say.HANDOFF_BUTTON_PROVINCE not in [t for t, _ in tg.buttons(up)]
        await wait(tg, lambda c: in_group(tg, say.HANDOFF_TRANSFERRED.format(who="Dân", hid=hid)))
        with env.store.session() as s:
            row = s.execute(text("select status, commune from handoffs where id = :i"), {"i": hid}).one()
        assert tuple(row) == ("waiting", None)

        # the citizen's next message goes to the province's thread only
        zalo.push(zalo.text_update(citizen, "Tôi ở bản Nà Hừ"))
        [relayed] = await wait(tg, lambda c: in_group(tg, "Tôi ở bản Nà Hừ", REVIEW_CHAT))
        assert relayed["reply_parameters"]["message_id"] == up["_message_id"]
        assert not in_group(tg, "Tôi ở bản Nà Hừ")

        # the commune's member no longer handles it; the province's member does
        tg.push(tg.text_update(COMMUNE_CHAT, "Để tôi xem", user_id=COMMUNE_MEMBER,
                               reply_to_message=tg.sent[post["_message_id"]]))
        await wait(tg, lambda c: in_group(tg, say.REFUSED))
        tg.push(tg.text_update(REVIEW_CHAT, "Tỉnh đã nhận, bạn chờ chút nhé.", user_id=REVIEWER,
                               reply_to_message=tg.sent[relayed["_message_id"]]))
        await wait(zalo, lambda c: [t for t in said() if "Tỉnh đã nhận" in t])
        assert said()[-2:] == [replies.HANDOFF_TAKEN.format(name="Dân"),
                               replies.HANDOFF_FROM_MEMBER.format(name="Dân", text="Tỉnh đã nhận, bạn chờ chút nhé.")]
        assert not [t for t in said() if "Để tôi xem" in t]


# -- photos -----------------------------------------------------------------------------------------

def _stored(env, hid):
    with env.store.session() as s:
        return [tuple(r) for r in s.execute(text(
            "select direction, kind, text, outcome, media from handoff_messages where handoff_id = :i "
            "and direction in ('in', 'out') order by id"), {"i": hid}).all()]


async def test_photos_from_a_zalo_citizen_reach_the_group_and_the_member_is_told_zalo_takes_none(env, apis):
    tg, zalo = apis
    citizen = f"z{new_chat_id()}"
    said = lambda: zalo.messages_to(citizen)  # noqa: E731
    async with running(env):
        zalo.push(zalo.image_update(citizen))  # no hand-off: the bot reads text only
        await wait(zalo, lambda c: said())
        assert said() == [replies.TEXT_ONLY]
        for n, words in enumerate(("doi xa", "Ta Mung", "gặp cán bộ", "Ứng dụng VNeID báo lỗi"), 2):
            zalo.push(zalo.text_update(citizen, words))
            await wait(zalo, lambda c, n=n: said()[n - 1:])
        [post] = await wait(tg, lambda c: in_group(tg, "Người dân cần gặp cán bộ"))
        hid = int(post["_shown"].split("#")[1].split(")")[0])

        # the citizen's screenshot goes into the thread as a photo; the citizen is reminded
        shot = "https://photo-stal-2.zdn.vn/abc/loi-vneid.jpg"
        zalo.push(zalo.image_update(citizen, shot, caption="Máy báo thế này, SĐT tôi 0912345678"))
        [photo] = await wait(tg, lambda c: tg.photos_to(COMMUNE_CHAT))
        assert photo["photo"] == shot and photo["reply_parameters"]["message_id"] == post["_message_id"]
        assert photo["_shown"] == say.HANDOFF_PHOTO_FROM_CITIZEN.format(
            hid=hid, caption=":\nMáy báo thế này, SĐT tôi 0912345678")  # in full to the team
        await wait(zalo, lambda c: said()[5:])
        assert said()[5] == replies.HANDOFF_PHOTO_REMINDER

        # a link Telegram cannot fetch still reaches the team, as the link
        zalo.push(zalo.image_update(citizen, "https://photo-stal-2.zdn.vn/abc/b.jpg"))
        tg.unreachable.add("https://photo-stal-2.zdn.vn/abc/b.jpg")
        await wait(tg, lambda c: in_group(tg, "https://photo-stal-2.zdn.vn/abc/b.jpg"))

        # a member's photo cannot go to Zalo (its Bot API sends only links): the member is told
        tg.push(tg.photo_update(COMMUNE_CHAT, "Bạn làm theo ảnh này", user_id=COMMUNE_MEMBER,
                                reply_to_message=tg.sent[photo["_message_id"]]))
        await wait(tg, lambda c: in_group(tg, say.HANDOFF_PHOTO_UNSUPPORTED.format(hid=hid, channel="Zalo")))
        # replying to the photo (a caption, no text) is replying in the thread
        tg.push(tg.text_update(COMMUNE_CHAT, "Bạn gỡ ứng dụng rồi cài lại nhé.", user_id=COMMUNE_MEMBER,
                               reply_to_message=tg.sent[photo["_message_id"]]))
        await wait(zalo, lambda c: [t for t in said() if "cài lại" in t])
        assert not zalo.photos_to(citizen)
        assert said()[-3:] == [replies.HANDOFF_PHOTO_REMINDER, replies.HANDOFF_TAKEN.format(name="Dân"),
                               replies.HANDOFF_FROM_MEMBER.format(name="Dân", text="Bạn gỡ ứng dụng rồi cài lại nhé.")]
    stored = _stored(env, hid)
    assert [(d, k) for d, k, *_ in stored] == [("in", "photo"), ("in", "photo"), ("out", "text")]
    assert "0912345678" not in stored[0][2] and "Máy báo thế này" in stored[0][2]  # redacted caption
    assert all(media is None for *_, media in stored)  # no photo reference kept


async def test_photos_flow_both_ways_for_a_telegram_citizen(env, apis):
    tg, _ = apis
    citizen = new_chat_id()
    shown = lambda: [m["_shown"] for m in tg.messages_to(citizen)]  # noqa: E731
    async with running(env):
        tg.push(tg.photo_update(citizen))  # no hand-off: the bot reads text only
        await wait(tg, lambda c: shown())
        assert shown() == [replies.TEXT_ONLY]
        tg.push(tg.text_update(citizen, "/canbo"))
        await wait(tg, lambda c: shown()[1:])
        tg.push(tg.text_update(citizen, "Không đăng nhập được Cổng dịch vụ công"))
        await wait(tg, lambda c: shown()[2:])
        [post] = await wait(tg, lambda c: in_group(tg, "Người dân cần gặp cán bộ", REVIEW_CHAT))
        hid = int(post["_shown"].split("#")[1].split(")")[0])

        sent = tg.photo_update(citizen, "Lỗi như ảnh")
        largest = sent["message"]["photo"][-1]["file_id"]
        tg.push(sent)
        [photo] = await wait(tg, lambda c: tg.photos_to(REVIEW_CHAT))
        assert photo["photo"] == largest and photo["reply_parameters"]["message_id"] == post["_message_id"]
        assert photo["_shown"] == say.HANDOFF_PHOTO_FROM_CITIZEN.format(hid=hid, caption=":\nLỗi như ảnh")
        await wait(tg, lambda c: shown()[3:])
        assert shown()[3] == replies.HANDOFF_PHOTO_REMINDER

        # the member answers with a photo of the right screen: the citizen gets it, signed
        answer = tg.photo_update(REVIEW_CHAT, "Bấm vào đây nhé", user_id=REVIEWER,
                                 reply_to_message=tg.sent[photo["_message_id"]])
        tg.push(answer)
        [back] = await wait(tg, lambda c: tg.photos_to(citizen))
        assert back["photo"] == answer["message"]["photo"][-1]["file_id"]
        assert back["_shown"] == replies.HANDOFF_FROM_MEMBER.format(name="Dân", text="Bấm vào đây nhé")
        await wait(tg, lambda c: in_group(tg, say.HANDOFF_SENT, REVIEW_CHAT))
        assert shown()[4] == replies.HANDOFF_TAKEN.format(name="Dân")  # replying took it
    assert [(d, k, t, o) for d, k, t, o, _ in _stored(env, hid)] == [
        ("in", "photo", "Lỗi như ảnh", "sent"), ("out", "photo", "Bấm vào đây nhé", "sent")]


async def test_the_worker_sends_a_failed_photo_again_and_then_forgets_its_reference(rig):
    from bot.outbound import Photo

    view = rig.store.open("zalo", "k1", "chat-1", None, "VNeID báo đang xử lý")
    rig.store.take(view.id, 7, "Lan")
    shot = Photo("link", "https://example.org/huong-dan.jpg")
    rig.sender.outcomes = [("retry", "zalo: Zalo API error 502")]
    relayed = await rig.service.relay_photo_out(view.id, 7, "Lan", shot, "")
    assert relayed is not None and relayed.result.outcome == "retry"
    with rig.store._s() as s:
        assert s.execute(text("select media from handoff_messages where direction = 'out'")).scalar() == \
            "link:https://example.org/huong-dan.jpg"
    await rig.service.sweep()
    assert rig.sender.photos == [("chat-1", shot.ref, "👤 Lan (tổ công nghệ số cộng đồng):")]
    assert _relays(rig, view.id) == [("out", "photo", "sent", None)]
    with rig.store._s() as s:
        assert s.execute(text("select media from handoff_messages where direction = 'out'")).scalar() is None
    # a Telegram photo cannot go to a Zalo citizen: nothing is stored or sent
    refused = await rig.service.relay_photo_out(view.id, 7, "Lan", Photo("telegram", "AgAC-1"), "")
    assert refused is not None and refused.unsupported and len(_relays(rig, view.id)) == 1


async def from_muong_kim_ask_for_a_person(zalo, citizen: str) -> None:  # type: ignore[no-untyped-def]
    """A Zalo citizen tells the bot they live in (former) Tà Mung, asks RICE, then for a person."""
    for n, words in enumerate(("doi xa", "Ta Mung", RICE, "gặp cán bộ"), 1):
        zalo.push(zalo.text_update(citizen, words))
        await wait(zalo, lambda c, n=n: zalo.messages_to(citizen)[n - 1:])


async def test_in_a_forum_group_each_handoff_gets_its_own_topic(env, apis):
    """A group with topics (getChat: is_forum): the hand-off opens a topic named after the
    citizen's summary; everything about it goes there (message_thread_id); a member's message in
    the topic reaches the citizen without replying to anything; ending it closes the topic."""
    tg, zalo = apis
    tg.forums.add(COMMUNE_CHAT)
    citizen = f"z{new_chat_id()}"
    said = lambda: zalo.messages_to(citizen)  # noqa: E731
    async with running(env):
        await from_muong_kim_ask_for_a_person(zalo, citizen)
        [post] = await wait(tg, lambda c: in_group(tg, "Người dân cần gặp cán bộ"))
        hid = int(post["_shown"].split("#")[1].split(")")[0])
        [created] = [c.params for c in tg.calls_of("createForumTopic") if c.status == 200]
        assert created["name"] == f"#{hid} {RICE}"
        thread = int(post["message_thread_id"])
        assert tg.topics[(COMMUNE_CHAT, thread)] == {"name": f"#{hid} {RICE}", "closed": False}
        assert "reply_parameters" not in post  # no reply chain inside the topic

        # the citizen's message goes into the topic
        zalo.push(zalo.text_update(citizen, "VNeID báo đang xử lý"))
        [relayed] = await wait(tg, lambda c: in_group(tg, "VNeID báo đang xử lý"))
        assert int(relayed["message_thread_id"]) == thread

        # a non-member writing in the topic is refused
        tg.push(tg.topic_update(COMMUNE_CHAT, thread, "xin chào", user_id=OUTSIDER))
        [refused] = await wait(tg, lambda c: in_group(tg, say.REFUSED))
        assert int(refused["message_thread_id"]) == thread

        # a member writes in the topic (replying to nothing): it reaches the citizen and takes it
        tg.push(tg.topic_update(COMMUNE_CHAT, thread, "Bạn đăng ký ở đâu ạ?", user_id=COMMUNE_MEMBER))
        await wait(zalo, lambda c: [t for t in said() if "Bạn đăng ký ở đâu" in t])
        assert said()[-2:] == [replies.HANDOFF_TAKEN.format(name="Dân"),
                               replies.HANDOFF_FROM_MEMBER.format(name="Dân", text="Bạn đăng ký ở đâu ạ?")]
        [ok] = await wait(tg, lambda c: in_group(tg, say.HANDOFF_SENT))
        assert int(ok["message_thread_id"]) == thread

        # "kết thúc" in the topic ends it: both sides told, the topic closed
        tg.push(tg.topic_update(COMMUNE_CHAT, thread, "kết thúc", user_id=COMMUNE_MEMBER))
        [ended] = await wait(tg, lambda c: in_group(tg, f"đã kết thúc #{hid}"))
        assert int(ended["message_thread_id"]) == thread
        await wait(tg, lambda c: [x for x in c if x.method == "closeForumTopic" and x.status == 200])
        assert tg.topics[(COMMUNE_CHAT, thread)]["closed"]
        await wait(zalo, lambda c: said()[-1] == replies.HANDOFF_CLOSED_TEAM)
        # every bot message of the hand-off in that group went into its topic
        assert all(int(m.get("message_thread_id") or 0) == thread for m in tg.messages_to(COMMUNE_CHAT)
                   if f"#{hid}" in m["_shown"])
    with env.store.session() as s:
        assert s.execute(text("select status from handoffs where id = :i"), {"i": hid}).scalar() == "closed"


async def test_a_citizen_ending_it_closes_the_topic_and_ordinary_groups_keep_reply_chains(env, apis):
    tg, zalo = apis
    tg.forums.add(COMMUNE_CHAT)
    citizen = f"z{new_chat_id()}"
    async with running(env):
        await from_muong_kim_ask_for_a_person(zalo, citizen)
        [post] = await wait(tg, lambda c: in_group(tg, "Người dân cần gặp cán bộ"))
        thread = int(post["message_thread_id"])
        zalo.push(zalo.text_update(citizen, "kết thúc"))
        await wait(tg, lambda c: [x for x in c if x.method == "closeForumTopic" and x.status == 200])
        [note] = in_group(tg, "Người dân đã kết thúc")
        assert int(note["message_thread_id"]) == thread and tg.topics[(COMMUNE_CHAT, thread)]["closed"]
    # the provincial group is an ordinary group: no topic was asked for there
    assert all(int(c.params["chat_id"]) == COMMUNE_CHAT for c in tg.calls_of("createForumTopic"))


async def test_a_members_photo_reaches_a_zalo_citizen_through_a_short_lived_link_of_ours(
        tmp_path, small_index_dir, embedder, model_dir, apis):
    """With TROLYSO_PUBLIC_URL set (webhooks), Zalo gets `<public url>/media/<token>`: Zalo fetches
    it and the app streams the photo from Telegram (getFile) without showing Telegram's link (it
    holds the bot token); a guessed or expired token is a 404; nothing of the photo is stored."""
    import httpx

    from bot.server import build_services
    from tests.channels.helpers import serving

    tg, zalo = apis
    hooks = {"telegram": "tg-hook-secret-1234", "zalo": "zalo-hook-secret-1234"}
    env = commune_env(tmp_path, small_index_dir, embedder, model_dir, tg, zalo, handoff_hours=ALWAYS_OPEN,
                      public_url="https://bot.example.org", telegram_webhook_secret=hooks["telegram"],
                      zalo_webhook_secret=hooks["zalo"], media_link_seconds=3)
    citizen = f"z{new_chat_id()}"
    said = lambda: zalo.messages_to(citizen)  # noqa: E731
    try:
        services = build_services(env.settings, env.assistant)
        async with serving(services.server()) as base, httpx.AsyncClient(base_url=base) as http:
            for n, words in enumerate(("doi xa", "Ta Mung", RICE, "gặp cán bộ"), 1):
                r = await http.post("/zalo/webhook", json=zalo.text_update(citizen, words),
                                    headers={"X-Bot-Api-Secret-Token": hooks["zalo"]})
                assert r.status_code == 200
                await wait(zalo, lambda c, n=n: said()[n - 1:])
            [post] = await wait(tg, lambda c: in_group(tg, "Người dân cần gặp cán bộ"))
            hid = int(post["_shown"].split("#")[1].split(")")[0])

            answer = tg.photo_update(COMMUNE_CHAT, "Bạn bấm vào đây nhé", user_id=COMMUNE_MEMBER,
                                     reply_to_message=tg.sent[post["_message_id"]])
            r = await http.post("/telegram/webhook", json={"update_id": tg.next_update_id(), **answer},
                                headers={"X-Telegram-Bot-Api-Secret-Token": hooks["telegram"]})
            assert r.status_code == 200
            [(link, caption)] = await wait(zalo, lambda c: zalo.photos_to(citizen))
            assert caption == replies.HANDOFF_FROM_MEMBER.format(name="Dân", text="Bạn bấm vào đây nhé")
            assert link.startswith("https://bot.example.org/media/") and tg.token.split(":")[1] not in link

            # Zalo fetches the link: the largest size of the member's photo, streamed from Telegram
            path = link.removeprefix("https://bot.example.org")
            got = await http.get(path)
            assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
            assert got.content == tg.file_bytes(answer["message"]["photo"][-1]["file_id"])
            assert got.headers["cache-control"] == "no-store" and tg.downloads
            assert tg.token.encode() not in got.content and tg.token not in str(got.headers)
            await wait(tg, lambda c: in_group(tg, say.HANDOFF_SENT))

            assert (await http.get("/media/" + "A" * 43)).status_code == 404  # a guessed token
            assert (await http.get("/media/x")).status_code == 404
            await asyncio.sleep(3.5)
            assert (await http.get(path)).status_code == 404  # expired
        assert [(d, k, t, o, m) for d, k, t, o, m in _stored(env, hid)] == [
            ("out", "photo", "Bạn bấm vào đây nhé", "sent", None)]  # no link, no bytes
    finally:
        env.store.close()


async def test_a_members_photo_for_zalo_that_failed_gets_a_fresh_link_when_sent_again(rig):
    """The stored reference of a photo waiting for a second attempt is Telegram's file id, never
    a link of ours (links expire): each attempt mints its own."""
    from bot.outbound import Photo

    minted: list[str] = []

    class Links:
        async def link(self, photo):
            minted.append(photo.ref)
            return Photo("link", f"https://bot.example.org/media/t{len(minted)}")

    rig.service.media = Links()
    view = rig.store.open("zalo", "k1", "chat-1", None, "VNeID báo đang xử lý")
    rig.store.take(view.id, 7, "Lan")
    rig.sender.outcomes = [("retry", "zalo: Zalo API error 502")]
    relayed = await rig.service.relay_photo_out(view.id, 7, "Lan", Photo("telegram", "AgAC-1"), "")
    assert relayed is not None and not relayed.unsupported and relayed.result.outcome == "retry"
    with rig.store._s() as s:
        assert s.execute(text("select media from handoff_messages where direction = 'out'")).scalar() == \
            "telegram:AgAC-1"
    await rig.service.sweep()
    assert minted == ["AgAC-1", "AgAC-1"]
    assert rig.sender.photos == [("chat-1", "https://bot.example.org/media/t2", "👤 Lan (tổ công nghệ số cộng đồng):")]
