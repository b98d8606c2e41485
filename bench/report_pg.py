"""`make bench`: a month of 1,000,000 logged questions on PostgreSQL, reported with SQL aggregation.

    PYTHONPATH=. python bench/report_pg.py [postgresql://...]   (default: TROLYSO_TEST_PG_URL or the test DB)
Creates a scratch schema, fills it with generate_series (channels, kinds, communes, users, FAQ ids,
feedback spread over November 2026), times `build_report` for 2026-11, drops the schema.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text

from bot.report.compose import build_report
from bot.report.periods import parse_period
from bot.storage import migrate, normalize_url
from indexer.communes import Communes

ROWS = int(os.environ.get("ROWS", "1000000"))


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TROLYSO_TEST_PG_URL",
                                                                "postgresql://postgres@127.0.0.1:5432/test")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalize_url(url))
    with admin.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
    engine = create_engine(normalize_url(f"{url}?options=-csearch_path%3D{schema}"))
    try:
        migrate(engine)
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text("""
                insert into questions (created_at, channel, user_hash, text, normalized, kind, faq_id, score,
                                       candidates, helpful, commune)
                select timestamp '2026-10-31 17:00' + (i % 2592000) * interval '1 second',
                       (array['telegram','zalo','web','cli'])[1 + i % 4],
                       'u' || (i % 50000),
                       case when i % 10 = 3 then '' else 'câu hỏi ' || (i % 500) end,
                       'cau hoi ' || (i % 500),
                       (array['faq','faq','faq','knowledge','clarify','chitchat','unanswered'])[1 + i % 7],
                       case when i % 7 < 3 then 'faq' || (i % 45) end, 0.5, '[]',
                       case when i % 13 = 0 then true when i % 29 = 0 then false end,
                       case when i % 3 = 0 then null else (array['03637','03640','03595'])[1 + i % 3] end
                from generate_series(1, :n) as i"""), {"n": ROWS})
            conn.execute(text("analyze questions"))
        filled = time.perf_counter() - started
        period = parse_period("2026-11")
        timings = []
        for _ in range(3):
            t0 = time.perf_counter()
            r = build_report(engine, period, ZoneInfo("Asia/Ho_Chi_Minh"), index_dir=Path("/nonexistent"),
                             communes=Communes.load_if_present(Path("communes.yaml")))
            timings.append(time.perf_counter() - t0)
        print(f"rows={ROWS} fill={filled:.1f}s questions={r.numbers.questions} citizens={r.numbers.citizens} "
              f"report_s={' '.join(f'{t:.2f}' for t in timings)} best={min(timings):.2f}s")
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"drop schema {schema} cascade"))
        admin.dispose()


if __name__ == "__main__":
    main()
