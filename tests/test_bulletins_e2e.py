"""Bulletins end to end, as `serve` runs it against the fake Telegram and Zalo APIs, and
`trolyso broadcast` as admins run it: citizens subscribe on both channels, a bulletin reaches
only its communes, an opt-out in the middle of a broadcast stops it for that citizen, a citizen
sees and deletes their data, and a sender killed with SIGKILL resumes without sending anyone a
second copy (every chat that got nothing is reported uncertain)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.models import Delivery, Subscriber
from bot.replies import citizens as replies
from bot.storage import Store
from bot.subscriptions import Subscriptions
from tests.channels.helpers import new_chat_id
from tests.conftest import ROOT, cli_in_process
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.zalo_api import FakeZaloAPI
from tests.review_fixtures import ReviewTelegramAPI, make_env, running, wait

MUONG_KIM = "03637"


def bulletin(tmp_path: Path, bid: str, audience: str = "all", body: str = "Cảnh báo: đừng cài ứng dụng lạ.") -> Path:
    path = tmp_path / f"{bid}.md"
    path.write_text(f"---\nid: {bid}\ntitle: Cảnh báo lừa đảo\ntopic: canh-bao\naudience: {audience}\n---\n{body}\n",
                    encoding="utf-8")
    return path


def got_bulletin(shown: list[str]) -> list[str]:
    return [m for m in shown if m.startswith("📢 Bản tin Trợ lý số")]


@pytest.fixture
def apis():
    with ReviewTelegramAPI() as tg, FakeZaloAPI() as zalo:
        yield tg, zalo


@pytest.fixture
def env(tmp_path, small_index_dir, embedder, model_dir, apis):
    tg, zalo = apis
    e = make_env(tmp_path, small_index_dir, embedder, model_dir, telegram_token=tg.token,
                 telegram_base_url=tg.base_url, zalo_token=zalo.token, zalo_base_url=zalo.base_url,
                 communes=ROOT / "communes.yaml", review_poll_seconds=3600, quiet_hours="")
    yield e
    e.store.close()


def cli_env(env, tg, zalo) -> dict[str, str]:
    return {"TROLYSO_DB_URL": env.settings.resolved_db_url, "TROLYSO_TELEGRAM_TOKEN": tg.token,
            "TROLYSO_TELEGRAM_BASE_URL": tg.base_url, "TROLYSO_ZALO_TOKEN": zalo.token,
            "TROLYSO_ZALO_BASE_URL": zalo.base_url, "TROLYSO_QUIET_HOURS": "",
            "TROLYSO_COMMUNES": str(ROOT / "communes.yaml")}


def tg_texts(tg, chat: int) -> list[str]:
    return [m["_shown"] for m in tg.messages_to(chat)]


async def test_subscribe_send_to_the_right_communes_and_opt_out(env, apis, monkeypatch, capsys, tmp_path):
    tg, zalo = apis
    kim_tg, plain_tg = new_chat_id(), new_chat_id()
    kim_zalo, leaver_zalo = f"z{new_chat_id()}", f"z{new_chat_id()}"
    async with running(env):
        for message in ("đổi xã", "ta mung", "/dangky"):
            n = len(tg.messages_to(kim_tg))
            tg.push(tg.text_update(kim_tg, message))
            await wait(tg, lambda c, n=n: tg.messages_to(kim_tg)[n:])
        subscribed = tg.messages_to(kim_tg)[-1]
        assert subscribed["_shown"] == replies.SUBSCRIBED
        assert [t for t, _ in tg.buttons(subscribed)] == [replies.UNSUBSCRIBE_BUTTON]
        tg.push(tg.text_update(plain_tg, "Đăng ký nhận tin ạ"))
        await wait(tg, lambda c: tg.messages_to(plain_tg))
        for message in ("doi xa", "Ta Mung", "đăng ký nhận tin"):
            n = len(zalo.messages_to(kim_zalo))
            zalo.push(zalo.text_update(kim_zalo, message))
            await wait(zalo, lambda c, n=n: zalo.messages_to(kim_zalo)[n:])
        assert zalo.messages_to(kim_zalo)[-1] == replies.SUBSCRIBED
        zalo.push(zalo.text_update(leaver_zalo, "dang ky nhan tin"))
        await wait(zalo, lambda c: zalo.messages_to(leaver_zalo))
        zalo.push(zalo.text_update(leaver_zalo, "dừng nhận tin"))
        await wait(zalo, lambda c: zalo.messages_to(leaver_zalo)[1:])
        assert zalo.messages_to(leaver_zalo) == [replies.SUBSCRIBED, replies.UNSUBSCRIBED]
        with env.store.session() as s:  # the chat id went with the opt-out
            assert s.scalar(select(Subscriber.chat_id).where(Subscriber.channel == "zalo",
                                                             Subscriber.status == "opted_out")) is None

        # a bulletin for xã Mường Kim only, then one for everybody
        to_kim = bulletin(tmp_path, "kim-1", f"[\"{MUONG_KIM}\"]")
        code, out, err = await asyncio.to_thread(
            cli_in_process, monkeypatch, capsys, tmp_path, ["broadcast", "send", str(to_kim), "--yes"],
            **cli_env(env, tg, zalo))
        assert code == 0, err
        assert "bulletin kim-1: 2 delivered, 0 failed, 0 opted out, 0 uncertain, 0 pending of 2" in out
        assert len(got_bulletin(tg_texts(tg, kim_tg))) == 1 and len(got_bulletin(zalo.messages_to(kim_zalo))) == 1
        assert got_bulletin(tg_texts(tg, plain_tg)) == [] and got_bulletin(zalo.messages_to(leaver_zalo)) == []
        assert got_bulletin(zalo.messages_to(kim_zalo))[0].endswith(replies.BULLETIN_FOOTER)

        to_all = bulletin(tmp_path, "all-1")
        code, out, err = await asyncio.to_thread(
            cli_in_process, monkeypatch, capsys, tmp_path, ["broadcast", "send", str(to_all), "--yes"],
            **cli_env(env, tg, zalo))
        assert code == 0, err
        assert len(got_bulletin(tg_texts(tg, plain_tg))) == 1 and got_bulletin(zalo.messages_to(leaver_zalo)) == []
        code, out, _ = await asyncio.to_thread(
            cli_in_process, monkeypatch, capsys, tmp_path, ["broadcast", "status", "all-1", "--json"],
            **cli_env(env, tg, zalo))
        assert json.loads(out) == {"id": "all-1", "targets": 3, "delivered": 3, "failed": 0, "pending": 0,
                                   "opted_out": 0, "uncertain": 0}
        # the same id with other content is refused; without a terminal and without --yes: usage error
        bulletin(tmp_path, "all-1", body="Nội dung khác.")
        code, _, err = await asyncio.to_thread(
            cli_in_process, monkeypatch, capsys, tmp_path, ["broadcast", "send", str(to_all), "--yes"],
            **cli_env(env, tg, zalo))
        assert code == 1 and "other content" in err
        code, _, _ = await asyncio.to_thread(
            cli_in_process, monkeypatch, capsys, tmp_path, ["broadcast", "send", str(to_kim)], **cli_env(env, tg, zalo))
        assert code == 2


async def test_an_opt_out_mid_broadcast_stops_delivery(env, apis, monkeypatch, capsys, tmp_path):
    tg, zalo = apis
    subs = Subscriptions(env.store.sessions, env.store.ensure_schema)
    others = [new_chat_id() for _ in range(80)]
    for chat in others:
        subs.subscribe("telegram", f"u{chat}", str(chat))
    leaver = new_chat_id()
    async with running(env):
        tg.push(tg.text_update(leaver, "/dangky"))  # subscribed last: served last
        await wait(tg, lambda c: tg.messages_to(leaver))
        path = bulletin(tmp_path, "mid-1")
        sending = asyncio.create_task(asyncio.to_thread(
            cli_in_process, monkeypatch, capsys, tmp_path, ["broadcast", "send", str(path), "--yes"],
            **cli_env(env, tg, zalo)))
        await wait(tg, lambda c: any(got_bulletin(tg_texts(tg, chat)) for chat in others))
        tg.push(tg.text_update(leaver, "dừng nhận tin"))
        await wait(tg, lambda c: tg.messages_to(leaver)[1:])
        assert tg_texts(tg, leaver)[1] == replies.UNSUBSCRIBED
        code, out, err = await sending
        assert code == 0, err
        assert got_bulletin(tg_texts(tg, leaver)) == []
        assert "80 delivered, 0 failed, 1 opted out" in out


async def test_my_data_and_erasing_it(env, apis):
    tg, zalo = apis
    citizen, zalo_citizen = new_chat_id(), f"z{new_chat_id()}"
    async with running(env):
        for message in ("đổi xã", "ta mung", "/dangky", "Giá lúa hôm nay bao nhiêu?", "/dulieu"):
            n = len(tg.messages_to(citizen))
            tg.push(tg.text_update(citizen, message))
            await wait(tg, lambda c, n=n: tg.messages_to(citizen)[n:])
        shown = tg_texts(tg, citizen)[-1]
        assert shown == replies.MY_DATA.format(commune="xã Mường Kim", subscription=replies.MY_DATA_SUBSCRIBED,
                                               questions=1, waiting=1)
        tg.push(tg.text_update(citizen, "/xoadulieu"))
        [ask] = await wait(tg, lambda c: [m for m in tg.messages_to(citizen) if m["_shown"] == replies.ERASE_CONFIRM])
        [yes] = [data for label, data in tg.buttons(ask) if label == replies.ERASE_YES]
        tg.push(tg.callback_update(citizen, yes, ask["_message_id"], user_id=citizen))
        await wait(tg, lambda c: replies.ERASED in tg_texts(tg, citizen))
        with env.store.session() as s:
            for table in ("subscribers", "citizens", "questions", "review_items"):
                assert s.execute(text(f"select count(*) from {table}")).scalar() == 0, table

        for message in ("dang ky nhan tin", "xóa dữ liệu của tôi", "không"):
            n = len(zalo.messages_to(zalo_citizen))
            zalo.push(zalo.text_update(zalo_citizen, message))
            await wait(zalo, lambda c, n=n: zalo.messages_to(zalo_citizen)[n:])
        assert zalo.messages_to(zalo_citizen)[1:] == [f"{replies.ERASE_CONFIRM}\n\n{replies.ZALO_ERASE_FOOTER}",
                                                      replies.ERASE_KEPT]
        for message in ("xóa dữ liệu của tôi", "xóa"):
            n = len(zalo.messages_to(zalo_citizen))
            zalo.push(zalo.text_update(zalo_citizen, message))
            await wait(zalo, lambda c, n=n: zalo.messages_to(zalo_citizen)[n:])
        assert zalo.messages_to(zalo_citizen)[-1] == replies.ERASED
        with env.store.session() as s:
            assert s.execute(text("select count(*) from subscribers")).scalar() == 0


class SlowTelegramAPI(FakeTelegramAPI):
    """Every sendMessage takes a little while, as over a real network."""

    def handle(self, method: str, params: dict) -> tuple[int, dict]:
        if method == "sendMessage":
            time.sleep(0.02)
        return super().handle(method, params)


def test_a_sender_killed_with_sigkill_resumes_without_duplicates(tmp_path, monkeypatch, capsys):
    db = f"sqlite:///{tmp_path}/kill.db"
    store = Store(db, tmp_path / "spool.jsonl")
    subs = Subscriptions(store.sessions, store.ensure_schema)
    chats = [str(8_000_000 + i) for i in range(300)]
    for chat in chats:
        subs.subscribe("telegram", f"k{chat}", chat)
    path = bulletin(tmp_path, "kill-1")
    with SlowTelegramAPI() as tg:
        env = {"TROLYSO_DB_URL": db, "TROLYSO_TELEGRAM_TOKEN": tg.token, "TROLYSO_TELEGRAM_BASE_URL": tg.base_url,
               "TROLYSO_QUIET_HOURS": "", "TROLYSO_DATA_DIR": str(tmp_path / "var"),
               "TROLYSO_COMMUNES": str(ROOT / "communes.yaml")}
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("TROLYSO_")}
        child_env.update(env, PYTHONPATH=str(ROOT), TROLYSO_CONFIG=str(tmp_path / "none.toml"))
        child = subprocess.Popen([sys.executable, "-m", "bot.cli", "broadcast", "send", str(path), "--yes"],
                                 cwd=tmp_path, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            tg.wait_for(lambda calls: sum(c.method == "sendMessage" for c in calls) >= 120, timeout=120)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(30)
        time.sleep(0.5)  # requests the killed process had under way reach the fake
        first = sum(c.method == "sendMessage" for c in tg.calls)
        assert first < 300

        code, out, err = cli_in_process(monkeypatch, capsys, tmp_path,
                                        ["broadcast", "send", str(path), "--yes"], **env)
        assert code == 0, err
        received: dict[str, int] = {}
        for call in tg.calls_of("sendMessage"):
            if call.status == 200:
                received[str(call.params["chat_id"])] = received.get(str(call.params["chat_id"]), 0) + 1
        assert max(received.values()) == 1  # no chat gets two
        with store.session() as s:
            rows = s.execute(select(Subscriber.chat_id, Delivery.status)
                             .join(Delivery, Delivery.subscriber_id == Subscriber.id)).all()
        uncertain = {chat for chat, status in rows if status == "uncertain"}
        assert 1 <= len(uncertain) <= 10
        assert set(chats) - set(received) <= uncertain  # every chat that got none is reported
        assert {status for _, status in rows} <= {"delivered", "uncertain"}
        code, out, _ = cli_in_process(monkeypatch, capsys, tmp_path, ["broadcast", "status", "kill-1", "--json"], **env)
        counts = json.loads(out)
        assert counts["uncertain"] == len(uncertain) and counts["delivered"] == 300 - len(uncertain)
    store.close()


async def test_serve_sends_a_scheduled_bulletin_and_never_an_expired_one(env, apis, monkeypatch, capsys, tmp_path):
    import datetime as dt

    tg, zalo = apis
    env.settings.broadcast_poll_seconds = 0.2
    citizen = new_chat_id()
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)).astimezone(dt.timezone(dt.timedelta(hours=7)))
    path = tmp_path / "later.md"
    path.write_text(f"---\nid: later-1\ntitle: Lịch tiêm\ntopic: thong-bao\naudience: all\n"
                    f"send_at: {soon.isoformat(timespec='seconds')}\n---\nNội dung.\n", encoding="utf-8")
    old = tmp_path / "old.md"
    old.write_text("---\nid: old-1\ntitle: Cũ\ntopic: thong-bao\naudience: all\n"
                   "expires: 2020-01-01T00:00:00+07:00\n---\nNội dung cũ.\n", encoding="utf-8")
    async with running(env):
        tg.push(tg.text_update(citizen, "/dangky"))
        await wait(tg, lambda c: tg.messages_to(citizen))
        code, out, err = await asyncio.to_thread(
            cli_in_process, monkeypatch, capsys, tmp_path, ["broadcast", "send", str(path), "--yes"],
            **cli_env(env, tg, zalo))
        assert code == 0 and "scheduled for" in out, err
        assert got_bulletin(tg_texts(tg, citizen)) == []  # not yet
        code, _, err = await asyncio.to_thread(
            cli_in_process, monkeypatch, capsys, tmp_path, ["broadcast", "send", str(old), "--yes"],
            **cli_env(env, tg, zalo))
        assert code == 1 and "expired" in err
        [sent] = await wait(tg, lambda c: got_bulletin(tg_texts(tg, citizen)))
        assert "Lịch tiêm" in sent
        from bot.bulletins.delivery import BulletinStore
        from tests.review_fixtures import until

        later = BulletinStore(env.store.sessions)
        await until(lambda: later.get("later-1").finished_at)
        code, out, _ = await asyncio.to_thread(
            cli_in_process, monkeypatch, capsys, tmp_path, ["broadcast", "list"], **cli_env(env, tg, zalo))
        assert out.startswith("later-1\tfinished")
