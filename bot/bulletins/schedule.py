"""Local time and quiet hours: nothing is sent between `TROLYSO_QUIET_HOURS` (default 21:00-07:00,
in `TROLYSO_TIMEZONE`, default Asia/Ho_Chi_Minh); the database keeps naive UTC."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"TROLYSO_TIMEZONE: unknown time zone {name!r}") from exc


def to_utc(value: dt.datetime | None) -> dt.datetime | None:
    """An aware time as the naive UTC the database keeps."""
    return None if value is None else value.astimezone(dt.UTC).replace(tzinfo=None)


def local(value: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """A naive UTC time (from the database) in local time."""
    return value.replace(tzinfo=dt.UTC).astimezone(tz)


@dataclass(frozen=True)
class QuietHours:
    """A daily window (may cross midnight) in local time; `start == end` or None: no quiet hours."""

    start: dt.time | None
    end: dt.time | None
    tz: ZoneInfo

    @classmethod
    def parse(cls, text: str, tz: str | ZoneInfo = "Asia/Ho_Chi_Minh") -> QuietHours:
        zone_ = tz if isinstance(tz, ZoneInfo) else zone(tz)
        if not text.strip():
            return cls(None, None, zone_)
        m = _WINDOW.match(text)
        if not m or int(m.group(1)) > 23 or int(m.group(3)) > 23 or int(m.group(2)) > 59 or int(m.group(4)) > 59:
            raise ValueError(f"TROLYSO_QUIET_HOURS must look like 21:00-07:00 (or be empty), not {text!r}")
        return cls(dt.time(int(m.group(1)), int(m.group(2))), dt.time(int(m.group(3)), int(m.group(4))), zone_)

    def wait(self, now_utc: dt.datetime) -> float:
        """Seconds until sending may go on (0 outside the window). `now_utc` is naive UTC."""
        if self.start is None or self.end is None or self.start == self.end:
            return 0.0
        now = local(now_utc, self.tz)
        t = now.time().replace(tzinfo=None)
        inside = (self.start <= t < self.end) if self.start < self.end else (t >= self.start or t < self.end)
        if not inside:
            return 0.0
        end = now.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= now:
            end += dt.timedelta(days=1)
        return (end - now).total_seconds()
