"""The report's charts as PNG images (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import io

from bot.report import texts as t
from bot.report.compose import Report

COLOR = "#1f5f99"


def _png(fig: object) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return buf.getvalue()


def _bars(title: str, labels: list[str], values: list[int]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height = max(2.4, 0.42 * len(labels) + 1.2)
    fig, ax = plt.subplots(figsize=(7.5, height))
    ax.barh(labels[::-1], values[::-1], color=COLOR)
    for y, v in enumerate(values[::-1]):
        ax.text(v, y, f" {v}", va="center", fontsize=8)
    ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return _png(fig)


def _line(title: str, labels: list[str], values: list[int]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    ax.plot(range(len(values)), values, marker="o", markersize=3, color=COLOR)
    step = max(1, len(labels) // 10)
    ax.set_xticks(range(0, len(labels), step), [labels[i][5:] for i in range(0, len(labels), step)], fontsize=8)
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return _png(fig)


def charts(r: Report) -> dict[str, bytes]:
    """name -> PNG; a chart with nothing to show is left out."""
    n = r.numbers
    out: dict[str, bytes] = {}
    if n.per_day:
        out["days"] = _line(t.CHART_DAYS, list(n.per_day), list(n.per_day.values()))
    cats = r.by_category()
    if cats:
        out["topics"] = _bars(t.CHART_TOPICS, [r.category_label(k) for k in cats], list(cats.values()))
    communes = r.by_commune()
    if communes:
        top = list(communes.items())[:20]
        out["communes"] = _bars(t.CHART_COMMUNES, [r.commune_label(k) for k, _ in top], [v for _, v in top])
    if n.questions:
        out["channels"] = _bars(t.CHART_CHANNELS, [t.CHANNEL_LABELS.get(k, k) for k in n.by_channel],
                                list(n.by_channel.values()))
    if n.per_hour:
        out["hours"] = _bars(t.CHART_HOURS, [f"{h:02d}h" for h in n.per_hour], list(n.per_hour.values()))
    return out
