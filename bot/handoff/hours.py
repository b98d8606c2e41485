"""Working hours of the community teams (a commune's `hours`, or `TROLYSO_HANDOFF_HOURS`), and
the words of a scam in progress that get the emergency steps at once (pure functions)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from bot.replies import citizens as replies
from indexer.text import clean, fold

VIETNAM = dt.timezone(dt.timedelta(hours=7))

# -- working hours ----------------------------------------------------------------------------

_TIME_RANGE = re.compile(r"(\d{1,2})\s*(?:[:hg]\s*(\d{2}))?\s*[-–]\s*(\d{1,2})\s*(?:[:hg]\s*(\d{2}))?")
_DAY_WORDS = {"hai": 0, "2": 0, "ba": 1, "3": 1, "tu": 2, "4": 2, "nam": 3, "5": 3, "sau": 4, "6": 4,
              "bay": 5, "7": 5}
_DAY = re.compile(r"(?:thu\s*|t)(hai|ba|tu|nam|sau|bay|[2-7])\b|(chu\s*nhat|\bcn\b)")


@dataclass(frozen=True)
class Hours:
    """Opening hours: minute ranges of the day and the weekdays (0 = Monday) they apply to."""

    ranges: tuple[tuple[int, int], ...]
    days: frozenset[int]

    def open_at(self, local: dt.datetime) -> bool:
        minute = local.hour * 60 + local.minute
        return local.weekday() in self.days and any(a <= minute < b for a, b in self.ranges)

    def next_open(self, local: dt.datetime) -> dt.datetime:
        """The next opening time at or after `local` (itself when open now)."""
        if self.open_at(local):
            return local
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for n in range(8):
            date = day + dt.timedelta(days=n)
            if date.weekday() not in self.days:
                continue
            for start, _ in sorted(self.ranges):
                at = date + dt.timedelta(minutes=start)
                if at > local:
                    return at
        return local

    def worked(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """How much of [start, end) falls within the opening hours (naive local times)."""
        total = dt.timedelta()
        if end <= start:
            return total
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        while day < end:
            if day.weekday() in self.days:
                for a, b in self.ranges:
                    lo = max(start, day + dt.timedelta(minutes=a))
                    hi = min(end, day + dt.timedelta(minutes=b))
                    if hi > lo:
                        total += hi - lo
            day += dt.timedelta(days=1)
        return total


DEFAULT_HOURS = Hours(((7 * 60 + 30, 17 * 60),), frozenset(range(5)))


def parse_hours(text: str | None) -> Hours:
    """"7:30-11:30, 13:30-17:00 thứ Hai đến thứ Sáu" -> Hours. Without time ranges: the default;
    without days: Monday to Friday."""
    if not text:
        return DEFAULT_HOURS
    folded = fold(clean(text).lower())
    ranges = []
    for m in _TIME_RANGE.finditer(folded):
        start = int(m.group(1)) * 60 + int(m.group(2) or 0)
        end = int(m.group(3)) * 60 + int(m.group(4) or 0)
        if 0 <= start < end <= 24 * 60:
            ranges.append((start, end))
    rest = _TIME_RANGE.sub(" ", folded)
    found = [6 if m.group(2) else _DAY_WORDS[m.group(1)] for m in _DAY.finditer(rest)]
    if len(found) == 2 and re.search(r"den|[-–]", rest):
        a, b = found
        days = frozenset(range(a, b + 1)) if a <= b else frozenset([*range(a, 7), *range(0, b + 1)])
    elif found:
        days = frozenset(found)
    else:
        days = DEFAULT_HOURS.days
    return Hours(tuple(ranges) or DEFAULT_HOURS.ranges, days)


def when_label(at: dt.datetime) -> str:
    """"7:30 thứ Hai (15/12)"."""
    return replies.HANDOFF_WHEN.format(time=f"{at.hour}:{at.minute:02d}",
                                       day=replies.HANDOFF_WEEKDAYS[at.weekday()], date=at.strftime("%d/%m"))


# -- scams in progress --------------------------------------------------------------------------

_SCAM = ("dang bi lua", "vua bi lua", "bi lua dao", "bi lua", "vua chuyen tien", "vua chuyen khoan", "vua ck",
         "lo chuyen tien", "lo chuyen khoan", "da chuyen tien cho", "bi lua mat tien", "mat tien roi")


def looks_like_scam(text: str) -> bool:
    """A message that sounds like a scam happening now ("đang bị lừa", "vừa chuyển tiền")."""
    folded = " " + " ".join(re.sub(r"[\W_]+", " ", fold(clean(text).lower())).split()) + " "
    return any(f" {p} " in folded for p in _SCAM)
