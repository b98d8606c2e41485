"""The weekly leaderboard post of each running contest (issue 17): at `POST_HOUR` local time on
the day after a contest week ends, its commune leaderboard (and after the last week the whole
contest's) is posted to the admin chats through the Telegram sender.

Each (contest, week) is claimed in the database first (`quiz_posts`, like the reports'
`report_deliveries`), so several replicas post it once. After a downtime only the latest ended
week of a contest is posted, and only within `CATCH_UP` of its end (a bot started long after a
contest does not post stale boards).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
from collections.abc import Callable, Sequence

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.contests import MIN_PARTICIPANTS, Board, ContestBook, ContestResults, leaderboard
from bot.models import QuizPost, utcnow
from bot.outbound import Sender
from bot.periodic import repeat
from bot.replies import admins as texts
from indexer.communes import Communes
from indexer.quiz import Contest

log = logging.getLogger(__name__)

POST_HOUR = 8  # local time, on the day after the week's last day
CATCH_UP = dt.timedelta(days=7)
EVERY = 3600.0  # how often the scheduler looks for a due week (seconds)


def due_week(contest: Contest, now: dt.datetime) -> tuple[int, dt.date, dt.date] | None:
    """(week number, start, end) of the latest week of `contest` whose post is due at local
    time `now`, or None (none ended yet, or the latest ended too long ago)."""
    due = None
    for n, (start, end) in enumerate(contest.weeks(), 1):
        at = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(POST_HOUR), tzinfo=now.tzinfo)
        if at <= now < at + CATCH_UP:
            due = (n, start, end)
    return due


def _day(d: dt.date) -> str:
    return f"{d:%d/%m/%Y}"


def board_lines(board: Board, label: Callable[[str], str]) -> list[str]:
    lines = [texts.QUIZ_POST_ROW.format(n=n, name=label(s.commune_code), participants=s.participants,
                                        rounds=s.rounds, average=f"{s.average:.1f}".replace(".", ","),
                                        percent=f"{s.percent:.0f}")
             for n, s in enumerate(board.ranked, 1)]
    if not board.ranked:
        lines.append(texts.QUIZ_POST_NONE.format(min=MIN_PARTICIPANTS))
    if board.hidden:
        lines.append(texts.QUIZ_POST_HIDDEN.format(n=board.hidden, min=MIN_PARTICIPANTS))
    return lines


def compose(contest: Contest, week: int, rows: list[tuple[str, str | None, dt.date, int, int]],
            start: dt.date, end: dt.date, label: Callable[[str], str]) -> str:
    """The message: the week's commune leaderboard; after the last week, the whole contest's too."""
    board = leaderboard(rows, start, end)
    lines = [texts.QUIZ_POST_TITLE.format(title=contest.title, week=week, start=_day(start), end=_day(end)),
             *board_lines(board, label)]
    if end >= contest.end:
        overall = leaderboard(rows, contest.start, contest.end)
        lines += ["", texts.QUIZ_POST_OVERALL.format(start=_day(contest.start), end=_day(contest.end)),
                  *board_lines(overall, label)]
    return "\n".join(lines)


class ContestPoster:
    """Posts each contest week's leaderboard to the admin chats, once across replicas."""

    def __init__(self, book: ContestBook, results: ContestResults, sessions: sessionmaker[Session],
                 sender: Sender, chat_ids: Sequence[int], communes: Communes,
                 ensure_schema: Callable[[], None] | None = None,
                 clock: Callable[[], dt.datetime] | None = None, owner: str | None = None) -> None:
        self.book = book
        self.results = results
        self.sessions = sessions
        self.sender = sender
        self.chat_ids = tuple(chat_ids)
        self.communes = communes
        self.ensure_schema = ensure_schema
        self.tz = book.tz
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"

    def _label(self, code: str) -> str:
        commune = self.communes.get(code)
        return commune.label if commune is not None else code

    def claim(self, contest: str, week: int) -> bool:
        """True for the one process that claims the week first (the database decides)."""
        if self.ensure_schema is not None:
            self.ensure_schema()
        with self.sessions() as s:
            if s.get(QuizPost, (contest, week)) is not None:
                return False
        try:
            with self.sessions() as s, s.begin():
                s.add(QuizPost(contest=contest, week=week, claimed_by=self.owner[:128]))
            return True
        except IntegrityError:
            return False

    def _done(self, contest: str, week: int, problems: list[str]) -> None:
        with self.sessions() as s, s.begin():
            s.execute(update(QuizPost).where(QuizPost.contest == contest, QuizPost.week == week)
                      .values(sent_at=utcnow(), outcome=("; ".join(problems) or "sent")[:255]))

    def posted(self) -> list[tuple[str, int]]:
        with self.sessions() as s:
            return [(r.contest, r.week) for r in s.execute(select(QuizPost.contest, QuizPost.week))]

    async def run_once(self) -> list[tuple[str, int]]:
        """Post every due week no process has posted; the (contest, week) pairs posted."""
        if not self.chat_ids:
            return []
        now = self.clock().astimezone(self.tz)
        sent: list[tuple[str, int]] = []
        for contest in await asyncio.to_thread(self.book.contests):
            due = due_week(contest, now)
            if due is None:
                continue
            week, start, end = due
            if not await asyncio.to_thread(self.claim, contest.id, week):
                continue
            rows = await asyncio.to_thread(self.results.rows, contest.id)
            text = compose(contest, week, rows, start, end, self._label)
            problems: list[str] = []
            for chat in self.chat_ids:
                result = await self.sender.send_text(str(chat), text)
                if not result.ok:
                    problems.append(f"{chat}: {result.problem}")
            await asyncio.to_thread(self._done, contest.id, week, problems)
            if problems:
                log.warning("contest %s week %d: not posted everywhere: %s", contest.id, week, "; ".join(problems))
            else:
                log.info("contest %s week %d: leaderboard posted to %d chat(s)", contest.id, week, len(self.chat_ids))
            sent.append((contest.id, week))
        return sent

    async def run(self, every: float = EVERY) -> None:
        await repeat(self.run_once, every, "contest posts")
