"""`make bench`: run the performance benchmarks in one process (the model loaded once), write
markdown tables to bench/results/*.md and print them.

    python bench/run.py                 # everything (about 20-40 minutes on the 2-core target)
    python bench/run.py --quick         # index scale up to 10,000 entries only
    python bench/run.py latency scale   # some of: latency (incl. batched), startup, scale

The load tests (tests/test_load.py, marker `bench`) run before this under pytest and write
bench/results/load_*.md; their tables are printed again at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STEPS = ("latency", "startup", "scale")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("steps", nargs="*", choices=[*STEPS, []], help="benchmarks to run (default: all)")
    p.add_argument("--quick", action="store_true", help="index scale: 150 and 10,000 entries only")
    args = p.parse_args(argv)
    steps = args.steps or list(STEPS)

    import logging

    logging.basicConfig(level=logging.WARNING)
    from bench._common import RESULTS

    started = time.perf_counter()
    if "latency" in steps:
        from bench import latency

        latency.run()
    if "startup" in steps:
        from bench import startup

        startup.run()
    if "scale" in steps:
        from bench import scale

        scale.run((150, 10_000) if args.quick else (150, 10_000, 100_000))
    for name in ("load_polling", "load_webhook"):
        path = RESULTS / f"{name}.md"
        if path.exists():
            print(path.read_text(encoding="utf-8"))
    print(f"benchmarks done in {time.perf_counter() - started:.0f} s; tables in {RESULTS}/", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
