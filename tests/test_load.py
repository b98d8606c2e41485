"""Load: many citizens at once through the real channels, and two `trolyso serve` processes in
webhook mode sharing PostgreSQL.

- Polling: simulated citizens talk to the fake Telegram and Zalo Bot APIs (tests/fakes) while
  the real server (bot.server, both polling loops, the real Assistant, SQLite) runs in this
  process. Each citizen sends a question, waits for the answer, then sends the next one. Every
  question must be answered exactly once, and every question the bot could not answer must be
  in the database with a review item.
- Scale-out: two `trolyso serve` subprocesses in webhook mode share a fresh PostgreSQL schema; the
  load generator posts every update to one of them, and some updates to both (and twice): every
  update is answered exactly once (Store.claim_update's unique key), nothing is lost.

The small versions run in `make test`; the `bench` ones (200 + 100 citizens, 10 questions each)
in `make bench`, which writes bench/results/load_*.md. Latencies are printed, never asserted.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.models import ProcessedUpdate, QuestionLog, ReviewItem
from bot.storage import Store
from indexer.text import views
from tests.conftest import SHARED, make_settings

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.channels.helpers import SpyAssistant, serving  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402
from tests.fakes.zalo_api import FakeZaloAPI  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TELEGRAM_SECRET = "load_test_telegram_secret"
ZALO_SECRET = "load-test-zalo-secret"


# -- questions ------------------------------------------------------------------------------------


def question_pool() -> list[str]:
    """Real citizens' wording: the dev set's questions (every kind, small talk included)."""
    path = SHARED / "eval" / "dev" / "questions.jsonl"
    texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(texts) >= 100, path
    return texts


def logged(text: str) -> bool:
    """Whether the assistant logs this question (everything but empty input; small talk without
    its text)."""
    return views(text).has_content


def summary(ms: list[float]) -> dict[str, float]:
    xs = sorted(ms)

    def pct(p: float) -> float:
        return xs[max(0, min(len(xs) - 1, -(-len(xs) * p // 100) - 1))]

    return {"n": len(xs), "p50": statistics.median(xs), "p95": pct(95), "p99": pct(99), "max": xs[-1]}


def table(title: str, rows: list[tuple[str, dict, float]], note: str) -> str:
    lines = [f"## {title}", "", note, "",
             "| channel | questions | wall s | questions/s | p50 ms | p95 ms | p99 ms | max ms |",
             "|---|---|---|---|---|---|---|---|"]
    for name, s, wall in rows:
        lines.append(f"| {name} | {s['n']} | {wall:.1f} | {s['n'] / wall:.1f} | {s['p50']:.0f} | {s['p95']:.0f} | "
                     f"{s['p99']:.0f} | {s['max']:.0f} |")
    return "\n".join(lines) + "\n"


def report(name: str | None, text: str) -> None:
    print("\n" + text)
    if name:
        RESULTS.mkdir(parents=True, exist_ok=True)
        load = os.getloadavg()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        (RESULTS / f"{name}.md").write_text(
            text.replace("\n\n", f"\n\n_{stamp}, {os.cpu_count()} cores, load average {load[0]:.2f}_\n\n", 1),
            encoding="utf-8")


# -- watching what the bot sends ------------------------------------------------------------------


class Inbox:
    """Follows a fake API's successful sendMessage calls and wakes the citizen of each chat."""

    def __init__(self, api, chat_of) -> None:  # type: ignore[no-untyped-def]
        self.api = api
        self.chat_of = chat_of
        self.times: dict[object, list[float]] = defaultdict(list)
        self.events: dict[object, asyncio.Event] = defaultdict(asyncio.Event)
        self._seen = 0
        self._task: asyncio.Task | None = None

    async def _follow(self) -> None:
        while True:
            with self.api.cond:
                new = self.api.calls[self._seen:]
                self._seen += len(new)
            for call in new:
                if call.method == "sendMessage" and call.status == 200:
                    chat = self.chat_of(call.params)
                    self.times[chat].append(call.at)
                    self.events[chat].set()
            await asyncio.sleep(0.005)

    def start(self) -> "Inbox":
        self._task = asyncio.create_task(self._follow())
        return self

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def wait(self, chat: object, count: int, timeout: float) -> float:
        """Wait until the chat has `count` messages; the arrival time of the last one."""
        deadline = time.monotonic() + timeout
        while len(self.times[chat]) < count:
            event = self.events[chat]
            event.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"chat {chat}: {len(self.times[chat])} of {count} answers after {timeout:.0f} s")
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        return self.times[chat][count - 1]


async def citizen(send, inbox: Inbox, chat: object, questions: list[str], latencies: list[float],
                  timeout: float) -> None:  # type: ignore[no-untyped-def]
    """Ask the questions one after another, each after the previous answer arrived."""
    await asyncio.sleep(random.random() * 0.05)
    for k, question in enumerate(questions, 1):
        started = time.monotonic()
        await send(chat, question)
        answered = await inbox.wait(chat, k, timeout)
        latencies.append((answered - started) * 1000)


# -- polling: the real server in this process ---------------------------------------------------


async def run_polling(assistant, tmp_path: Path, tg_citizens: int, zalo_citizens: int, per_citizen: int,
                      timeout: float) -> tuple[list, dict, dict]:  # type: ignore[no-untyped-def]
    from bot.server import build_server

    pool = question_pool()
    rng = random.Random(6)
    spy = SpyAssistant(assistant)
    with FakeTelegramAPI(max_poll=0.5) as tg, FakeZaloAPI(max_poll=0.5) as zl:
        settings = make_settings(tmp_path, telegram_token=tg.token, telegram_base_url=tg.base_url,
                                 zalo_token=zl.token, zalo_base_url=zl.base_url, listen="127.0.0.1:0")
        tg_in = Inbox(tg, lambda p: int(p["chat_id"]))
        zl_in = Inbox(zl, lambda p: p["chat_id"])
        tg_lat: list[float] = []
        zl_lat: list[float] = []
        asked: dict[str, dict] = {"telegram": {}, "zalo": {}}

        async def tg_send(chat, question):  # type: ignore[no-untyped-def]
            tg.push(tg.text_update(chat, question))

        async def zl_send(chat, question):  # type: ignore[no-untyped-def]
            zl.push(zl.text_update(chat, question))

        async with serving(build_server(settings, spy)):
            tg_in.start()
            zl_in.start()
            tasks = []
            for i in range(tg_citizens):
                qs = rng.sample(pool, per_citizen)
                asked["telegram"][8_000_000 + i] = qs
                tasks.append(citizen(tg_send, tg_in, 8_000_000 + i, qs, tg_lat, timeout))
            for i in range(zalo_citizens):
                qs = rng.sample(pool, per_citizen)
                asked["zalo"][f"zload{i}"] = qs
                tasks.append(citizen(zl_send, zl_in, f"zload{i}", qs, zl_lat, timeout))
            t0 = time.monotonic()
            await asyncio.gather(*tasks)
            wall = time.monotonic() - t0
            # every update claimed exactly once in the database: nothing was handled twice
            pushed = sum(len(qs) for chats in asked.values() for qs in chats.values())
            claims = spy.store.claims
            assert len(claims) == pushed and all(first for _, _, first in claims), (len(claims), pushed)
            await tg_in.stop()
            await zl_in.stop()
        for chat, qs in asked["telegram"].items():
            assert len(tg_in.times[chat]) == len(qs), f"telegram chat {chat}: {len(tg_in.times[chat])} answers"
        for chat, qs in asked["zalo"].items():
            # a greeting on Zalo answers with the topic menu: still one message per question
            assert len(zl_in.times[chat]) == len(qs), f"zalo chat {chat}: {len(zl_in.times[chat])} answers"
    return [("telegram", summary(tg_lat), wall), ("zalo", summary(zl_lat), wall)], asked, {
        "replies": [r for _, r in spy.calls_of("handle")]}


def check_log(store: Store, asked: dict[str, dict], replies: list) -> None:  # type: ignore[type-arg]
    """Every question the assistant handled is logged; every unanswered one has a review item."""
    unanswered = [r for r in replies if r.kind == "unanswered" and r.log_id is not None]
    with store.session() as s:
        for channel, chats in asked.items():
            expected = sum(logged(q) for qs in chats.values() for q in qs)
            n = s.scalar(select(func.count()).select_from(QuestionLog).where(QuestionLog.channel == channel))
            # Zalo answers greetings with its own menu (not logged): at most the expected count
            assert n <= expected and n >= expected - sum(
                views(q).folded in ("xin chao", "chao", "chao ban", "hello", "hi", "alo") for qs in chats.values()
                for q in qs), (channel, n, expected)
        assert all(r.log_id is not None for r in replies if r.kind in ("faq", "knowledge", "clarify", "unanswered")), \
            "a question was answered but not logged"
        rows = {q.id: q for q in s.scalars(select(QuestionLog).where(QuestionLog.kind == "unanswered"))}
        reviewed = set(s.scalars(select(ReviewItem.question_id).where(ReviewItem.reason == "unanswered")))
        for r in unanswered:
            assert r.log_id in rows, f"unanswered question {r.log_id} missing from the log"
            assert r.log_id in reviewed, f"unanswered question {r.log_id} has no review item"
        assert len(rows) == len(unanswered)


async def test_polling_load_small(assistant, tmp_path):
    rows, asked, spy = await run_polling(assistant, tmp_path, 12, 6, 3, timeout=60)
    check_log(assistant.store, asked, spy["replies"])
    report(None, table("Polling load (small)", rows, "12 Telegram + 6 Zalo citizens, 3 questions each."))


@pytest.mark.bench
async def test_polling_load_bench(assistant, tmp_path):
    rows, asked, spy = await run_polling(assistant, tmp_path, 200, 100, 10, timeout=600)
    check_log(assistant.store, asked, spy["replies"])
    unanswered = sum(r.kind == "unanswered" for r in spy["replies"])
    report("load_polling", table(
        "Load: 200 Telegram + 100 Zalo citizens at once (polling, one process)", rows,
        "Each simulated citizen asks 10 dev-set questions one after another (the next once the answer "
        "arrived), all citizens at the same time, through the fake Telegram and Zalo Bot APIs and the "
        "real polling loops, one `bot.server` process, the real Assistant over the test FAQ, SQLite log. "
        "Latency = question queued at the fake -> answer received by the fake. Every question was "
        f"answered exactly once; {unanswered} unanswered questions, each found in the database with "
        "a review item."))


# -- scale-out: two webhook processes sharing PostgreSQL --------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def serve_processes(n: int, tmp_path: Path, index_dir: Path, db_url: str, tg, zl):  # type: ignore[no-untyped-def]
    """`n` `trolyso serve` subprocesses in webhook mode; yields their base URLs once healthy."""
    trolyso = str(Path(sys.executable).with_name("trolyso"))
    procs, urls, logs = [], [], []
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("TROLYSO_") or k == "TROLYSO_MODEL_DIR"}
    try:
        for i in range(n):
            port = free_port()
            data = tmp_path / f"proc{i}"
            data.mkdir()
            env = {**base_env,
                   "TROLYSO_DATA_DIR": str(data), "TROLYSO_INDEX_DIR": str(index_dir), "TROLYSO_DB_URL": db_url,
                   "TROLYSO_CONFIG": str(data / "none.toml"), "TROLYSO_SECRET_KEY": "load-test-secret-key",
                   "TROLYSO_PUBLIC_URL": "https://bot.example.org", "TROLYSO_LISTEN": f"127.0.0.1:{port}",
                   "TROLYSO_TELEGRAM_TOKEN": tg.token, "TROLYSO_TELEGRAM_BASE_URL": tg.base_url,
                   "TROLYSO_ZALO_TOKEN": zl.token, "TROLYSO_ZALO_BASE_URL": zl.base_url,
                   "TROLYSO_TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET, "TROLYSO_ZALO_WEBHOOK_SECRET": ZALO_SECRET,
                   "TROLYSO_RATE_LIMIT_PER_MINUTE": "0"}
            log = data / "serve.log"
            logs.append(log)
            procs.append(subprocess.Popen([trolyso, "serve"], env=env, cwd=data, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=open(log, "wb")))
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 180
        async with httpx.AsyncClient() as http:
            for proc, url, log in zip(procs, urls, logs):
                while True:
                    if proc.poll() is not None:
                        raise AssertionError(f"trolyso serve exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
                    try:
                        if (await http.get(url + "/healthz", timeout=1)).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise AssertionError(f"trolyso serve did not start:\n{log.read_text()[-3000:]}")
                    await asyncio.sleep(0.1)
        yield urls, logs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def run_scale_out(tmp_path: Path, index_dir: Path, db_url: str, tg_citizens: int, zalo_citizens: int,
                        per_citizen: int, timeout: float) -> tuple[list, dict]:
    pool = question_pool()
    rng = random.Random(7)
    # migrate once before both processes start: two processes migrating a fresh database at the
    # same moment race (one logs "database unavailable at start-up (IntegrityError)")
    Store(db_url, tmp_path / "spool.jsonl").close()
    stats = Counter()
    with FakeTelegramAPI() as tg, FakeZaloAPI() as zl:
        async with serve_processes(2, tmp_path, index_dir, db_url, tg, zl) as (urls, logs), \
                httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as http:
            tg_in = Inbox(tg, lambda p: int(p["chat_id"])).start()
            zl_in = Inbox(zl, lambda p: p["chat_id"]).start()

            async def post(channel: str, body: dict) -> None:
                """To one process, or (1 in 4) the same update to both, once in 8 twice more."""
                headers = ({"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET} if channel == "telegram"
                           else {"X-Bot-Api-Secret-Token": ZALO_SECRET})
                r = rng.random()
                targets = [rng.choice(urls)] if r >= 0.25 else list(urls) + (list(urls) if r < 0.03 else [])
                stats[f"{channel} posts"] += len(targets)
                stats[f"{channel} duplicate deliveries"] += len(targets) - 1

                async def deliver(url: str) -> int:
                    # like Telegram and Zalo, deliver again when the connection fails (e.g. a
                    # keep-alive connection the server closed at that moment): a redelivery
                    for attempt in range(4):
                        try:
                            return (await http.post(f"{url}/{channel}/webhook", json=body, headers=headers)).status_code
                        except httpx.TransportError:
                            stats[f"{channel} redeliveries after a connection error"] += 1
                            await asyncio.sleep(0.2 * 2**attempt)
                    return (await http.post(f"{url}/{channel}/webhook", json=body, headers=headers)).status_code

                codes = await asyncio.gather(*(deliver(u) for u in targets))
                assert all(c == 200 for c in codes), codes

            async def tg_send(chat, question):  # type: ignore[no-untyped-def]
                update = {"update_id": tg.next_update_id(), **tg.text_update(chat, question)}
                await post("telegram", update)

            async def zl_send(chat, question):  # type: ignore[no-untyped-def]
                await post("zalo", zl.text_update(chat, question))

            asked: dict[str, dict] = {"telegram": {}, "zalo": {}}
            tg_lat: list[float] = []
            zl_lat: list[float] = []
            tasks = []
            for i in range(tg_citizens):
                qs = rng.sample(pool, per_citizen)
                asked["telegram"][9_000_000 + i] = qs
                tasks.append(citizen(tg_send, tg_in, 9_000_000 + i, qs, tg_lat, timeout))
            for i in range(zalo_citizens):
                qs = rng.sample(pool, per_citizen)
                asked["zalo"][f"zscale{i}"] = qs
                tasks.append(citizen(zl_send, zl_in, f"zscale{i}", qs, zl_lat, timeout))
            t0 = time.monotonic()
            try:
                await asyncio.gather(*tasks)
            except AssertionError as exc:
                tails = "\n".join(log.read_text(errors="replace")[-2000:] for log in logs)
                raise AssertionError(f"{exc}\n--- server logs ---\n{tails}") from None
            wall = time.monotonic() - t0
            await tg_in.stop()
            await zl_in.stop()
            for chat, qs in asked["telegram"].items():
                assert len(tg_in.times[chat]) == len(qs), f"telegram chat {chat}: {len(tg_in.times[chat])} answers"
            for chat, qs in asked["zalo"].items():
                assert len(zl_in.times[chat]) == len(qs), f"zalo chat {chat}: {len(zl_in.times[chat])} answers"
    # the shared database: one claim per update, one log row per logged question
    store = Store(db_url, tmp_path / "spool-check.jsonl")
    with store.session() as s:
        for channel, chats in asked.items():
            n_updates = sum(len(qs) for qs in chats.values())
            claims = s.scalar(select(func.count()).select_from(ProcessedUpdate).where(ProcessedUpdate.channel == channel))
            assert claims == n_updates, (channel, claims, n_updates)
            rows = s.scalar(select(func.count()).select_from(QuestionLog).where(QuestionLog.channel == channel))
            expected = sum(logged(q) for qs in chats.values() for q in qs)
            greetings = sum(views(q).folded in ("xin chao", "chao", "chao ban", "hello", "hi", "alo")
                            for qs in chats.values() for q in qs) if channel == "zalo" else 0
            assert expected - greetings <= rows <= expected, (channel, rows, expected)
        unanswered = set(s.scalars(select(QuestionLog.id).where(QuestionLog.kind == "unanswered")))
        reviewed = set(s.scalars(select(ReviewItem.question_id).where(ReviewItem.reason == "unanswered")))
        assert unanswered <= reviewed
    store.close()
    assert not any((tmp_path / f"proc{i}" / "spool.jsonl").exists() for i in range(2)), "records were spooled"
    rows = [("telegram (webhook, 2 processes)", summary(tg_lat), wall), ("zalo (webhook, 2 processes)", summary(zl_lat), wall)]
    return rows, dict(stats)


def describe(stats: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(stats.items()))


async def test_scale_out_small(tmp_path, small_index_dir, pg_schema_url):
    rows, stats = await run_scale_out(tmp_path, small_index_dir, pg_schema_url, 10, 5, 3, timeout=60)
    report(None, table("Scale-out (small)", rows, describe(stats)))


@pytest.mark.bench
async def test_scale_out_bench(tmp_path, small_index_dir, pg_schema_url):
    rows, stats = await run_scale_out(tmp_path, small_index_dir, pg_schema_url, 200, 100, 10, timeout=600)
    report("load_webhook", table(
        "Scale-out: two `trolyso serve` processes (webhook) sharing PostgreSQL", rows,
        "200 Telegram + 100 Zalo simulated citizens, 10 dev-set questions each, one after another, all at "
        "once; every update POSTed to one of the two processes at random, a quarter of them to both at "
        "the same time and some to both twice. Every update was answered exactly once (one row per update "
        "in processed_updates, one answer per question at the fakes, none spooled). Deliveries: "
        + describe(stats) + "."))
