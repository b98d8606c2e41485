"""Report periods in local time: a month, a half-year, a year or a date range, and the official
cut-offs of NĐ 09/2019/NĐ-CP (a month runs from the 15th of the previous month to the 14th; the
6-month report from 15 December to 14 June; the annual one from 15 December to 14 December).

A period is a half-open interval [start, end) of local dates; the database holds naive UTC
times, so `utc_bounds` converts the local midnight bounds to naive UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


class PeriodError(ValueError):
    """A period the user typed that cannot be read: one clear line."""


@dataclass(frozen=True)
class Period:
    kind: str  # month, half, year, range
    key: str  # what was asked: 2026-11, 2026-H1, 2026, 2026-11-01..2026-11-30
    first: dt.date  # first local day, inclusive
    last: dt.date  # last local day, inclusive
    official: bool = False

    @property
    def end(self) -> dt.date:
        """The day after the last one (the exclusive bound)."""
        return self.last + dt.timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.first).days

    def utc_bounds(self, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
        """[from, to) as naive UTC datetimes (the log's clock)."""
        def utc(day: dt.date) -> dt.datetime:
            local = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
            return local.astimezone(dt.UTC).replace(tzinfo=None)
        return utc(self.first), utc(self.end)

    def previous(self) -> Period:
        """The period just before, of the same kind (a range: the same number of days before)."""
        if self.kind == "month":
            y, m = (int(p) for p in self.key.split("-"))
            y, m = (y - 1, 12) if m == 1 else (y, m - 1)
            return parse_period(f"{y:04d}-{m:02d}", official=self.official)
        if self.kind == "half":
            y, h = int(self.key[:4]), int(self.key[-1])
            return parse_period(f"{y - 1}-H2" if h == 1 else f"{y}-H1", official=self.official)
        if self.kind == "year":
            return parse_period(str(int(self.key) - 1), official=self.official)
        days = dt.timedelta(days=self.days)
        first = self.first - days
        return Period("range", f"{first}..{self.first - dt.timedelta(days=1)}", first,
                      self.first - dt.timedelta(days=1))

    def title(self) -> str:
        """The period as the report's title says it: "tháng 11/2026", "6 tháng đầu năm 2026"."""
        if self.kind == "month":
            y, m = self.key.split("-")
            return f"tháng {int(m)}/{y}"
        if self.kind == "half":
            return f"6 tháng {'đầu' if self.key.endswith('1') else 'cuối'} năm {self.key[:4]}"
        if self.kind == "year":
            return f"năm {self.key}"
        return f"từ ngày {self.first:%d/%m/%Y} đến ngày {self.last:%d/%m/%Y}"

    def span(self) -> str:
        return f"từ ngày {self.first:%d/%m/%Y} đến hết ngày {self.last:%d/%m/%Y}"


_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_HALF = re.compile(r"^(\d{4})-[Hh]([12])$")
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
FORMATS_HINT = "2026-11, 2026-H1, 2026 or 2026-11-01..2026-11-30"


def _month_last(y: int, m: int) -> dt.date:
    return (dt.date(y + (m == 12), m % 12 + 1, 1)) - dt.timedelta(days=1)


def parse_period(text: str, *, official: bool = False) -> Period:
    """A period from what the user typed; `official` applies the NĐ 09/2019 cut-offs."""
    s = text.strip()
    try:
        if m := _MONTH.match(s):
            y, mo = int(m[1]), int(m[2])
            if not 1 <= mo <= 12:
                raise PeriodError(f"unknown month {s!r}; use {FORMATS_HINT}")
            key = f"{y:04d}-{mo:02d}"
            if official:
                py, pm = (y - 1, 12) if mo == 1 else (y, mo - 1)
                return Period("month", key, dt.date(py, pm, 15), dt.date(y, mo, 14), True)
            return Period("month", key, dt.date(y, mo, 1), _month_last(y, mo))
        if m := _HALF.match(s):
            y, h = int(m[1]), int(m[2])
            key = f"{y}-H{h}"
            if official:  # the 6-month report: 15 Dec to 14 Jun; the second half: 15 Jun to 14 Dec
                return (Period("half", key, dt.date(y - 1, 12, 15), dt.date(y, 6, 14), True) if h == 1
                        else Period("half", key, dt.date(y, 6, 15), dt.date(y, 12, 14), True))
            return (Period("half", key, dt.date(y, 1, 1), dt.date(y, 6, 30)) if h == 1
                    else Period("half", key, dt.date(y, 7, 1), dt.date(y, 12, 31)))
        if m := _YEAR.match(s):
            y = int(m[1])
            if official:
                return Period("year", s, dt.date(y - 1, 12, 15), dt.date(y, 12, 14), True)
            return Period("year", s, dt.date(y, 1, 1), dt.date(y, 12, 31))
        if m := _RANGE.match(s):
            first, last = dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2])
            if last < first:
                raise PeriodError(f"the range {s!r} ends before it starts")
            return Period("range", s, first, last)
    except ValueError as exc:
        if isinstance(exc, PeriodError):
            raise
        raise PeriodError(f"invalid date in period {s!r}: {exc}") from exc
    raise PeriodError(f"unknown period {s!r}; use {FORMATS_HINT}")


def timezone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PeriodError(f"unknown time zone {name!r} (TROLYSO_TIMEZONE); e.g. {DEFAULT_TIMEZONE}") from exc


def due_period(now_local: dt.datetime) -> tuple[Period, dt.datetime] | None:
    """The latest official report due at or before `now_local` (17:00 on the 14th), with its
    due time: the annual one on 14 December, the 6-month one on 14 June, else the monthly one."""
    y, m = now_local.year, now_local.month
    due = dt.datetime(y, m, 14, 17, 0, tzinfo=now_local.tzinfo)
    if now_local < due:
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
        due = dt.datetime(y, m, 14, 17, 0, tzinfo=now_local.tzinfo)
    if m == 12:
        return parse_period(str(y), official=True), due
    if m == 6:
        return parse_period(f"{y}-H1", official=True), due
    return parse_period(f"{y:04d}-{m:02d}", official=True), due


def next_due(now_local: dt.datetime) -> dt.datetime:
    """The next 17:00 on a 14th after `now_local`."""
    due = dt.datetime(now_local.year, now_local.month, 14, 17, 0, tzinfo=now_local.tzinfo)
    if now_local >= due:
        y, m = (now_local.year + 1, 1) if now_local.month == 12 else (now_local.year, now_local.month + 1)
        due = dt.datetime(y, m, 14, 17, 0, tzinfo=now_local.tzinfo)
    return due
