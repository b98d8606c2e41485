"""Bulletins without channels: the file format, quiet hours, subscriptions, personal data and the
delivery rows (claim, confirm, uncertain, opt-out, blocked, two senders) over a fake Sender."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot import commands
from bot.bulletins.delivery import BroadcastError, BulletinStore, Busy, broadcast
from bot.bulletins.files import BulletinError, load_bulletin, markdown_to_text
from bot.bulletins.schedule import QuietHours
from bot.models import Citizen, Delivery, Subscriber, utcnow
from bot.outbound import SendResult
from bot.replies import citizens as replies
from bot.storage import make_engine, migrate
from bot.subscriptions import Subscriptions
from indexer.communes import Communes
from tests.conftest import ROOT

NO_QUIET = QuietHours.parse("")
MUONG_KIM, TAN_UYEN = "03637", "03640"


def bulletin_file(tmp_path: Path, name: str = "b.md", **fields: str) -> Path:
    values = {"id": "canh-bao-1", "title": "Cảnh báo ứng dụng giả", "topic": "canh-bao", "audience": "all", **fields}
    front = "".join(f"{k}: {v}\n" for k, v in values.items() if v is not None)
    body = fields.get("_body", "# Cảnh báo\n\nĐừng cài **ứng dụng lạ**.\n- Gọi [1900](https://dichvucong.gov.vn)\n")
    path = tmp_path / name
    path.write_text(f"---\n{front.replace('_body: ' + body, '')}---\n{body}", encoding="utf-8")
    return path


# -- the file ------------------------------------------------------------------------------------

def test_a_valid_file_renders_plain_text_with_the_closing_line(tmp_path):
    b = load_bulletin(bulletin_file(tmp_path, audience=f'["{MUONG_KIM}"]', send_at="2026-12-10T08:00:00+07:00"),
                      Communes.load(ROOT / "communes.yaml"))
    assert b.id == "canh-bao-1" and b.audience == (MUONG_KIM,)
    assert b.send_at == dt.datetime(2026, 12, 10, 1, 0, tzinfo=dt.UTC)
    assert b.text.startswith("📢 Bản tin Trợ lý số: Cảnh báo ứng dụng giả\n\nCảnh báo\n\nĐừng cài ứng dụng lạ.\n"
                             "• Gọi 1900 (https://dichvucong.gov.vn)")
    assert b.text.endswith(replies.BULLETIN_FOOTER) and "OTP" in b.text


def test_errors_carry_file_and_line(tmp_path):
    path = tmp_path / "bad.md"
    path.write_text("---\nid: Bad Id\ntitle: T\ntopic: canh-bao\naudience: [03637, 99999]\nsend_at: 2026-12-10 08:00\n"
                    "expires: 2026-12-01T00:00:00+07:00\ncolour: red\n---\n\n", encoding="utf-8")
    with pytest.raises(BulletinError) as exc:
        load_bulletin(path, Communes.load(ROOT / "communes.yaml"))
    lines = [str(i) for i in exc.value.issues]
    assert any(line.startswith(f"{path}:2: error: id 'Bad Id'") for line in lines)
    assert any(line.startswith(f"{path}:5: error: audience: '99999'") for line in lines)
    assert any(line.startswith(f"{path}:6: error: send_at") for line in lines)  # no offset
    assert any(line.startswith(f"{path}:8: error: unknown field 'colour'") for line in lines)
    assert any(line.startswith(f"{path}:10: error: the bulletin has no text") for line in lines)
    path.write_text("no front matter\n", encoding="utf-8")
    with pytest.raises(BulletinError, match=":1: error: a bulletin starts with front matter"):
        load_bulletin(path)


def test_expires_must_follow_send_at(tmp_path):
    path = bulletin_file(tmp_path, send_at="2026-12-10T08:00:00+07:00", expires="2026-12-09T08:00:00+07:00")
    with pytest.raises(BulletinError, match=r":7: error: expires must be after send_at"):
        load_bulletin(path)


def test_markdown_to_text():
    assert markdown_to_text("## Tiêu đề ##\n* một\n\n\n\n__hai__ *ba* 2*3*4") == "Tiêu đề\n• một\n\nhai ba 2*3*4"


# -- quiet hours -----------------------------------------------------------------------------------

def test_quiet_hours_cross_midnight_in_local_time():
    quiet = QuietHours.parse("21:00-07:00", "Asia/Ho_Chi_Minh")
    assert quiet.wait(dt.datetime(2026, 12, 6, 5, 0)) == 0  # 12:00 local
    assert quiet.wait(dt.datetime(2026, 12, 6, 15, 0)) == 9 * 3600  # 22:00 local -> 07:00
    assert quiet.wait(dt.datetime(2026, 12, 6, 23, 30)) == 30 * 60  # 06:30 local
    assert QuietHours.parse("").wait(dt.datetime(2026, 12, 6, 15, 0)) == 0
    with pytest.raises(ValueError, match="TROLYSO_QUIET_HOURS"):
        QuietHours.parse("9pm-7am")


# -- commands --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "name"), [
    ("/dangky", "subscribe"), ("Đăng ký nhận tin ạ", "subscribe"), ("dang ky nhan tin", "subscribe"),
    ("/huydangky", "unsubscribe"), ("hủy đăng ký", "unsubscribe"), ("Dừng nhận tin!", "unsubscribe"),
    ("/dulieu", "my_data"), ("dữ liệu của tôi", "my_data"), ("/xoadulieu", "erase"),
    ("xoa du lieu cua toi", "erase"), ("hướng dẫn đăng ký nhận tin nhắn VNeID", None),
])
def test_commands(text, name):
    command = commands.match(text)
    assert (command.name if command else None) == name


# -- the database ------------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    url = f"sqlite:///{tmp_path}/b.db" if request.param == "sqlite" else request.getfixturevalue("pg_schema_url")
    engine = make_engine(url)
    migrate(engine)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def add_subscribers(sessions, subs: Subscriptions, n: int, channel: str = "telegram", commune: str | None = None,
                    start: int = 0) -> list[str]:
    chats = []
    for i in range(start, start + n):
        chat = str(100_000 + i)
        subs.subscribe(channel, f"user{i}", chat)
        if commune:
            with sessions() as s, s.begin():
                s.add(Citizen(channel=channel, user_key=f"user{i}", commune_code=commune))
        chats.append(chat)
    return chats


class FakeSender:
    """Records every send; `outcomes[chat]` overrides the outcome; `hook(chat)` runs first."""

    def __init__(self, channel: str = "telegram", delay: float = 0.0) -> None:
        self.channel = channel
        self.sent: list[tuple[str, str]] = []
        self.outcomes: dict[str, SendResult] = {}
        self.hook = None
        self.delay = delay
        self.in_flight = self.most_in_flight = 0
        self.hang_after: int | None = None  # from this many sends on, the provider takes it and never answers

    async def start(self) -> None: ...
    async def stop(self) -> None: ...

    async def send_text(self, chat_id: str, text: str) -> SendResult:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.hook:
                self.hook(chat_id)
            await asyncio.sleep(self.delay)
            result = self.outcomes.get(chat_id, SendResult("sent"))
            if self.hang_after is not None and len(self.sent) >= self.hang_after:
                await asyncio.Event().wait()
            if result.outcome == "sent":
                self.sent.append((chat_id, text))
            if self.hang_after is not None and len(self.sent) >= self.hang_after:
                await asyncio.Event().wait()
            return result
        finally:
            self.in_flight -= 1


def register(sessions, tmp_path, **fields) -> tuple[BulletinStore, str]:
    store = BulletinStore(sessions)
    b = load_bulletin(bulletin_file(tmp_path, **fields))
    store.register(b)
    return store, b.id


def test_audience_opt_out_blocked_and_counts(sessions, tmp_path):
    subs = Subscriptions(sessions)
    kim = add_subscribers(sessions, subs, 25, commune=MUONG_KIM)
    uyen = add_subscribers(sessions, subs, 5, commune=TAN_UYEN, start=100)
    nobody = add_subscribers(sessions, subs, 5, start=200)  # no commune: only "all" bulletins
    store, bid = register(sessions, tmp_path, audience=f"[{MUONG_KIM}]")
    sender = FakeSender()
    sender.outcomes[kim[3]] = SendResult("refused", "telegram: Forbidden: bot was blocked by the user")
    sender.hook = lambda chat: subs.unsubscribe("telegram", "user20") if chat == kim[1] else None  # mid-broadcast

    outcome = asyncio.run(broadcast(store, bid, {"telegram": sender}, quiet=NO_QUIET, window=10))
    got = [chat for chat, _ in sender.sent]
    assert outcome.result == "done" and len(got) == len(set(got))
    assert set(got) == set(kim) - {kim[3], kim[20]}
    assert not set(got) & set(uyen + nobody)
    assert sender.most_in_flight <= 10
    assert outcome.counts.as_dict() == {"id": bid, "targets": 25, "delivered": 23, "failed": 1, "pending": 0,
                                        "opted_out": 1, "uncertain": 0}
    with sessions() as s:
        blocked = s.scalar(select(Subscriber).where(Subscriber.user_key == "user3"))
        left = s.scalar(select(Subscriber).where(Subscriber.user_key == "user20"))
    assert blocked.status == "inactive" and blocked.chat_id is None
    assert left.status == "opted_out" and left.chat_id is None  # deleted at once
    # run again: nothing more is sent
    again = asyncio.run(broadcast(store, bid, {"telegram": sender}, quiet=NO_QUIET))
    assert len(sender.sent) == 23 and again.counts == outcome.counts


def test_an_interrupted_run_leaves_its_claims_uncertain_and_resumes(sessions, tmp_path):
    subs = Subscriptions(sessions)
    chats = add_subscribers(sessions, subs, 40)
    store, bid = register(sessions, tmp_path)
    sender = FakeSender()
    sender.hang_after = 25  # the third batch: 5 taken by the provider, then the process dies

    async def killed() -> None:
        task = asyncio.create_task(broadcast(store, bid, {"telegram": sender}, quiet=NO_QUIET, window=10))
        while len(sender.sent) < 25 or sender.in_flight < 6:  # 4 answered, 1 taken, 5 not yet
            await asyncio.sleep(0.001)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(killed())
    sender.hang_after = None
    outcome = asyncio.run(broadcast(store, bid, {"telegram": sender}, quiet=NO_QUIET))
    got = [c for c, _ in sender.sent]
    assert len(got) == len(set(got))  # never twice
    counts = outcome.counts
    assert counts.uncertain == 10 and counts.delivered == 30 and len(got) == 35
    with sessions() as s:
        uncertain = set(s.scalars(select(Subscriber.chat_id).join(Delivery, Delivery.subscriber_id == Subscriber.id)
                                  .where(Delivery.status == "uncertain")))
    assert set(chats) - set(got) <= uncertain  # whoever got nothing is reported


def test_a_passing_failure_stops_the_run_with_few_uncertain(sessions, tmp_path):
    subs = Subscriptions(sessions)
    chats = add_subscribers(sessions, subs, 30)
    store, bid = register(sessions, tmp_path)
    sender = FakeSender()
    sender.outcomes[chats[12]] = SendResult("retry", "telegram: NetworkError: timed out")
    outcome = asyncio.run(broadcast(store, bid, {"telegram": sender}, quiet=NO_QUIET, window=10))
    assert outcome.result == "stopped"
    assert outcome.counts.uncertain == 1 and outcome.counts.pending == 10 and outcome.counts.delivered == 19
    sender.outcomes.clear()
    outcome = asyncio.run(broadcast(store, bid, {"telegram": sender}, quiet=NO_QUIET))
    assert outcome.result == "done" and outcome.counts.delivered == 29 and outcome.counts.uncertain == 1


def test_two_senders_at_once_double_nothing(sessions, tmp_path):
    subs = Subscriptions(sessions)
    add_subscribers(sessions, subs, 60)
    store, bid = register(sessions, tmp_path)
    sender = FakeSender(delay=0.005)
    results: list[object] = []

    def run() -> None:
        try:
            results.append(asyncio.run(broadcast(BulletinStore(sessions), bid, {"telegram": sender}, quiet=NO_QUIET)))
        except Busy as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = [c for c, _ in sender.sent]
    assert len(got) == len(set(got)) == 60
    assert any(isinstance(r, Busy) for r in results)


def test_expired_and_changed_bulletins(sessions, tmp_path):
    subs = Subscriptions(sessions)
    add_subscribers(sessions, subs, 3)
    store, bid = register(sessions, tmp_path, expires="2020-01-01T00:00:00+07:00")
    sender = FakeSender()
    outcome = asyncio.run(broadcast(store, bid, {"telegram": sender}, quiet=NO_QUIET))
    assert outcome.result == "expired" and sender.sent == []
    changed = load_bulletin(bulletin_file(tmp_path, "c.md", title="Khác"))
    with pytest.raises(BroadcastError, match="other content"):
        store.register(changed)


def test_quiet_hours_wait(sessions, tmp_path):
    subs = Subscriptions(sessions)
    add_subscribers(sessions, subs, 2)
    store, bid = register(sessions, tmp_path)
    waits: list[float] = []
    always = QuietHours.parse("00:00-23:59", "UTC")
    sender = FakeSender()

    async def sleep(seconds: float) -> None:  # "time passes": the window is gone
        waits.append(seconds)
        object.__setattr__(always, "start", None)

    outcome = asyncio.run(broadcast(store, bid, {"telegram": sender}, quiet=always, sleep=sleep))
    assert waits and outcome.counts.delivered == 2


def test_subscriptions_report_and_erase(sessions):
    subs = Subscriptions(sessions)
    assert subs.subscribe("zalo", "k1", "z1") is True
    assert subs.subscribe("zalo", "k1", "z1") is False
    assert subs.report("zalo", "k1").subscribed
    assert subs.unsubscribe("zalo", "k1") is True and subs.unsubscribe("zalo", "k1") is False
    assert subs.subscribe("zalo", "k1", "z1") is True
    from bot.models import Handoff, HandoffMessage

    with sessions() as s, s.begin():
        open_ = Handoff(channel="zalo", user_key="k1", chat_id="z1", summary="cần gặp cán bộ", status="taken")
        other = Handoff(channel="zalo", user_key="k9", chat_id="z9", summary="người khác", status="waiting")
        s.add_all([open_, other])
        s.flush()
        s.add_all([HandoffMessage(handoff_id=open_.id, direction="in", text="nhà tôi ở bản Nà Tăm"),
                   HandoffMessage(handoff_id=other.id, direction="in", text="của người khác")])
    counts = subs.erase("zalo", "k1")
    assert counts["subscribers"] == 1 and counts["handoff_messages"] == 1 and counts["handoffs"] == 1
    with sessions() as s:
        rows = {h.summary: h for h in s.query(Handoff)}
        assert set(rows) == {"", "người khác"}  # kept for the counts, anonymous
        erased = rows[""]
        assert (erased.user_key, erased.chat_id, erased.status, erased.closed_by) == ("", None, "closed", "citizen")
        assert rows["người khác"].status == "waiting" and rows["người khác"].user_key == "k9"
        assert [m.text for m in s.query(HandoffMessage)] == ["của người khác"]
    assert subs.report("zalo", "k1") == subs.report("zalo", "nobody")
    subs.subscribe("zalo", "k2", "z2")
    subs.unsubscribe("zalo", "k2")
    assert subs.purge_inactive(dt.timedelta(days=90)) == 0
    assert subs.purge_inactive(dt.timedelta(days=90), now=utcnow() + dt.timedelta(days=91)) == 1
