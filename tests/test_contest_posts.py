"""The weekly contest leaderboard posted to the admin chats (issue 17), end to end through the
fake Telegram server with an injected clock: the right commune board from known rounds, posted
once by two replicas (SQLite file and PostgreSQL), the whole contest after its last week, and
nothing stale after a long downtime."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.channels.telegram.sender import TelegramSender
from bot.contest_posts import ContestPoster, due_week
from bot.contests import ContestBook, ContestResults
from bot.outbound import RetryPolicy
from bot.storage import Store
from indexer.communes import Communes
from indexer.quiz import load_contests
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.test_contests import CONTESTS

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
ROOT = Path(__file__).parents[1]
KIM, KHOEN = "03637", "03640"  # xã Mường Kim, xã Khoen On (communes.yaml)


def replica(api: FakeTelegramAPI, url: str, tmp: Path, name: str,
            now: dt.datetime) -> tuple[ContestPoster, Store]:
    (tmp / "contests.yaml").write_text(CONTESTS, "utf-8")
    store = Store(url, tmp / f"{name}-spool.jsonl")
    book = ContestBook(tmp / "contests.yaml")
    sender = TelegramSender.connect(api.token, api.base_url, RetryPolicy(max_retries=1, backoff=0.01))
    poster = ContestPoster(book, ContestResults(store.sessions, store.ensure_schema), store.sessions, sender,
                           [-100, 42], Communes.load(ROOT / "communes.yaml"), store.ensure_schema,
                           clock=lambda: now, owner=name)
    return poster, store


def play(store: Store) -> None:
    """Week 1 (4-10 Jan 2027): Mường Kim 5 citizens (scores 5,4,3,4,4 + a second day 5: 25/30),
    Khoen On 3 citizens (not ranked), one citizen without a commune. Week 2: Mường Kim 5 again."""
    results = ContestResults(store.sessions, store.ensure_schema)
    day1, day2, week2 = dt.date(2027, 1, 4), dt.date(2027, 1, 5), dt.date(2027, 1, 12)
    for n, score in enumerate([5, 4, 3, 4, 4]):
        results.record("cds-2027", f"kim{n}", "telegram", KIM, day1, score, 5)
        results.record("cds-2027", f"kim{n}", "zalo", KIM, week2, 2, 5)
    results.record("cds-2027", "kim0", "telegram", KIM, day2, 5, 5)
    for n in range(3):
        results.record("cds-2027", f"khoen{n}", "zalo", KHOEN, day1, 5, 5)
    results.record("cds-2027", "nowhere", "zalo", None, day1, 1, 5)
    results.record("other", "kim0", "zalo", KIM, day1, 0, 5)  # another contest: not counted


def test_the_week_due():
    [contest] = load_contests_text()
    at = lambda *a: dt.datetime(*a, tzinfo=TZ)  # noqa: E731
    assert due_week(contest, at(2027, 1, 11, 7, 59)) is None  # week 1 ends on the 10th; posted at 08:00
    assert due_week(contest, at(2027, 1, 11, 8, 0))[0] == 1  # type: ignore[index]
    assert due_week(contest, at(2027, 1, 17, 23, 0))[0] == 1  # type: ignore[index]
    assert due_week(contest, at(2027, 1, 18, 8, 0))[0] == 2  # type: ignore[index]
    assert due_week(contest, at(2027, 1, 25, 8, 0)) is None  # more than a week late: stale


def load_contests_text():
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "contests.yaml"
        path.write_text(CONTESTS, "utf-8")
        return load_contests(path).contests


async def test_two_replicas_post_the_week_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    now = dt.datetime(2027, 1, 11, 8, 0, 30, tzinfo=TZ)
    with FakeTelegramAPI() as api:
        (a, sa), (b, sb) = (replica(api, url, tmp_path, n, now) for n in ("a", "b"))
        play(sa)
        sent = await asyncio.gather(a.run_once(), b.run_once())
        assert sorted(sum(sent, [])) == [("cds-2027", 1)]  # one replica won the claim
        for chat in (-100, 42):
            [message] = api.messages_to(chat)
            shown = message["_shown"]
            assert "bảng xếp hạng tuần 1 (04/01/2027 – 10/01/2027)" in shown
            assert ("1. xã Mường Kim: 5 người tham gia, 6 lượt, điểm trung bình 4,2, đúng 83%" in shown), shown
            assert "Khoen On" not in shown
            assert "(1 xã, phường có dưới 5 người tham gia chưa được xếp hạng.)" in shown
            assert "Kết quả cả cuộc thi" not in shown  # not the last week
        assert await a.run_once() == [] and await b.run_once() == []  # a restart: nothing more
        assert len(api.messages_to(42)) == 1
        # the last week: its board and the whole contest's
        for r in (a, b):
            r.clock = lambda: dt.datetime(2027, 1, 18, 9, 0, tzinfo=TZ)
        assert await a.run_once() == [("cds-2027", 2)] and await b.run_once() == []
        last = api.messages_to(-100)[-1]["_shown"]
        assert "tuần 2 (11/01/2027 – 17/01/2027)" in last
        assert "1. xã Mường Kim: 5 người tham gia, 5 lượt, điểm trung bình 2,0, đúng 40%" in last
        assert "Kết quả cả cuộc thi (04/01/2027 – 17/01/2027)" in last
        assert "1. xã Mường Kim: 5 người tham gia, 11 lượt, điểm trung bình 3,2, đúng 64%" in last
        assert sorted(a.posted()) == [("cds-2027", 1), ("cds-2027", 2)]
        for s in (sa, sb):
            s.close()


async def test_two_replicas_on_postgresql(tmp_path, pg_schema_url):
    now = dt.datetime(2027, 1, 11, 8, 0, tzinfo=TZ)
    with FakeTelegramAPI() as api:
        (a, sa), (b, sb) = (replica(api, pg_schema_url, tmp_path, n, now) for n in ("a", "b"))
        play(sa)
        sent = await asyncio.gather(a.run_once(), b.run_once(), a.run_once(), b.run_once())
        assert sum(sent, []) == [("cds-2027", 1)]
        assert len(api.messages_to(-100)) == 1 and len(api.messages_to(42)) == 1
        for s in (sa, sb):
            s.close()


async def test_a_long_downtime_posts_nothing_stale_and_no_chats_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    with FakeTelegramAPI() as api:
        late, store = replica(api, url, tmp_path, "a", dt.datetime(2027, 2, 1, 8, 0, tzinfo=TZ))
        play(store)
        assert await late.run_once() == []
        late.clock = lambda: dt.datetime(2027, 1, 11, 9, 0, tzinfo=TZ)
        late.chat_ids = ()
        assert await late.run_once() == []
        assert api.messages_to(42) == []
        store.close()
