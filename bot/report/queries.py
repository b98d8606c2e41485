"""The report's numbers, each one SQL aggregation (GROUP BY in the database, never a loop over
the log's rows). Definitions (the same in docs/reports.md and for the Prometheus counters):

- a question is a row of `questions` created in the period on a citizens' channel (telegram,
  zalo, web; `cli` only with `include_cli`); small talk is a row of kind `chitchat` with no text;
- citizens: distinct hashed user ids among those questions;
- answer rate: (faq + knowledge) / (questions - chitchat);
- by category: FAQ answers (kind `faq`) by the entry's category in the current index;
- review: items opened in the period (whatever their status today); the time to answer is from
  the item's creation to its delivery (`closed_at`) for delivered items (answered, linked).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, String, and_, case, cast, distinct, func, literal, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from bot.models import Handoff, QuestionLog, QuizResult, ReviewGroup, ReviewItem

CITIZEN_CHANNELS = ("telegram", "zalo", "web")
KINDS = ("faq", "knowledge", "clarify", "chitchat", "unanswered")
REVIEW_STATUSES = ("pending", "answered", "linked", "ignored", "undeliverable")
MIN_GROUP_CITIZENS = 3  # an unanswered group is shown only when this many people asked it
TOP = 10
MIN_QUIZ_PARTICIPANTS = 5  # as bot.contests.MIN_PARTICIPANTS


@dataclass(frozen=True)
class Scope:
    """What the report counts: [start, end) in naive UTC, channels, an optional commune."""

    start: dt.datetime
    end: dt.datetime
    channels: tuple[str, ...] = CITIZEN_CHANNELS
    commune: str | None = None
    utc_offset_minutes: int = 420  # local time for days and hours (Asia/Ho_Chi_Minh: +7, no DST)


@dataclass
class Numbers:
    questions: int = 0
    citizens: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    by_faq: dict[str, int] = field(default_factory=dict)  # faq_id -> answers
    by_commune: dict[str, int] = field(default_factory=dict)  # code ("" unknown) -> questions
    per_day: dict[str, int] = field(default_factory=dict)  # local ISO date -> questions
    per_hour: dict[int, int] = field(default_factory=dict)  # local hour -> questions
    feedback_by_faq: dict[str, tuple[int, int]] = field(default_factory=dict)  # faq_id -> (👍, 👎)
    top_unanswered: list[tuple[str, int]] = field(default_factory=list)  # (text, distinct citizens)
    review: dict[str, Any] = field(default_factory=dict)
    handoff: dict[str, Any] = field(default_factory=dict)
    quiz: dict[str, Any] = field(default_factory=dict)


def _question_filter(scope: Scope) -> ColumnElement[bool]:
    q = QuestionLog
    cond = and_(q.created_at >= scope.start, q.created_at < scope.end, q.channel.in_(scope.channels))
    if scope.commune is not None:
        cond = and_(cond, q.commune == scope.commune)
    return cond


def _local(conn: Connection, column: Any, minutes: int) -> Any:
    if conn.dialect.name == "sqlite":
        return func.datetime(column, f"{minutes:+d} minutes")
    return column + func.make_interval(0, 0, 0, 0, 0, minutes)


def _day(conn: Connection, column: Any, minutes: int) -> Any:
    local = _local(conn, column, minutes)
    return func.date(local) if conn.dialect.name == "sqlite" else cast(func.date(local), String)


def _hour(conn: Connection, column: Any, minutes: int) -> Any:
    local = _local(conn, column, minutes)
    if conn.dialect.name == "sqlite":
        return cast(func.strftime("%H", local), Integer)
    return cast(func.extract("hour", local), Integer)


def question_totals(conn: Connection, scope: Scope) -> tuple[int, int]:
    q = QuestionLog
    row = conn.execute(select(func.count(), func.count(distinct(q.user_hash))).where(_question_filter(scope))).one()
    return int(row[0]), int(row[1])


def _grouped(conn: Connection, scope: Scope, key: Any) -> dict[Any, int]:
    rows = conn.execute(select(key, func.count()).where(_question_filter(scope)).group_by(key))
    return {k: int(n) for k, n in rows}


def numbers(conn: Connection, scope: Scope) -> Numbers:
    """Every number of the report for one scope."""
    q = QuestionLog
    n = Numbers()
    n.questions, n.citizens = question_totals(conn, scope)
    kinds = _grouped(conn, scope, q.kind)
    n.by_kind = {k: kinds.get(k, 0) for k in KINDS} | {k: v for k, v in kinds.items() if k not in KINDS}
    channels = _grouped(conn, scope, q.channel)
    n.by_channel = {c: channels.get(c, 0) for c in scope.channels} | channels
    n.by_commune = {(k or ""): v for k, v in _grouped(conn, scope, q.commune).items()}
    faq_rows = conn.execute(
        select(q.faq_id, func.count(),
               func.sum(case((q.helpful.is_(True), 1), else_=0)),
               func.sum(case((q.helpful.is_(False), 1), else_=0)))
        .where(_question_filter(scope), q.kind == "faq", q.faq_id.is_not(None)).group_by(q.faq_id))
    for faq_id, count, up, down in faq_rows:
        n.by_faq[faq_id] = int(count)
        n.feedback_by_faq[faq_id] = (int(up or 0), int(down or 0))
    # feedback on other kinds (knowledge passages): kept under "" so the totals hold every vote
    other = conn.execute(
        select(func.sum(case((q.helpful.is_(True), 1), else_=0)), func.sum(case((q.helpful.is_(False), 1), else_=0)))
        .where(_question_filter(scope), or_(q.kind != "faq", q.faq_id.is_(None)))).one()
    if other[0] or other[1]:
        n.feedback_by_faq[""] = (int(other[0] or 0), int(other[1] or 0))
    day = _day(conn, q.created_at, scope.utc_offset_minutes)
    n.per_day = {str(k): v for k, v in sorted(_grouped(conn, scope, day).items())}
    hour = _hour(conn, q.created_at, scope.utc_offset_minutes)
    n.per_hour = {int(k): v for k, v in sorted(_grouped(conn, scope, hour).items())}
    n.top_unanswered = top_unanswered(conn, scope)
    n.review = review(conn, scope)
    n.handoff = handoffs(conn, scope)
    return n


def top_unanswered(conn: Connection, scope: Scope) -> list[tuple[str, int]]:
    """The largest groups of unanswered questions (the review group when grouped, else the same
    normalised wording), only those asked by at least MIN_GROUP_CITIZENS distinct citizens."""
    q, i, g = QuestionLog, ReviewItem, ReviewGroup
    key = func.coalesce(literal("g") + cast(i.group_id, String), literal("n") + q.normalized)
    shown = func.max(func.coalesce(g.text, q.text))
    people = func.count(distinct(q.user_hash))
    stmt = (select(shown, people)
            .select_from(q)
            .outerjoin(i, and_(i.question_id == q.id, i.reason == "unanswered"))
            .outerjoin(g, g.id == i.group_id)
            .where(_question_filter(scope), q.kind == "unanswered")
            .group_by(key)
            .having(people >= MIN_GROUP_CITIZENS)
            .order_by(people.desc(), shown)
            .limit(TOP))
    return [(str(text), int(count)) for text, count in conn.execute(stmt)]


def review(conn: Connection, scope: Scope) -> dict[str, Any]:
    """Review items opened in the scope: by status today, and the time from question to delivery."""
    i = ReviewItem
    cond = and_(i.created_at >= scope.start, i.created_at < scope.end, i.channel.in_(scope.channels))
    if scope.commune is not None:
        cond = and_(cond, i.commune == scope.commune)
    statuses = {s: int(c) for s, c in conn.execute(select(i.status, func.count()).where(cond).group_by(i.status))}
    delivered = and_(cond, i.status.in_(("answered", "linked")), i.closed_at.is_not(None))
    median = p90 = None
    if conn.dialect.name == "postgresql":
        hours = func.extract("epoch", i.closed_at - i.created_at) / 3600.0
        row = conn.execute(select(func.percentile_cont(0.5).within_group(hours),
                                  func.percentile_cont(0.9).within_group(hours)).where(delivered)).one()
        median, p90 = (float(row[0]) if row[0] is not None else None), (float(row[1]) if row[1] is not None else None)
    else:  # SQLite has no percentile: the ordered durations of delivered items only (a few hundred a month)
        hours = (func.julianday(i.closed_at) - func.julianday(i.created_at)) * 24.0
        values = [float(v) for (v,) in conn.execute(select(hours).where(delivered).order_by(hours))]
        median, p90 = _percentile(values, 0.5), _percentile(values, 0.9)
    opened = sum(statuses.values())
    return {
        "opened": opened,
        "answered": statuses.get("answered", 0),
        "linked": statuses.get("linked", 0),
        "ignored": statuses.get("ignored", 0),
        "pending": statuses.get("pending", 0),
        "delivered": statuses.get("answered", 0) + statuses.get("linked", 0),
        "undeliverable": statuses.get("undeliverable", 0),
        "median_hours": None if median is None else round(median, 2),
        "p90_hours": None if p90 is None else round(p90, 2),
    }


def handoffs(conn: Connection, scope: Scope) -> dict[str, Any]:
    """Hand-offs to a person opened in the scope: how many, taken by a member, and the time from
    the request to the team's first reply (median, minutes)."""
    h = Handoff
    cond = and_(h.created_at >= scope.start, h.created_at < scope.end, h.channel.in_(scope.channels))
    if scope.commune is not None:
        cond = and_(cond, h.commune == scope.commune)
    opened, taken = conn.execute(select(func.count(), func.count(h.taken_at)).where(cond)).one()
    replied = and_(cond, h.first_reply_at.is_not(None))
    if conn.dialect.name == "postgresql":
        minutes = func.extract("epoch", h.first_reply_at - h.created_at) / 60.0
        median = conn.execute(select(func.percentile_cont(0.5).within_group(minutes)).where(replied)).scalar()
    else:
        minutes = (func.julianday(h.first_reply_at) - func.julianday(h.created_at)) * 1440.0
        median = _percentile([float(v) for (v,) in conn.execute(select(minutes).where(replied).order_by(minutes))],
                             0.5)
    return {"opened": int(opened), "taken": int(taken),
            "median_first_reply_minutes": None if median is None else round(float(median), 1)}


def _quiz_numbers(rounds: int, people: int, score: int | None, total: int | None,
                  hide: bool = False) -> dict[str, Any]:
    withheld = hide or not rounds
    return {"rounds": int(rounds), "participants": int(people),
            "average": None if withheld else round(float(score or 0) / rounds, 2),
            "percent": None if withheld or not total else round(100.0 * float(score or 0) / float(total), 1)}


def quiz(conn: Connection, first: dt.date, last: dt.date, channels: tuple[str, ...],
         commune: str | None = None) -> dict[str, Any]:
    """Contest rounds played from `first` to `last` (local days, inclusive): the totals and, per
    commune code ("" unknown), rounds, participants, average score and share of right answers."""
    r = QuizResult
    cond = and_(r.day >= first, r.day <= last, r.channel.in_(channels))
    if commune is not None:
        cond = and_(cond, r.commune_code == commune)
    aggregates = (func.count(), func.count(distinct(r.user_key)), func.sum(r.score), func.sum(r.total))
    totals = _quiz_numbers(*conn.execute(select(*aggregates).where(cond)).one())
    by_commune = {}
    for code, rounds, people, score, total in conn.execute(
            select(r.commune_code, *aggregates).where(cond).group_by(r.commune_code)):
        by_commune[code or ""] = _quiz_numbers(rounds, people, score, total, hide=people < MIN_QUIZ_PARTICIPANTS)
    return dict(totals, by_commune=by_commune)


def _percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation, as PostgreSQL's percentile_cont."""
    if not values:
        return None
    pos = (len(values) - 1) * p
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def quiz_empty() -> dict[str, Any]:
    return dict(_quiz_numbers(0, 0, 0, 0), by_commune={})
