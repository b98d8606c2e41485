"""What every benchmark shares: paths, percentiles, markdown tables, machine facts, RSS."""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/run.py` puts bench/, not the repository, on sys.path
    sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared"
DEV_SET = SHARED / "eval" / "dev"
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "var" / "bench"  # scratch space: indexes, embedding caches (git-ignored)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = max(0, min(len(xs) - 1, math.ceil(p / 100 * len(xs)) - 1))
    return xs[k]


def lat_summary(ms: list[float]) -> dict[str, float]:
    return {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "p99": percentile(ms, 99), "max": max(ms)}


def fmt(x: object, nd: int = 1) -> str:
    if isinstance(x, float):
        if math.isnan(x):
            return "–"
        return f"{x:.{nd}f}"
    return str(x)


def md_table(headers: list[str], rows: list[list[object]], nd: int = 1) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(fmt(c, nd) for c in row) + " |")
    return "\n".join(lines)


def machine_line() -> str:
    load = os.getloadavg()
    return (f"{dt.datetime.now().isoformat(timespec='seconds')}, {platform.node()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")


def write_result(name: str, title: str, body: str) -> str:
    """Write bench/results/<name>.md (title, machine line, body) and print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = f"## {title}\n\n_{machine_line()}_\n\n{body.strip()}\n"
    (RESULTS / f"{name}.md").write_text(text, encoding="utf-8")
    print(text, flush=True)
    return text


def rss_mb(pid: int | None = None) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB, from /proc."""
    status = Path(f"/proc/{pid or 'self'}/status").read_text()
    vals = {}
    for line in status.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            vals[key] = int(rest.split()[0]) / 1024
    return vals.get("VmRSS", float("nan")), vals.get("VmHWM", float("nan"))


class Timer:
    def __enter__(self) -> "Timer":
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0

    @property
    def ms(self) -> float:
        return self.seconds * 1000


_EMBEDDER = None


def embedder():
    """The real embedding model, loaded once per benchmark process."""
    global _EMBEDDER
    if _EMBEDDER is None:
        from bot.config import Settings
        from indexer.embedder import embedder_for

        s = Settings(_env_file=None)
        _EMBEDDER = embedder_for(s)
    return _EMBEDDER


def settings(data_dir: Path, **overrides):  # type: ignore[no-untyped-def]
    from bot.config import Settings

    return Settings(_env_file=None, data_dir=data_dir, **overrides)


def top_faq_candidates(index, questions):  # type: ignore[no-untyped-def]
    """For each in-scope, near-miss and out-of-scope question: (question, views, the first stage's
    FAQ candidates in rank order); questions with no FAQ candidate are left out (the probes)."""
    from bot import evaluate as ev
    from bot.retrieval import score_features
    from indexer.text import views

    for q in questions:
        if q.kind not in ev.IN_SCOPE + ("hard_negative", "out_of_scope"):
            continue
        v = views(q.text)
        faqs = [x for x in score_features(index.features(v), index.params) if x.kind == "faq"]
        if faqs:
            yield q, v, faqs
