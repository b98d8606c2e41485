"""Quiz contests ("Công dân số thông minh", issue 17): which contest is running, recording the
rounds that count, and the commune leaderboards.

- `contests.yaml` (next to `quiz.yaml`, validated by `indexer.quiz.load_contests`) names each
  contest's id, title, period (local days, inclusive) and topics. It is reloaded when it changes;
  an invalid edit is logged with its file:line errors and the running contests are kept.
- While a contest runs, a full round ("thi", "/quiz" without a topic or on one of its topics)
  is drawn from its topics and marked with the contest's id. When it is finished it is recorded
  in `quiz_results`; the unique key (contest, user_key, day) keeps only the first full round of
  a citizen's local day, whichever replica records it. The 3-question offers after an FAQ answer
  never count.
- A row keeps the hashed user id, the channel and the commune the citizen had told at that time
  (none: the round counts for no commune). Leaderboards are per commune only: participants,
  rounds and the average score; communes with fewer than `MIN_PARTICIPANTS` are not ranked.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.models import QuizResult, utcnow
from indexer.quiz import Contest, ContestFile, load_contests

log = logging.getLogger(__name__)

MIN_PARTICIPANTS = 5  # communes with fewer participants are not ranked (nobody can be singled out)


class ContestBook:
    """The contests of `contests.yaml`, reloaded when the file changes (bad edits keep the old)."""

    def __init__(self, path: Path, tz_name: str = "Asia/Ho_Chi_Minh", clock: Callable[[], dt.datetime] = utcnow):
        self.path = path
        self.tz = zoneinfo.ZoneInfo(tz_name)
        self.clock = clock
        self._file = ContestFile(path)
        self._stamp: tuple[float, int] | None = None
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> None:
        try:
            st = self.path.stat()
            stamp: tuple[float, int] | None = (st.st_mtime, st.st_size)
        except OSError:
            stamp = None
        with self._lock:
            if stamp == self._stamp:
                return
            self._stamp = stamp
        if stamp is None:  # no file: no contests
            with self._lock:
                self._file = ContestFile(self.path)
            return
        loaded = load_contests(self.path)
        if loaded.errors:
            log.error("contests: %s has errors; keeping the running contests (%d):\n%s", self.path,
                      len(self._file.contests), "\n".join(map(str, loaded.errors)))
            return
        with self._lock:
            self._file = loaded
        log.info("contests: %d contest(s) loaded from %s", len(loaded.contests), self.path)

    def contests(self) -> list[Contest]:
        self.refresh()
        return list(self._file.contests)

    def get(self, contest_id: str) -> Contest | None:
        return next((c for c in self.contests() if c.id == contest_id), None)

    def today(self) -> dt.date:
        """The local day (settings.timezone) of now."""
        return self.clock().replace(tzinfo=dt.UTC).astimezone(self.tz).date()

    def running(self, topic: str | None = None) -> Contest | None:
        """The contest running today (the first in the file), or None. With `topic`: only one
        that includes it."""
        day = self.today()
        return next((c for c in self.contests() if c.running(day) and (topic is None or topic in c.topics)), None)


class ContestResults:
    """The `quiz_results` table."""

    def __init__(self, sessions: sessionmaker[Session], ensure_schema: Callable[[], None] | None = None):
        self._sessions = sessions
        self._ensure_schema = ensure_schema

    def _prepare(self) -> None:
        if self._ensure_schema is not None:
            self._ensure_schema()

    def record(self, contest: str, user_key: str, channel: str, commune_code: str | None, day: dt.date,
               score: int, total: int) -> bool:
        """Record a finished round; False when the citizen already has one that day (the unique
        key decides, so two replicas recording at once keep exactly one)."""
        self._prepare()
        try:
            with self._sessions() as s, s.begin():
                s.add(QuizResult(contest=contest, user_key=user_key, channel=channel, commune_code=commune_code,
                                 day=day, score=score, total=total))
        except IntegrityError:
            return False
        return True

    def rows(self, contest: str) -> list[tuple[str, str | None, dt.date, int, int]]:
        """(user_key, commune_code, day, score, total) of every counted round of a contest."""
        self._prepare()
        with self._sessions() as s:
            result = s.execute(select(QuizResult.user_key, QuizResult.commune_code, QuizResult.day,
                                      QuizResult.score, QuizResult.total).where(QuizResult.contest == contest))
            return [(r.user_key, r.commune_code, r.day, r.score, r.total) for r in result]

    def count(self, user_key: str) -> int:
        """How many counted rounds a citizen has (for /dulieu)."""
        self._prepare()
        with self._sessions() as s:
            return len(s.scalars(select(QuizResult.id).where(QuizResult.user_key == user_key)).all())

    def erase(self, user_key: str) -> None:
        """Forget a citizen's rounds (/xoadulieu)."""
        self._prepare()
        with self._sessions() as s, s.begin():
            s.execute(delete(QuizResult).where(QuizResult.user_key == user_key))


@dataclass(frozen=True)
class Standing:
    commune_code: str
    participants: int
    rounds: int
    average: float  # mean score per round
    percent: float  # share of right answers, 0-100

    def to_json(self, label: str | None = None) -> dict[str, Any]:
        return {"commune": self.commune_code, "name": label, "participants": self.participants,
                "rounds": self.rounds, "average": round(self.average, 2), "percent": round(self.percent, 1)}


@dataclass(frozen=True)
class Board:
    start: dt.date
    end: dt.date
    ranked: list[Standing]  # best first
    hidden: int  # communes with fewer than MIN_PARTICIPANTS participants
    without_commune: int  # participants who had not told their commune


def leaderboard(rows: Iterable[tuple[str, str | None, dt.date, int, int]], start: dt.date, end: dt.date,
                min_participants: int = MIN_PARTICIPANTS) -> Board:
    """The commune leaderboard of the rounds played from `start` to `end` (inclusive): ranked by
    the share of right answers, then by participants; small communes hidden."""
    users: dict[str, set[str]] = {}
    scores: dict[str, list[tuple[int, int]]] = {}
    nowhere: set[str] = set()
    for user_key, code, day, score, total in rows:
        if not start <= day <= end:
            continue
        if not code:
            nowhere.add(user_key)
            continue
        users.setdefault(code, set()).add(user_key)
        scores.setdefault(code, []).append((score, total))
    ranked, hidden = [], 0
    for code, people in users.items():
        if len(people) < min_participants:
            hidden += 1
            continue
        played = scores[code]
        right, asked = sum(s for s, _ in played), sum(t for _, t in played)
        ranked.append(Standing(code, len(people), len(played), right / len(played),
                               100.0 * right / asked if asked else 0.0))
    ranked.sort(key=lambda s: (-s.percent, -s.participants, s.commune_code))
    return Board(start, end, ranked, hidden, len(nowhere))


def results(contest: Contest, rows: list[tuple[str, str | None, dt.date, int, int]],
            label: Callable[[str], str | None] = lambda code: None,
            min_participants: int = MIN_PARTICIPANTS) -> dict[str, Any]:
    """What `trolyso quiz results CONTEST --json` prints: the whole contest and each week."""

    def board(start: dt.date, end: dt.date) -> dict[str, Any]:
        b = leaderboard(rows, start, end, min_participants)
        return {"start": start.isoformat(), "end": end.isoformat(),
                "communes": [s.to_json(label(s.commune_code)) for s in b.ranked],
                "hidden_communes": b.hidden, "without_commune": b.without_commune}

    return {"contest": contest.id, "title": contest.title, "start": contest.start.isoformat(),
            "end": contest.end.isoformat(), "topics": list(contest.topics),
            "participants": len({r[0] for r in rows}), "rounds": len(rows),
            "min_participants": min_participants,
            "overall": board(contest.start, contest.end),
            "weeks": [dict(board(s, e), week=n) for n, (s, e) in enumerate(contest.weeks(), 1)]}


class ContestRecorder:
    """What the quiz calls when a contest round is finished: the commune of the citizen (by
    hashed id) and the row. Returns "counted", "already" or "failed" (database down)."""

    def __init__(self, book: ContestBook, results: ContestResults,
                 commune_of: Callable[[str, str], str | None]) -> None:
        self.book = book
        self.results = results
        self.commune_of = commune_of  # (channel, user key) -> commune code

    def __call__(self, channel: str, user_key: str, contest: str, score: int, total: int) -> str:
        try:
            code = self.commune_of(channel, user_key)
            counted = self.results.record(contest, user_key, channel, code, self.book.today(), score, total)
        except SQLAlchemyError as exc:
            log.warning("contests: database unavailable; a round was not recorded (%s)", type(exc).__name__)
            return "failed"
        if not counted:
            return "already"
        return "counted" if code else "no_commune"
