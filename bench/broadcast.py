"""Our own overhead per bulletin message, with Telegram's rate limit switched off.

A bulletin to 100,000 Telegram subscribers takes ~56 minutes at Telegram's 30 messages/s; this
measures what we add on top: the delivery rows (claim before, confirm after, in batches of the
window), the lease, and the sender's splitting and escaping, against the fake Telegram Bot API
on 127.0.0.1 with `per_second` set out of reach. The same sends without any database work
(`raw`) give the fake server's and the HTTP client's own share.

    python bench/broadcast.py [--subscribers 5000] [--pg postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from bot.bulletins.delivery import BulletinStore, broadcast  # noqa: E402
from bot.bulletins.files import load_bulletin  # noqa: E402
from bot.bulletins.schedule import QuietHours  # noqa: E402
from bot.channels.telegram.sender import TelegramSender  # noqa: E402
from bot.models import Subscriber, utcnow  # noqa: E402
from bot.storage import make_engine, migrate  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402

UNLIMITED = 1_000_000.0


def _bulletin(folder: Path, bid: str) -> Path:
    path = folder / f"{bid}.md"
    path.write_text(f"---\nid: {bid}\ntitle: Cảnh báo lừa đảo\ntopic: canh-bao\naudience: all\n---\n"
                    "Không cài ứng dụng lạ. Không đưa mã OTP cho ai.\n", encoding="utf-8")
    return path


async def _run(url: str, n: int, window: int, folder: Path) -> dict[str, float]:
    engine = make_engine(url)
    migrate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    now = utcnow()
    with sessions() as s, s.begin():
        s.execute(insert(Subscriber), [{"channel": "telegram", "user_key": f"b{i}", "chat_id": str(9_000_000 + i),
                                        "status": "active", "created_at": now, "updated_at": now}
                                       for i in range(n)])
    store = BulletinStore(sessions)
    store.register(load_bulletin(_bulletin(folder, "bench-1")))
    result: dict[str, float] = {}
    with FakeTelegramAPI() as api:
        sender = TelegramSender.connect(api.token, api.base_url, per_second=UNLIMITED)
        await sender.start()
        text = store.get("bench-1").text  # type: ignore[union-attr]
        started = time.perf_counter()
        for start in range(0, n, window):  # the same sends, no database
            await asyncio.gather(*(sender.send_text(str(8_000_000 + i), text)
                                   for i in range(start, min(n, start + window))))
        result["raw_ms"] = (time.perf_counter() - started) * 1000 / n
        started = time.perf_counter()
        outcome = await broadcast(store, "bench-1", {"telegram": sender}, quiet=QuietHours.parse(""), window=window)
        result["broadcast_ms"] = (time.perf_counter() - started) * 1000 / n
        assert outcome.counts.delivered == n, outcome
        await sender.stop()
    result["overhead_ms"] = result["broadcast_ms"] - result["raw_ms"]
    engine.dispose()
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subscribers", type=int, default=5000)
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--pg", help="also measure on this PostgreSQL database (a fresh schema is used)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        urls = {"sqlite": f"sqlite:///{folder}/bench.db"}
        schema = None
        if args.pg:
            import uuid

            from sqlalchemy import create_engine, text

            from bot.storage import normalize_url

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(normalize_url(args.pg))
            with admin.begin() as conn:
                conn.execute(text(f"create schema {schema}"))
            urls["postgresql"] = f"{args.pg}?options=-csearch_path%3D{schema}"
        try:
            print(f"{args.subscribers} subscribers, window {args.window}, Telegram limit off (fake server)")
            print("| database | sends only (ms/msg) | broadcast (ms/msg) | our overhead (ms/msg) | 100,000 at 30/s + overhead |")
            print("|---|---|---|---|---|")
            for name, url in urls.items():
                r = asyncio.run(_run(url, args.subscribers, args.window, folder))
                # the database work of a batch is not overlapped with its sends: it adds up
                total = 100_000 / 30 + 100_000 * r["overhead_ms"] / 1000
                print(f"| {name} | {r['raw_ms']:.2f} | {r['broadcast_ms']:.2f} | {r['overhead_ms']:.2f} | "
                      f"{total / 60:.1f} min |", flush=True)
        finally:
            if schema:
                with admin.begin() as conn:
                    conn.execute(text(f"drop schema {schema} cascade"))
                admin.dispose()


if __name__ == "__main__":
    main()
