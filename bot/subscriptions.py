"""Bulletin subscriptions and what a citizen can see and delete about themselves.

A subscription (table `subscribers`) is kept per channel and hashed user id, with the channel's
chat id: the one raw id needed to deliver. Opting out deletes the chat id at once and turns the
citizen's pending deliveries of a broadcast under way into `opted_out`, so the sender skips them
(its claim re-reads the subscription in the same transaction). A citizen whom the provider reports
as having blocked the bot is `inactive` (chat id deleted too); `trolyso privacy purge` deletes
inactive and opted-out rows after the retention period.

`report` and `erase` serve `/dulieu` and `/xoadulieu` (Law 91/2025/QH15 on personal data).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.models import (
    Citizen,
    ConversationState,
    Delivery,
    Handoff,
    HandoffMessage,
    ProcessedUpdate,
    QuestionLog,
    QuizResult,
    ReviewItem,
    Subscriber,
    utcnow,
)

OPEN_REVIEW = ("pending", "open")


def _rows(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


@dataclass(frozen=True)
class Report:
    """What the bot keeps about one citizen of one channel."""

    commune: str | None
    subscribed: bool
    questions: int
    waiting: int
    quiz_rounds: int = 0  # contest rounds counted (bot.contests)


class Subscriptions:
    """Subscriptions and personal data in the database (every replica sees the same)."""

    def __init__(self, sessions: sessionmaker[Session], ensure_schema: Callable[[], None] | None = None) -> None:
        self._sessions = sessions
        self._ensure_schema = ensure_schema

    def _prepare(self) -> None:
        if self._ensure_schema is not None:
            self._ensure_schema()

    def subscribe(self, channel: str, user_key: str, chat_id: str) -> bool:
        """Opt in (or update the chat id); False when the citizen was already subscribed."""
        self._prepare()
        now = utcnow()
        for attempt in range(3):
            with self._sessions() as s, s.begin():
                row = s.scalar(select(Subscriber).where(Subscriber.channel == channel,
                                                        Subscriber.user_key == user_key).with_for_update())
                if row is not None:
                    was_active = row.status == "active"
                    row.status, row.chat_id, row.updated_at = "active", chat_id, now
                    return not was_active
            try:
                with self._sessions() as s, s.begin():
                    s.add(Subscriber(channel=channel, user_key=user_key, chat_id=chat_id, status="active",
                                     created_at=now, updated_at=now))
                return True
            except IntegrityError:  # another replica inserted it meanwhile
                if attempt == 2:
                    raise
        return True

    def unsubscribe(self, channel: str, user_key: str) -> bool:
        """Opt out: the chat id is deleted now, pending deliveries become `opted_out`. False when
        the citizen was not subscribed."""
        self._prepare()
        with self._sessions() as s, s.begin():
            row = s.scalar(select(Subscriber).where(Subscriber.channel == channel,
                                                    Subscriber.user_key == user_key).with_for_update())
            if row is None:
                return False
            was_active = row.status == "active"
            row.status, row.chat_id, row.updated_at = "opted_out", None, utcnow()
            s.execute(update(Delivery).where(Delivery.subscriber_id == row.id, Delivery.status == "pending")
                      .values(status="opted_out", updated_at=utcnow()))
            return was_active

    def is_subscribed(self, channel: str, user_key: str) -> bool:
        self._prepare()
        with self._sessions() as s:
            return s.scalar(select(Subscriber.status).where(Subscriber.channel == channel,
                                                            Subscriber.user_key == user_key)) == "active"

    def report(self, channel: str, user_key: str) -> Report:
        self._prepare()
        with self._sessions() as s:
            commune = s.scalar(select(Citizen.commune_code).where(Citizen.channel == channel,
                                                                  Citizen.user_key == user_key))
            status = s.scalar(select(Subscriber.status).where(Subscriber.channel == channel,
                                                              Subscriber.user_key == user_key))
            mine = select(QuestionLog.id).where(QuestionLog.channel == channel, QuestionLog.user_hash == user_key)
            questions = s.scalar(select(func.count()).select_from(mine.subquery())) or 0
            waiting = s.scalar(select(func.count()).select_from(ReviewItem).where(
                ReviewItem.question_id.in_(mine), ReviewItem.status.in_(OPEN_REVIEW))) or 0
            rounds = s.scalar(select(func.count()).select_from(QuizResult).where(
                QuizResult.channel == channel, QuizResult.user_key == user_key)) or 0
        return Report(commune, status == "active", questions, waiting, rounds)

    def erase(self, channel: str, user_key: str, chat_id: str | None = None) -> dict[str, int]:
        """Delete everything kept about the citizen on this channel: subscription, commune,
        conversation state, question log, review items (open ones too: nobody will answer), quiz
        contest rounds, hand-off messages (the hand-offs themselves stay, anonymous and closed,
        for the reports), and the channel's update keys that hold the chat id. Counts per table."""
        self._prepare()
        counts: dict[str, int] = {}
        with self._sessions() as s, s.begin():
            sub_ids = select(Subscriber.id).where(Subscriber.channel == channel, Subscriber.user_key == user_key)
            s.execute(update(Delivery).where(Delivery.subscriber_id.in_(sub_ids), Delivery.status == "pending")
                      .values(status="opted_out", updated_at=utcnow()))
            counts["subscribers"] = _rows(s.execute(delete(Subscriber).where(
                Subscriber.channel == channel, Subscriber.user_key == user_key)))
            counts["citizens"] = _rows(s.execute(delete(Citizen).where(
                Citizen.channel == channel, Citizen.user_key == user_key)))
            counts["conversation_state"] = _rows(s.execute(delete(ConversationState).where(
                ConversationState.channel == channel, ConversationState.user_key == user_key)))
            mine = select(QuestionLog.id).where(QuestionLog.channel == channel, QuestionLog.user_hash == user_key)
            counts["review_items"] = _rows(s.execute(delete(ReviewItem).where(ReviewItem.question_id.in_(mine))))
            counts["questions"] = _rows(s.execute(delete(QuestionLog).where(
                QuestionLog.channel == channel, QuestionLog.user_hash == user_key)))
            counts["quiz_results"] = _rows(s.execute(delete(QuizResult).where(
                QuizResult.channel == channel, QuizResult.user_key == user_key)))
            # hand-offs: what was said goes; the row stays, anonymous, for the reports' counts
            # (an open one is closed: nobody can reach the citizen through it any more)
            theirs = (Handoff.channel == channel, Handoff.user_key == user_key)
            counts["handoff_messages"] = _rows(s.execute(delete(HandoffMessage).where(
                HandoffMessage.handoff_id.in_(select(Handoff.id).where(*theirs)))))
            s.execute(update(Handoff).where(*theirs, Handoff.status != "closed")
                      .values(status="closed", closed_by="citizen", closed_at=utcnow()))
            counts["handoffs"] = _rows(s.execute(update(Handoff).where(*theirs)
                                                 .values(user_key="", chat_id=None, summary="")))
            if chat_id and channel == "telegram":  # Telegram update keys are m:<chat id>:<message id>
                counts["update_keys"] = _rows(s.execute(delete(ProcessedUpdate).where(
                    ProcessedUpdate.channel == channel, ProcessedUpdate.key.like(f"m:{chat_id}:%"))))
        return counts

    def purge_inactive(self, older_than: dt.timedelta, now: dt.datetime | None = None) -> int:
        """Delete inactive and opted-out subscribers not touched for `older_than`."""
        self._prepare()
        cutoff = (now or utcnow()) - older_than
        with self._sessions() as s, s.begin():
            return _rows(s.execute(delete(Subscriber).where(
                Subscriber.status.in_(("inactive", "opted_out")), Subscriber.updated_at < cutoff)))
