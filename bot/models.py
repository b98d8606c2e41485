"""SQLAlchemy 2 models: the question log, review groups/items, processed channel updates,
conversation state, citizens' communes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class QuestionLog(Base):
    """Every question asked (not empty input), redacted. Small talk is counted with an empty text."""

    __tablename__ = "questions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    channel: Mapped[str] = mapped_column(String(32), default="cli")
    user_hash: Mapped[str] = mapped_column(String(64), default="", index=True)
    text: Mapped[str] = mapped_column(Text)  # the citizen's wording after redaction
    normalized: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    faq_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    candidates: Mapped[list] = mapped_column(JSON, default=list)
    helpful: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    spool_key: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    commune: Mapped[str | None] = mapped_column(String(16), nullable=True)  # the citizen's commune code


class ReviewGroup(Base):
    """Similar pending questions, reviewed once."""

    __tablename__ = "review_groups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    text: Mapped[str] = mapped_column(Text)  # representative wording (redacted)
    normalized: Mapped[str] = mapped_column(Text, default="")
    embedding: Mapped[list | None] = mapped_column(JSON, nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    faq_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    candidates: Mapped[list] = mapped_column(JSON, default=list)
    posted: Mapped[bool] = mapped_column(Boolean, default=False)
    commune: Mapped[str | None] = mapped_column(String(16), nullable=True)  # reviewed there; None: province
    items: Mapped[list[ReviewItem]] = relationship(back_populates="group", order_by="ReviewItem.id")


class ReviewItem(Base):
    """One unanswered or 👎-rated question awaiting a person. Only open items keep the raw chat id."""

    __tablename__ = "review_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id"), nullable=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("review_groups.id"), nullable=True, index=True)
    reason: Mapped[str] = mapped_column(String(16), default="unanswered")  # or thumbs_down, rejected
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    channel: Mapped[str] = mapped_column(String(32), default="cli")
    chat_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    commune: Mapped[str | None] = mapped_column(String(16), nullable=True)  # the citizen's commune code
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # answered, linked, ignored...
    group: Mapped[ReviewGroup | None] = relationship(back_populates="items")


class ProcessedUpdate(Base):
    """Channel updates already handled: a unique key makes deduplication hold across processes."""

    __tablename__ = "processed_updates"
    __table_args__ = (UniqueConstraint("channel", "key", name="uq_processed_update"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class ConversationState(Base):
    """One piece of a multi-step exchange (a pending prompt, a hand-off, the greeted flag) for one
    user of one channel, shared by every replica and kept across restarts until it expires.

    `user_key` is the keyed hash of the user id, never the raw id; `slot` names the piece.
    """

    __tablename__ = "conversation_state"
    __table_args__ = (UniqueConstraint("channel", "user_key", "slot", name="uq_conversation_state"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    user_key: Mapped[str] = mapped_column(String(64))
    slot: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class WebSession(Base):
    """A web-chat session. `key` is a hash of the session token the browser holds (the token
    itself is never stored); the key is also the chat id of the session's review items."""

    __tablename__ = "web_sessions"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class WebMessage(Base):
    """A message for a web session that arrived after its question (a community team's answer)."""

    __tablename__ = "web_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_key: Mapped[str] = mapped_column(ForeignKey("web_sessions.key", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text)



class Citizen(Base):
    """The commune a citizen told the bot, per channel and hashed user id (never the raw id)."""

    __tablename__ = "citizens"
    __table_args__ = (UniqueConstraint("channel", "user_key", name="uq_citizen"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    user_key: Mapped[str] = mapped_column(String(64))
    commune_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class ReportDelivery(Base):
    """A scheduled report claimed for sending: the unique key makes every replica send it once."""

    __tablename__ = "report_deliveries"
    key: Mapped[str] = mapped_column(String(32), primary_key=True)  # e.g. official:2026-11
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    claimed_by: Mapped[str] = mapped_column(String(128), default="")
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    outcome: Mapped[str] = mapped_column(String(255), default="")


class Handoff(Base):
    """A citizen's conversation handed to a person of a community team (issue 16).

    The row is the hand-off's state: a restart keeps an open one open. `chat_id` is the raw chat
    id the team's messages are delivered to, kept only while the hand-off is open (cleared on
    close, as review items do); `summary` is redacted. `status`: waiting (posted, nobody took
    it yet), taken, closed. `commune`: where it is routed (None: the provincial team)."""

    __tablename__ = "handoffs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    last_activity: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(16), default="waiting", index=True)
    channel: Mapped[str] = mapped_column(String(32))
    user_key: Mapped[str] = mapped_column(String(64), index=True)
    chat_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    commune: Mapped[str | None] = mapped_column(String(16), nullable=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    taken_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # Telegram user id of the member
    taken_name: Mapped[str | None] = mapped_column(String(128), nullable=True)  # first name, as signed
    taken_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    first_reply_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(16), nullable=True)  # citizen, team, idle
    faq_id: Mapped[str | None] = mapped_column(String(128), nullable=True)  # taught afterwards
    messages: Mapped[list[HandoffMessage]] = relationship(back_populates="handoff", order_by="HandoffMessage.id")


class HandoffMessage(Base):
    """One message of a hand-off: a post or a relay. `text` is stored redacted (the recipient got
    it in full). `group_chat_id`/`group_message_id`: the bot's message in the team's group, so
    that a member's reply to it finds the hand-off. `outcome`: sent, refused or retry (a relay
    to the citizen that failed for a passing reason is sent again by the hand-off worker; then
    `pending` holds the full text until it is delivered, and is cleared right after). A photo
    (`kind` photo) is stored as its caption only, never its bytes; `media` holds its reference
    (Telegram file id or link) only while its relay waits for a second attempt."""

    __tablename__ = "handoff_messages"
    __table_args__ = (Index("ix_handoff_messages_group", "group_chat_id", "group_message_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    direction: Mapped[str] = mapped_column(String(8))  # post, in (citizen -> team), out (team -> citizen), note, topic
    kind: Mapped[str] = mapped_column(String(8), default="text")  # text, photo
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # member's Telegram id (out)
    outcome: Mapped[str] = mapped_column(String(8), default="sent")
    pending: Mapped[str | None] = mapped_column(Text, nullable=True)
    media: Mapped[str | None] = mapped_column(Text, nullable=True)  # "<source>:<ref>" of a waiting photo
    group_chat_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    group_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    handoff: Mapped[Handoff] = relationship(back_populates="messages")


class Subscriber(Base):
    """A citizen who opted in to bulletins on one channel. `chat_id` (needed to deliver) is the only
    raw id kept; it is deleted at once on opt-out and when the provider says the citizen blocked the
    bot. status: active, opted_out, inactive (blocked: never retried)."""

    __tablename__ = "subscribers"
    __table_args__ = (UniqueConstraint("channel", "user_key", name="uq_subscriber"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    user_key: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class Bulletin(Base):
    """A bulletin as it was registered by `trolyso broadcast send` (the rendered text is kept, so
    `serve` can send a scheduled one). Times are naive UTC. `lease_owner`/`lease_until`: the one
    process sending it now (a second sender waits or stops)."""

    __tablename__ = "bulletins"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of the file: the same id with other content is refused
    title: Mapped[str] = mapped_column(Text)
    topic: Mapped[str] = mapped_column(String(64))
    audience: Mapped[list] = mapped_column(JSON, default=list)  # [] = all, else commune codes
    text: Mapped[str] = mapped_column(Text)  # what citizens receive
    send_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    expires: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Delivery(Base):
    """One bulletin to one subscriber: the unique key (bulletin_id, subscriber_id) makes it happen
    at most once. status: pending -> claimed (before the send) -> delivered / failed (confirmed
    after it); a claim never confirmed becomes uncertain (never resent); opted_out when the
    citizen left before their turn."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("bulletin_id", "subscriber_id", name="uq_delivery"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bulletin_id: Mapped[str] = mapped_column(ForeignKey("bulletins.id", ondelete="CASCADE"), index=True)
    subscriber_id: Mapped[int] = mapped_column(Integer, index=True)  # no foreign key: erasing a citizen keeps counts
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    problem: Mapped[str | None] = mapped_column(Text, nullable=True)


class QuizResult(Base):
    """A finished quiz round counted in a contest (bot.contests): the unique key (contest,
    user_key, day) keeps only a citizen's first full round of a local day, on every replica."""

    __tablename__ = "quiz_results"
    __table_args__ = (UniqueConstraint("contest", "user_key", "day", name="uq_quiz_result"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contest: Mapped[str] = mapped_column(String(64), index=True)
    user_key: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    commune_code: Mapped[str | None] = mapped_column(String(16), nullable=True)  # when the round was played
    day: Mapped[dt.date] = mapped_column(Date)  # local day (settings.timezone)
    score: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class QuizPost(Base):
    """A contest week's leaderboard claimed for posting to the admin chats (bot.contest_posts):
    the primary key (contest, week) makes every replica post it once."""

    __tablename__ = "quiz_posts"
    contest: Mapped[str] = mapped_column(String(64), primary_key=True)
    week: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1-based, as in `trolyso quiz results`
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    claimed_by: Mapped[str] = mapped_column(String(128), default="")
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    outcome: Mapped[str] = mapped_column(String(255), default="")
