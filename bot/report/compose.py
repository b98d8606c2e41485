"""A report: the numbers of `queries` for a period and the one before, named with the FAQ's
categories and entries (current index) and the communes' labels; `to_json` is `--json`."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot.report import queries
from bot.report.periods import Period
from indexer.communes import Communes
from indexer.faq import CATEGORIES

UNKNOWN = "unknown"  # JSON key of questions without a commune / entries no longer in the FAQ
OTHER_CATEGORY = "khac"


@dataclass(frozen=True)
class Catalog:
    """What the current index knows of each FAQ entry: its question and category."""

    questions: dict[str, str] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, index_dir: Path) -> Catalog:
        path = index_dir / "current" / "targets.json"
        try:
            targets = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        faq = [t for t in targets if t.get("kind") == "faq"]
        return cls({t["id"]: t.get("question", "") for t in faq}, {t["id"]: t.get("category") or "" for t in faq})


def load_faq_changes(index_dir: Path, start: dt.datetime, end: dt.datetime) -> dict[str, list[str]]:
    """FAQ changes recorded by the index builds in [start, end) (naive UTC)."""
    from indexer.build import CHANGES_FILE

    found: dict[str, set[str]] = {"added": set(), "edited": set(), "removed": set(), "alternates": set()}
    try:
        lines = (index_dir / CHANGES_FILE).read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    for line in lines:
        try:
            item = json.loads(line)
            at = dt.datetime.fromisoformat(item["at"]).astimezone(dt.UTC).replace(tzinfo=None)
        except (ValueError, KeyError, TypeError):
            continue
        if start <= at < end:
            for key, ids in found.items():
                ids.update(item.get(key) or ())
    return {k: sorted(v) for k, v in found.items()}


@dataclass
class Report:
    period: Period
    tz: ZoneInfo
    generated_at: dt.datetime  # local
    numbers: queries.Numbers
    previous: tuple[int, int]  # questions, citizens of the period before
    catalog: Catalog
    communes: Communes
    commune: str | None = None
    include_cli: bool = False
    faq_changes: dict[str, list[str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    # --- derived tables ------------------------------------------------------------------------
    @property
    def partial(self) -> bool:
        """The period is not over yet: the data run up to `generated_at`."""
        end = dt.datetime.combine(self.period.end, dt.time(0), tzinfo=self.tz)
        return self.generated_at < end

    @property
    def answer_rate(self) -> float | None:
        n = self.numbers
        asked = n.questions - n.by_kind.get("chitchat", 0)
        answered = n.by_kind.get("faq", 0) + n.by_kind.get("knowledge", 0)
        return round(answered / asked, 4) if asked else None

    @property
    def change(self) -> float | None:
        before = self.previous[0]
        return round((self.numbers.questions - before) / before, 4) if before else None

    def category_of(self, faq_id: str) -> str:
        cat = self.catalog.categories.get(faq_id, "")
        return cat if cat in CATEGORIES else OTHER_CATEGORY

    @staticmethod
    def category_label(code: str) -> str:
        return CATEGORIES.get(code, "Khác (mục không còn trong bộ câu hỏi)")

    def by_category(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for faq_id, count in self.numbers.by_faq.items():
            cat = self.category_of(faq_id)
            out[cat] = out.get(cat, 0) + count
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    def by_commune(self) -> dict[str, int]:
        out = {(code or UNKNOWN): n for code, n in self.numbers.by_commune.items()}
        return dict(sorted(out.items(), key=lambda kv: (kv[0] == UNKNOWN, -kv[1], kv[0])))

    def commune_label(self, code: str) -> str:
        unit = self.communes.get(code) if code != UNKNOWN else None
        if unit is not None:
            return unit.label[:1].upper() + unit.label[1:]
        return "Chưa rõ xã, phường" if code == UNKNOWN else code

    def quiz(self) -> dict[str, Any]:
        """Contest rounds in the period: totals and per commune (unknown last)."""
        q = dict(self.numbers.quiz) or queries.quiz_empty()
        rows = {(code or UNKNOWN): v for code, v in q.get("by_commune", {}).items()}
        q["by_commune"] = dict(sorted(rows.items(), key=lambda kv: (kv[0] == UNKNOWN, -kv[1]["rounds"], kv[0])))
        return q

    def top_faq(self) -> list[tuple[str, str, int]]:
        ranked = sorted(self.numbers.by_faq.items(), key=lambda kv: (-kv[1], kv[0]))[: queries.TOP]
        return [(fid, self.catalog.questions.get(fid, fid), n) for fid, n in ranked]

    def feedback(self) -> tuple[int, int]:
        votes = self.numbers.feedback_by_faq.values()
        return sum(u for u, _ in votes), sum(d for _, d in votes)

    def feedback_by_category(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for faq_id, (up, down) in self.numbers.feedback_by_faq.items():
            cat = self.category_of(faq_id) if faq_id else "tailieu"
            u, d = out.get(cat, (0, 0))
            out[cat] = (u + up, d + down)
        return {k: v for k, v in sorted(out.items()) if v != (0, 0)}

    def title(self) -> str:
        where = ""
        if self.commune:
            where = f" tại {self.commune_label(self.commune)}"
        return f"Báo cáo kết quả hoạt động Trợ lý số {self.period.title()}{where}"

    def to_json(self) -> dict[str, Any]:
        n = self.numbers
        up, down = self.feedback()
        return {
            "title": self.title(),
            "period": {"key": self.period.key, "from": self.period.first.isoformat(),
                       "to": self.period.last.isoformat(), "official": self.period.official,
                       "timezone": str(self.tz.key),
                       "data_until": self.generated_at.isoformat(timespec="seconds") if self.partial else None},
            "commune": self.commune,
            "include_cli": self.include_cli,
            "questions": n.questions,
            "citizens": n.citizens,
            "answer_rate": self.answer_rate,
            "previous": {"questions": self.previous[0], "citizens": self.previous[1], "change": self.change},
            "by_kind": n.by_kind,
            "by_channel": n.by_channel,
            "by_category": self.by_category(),
            "by_commune": self.by_commune(),
            "per_day": n.per_day,
            "per_hour": {str(h): c for h, c in n.per_hour.items()},
            "top_faq": [{"id": fid, "question": q, "count": c} for fid, q, c in self.top_faq()],
            "top_unanswered": [{"text": t, "count": c} for t, c in n.top_unanswered],
            "feedback": {"helpful": up, "not_helpful": down,
                         "by_category": {k: {"helpful": u, "not_helpful": d}
                                         for k, (u, d) in self.feedback_by_category().items()}},
            "review": n.review,
            "handoff": n.handoff,
            "quiz": self.quiz(),
            "faq_changes": {k: len(v) for k, v in self.faq_changes.items()},
            "files": self.files,
        }


def build_report(engine: Engine, period: Period, tz: ZoneInfo, *, index_dir: Path, communes: Communes,
                 commune: str | None = None, include_cli: bool = False,
                 now: dt.datetime | None = None) -> Report:
    """Query the database for `period` and the one before; name things with the index and communes."""
    channels = queries.CITIZEN_CHANNELS + (("cli",) if include_cli else ())
    start, end = period.utc_bounds(tz)
    now_local = (now or dt.datetime.now(dt.UTC)).astimezone(tz)
    offset = tz.utcoffset(dt.datetime.combine(period.first, dt.time(12)))
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    scope = queries.Scope(start, end, channels, commune, minutes)
    prev_start, prev_end = period.previous().utc_bounds(tz)
    with engine.connect() as conn:
        numbers = queries.numbers(conn, scope)
        previous = queries.question_totals(conn, queries.Scope(prev_start, prev_end, channels, commune, minutes))
        numbers.quiz = queries.quiz(conn, period.first, period.last, channels, commune)
    return Report(period, tz, now_local, numbers, previous, Catalog.load(index_dir), communes, commune, include_cli,
                  load_faq_changes(index_dir, start, end))
