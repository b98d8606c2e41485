"""Faults: the database down or locked, `kill -9` during indexing, a corrupted index, channel APIs
answering 429/500 or timing out, a missing or corrupted model cache.

Everything is real: SQLite with a lock held by another connection, PostgreSQL behind a TCP proxy
that the test stops and starts, `trolyso index` in a subprocess killed with SIGKILL, the fake
Telegram and Zalo Bot API servers on 127.0.0.1, the real model folder (copied before damaging).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from bot.assistant import Assistant, retrieval_params
from bot.models import QuestionLog, ReviewItem
from bot.recovery import RebuildFailed, open_index_or_rebuild
from bot.retrieval import Index, IndexError_
from bot.storage import Store, normalize_url
from bot.types import Message
from tests.conftest import DATA, ROOT, cli_in_process, make_settings

KNOWN = "Quên mật khẩu VNeID thì lấy lại thế nào?"  # answered from the test FAQ
KNOWN_ID = "vneid-quen-mat-khau"
OTHER = "Hôm nay Lai Châu có mưa không? nhắn tôi số 0912 345 678 nhé"  # not in the FAQ, with a phone number


def ask(assistant: Assistant, text: str, user: str = "42"):
    return assistant.handle(Message(text=text, channel="telegram", user_id=user, chat_id=user))


def reject(assistant: Assistant, log_id: int | None, text: str, user: str):
    """The citizen taps "none of these": a review item that keeps the raw chat id."""
    return assistant.reject_suggestions(log_id, Message(text=text, channel="telegram", user_id=user, chat_id=user))


def logged_texts(store: Store) -> list[str]:
    with store.session() as s:
        return sorted(s.scalars(select(QuestionLog.text)))


# -- the database is locked (SQLite) ------------------------------------------------------------


def test_sqlite_locked_answers_spool_and_nothing_is_lost(assistant, settings):
    db = make_url(settings.resolved_db_url).database
    store = assistant.store
    first = ask(assistant, KNOWN)
    assert first.kind == "faq" and first.log_id is not None

    locker = sqlite3.connect(db, timeout=0, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        questions = [KNOWN, OTHER, "làm sao báo cáo tin nhắn rác", "quen mk vneid"]
        with ThreadPoolExecutor(len(questions) + 1) as pool:  # the lock waits (5 s) run in parallel
            replies = pool.map(lambda q: ask(assistant, q[1], user=str(q[0])), enumerate(questions))
            rejected = pool.submit(reject, assistant, None, OTHER, "9")
            replies = list(replies)
            rejected.result()
    finally:
        locker.rollback()
        locker.close()
    # citizens got their answers while the database was locked
    assert (replies[0].kind, replies[0].answer) == ("faq", first.answer)
    assert all(r.kind != "unanswered" or r.answer for r in replies)
    assert all(r.log_id is None for r in replies)  # not in the database (yet)
    assert store.spooled() == len(questions) + 1
    spool = store.spool_path.read_text(encoding="utf-8")
    assert "0912 345 678" not in spool and "[số điện thoại]" in spool  # the spool is redacted too

    after = ask(assistant, KNOWN)  # the database is back: the spool is flushed
    assert after.log_id is not None
    assert store.spooled() == 0 and not store.spool_path.exists()
    texts = logged_texts(store)
    assert len(texts) == 1 + len(questions) + 1 and texts.count(KNOWN) == 3
    with store.session() as s:
        items = s.scalars(select(ReviewItem)).all()
    unanswered = sum(r.kind == "unanswered" for r in [first, *replies, after])
    assert len(items) == 1 + unanswered  # the rejection, and the unanswered questions (if any)
    assert all("0912" not in i.text for i in items) and any("[số điện thoại]" in i.text for i in items)
    assert [(i.chat_id, i.status) for i in items if i.reason == "rejected"] == [("9", "pending")]
    assert store.flush_spool() == 0  # nothing written twice


def test_a_torn_spool_line_does_not_stop_answers(assistant):
    store = assistant.store
    store.spool_path.parent.mkdir(parents=True, exist_ok=True)
    store.spool_path.write_text('{"question": {"channel": "telegram", "te', encoding="utf-8")  # cut mid-write
    reply = ask(assistant, KNOWN)
    assert reply.kind == "faq" and reply.log_id is not None
    assert store.spooled() == 0
    assert store.dead_path.read_text(encoding="utf-8").startswith('{"question"')


# -- the database is down (PostgreSQL behind a proxy we stop) ------------------------------------


class TcpProxy:
    """127.0.0.1:<port> -> PostgreSQL; `stop()` refuses connections and cuts the open ones."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = self._free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @staticmethod
    def _free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, []
        if listener:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            except OSError:
                pass
            listener.close()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def test_postgres_down_then_back_nothing_lost(pg_url, pg_schema, settings, small_index_dir, embedder):
    engine, schema = pg_schema
    u = make_url(normalize_url(pg_url))
    proxy = TcpProxy((u.host or "127.0.0.1", u.port or 5432))
    app = f"trolyso_fault_{schema}"
    url = (u.set(port=proxy.port, query={"options": f"-csearch_path={schema}", "application_name": app})
           .render_as_string(hide_password=False))
    store = Store(url, settings.data_dir / "spool.jsonl")  # the database is down at start-up
    assistant = Assistant(settings, Index.open(small_index_dir, embedder, retrieval_params(settings)), store)
    try:
        r1 = ask(assistant, KNOWN, "1")
        assert (r1.kind, r1.faq_id, r1.log_id) == ("faq", KNOWN_ID, None) and store.spooled() == 1

        proxy.start()  # back: the schema is created, the spool is flushed
        r2 = ask(assistant, OTHER, "2")
        assert r2.log_id is not None and store.spooled() == 0
        reject(assistant, r2.log_id, OTHER, "2")

        proxy.stop()  # down again, with the pooled connections cut
        r3 = ask(assistant, "làm sao báo cáo tin nhắn rác", "3")
        r4 = ask(assistant, OTHER, "4")
        reject(assistant, r4.log_id, OTHER, "4")
        assert r3.kind == "faq" and r4.log_id is None and store.spooled() == 3

        proxy.start()
        r5 = ask(assistant, KNOWN, "5")
        assert r5.log_id is not None and store.spooled() == 0

        # the server kills our sessions (restart, failover): the next question is still logged
        with engine.begin() as conn:
            killed = conn.execute(text("select count(pg_terminate_backend(pid)) from pg_stat_activity "
                                       "where application_name = :app"), {"app": app}).scalar()
        assert killed >= 1
        r6 = ask(assistant, "quen mk vneid", "6")
        assert r6.log_id is not None or store.spooled() == 1
        ask(assistant, "có người giả danh công an gọi đòi chuyển tiền", "7")
        assert store.spooled() == 0
    finally:
        proxy.stop()
        store.close()
    with engine.connect() as conn:
        rows = conn.execute(text(f"select text, kind, user_hash from {schema}.questions order by id")).all()
        items = conn.execute(text(f"select chat_id, reason, text from {schema}.review_items order by id")).all()
    assert len(rows) == 7  # every question exactly once
    assert [r.text for r in rows].count(KNOWN) == 2
    auto = [str(n) for n, r in ((2, r2), (4, r4)) if r.kind == "unanswered"]  # their own review items
    assert sorted(i.chat_id for i in items) == sorted(["2", "4", *auto])
    assert {i.reason for i in items} <= {"rejected", "unanswered"}
    assert all("0912" not in r.text for r in rows) and all("0912" not in i.text for i in items)
    assert all(r.user_hash and len(r.user_hash) == 32 for r in rows)


# -- kill -9 during `trolyso index` ---------------------------------------------------------------


def _big_faq(path: Path, n: int) -> None:
    topics = ["đăng ký tài khoản", "đổi mật khẩu", "cập nhật số điện thoại", "nộp hồ sơ", "tra cứu kết quả",
              "thanh toán lệ phí", "báo mất giấy tờ", "khóa tài khoản", "tích hợp giấy phép", "xác thực khuôn mặt"]
    lines = ["version: 1", "faqs:"]
    for i in range(n):
        t = topics[i % len(topics)]
        lines += [f"  - id: tong-hop-{i}", "    category: dichvucong",
                  f'    question: "Thủ tục số {i} về {t} ở xã thứ {i * 7 % 997} làm thế nào?"',
                  "    alternates:", f'      - "cach {t} cho ho so {i} o xa {i * 7 % 997}"',
                  f'    answer: "Hướng dẫn {i}: mở Cổng Dịch vụ công, chọn mục {t}, làm theo các bước."']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _cli_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TROLYSO_") or k == "TROLYSO_MODEL_DIR"}
    env.update({"TROLYSO_DATA_DIR": str(tmp / "var"), "PYTHONPATH": str(ROOT), "TROLYSO_CONFIG": str(tmp / "none.toml")})
    env.update(extra)
    return env


@pytest.mark.bench  # a subprocess that loads the model: ~15 s
def test_kill_9_during_index_keeps_the_previous_index(tmp_path, small_index_dir, embedder, settings):
    out = tmp_path / "index"
    shutil.copytree(small_index_dir, out, symlinks=True)
    before = (out / "current").resolve()
    big = tmp_path / "big.yaml"
    _big_faq(big, 2000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "index", "--faq", str(big), "--knowledge", str(DATA / "knowledge"),
         "--out", str(out)],
        cwd=tmp_path, env=_cli_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = bytearray()
    progress = re.compile(rb"embedding:[^\r\n]*?\| ([1-9]\d*)/(\d+) \[")
    deadline = time.monotonic() + 240
    try:
        while not progress.search(seen):
            assert proc.poll() is None, f"index ended before embedding: {seen.decode(errors='replace')[-2000:]}"
            assert time.monotonic() < deadline, "no embedding progress in time"
            chunk = os.read(proc.stderr.fileno(), 4096)
            seen += chunk
        done, total = map(int, progress.findall(bytes(seen))[-1])
        assert done < total  # mid-embedding
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    # the previous build is still the current one, complete, and serves
    assert (out / "current").resolve() == before
    assert [p.name for p in (out / "builds").iterdir() if not p.name.startswith(".")] == [before.name]
    assistant = Assistant(settings, Index.open(out, embedder, retrieval_params(settings)))
    reply = ask(assistant, KNOWN)
    assert (reply.kind, reply.faq_id) == ("faq", KNOWN_ID)
    assert len(assistant.index) == len(Index.open(small_index_dir, embedder).targets)
    # and the folder is not wedged: the next build publishes normally
    from indexer.build import build_index

    stats = build_index(DATA / "faq.yaml", DATA / "knowledge", out, embedder, progress=False)
    assert (out / "current").resolve() == stats.path != before


# -- a corrupted index: a clear error and a rebuild ----------------------------------------------


def _damage(build: Path, how: str) -> None:
    if how == "manifest-garbage":
        (build / "manifest.json").write_text("{not json", encoding="utf-8")
    elif how == "manifest-missing":
        (build / "manifest.json").unlink()
    elif how == "faiss-truncated":
        f = build / "dense.faiss"
        with open(f, "r+b") as fh:
            fh.truncate(f.stat().st_size // 2)
    elif how == "targets-garbage":
        (build / "targets.json").write_bytes(b"\x00\xff garbage")
    elif how == "bm25-garbage":
        (build / "bm25.npz").write_bytes(b"\x93NUMPY garbage")
    elif how == "dense-map-short":
        np.save(build / "dense_map.npy", np.load(build / "dense_map.npy")[:-3])
    elif how == "other-model":
        m = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
        (build / "manifest.json").write_text(json.dumps({**m, "fingerprint": "0" * 64}), encoding="utf-8")
    elif how == "manifest-and-cache":  # the rebuild cannot reuse the damaged build's cache either
        (build / "manifest.json").write_text("{", encoding="utf-8")
        (build / "dense_keys.json").write_text('{"fingerprint": 1, "keys"', encoding="utf-8")
        (build / "texts.json").write_bytes(b"\x00\xff")
        (build / "bm25.npz").write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    elif how == "dangling-current":
        shutil.rmtree(build)
    else:  # pragma: no cover
        raise ValueError(how)


DAMAGES = ["manifest-garbage", "manifest-missing", "faiss-truncated", "targets-garbage", "bm25-garbage",
           "dense-map-short", "other-model", "manifest-and-cache", "dangling-current"]


@pytest.fixture()
def index_copy(tmp_path, small_index_dir) -> Path:
    out = tmp_path / "index"
    shutil.copytree(small_index_dir, out, symlinks=True)
    return out


def _recovery_settings(tmp_path: Path, out: Path, model_dir: Path, faq: Path = DATA / "faq.yaml"):
    return make_settings(tmp_path, model_dir=model_dir, faq=faq, knowledge_dir=DATA / "knowledge", index_dir=out)


@pytest.mark.parametrize("how", DAMAGES)
def test_corrupted_index_is_rebuilt_once(how, index_copy, tmp_path, embedder, model_dir, small_index_dir, caplog):
    out = index_copy
    damaged = (out / "current").resolve()
    _damage(damaged, how)
    with pytest.raises(IndexError_) as err:
        Index.open(out, embedder)
    assert "\n" not in str(err.value)
    settings = _recovery_settings(tmp_path, out, model_dir)
    caplog.set_level(logging.INFO, logger="bot.recovery")
    index = open_index_or_rebuild(settings, embedder)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.recovery" and r.levelno >= logging.WARNING]
    assert any("rebuilding it from" in line and "index" in line for line in lines), lines
    if how == "manifest-and-cache":  # damaged caches are skipped (everything embedded again), not fatal
        assert not any("failed" in line for line in lines), lines
    assert all("\n" not in line for line in lines)
    assert (out / "current").resolve() != damaged
    assert len(index) == len(Index.open(small_index_dir, embedder).targets)
    reply = ask(Assistant(settings, index), KNOWN)
    assert (reply.kind, reply.faq_id) == ("faq", KNOWN_ID)
    # not a loop: the next start opens the rebuilt index without rebuilding
    caplog.clear()
    again = open_index_or_rebuild(settings, embedder)
    assert again.path == index.path and not [r for r in caplog.records if r.name == "bot.recovery"]


def test_rebuild_that_cannot_succeed_is_one_clear_error(index_copy, tmp_path, embedder, model_dir):
    _damage((index_copy / "current").resolve(), "manifest-garbage")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nfaqs:\n  - id: a\n    answer: x\n", encoding="utf-8")
    with pytest.raises(RebuildFailed) as err:
        open_index_or_rebuild(_recovery_settings(tmp_path, index_copy, model_dir, faq=bad), embedder)
    msg = str(err.value)
    assert "\n" not in msg and "corrupted" in msg and "trolyso faq check" in msg and f"{bad}:3" in msg
    nothing = make_settings(tmp_path, model_dir=model_dir, faq=tmp_path / "none.yaml",
                            knowledge_dir=tmp_path / "none", index_dir=index_copy)
    with pytest.raises(RebuildFailed, match="neither the FAQ file"):
        open_index_or_rebuild(nothing, embedder)


@pytest.mark.bench  # loads the model twice (~8 s); `make test` covers the wiring in test_security
def test_cli_chat_rebuilds_a_corrupted_index_and_ask_does_not(index_copy, tmp_path, monkeypatch, capsys, caplog):
    damaged = (index_copy / "current").resolve()
    _damage(damaged, "faiss-truncated")
    env = {"TROLYSO_INDEX_DIR": str(index_copy), "TROLYSO_FAQ": str(DATA / "faq.yaml"),
           "TROLYSO_KNOWLEDGE_DIR": str(DATA / "knowledge")}
    code, out, err = cli_in_process(monkeypatch, capsys, tmp_path, ["ask", "--no-log", KNOWN], **env)
    assert code == 1 and err.startswith("trolyso: index at") and "trolyso index" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err

    caplog.set_level(logging.WARNING, logger="bot.recovery")
    code, out, err = cli_in_process(monkeypatch, capsys, tmp_path, ["chat"], stdin=f"{KNOWN}\nthoát\n", **env)
    assert code == 0, err
    assert "Trợ lý số: 1. Mở ứng dụng VNeID" in out
    assert any("is corrupted" in r.getMessage() and "rebuilding it from" in r.getMessage() for r in caplog.records)
    assert Index.open(index_copy, None).path != damaged  # the rebuilt index is the current one now


# -- Telegram and Zalo answer 429, 500 or time out -----------------------------------------------

from tests.channels.helpers import SpyAssistant, fast_policy, new_chat_id, shown, telegram_channel, telegram_shown  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402
from tests.fakes.zalo_api import FakeZaloAPI  # noqa: E402


class _Stalls:
    """Mixin for the fakes: `stall(method, seconds)` makes the next call of a method hang past the
    client's time-out; that attempt is recorded with status 504 (the client never saw an answer)."""

    def stall(self, method: str, seconds: float, times: int = 1) -> None:
        with self.cond:
            self.__dict__.setdefault("_stalls", {}).setdefault(method, []).extend([seconds] * times)

    def handle(self, method, params):  # type: ignore[no-untyped-def]
        with self.cond:
            queue = self.__dict__.get("_stalls", {}).get(method)
            delay = queue.pop(0) if queue else None
        if delay is not None:
            time.sleep(delay)
            return 504, {"ok": False, "error_code": 504, "description": "client timed out"}
        return super().handle(method, params)


class StallingTelegramAPI(_Stalls, FakeTelegramAPI):
    pass


class StallingZaloAPI(_Stalls, FakeZaloAPI):
    pass


def _log_rows(store: Store, question: str) -> list[QuestionLog]:
    with store.session() as s:
        return list(s.scalars(select(QuestionLog).where(QuestionLog.text == question)))


def _check_log(spy: SpyAssistant, chat, question: str) -> None:
    reply = spy.reply_to(chat)
    [row] = _log_rows(spy.store, question)  # logged exactly once, retries or not
    assert row.id == reply.log_id and (row.kind, row.faq_id) == ("faq", KNOWN_ID)
    assert row.user_hash and str(chat) not in row.user_hash


STALL = 2.0  # seconds a stalled fake call hangs; the clients' timeouts and the waits scale with it


async def _ask_through(channel, api, chat, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    """Start `channel` (polling the fake `api`), the citizen asks KNOWN, wait for a message back."""
    await channel.start()
    try:
        api.push(api.text_update(chat, KNOWN))
        await api.await_for(lambda calls: api.messages_to(chat), timeout=timeout)
    finally:
        await channel.stop()


def _zalo_channel(spy, api, timeout: float = 15.0, **policy):  # type: ignore[no-untyped-def]
    from bot.channels.zalo.channel import ZaloChannel
    from bot.channels.zalo.client import ZaloClient
    from bot.channels.zalo.sender import ZaloSender

    client = ZaloClient(api.token, api.base_url, timeout=timeout, policy=fast_policy(**policy))
    return ZaloChannel(spy, ZaloSender(client), claims=spy.store, poll_timeout=1)


@pytest.mark.bench  # python-telegram-bot waits 5 s before it calls a request timed out
@pytest.mark.parametrize("fault", ["timeout", "500-then-timeout"])
async def test_telegram_send_faults_are_retried_and_logged(fault, assistant):
    
    spy = SpyAssistant(assistant)
    chat = new_chat_id()
    with StallingTelegramAPI() as api:
        if fault == "500-then-timeout":
            api.fail("sendMessage", 500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})
        api.stall("sendMessage", 6.0)  # python-telegram-bot gives up reading after 5 s
        channel = telegram_channel(spy, api)
        await _ask_through(channel, api, chat, timeout=30)
        expected = ([500] if fault != "timeout" else []) + [200, 504]
        # the stalled attempt is recorded when the fake gives up on it, after the retry succeeded
        await api.await_for(lambda calls: len(api.calls_of("sendMessage")) == len(expected), timeout=10)
        statuses = [c.status for c in api.calls_of("sendMessage")]
        [answer] = api.messages_to(chat)
    assert sorted(statuses) == sorted(expected) and statuses[-1] == 504
    assert answer["_shown"] == telegram_shown(spy.reply_to(chat))
    _check_log(spy, chat, KNOWN)


@pytest.mark.parametrize("fault", [*(pytest.param(f, marks=pytest.mark.bench) for f in ("429", "500", "timeout")),
                                   "all"])
async def test_zalo_send_faults_are_retried_and_logged(fault, assistant):
    
    spy = SpyAssistant(assistant)
    chat = f"zf{new_chat_id():x}"
    with StallingZaloAPI() as api:
        if fault in ("429", "all"):
            api.fail("sendMessage", 429, {"ok": False, "error_code": 429, "description": "Too Many Requests",
                                          "parameters": {"retry_after": 0.2}})
        if fault in ("500", "all"):
            api.fail("sendMessage", 500, {"ok": False, "error_code": 500, "description": "Internal error"})
        if fault in ("timeout", "all"):
            api.stall("sendMessage", STALL)
        # the client gives up at half the stall: well past a normal call even on a busy machine
        await _ask_through(_zalo_channel(spy, api, timeout=STALL / 2), api, chat, timeout=20 * STALL)
        expected = {"429": [429, 200], "500": [500, 200], "timeout": [504, 200], "all": [429, 500, 504, 200]}[fault]
        await api.await_for(lambda calls: len(api.calls_of("sendMessage")) == len(expected), timeout=10 * STALL)
        statuses = [c.status for c in api.calls_of("sendMessage")]
        [answer] = api.messages_to(chat)
    assert sorted(statuses) == sorted(expected)
    assert answer == f"{shown(spy.reply_to(chat))}\n\nKhông đúng câu bạn hỏi? Bạn gõ “sai”. Đúng rồi thì gõ “đúng” nhé."
    _check_log(spy, chat, KNOWN)


async def test_zalo_gives_up_after_retries_but_the_log_is_intact(assistant):
    from bot.replies.citizens import SORRY_ERROR

    spy = SpyAssistant(assistant)
    chat = f"zg{new_chat_id():x}"
    with StallingZaloAPI() as api:
        api.stall("sendMessage", STALL, times=2)
        await _ask_through(_zalo_channel(spy, api, timeout=STALL / 2, max_retries=1), api, chat,
                           timeout=20 * STALL)  # then the notice
        assert api.messages_to(chat) == [SORRY_ERROR]
    _check_log(spy, chat, KNOWN)


# -- the model cache is missing or corrupted -----------------------------------------------------

from indexer.embedder import folder_fingerprint, load_embedder  # noqa: E402
from indexer.model_convert import BUILTIN_MODEL_NAME, MODEL_FOLDER_NAME, ModelError  # noqa: E402


def _prepare(tmp_path: Path, models: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", "model", "prepare", *args], cwd=tmp_path,
                          env=_cli_env(tmp_path, TROLYSO_MODEL_DIR=str(models)), capture_output=True, timeout=300)


def _same_model(models: Path, embedder, torch_embedder) -> None:
    """The repaired cache holds the same model as the session's: the converted folder (torch
    backend) bit for bit, and an ONNX export that embeds alike."""
    assert folder_fingerprint(models / MODEL_FOLDER_NAME) == torch_embedder.fingerprint
    repaired = load_embedder(BUILTIN_MODEL_NAME, models)
    texts = ["quen mk vneid thi lam sao", "Nghị quyết 57-NQ/TW"]
    np.testing.assert_allclose(repaired.encode_queries(texts), embedder.encode_queries(texts), atol=1e-5)


@pytest.mark.bench  # a full conversion and ONNX export: ~60 s
def test_missing_model_cache_is_repaired_by_prepare(tmp_path, embedder, torch_embedder):
    models = tmp_path / "models"  # does not exist yet
    r = _prepare(tmp_path, models)
    assert r.returncode == 0, r.stderr.decode()
    assert b"model ready" in r.stdout and b"Traceback" not in r.stderr
    _same_model(models, embedder, torch_embedder)


@pytest.fixture()
def corrupted_model(tmp_path, model_dir) -> Path:
    """A copy of the model cache whose weights are overwritten in place (same size, so the cheap
    size check of the marker does not notice)."""
    models = tmp_path / "models"
    shutil.copytree(model_dir / MODEL_FOLDER_NAME, models / MODEL_FOLDER_NAME)
    with open(models / MODEL_FOLDER_NAME / "model.safetensors", "r+b") as fh:
        fh.write(b"\xff" * 64)
    return models


def test_corrupted_model_error_is_one_line(corrupted_model, tmp_path, monkeypatch, capsys):
    with pytest.raises(ModelError) as err:
        load_embedder(BUILTIN_MODEL_NAME, corrupted_model)
    assert "\n" not in str(err.value) and "trolyso model prepare" in str(err.value)
    code, out, stderr = cli_in_process(monkeypatch, capsys, tmp_path, ["ask", "--no-log", KNOWN],
                             TROLYSO_MODEL_DIR=str(corrupted_model))
    assert code == 1 and not out and len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert stderr.startswith("trolyso: cannot ") and "embedding model" in stderr and "trolyso model prepare" in stderr


@pytest.mark.bench  # a full conversion and ONNX export: ~60 s
def test_force_prepare_repairs_a_corrupted_model(corrupted_model, tmp_path, embedder, torch_embedder):
    r = _prepare(tmp_path, corrupted_model, "--force")
    assert r.returncode == 0, r.stderr.decode()
    _same_model(corrupted_model, embedder, torch_embedder)


@pytest.mark.bench  # a full conversion and ONNX export: ~60 s
def test_plain_prepare_repairs_a_same_size_corruption(corrupted_model, tmp_path, embedder, torch_embedder):
    r = _prepare(tmp_path, corrupted_model)
    assert r.returncode == 0, r.stderr.decode()
    _same_model(corrupted_model, embedder, torch_embedder)
