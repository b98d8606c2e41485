"""The scheduled report, end to end through the fake Telegram server: posted once at 17:00 on
the 14th with its files, never twice, also with two replicas on one PostgreSQL database."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.channels.telegram.sender import TelegramSender
from bot.outbound import RetryPolicy
from bot.report.schedule import ReportPoster, ReportScheduler
from bot.storage import Store
from indexer.communes import Communes
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.test_report import build_log, make_index

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
ROOT = Path(__file__).parents[1]


def replica(api: FakeTelegramAPI, url: str, tmp: Path, name: str, now: dt.datetime) -> tuple[ReportScheduler, Store]:
    store = Store(url, tmp / f"{name}-spool.jsonl")
    sender = TelegramSender.connect(api.token, api.base_url, RetryPolicy(max_retries=1, backoff=0.01))
    poster = ReportPoster(store, sender, index_dir=tmp / "var" / "index", communes=Communes.load(ROOT / "communes.yaml"),
                          folder=tmp / name, tz_name="Asia/Ho_Chi_Minh", formats=("html", "xlsx", "pdf"))
    return ReportScheduler(poster, [-100, 42], clock=lambda: now, owner=name), store


async def test_two_replicas_post_the_monthly_report_once(tmp_path, pg_schema_url):
    build_log(pg_schema_url)
    make_index(tmp_path / "var")
    now = dt.datetime(2026, 11, 14, 17, 0, 5, tzinfo=TZ)
    with FakeTelegramAPI() as api:
        (a, sa), (b, sb) = (replica(api, pg_schema_url, tmp_path, n, now) for n in ("a", "b"))
        sent = await asyncio.gather(a.run_once(), b.run_once())
        assert [p.key for p in sent if p is not None] == ["2026-11"]  # one replica won the claim
        for chat in (-100, 42):
            [message] = api.messages_to(chat)
            assert "Báo cáo kết quả hoạt động Trợ lý số tháng 11/2026" in message["_shown"]
            assert "Số liệu tính đến 17:00 ngày 14/11/2026" in message["_shown"]
            assert "Tổng số câu hỏi: 16" in message["_shown"]  # 15/10 to 14/11 (the official month)
            assert "Cuộc thi đố vui: 7 lượt được tính, 5 người tham gia" in message["_shown"]
            assert sorted(api.documents_to(chat)) == ["bao-cao-2026-11-chinh-thuc.html",
                                                      "bao-cao-2026-11-chinh-thuc.pdf",
                                                      "bao-cao-2026-11-chinh-thuc.xlsx"]
        # a restart, or the other replica's next round: nothing more
        assert await a.run_once() is None and await b.run_once() is None
        assert len(api.messages_to(42)) == 1
        for s in (sa, sb):
            s.close()


async def test_before_1700_the_previous_month_and_after_downtime_only_the_latest(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    build_log(url)
    make_index(tmp_path / "var")
    with FakeTelegramAPI() as api:
        # down from October to the start of January: only the annual report (14 December) is sent
        sched, store = replica(api, url, tmp_path, "a", dt.datetime(2027, 1, 3, 8, 0, tzinfo=TZ))
        period = await sched.run_once()
        assert period is not None and period.key == "2026" and period.official
        [message] = api.messages_to(42)
        assert "năm 2026" in message["_shown"] and "Số liệu tính đến" not in message["_shown"]
        assert await sched.run_once() is None
        sched.clock = lambda: dt.datetime(2027, 1, 14, 16, 59, tzinfo=TZ)
        assert await sched.run_once() is None  # still the annual report's turn
        sched.clock = lambda: dt.datetime(2027, 1, 14, 17, 0, tzinfo=TZ)
        assert (await sched.run_once()).key == "2027-01"  # type: ignore[union-attr]
        assert len(api.messages_to(42)) == 2
        store.close()


async def test_baocao_in_a_report_chat_through_the_telegram_channel(tmp_path, assistant):
    from bot.channels.telegram.report import ReportCommand
    from tests.channels.helpers import telegram_channel

    url = f"sqlite:///{tmp_path / 'log.db'}"
    build_log(url)
    make_index(tmp_path / "var")
    with FakeTelegramAPI() as api:
        scheduler, store = replica(api, url, tmp_path, "a", dt.datetime(2026, 12, 6, 9, 0, tzinfo=TZ))
        command = ReportCommand(scheduler.poster, chat_ids=[-100], admin_ids=[7])
        channel = telegram_channel(assistant, api, handlers=command.handlers())
        await channel.start()
        try:
            api.push(api.text_update(-100, "/baocao 2026-11"))
            await api.await_for(lambda calls: len(api.documents_to(-100)) == 3, timeout=120)
            [report] = api.messages_to(-100)
            assert "Báo cáo kết quả hoạt động Trợ lý số tháng 11/2026" in report["_shown"]
            api.push(api.text_update(-100, "/baocao thang-muoi"))
            await api.await_for(lambda calls: len(api.messages_to(-100)) == 2)
            assert "thang-muoi" in api.messages_to(-100)[-1]["_shown"]
        finally:
            await channel.stop()
            store.close()
