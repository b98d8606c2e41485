"""The community review loop: questions the bot could not answer reach a person, get answered,
and teach the bot.

- `ReviewQueue` groups pending review items (unanswered, 👎-rated, "none of these") by embedding
  similarity, and records what reviewers decide (answer, link to an FAQ entry, ignore).
- `deliver_group` sends a group's answer to every citizen of the group on their own channel
  (Telegram Bot API, Zalo Bot API), marked as coming from the community team; delivered items are
  closed and lose their raw chat id; what a channel refuses is marked `undeliverable`; what fails
  for a passing reason (network, no token configured) stays open and is retried.
- `FaqEditor` teaches the FAQ file: alternates for a linked group, a new entry for a promoted one,
  written with ruamel.yaml (comments, order and formatting kept), validated with
  `indexer.faq.load_faq` before it replaces the file, with a dated backup of the previous file.
- `ReviewWorker` is the background loop of `trolyso serve`: group new items, post new groups to
  the review chats, retry deliveries.

Statuses (groups and items): pending, answered, linked, ignored, undeliverable.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import fcntl
import io
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload

from bot.replies import citizens as replies
from bot.config import Settings
from bot.models import ReviewGroup, ReviewItem, utcnow
from indexer.text import views

if TYPE_CHECKING:
    from bot.retrieval import Index
    from bot.storage import Store

log = logging.getLogger(__name__)

STATUSES = ("pending", "answered", "linked", "ignored", "undeliverable")
SAME_WORDING = 90.0  # rapidfuzz ratio of two folded texts from which they are the same wording
UNACCENTED_OVERLAP = 0.3  # word overlap (Jaccard) a question typed without accents also needs
MAX_CANDIDATES = 5  # nearest FAQ entries kept per group
MAX_ALTERNATES = 10  # wordings added to an FAQ entry by one link or promotion
MAX_WORDING_CHARS = 300  # longer wordings are not copied into the FAQ
RETRY_SECONDS = 60.0  # deliveries that failed for a passing reason are retried after this long
COMMUNITY_SOURCE = "Tổ công nghệ số cộng đồng"


class ReviewError(Exception):
    """A review action that cannot be done (unknown group, wrong status, ...): one clear line."""


class TeachError(ReviewError):
    """The FAQ file could not be changed; `issues` holds the file:line errors, if any."""

    def __init__(self, message: str, issues: list[str] | None = None):
        super().__init__(message + ("".join(f"\n{i}" for i in issues) if issues else ""))
        self.issues = issues or []


# --- views ----------------------------------------------------------------------------------------
def iso(value: dt.datetime | None) -> str | None:
    """A stored (naive UTC) time as ISO 8601 with a Z."""
    return value.replace(microsecond=0).isoformat() + "Z" if value else None


@dataclass(frozen=True)
class ItemView:
    id: int
    created_at: dt.datetime
    channel: str
    reason: str
    status: str
    text: str
    question_id: int | None
    has_chat: bool


@dataclass(frozen=True)
class GroupView:
    """A review group as reviewers see it (redacted texts only, never chat ids)."""

    id: int
    status: str
    text: str
    answer: str | None
    faq_id: str | None
    candidates: tuple[dict, ...]
    posted: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    items: tuple[ItemView, ...]

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def first(self) -> dt.datetime:
        return min((i.created_at for i in self.items), default=self.created_at)

    @property
    def last(self) -> dt.datetime:
        return max((i.created_at for i in self.items), default=self.created_at)

    @property
    def channels(self) -> list[str]:
        return sorted({i.channel for i in self.items})

    def wordings(self, limit: int = 50) -> list[str]:
        """Distinct wordings of the group (same text after folding counts once), first one first."""
        seen: set[str] = set()
        out: list[str] = []
        for text in (self.text, *(i.text for i in self.items)):
            key = views(text).folded
            if key and key not in seen:
                seen.add(key)
                out.append(text.strip())
            if len(out) >= limit:
                break
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "count": self.count,
            "text": self.text,
            "status": self.status,
            "first": iso(self.first),
            "last": iso(self.last),
            "channels": self.channels,
            "candidates": [dict(c) for c in self.candidates],
            "answer": self.answer,
            "faq_id": self.faq_id,
        }


def _view(g: ReviewGroup) -> GroupView:
    items = tuple(ItemView(i.id, i.created_at, i.channel, i.reason, i.status, i.text, i.question_id,
                           i.chat_id is not None) for i in g.items)
    return GroupView(g.id, g.status, g.text, g.answer, g.faq_id, tuple(g.candidates or ()), g.posted,
                     g.created_at, g.updated_at, items)


# --- grouping helpers ------------------------------------------------------------------------------
def _content_words(folded: str) -> frozenset[str]:
    from bot.retrieval import STOPWORDS

    return frozenset(w for w in folded.split() if w not in STOPWORDS)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


@dataclass
class _Pending:
    """A pending group while items are being assigned."""

    id: int
    centroid: np.ndarray
    size: int
    folded: str
    words: frozenset[str]
    accented: bool


@dataclass(frozen=True)
class _Wording:
    text: str
    normalized: str
    folded: str
    words: frozenset[str]

    @property
    def accented(self) -> bool:
        return self.normalized != self.folded

    @classmethod
    def of(cls, text: str) -> "_Wording":
        v = views(text)
        return cls(text, v.normalized or text, v.folded, _content_words(v.folded))


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


IndexSource = Callable[[], "Index"]


class _Taken(Exception):
    """The item was assigned by another process meanwhile (rolls the transaction back)."""


# --- the queue -------------------------------------------------------------------------------------
class ReviewQueue:
    """Review groups and items in the store; every method is synchronous (call it in a thread)."""

    def __init__(self, store: Store, settings: Settings, index: IndexSource | None = None):
        self.store = store
        self.settings = settings
        self._index_source = index
        self._assign_lock = threading.Lock()

    @property
    def threshold(self) -> float:
        return self.settings.review_group_cosine

    def _index(self) -> Index:
        if self._index_source is None:
            raise ReviewError("no index to embed review questions with")
        return self._index_source()

    # -- grouping ------------------------------------------------------------------------------
    def assign_pending(self) -> list[int]:
        """Put every pending item that has no group into the most similar pending group, or into a
        new group. Safe to run from several processes at once. Returns the groups created or grown."""
        with self._assign_lock:
            with self.store.session() as s:
                items = s.execute(
                    select(ReviewItem.id, ReviewItem.text)
                    .where(ReviewItem.group_id.is_(None), ReviewItem.status == "pending")
                    .order_by(ReviewItem.id)
                ).all()
            if not items:
                return []
            index = self._index()
            wordings = [_Wording.of(text) for _, text in items]
            vectors = index.embedder.encode_queries([w.normalized for w in wordings])
            groups = self._pending_groups()
            touched: list[int] = []
            for (item_id, _), wording, vec in zip(items, wordings, vectors):
                vec = np.asarray(vec, dtype=np.float32)
                gid = self._assign(item_id, wording, vec, groups, index)
                if gid is not None:
                    touched.append(gid)
            return sorted(set(touched))

    def _pending_groups(self) -> list[_Pending]:
        with self.store.session() as s:
            rows = s.execute(select(ReviewGroup.id, ReviewGroup.embedding, ReviewGroup.text)
                             .where(ReviewGroup.status == "pending", ReviewGroup.embedding.is_not(None))).all()
            sizes = dict(s.execute(select(ReviewItem.group_id, func.count(ReviewItem.id))
                                   .where(ReviewItem.group_id.in_([r[0] for r in rows]))
                                   .group_by(ReviewItem.group_id)).all()) if rows else {}
        out = []
        for gid, emb, text in rows:
            w = _Wording.of(text)
            out.append(_Pending(gid, np.asarray(emb, dtype=np.float32), max(1, sizes.get(gid, 1)),
                                w.folded, w.words, w.accented))
        return out

    def similarity(self, wording: _Wording, vec: np.ndarray, group: _Pending) -> float | None:
        """How close a question is to a group, or None when it does not belong to it.

        The cosine to the group's centroid must reach `review_group_cosine`; a question typed
        without accents (on which the model's cosines run high for unrelated questions) must also
        share words with the group. The same wording up to accents or typos always belongs."""
        from rapidfuzz import fuzz

        if wording.folded and fuzz.ratio(wording.folded, group.folded) >= SAME_WORDING:
            return 2.0
        cos = float(group.centroid @ vec)
        if cos < self.threshold:
            return None
        if not (wording.accented and group.accented) and _jaccard(wording.words, group.words) < UNACCENTED_OVERLAP:
            return None
        return cos

    def _assign(self, item_id: int, wording: _Wording, vec: np.ndarray, groups: list[_Pending],
                index: Index) -> int | None:
        best: _Pending | None = None
        best_sim = -1.0
        for g in groups:
            sim = self.similarity(wording, vec, g)
            if sim is not None and sim > best_sim:
                best, best_sim = g, sim
        if best is not None:
            centroid = _unit(best.centroid * best.size + vec)
            try:
                with self.store.session() as s, s.begin():
                    grown = s.execute(update(ReviewGroup)
                                      .where(ReviewGroup.id == best.id, ReviewGroup.status == "pending")
                                      .values(embedding=_store_vec(centroid), updated_at=utcnow())).rowcount
                    if grown and not self._claim_item(s, item_id, best.id):
                        raise _Taken
            except _Taken:  # another process assigned the item meanwhile
                return None
            if grown:
                best.centroid, best.size = centroid, best.size + 1
                return best.id
            groups.remove(best)  # closed meanwhile: start a new group below
        candidates = nearest_faq(index, wording.text, vec)
        try:
            with self.store.session() as s, s.begin():
                g = ReviewGroup(status="pending", text=wording.text, normalized=wording.normalized,
                                embedding=_store_vec(vec), candidates=candidates, posted=False)
                s.add(g)
                s.flush()
                gid = g.id
                if not self._claim_item(s, item_id, gid):
                    raise _Taken
        except _Taken:
            return None
        groups.append(_Pending(gid, vec, 1, wording.folded, wording.words, wording.accented))
        return gid

    @staticmethod
    def _claim_item(s: Any, item_id: int, gid: int) -> bool:
        return bool(s.execute(update(ReviewItem)
                              .where(ReviewItem.id == item_id, ReviewItem.group_id.is_(None))
                              .values(group_id=gid)).rowcount)

    def assign_pending_quietly(self) -> None:
        """Group new items before a decision, so that late askers get the answer too; without an
        index (or when it fails) grouping only waits for the next round."""
        if self._index_source is None:
            return
        try:
            self.assign_pending()
        except Exception as exc:  # noqa: BLE001
            log.warning("review: could not group new items now (%s)", exc)

    # -- reading -------------------------------------------------------------------------------
    def group(self, gid: int) -> GroupView:
        with self.store.session() as s:
            g = s.get(ReviewGroup, gid, options=[selectinload(ReviewGroup.items)])
            if g is None:
                raise ReviewError(f"no review group {gid}")
            return _view(g)

    def groups(self, status: str | None = "pending") -> list[GroupView]:
        """Groups with this status (None: all), most asked first, then oldest first."""
        q = select(ReviewGroup).options(selectinload(ReviewGroup.items)).order_by(ReviewGroup.id)
        if status:
            q = q.where(ReviewGroup.status == status)
        with self.store.session() as s:
            found = [_view(g) for g in s.scalars(q).all()]
        return sorted(found, key=lambda g: (-g.count, g.id))

    def unposted(self) -> list[GroupView]:
        """Pending groups not yet posted to the review chats, oldest first."""
        q = (select(ReviewGroup).options(selectinload(ReviewGroup.items))
             .where(ReviewGroup.status == "pending", ReviewGroup.posted.is_(False)).order_by(ReviewGroup.id))
        with self.store.session() as s:
            return [_view(g) for g in s.scalars(q).all()]

    def mark_posted(self, gid: int) -> None:
        with self.store.session() as s, s.begin():
            s.execute(update(ReviewGroup).where(ReviewGroup.id == gid).values(posted=True))

    # -- decisions -----------------------------------------------------------------------------
    def _claim(self, gid: int, allowed: tuple[str, ...], **values: Any) -> GroupView:
        with self.store.session() as s, s.begin():
            done = s.execute(update(ReviewGroup)
                             .where(ReviewGroup.id == gid, ReviewGroup.status.in_(allowed))
                             .values(updated_at=utcnow(), **values)).rowcount
        if not done:
            current = self.group(gid)  # raises for an unknown id
            raise ReviewError(f"review group {gid} is already {current.status}")
        return self.group(gid)

    def ignore(self, gid: int) -> GroupView:
        self._claim(gid, ("pending",), status="ignored")
        with self.store.session() as s, s.begin():
            s.execute(update(ReviewItem).where(ReviewItem.group_id == gid, ReviewItem.status == "pending")
                      .values(status="ignored", chat_id=None))
        return self.group(gid)

    def claim_answer(self, gid: int, answer: str) -> GroupView:
        """A reviewer's answer: the group becomes `answered` (only one reviewer can win)."""
        answer = (answer or "").strip()
        if not answer:
            raise ReviewError("the answer is empty")
        return self._claim(gid, ("pending",), status="answered", answer=answer)

    def claim_link(self, gid: int, faq_id: str, answer: str) -> GroupView:
        """The group is an existing FAQ entry: `linked`, to be answered with that entry's answer."""
        return self._claim(gid, ("pending",), status="linked", faq_id=faq_id, answer=answer)

    def set_faq(self, gid: int, faq_id: str) -> None:
        with self.store.session() as s, s.begin():
            s.execute(update(ReviewGroup).where(ReviewGroup.id == gid).values(faq_id=faq_id, updated_at=utcnow()))

    # -- delivery bookkeeping ------------------------------------------------------------------
    def open_deliveries(self, gid: int) -> list["Delivery"]:
        """What still has to be sent for a decided group: one delivery per chat."""
        with self.store.session() as s:
            g = s.get(ReviewGroup, gid, options=[selectinload(ReviewGroup.items)])
            if g is None or g.status not in ("answered", "linked", "undeliverable") or not g.answer:
                return []
            by_chat: dict[tuple[str, str | None], Delivery] = {}
            for i in g.items:
                if i.status != "pending":
                    continue
                key = (i.channel, i.chat_id) if i.chat_id else (i.channel, f"#{i.id}")
                d = by_chat.get(key)
                if d is None:
                    by_chat[key] = Delivery(gid, [i.id], i.channel, i.chat_id, i.text, g.answer,
                                            "linked" if g.status == "linked" else "answered")
                else:
                    d.item_ids.append(i.id)
            return list(by_chat.values())

    def record(self, delivery: "Delivery", outcome: str) -> None:
        """Close delivered items (dropping the chat id), mark refused ones; keep the rest open."""
        if outcome == "retry":
            return
        status = delivery.closed_status if outcome == "sent" else "undeliverable"
        with self.store.session() as s, s.begin():
            s.execute(update(ReviewItem).where(ReviewItem.id.in_(delivery.item_ids), ReviewItem.status == "pending")
                      .values(status=status, chat_id=None))

    def settle(self, gid: int) -> GroupView:
        """After a delivery round: a group none of whose citizens could be reached is undeliverable."""
        g = self.group(gid)
        if g.status in ("answered", "linked") and g.items and all(i.status == "undeliverable" for i in g.items):
            with self.store.session() as s, s.begin():
                s.execute(update(ReviewGroup).where(ReviewGroup.id == gid).values(status="undeliverable"))
            g = self.group(gid)
        with self.store.session() as s, s.begin():
            s.execute(update(ReviewGroup).where(ReviewGroup.id == gid).values(updated_at=utcnow()))
        return g

    def stale_deliveries(self, older_than: float = RETRY_SECONDS) -> list[int]:
        """Decided groups with items still open, untouched for `older_than` seconds (to retry)."""
        cutoff = utcnow() - dt.timedelta(seconds=older_than)
        with self.store.session() as s:
            return sorted(set(s.scalars(
                select(ReviewGroup.id).join(ReviewItem, ReviewItem.group_id == ReviewGroup.id)
                .where(ReviewGroup.status.in_(("answered", "linked", "undeliverable")),
                       ReviewItem.status == "pending", ReviewGroup.updated_at <= cutoff)
            ).all()))

    # -- export --------------------------------------------------------------------------------
    def export_csv(self, path: Path | io.TextIOBase, status: str | None = None) -> int:
        """One row per group (for commune reports; UTF-8 with BOM so that Excel shows the accents)."""
        groups = sorted(self.groups(status), key=lambda g: g.id)
        header = ["id", "status", "count", "first", "last", "channels", "text", "other_wordings",
                  "candidates", "answer", "faq_id"]
        rows = [[g.id, g.status, g.count, iso(g.first), iso(g.last), " ".join(g.channels), g.text,
                 " | ".join(g.wordings()[1:]), " ".join(c["id"] for c in g.candidates), g.answer or "",
                 g.faq_id or ""] for g in groups]
        with (open(path, "w", encoding="utf-8-sig", newline="") if isinstance(path, (str, Path))
              else contextlib.nullcontext(path)) as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)
        return len(rows)


def _store_vec(v: np.ndarray) -> list[float]:
    return [round(float(x), 6) for x in v]


def nearest_faq(index: Index, text: str, vec: np.ndarray | None = None, k: int = MAX_CANDIDATES) -> list[dict]:
    """The bot's nearest FAQ entries for a question: id, question and confidence."""
    v = views(text)
    if not v.has_content:
        return []
    out = []
    for c in index.search(v, query_vec=vec, k=max(10, 2 * k)):
        t = index.target(c.target)
        if c.kind != "faq" or t is None:
            continue
        out.append({"id": t.id, "question": t.question, "confidence": round(float(c.confidence), 3)})
        if len(out) >= k:
            break
    return out


# --- delivery --------------------------------------------------------------------------------------
Outcome = Literal["sent", "refused", "retry"]


@dataclass
class Delivery:
    group_id: int
    item_ids: list[int]
    channel: str
    chat_id: str | None
    question: str
    answer: str
    closed_status: str  # what the items become once delivered: answered or linked

    @property
    def text(self) -> str:
        return replies.COMMUNITY_ANSWER.format(question=self.question.strip(), answer=self.answer.strip())


@dataclass
class DeliveryReport:
    sent: int = 0
    undeliverable: int = 0
    retry: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, outcome: Outcome, people: int, problem: str = "") -> None:
        if outcome == "sent":
            self.sent += people
        elif outcome == "refused":
            self.undeliverable += people
        else:
            self.retry += people
        if problem:
            self.problems.append(problem)

    def summary(self) -> str:
        return f"sent {self.sent}, undeliverable {self.undeliverable}, to retry {self.retry}"


class Deliverer:
    """Sends community answers through the channels' APIs (Telegram Bot API, Zalo Bot API).

    Use as `async with Deliverer(settings) as d:`; clients it creates are closed on exit. A bot
    passed in (the running Telegram application's) is reused and left open."""

    def __init__(self, settings: Settings, *, telegram_bot: Any = None, zalo_client: Any = None):
        self.settings = settings
        self._telegram = telegram_bot
        self._zalo = zalo_client
        self._owned: list[Any] = []

    async def __aenter__(self) -> "Deliverer":
        return self

    async def __aexit__(self, *exc: object) -> None:
        for client in self._owned:
            try:
                if hasattr(client, "aclose"):
                    await client.aclose()
                else:
                    await client.shutdown()
            except Exception as e:  # noqa: BLE001 - closing must not hide the real outcome
                log.debug("review delivery: closing a client failed: %s", e)
        self._owned.clear()

    async def _telegram_bot(self) -> Any:
        if self._telegram is None and self.settings.telegram_token:
            from telegram import Bot

            bot = Bot(self.settings.telegram_token, base_url=self.settings.telegram_base_url)
            await bot.initialize()
            self._owned.append(bot)
            self._telegram = bot
        return self._telegram

    def _zalo_client(self) -> Any:
        if self._zalo is None and self.settings.zalo_token:
            from bot.channels.zalo import ZaloClient

            self._zalo = ZaloClient(self.settings.zalo_token, self.settings.zalo_base_url, max_retries=2)
            self._owned.append(self._zalo)
        return self._zalo

    async def send(self, channel: str, chat_id: str | None, text: str) -> tuple[Outcome, str]:
        """Send one message. `refused`: the channel will never take it (blocked, unknown chat,
        no chat id); `retry`: a passing failure (network, server error, no token configured)."""
        if not chat_id:
            return "refused", f"{channel}: no chat to answer"
        if channel == "telegram":
            return await self._send_telegram(chat_id, text)
        if channel == "zalo":
            return await self._send_zalo(chat_id, text)
        return "refused", f"{channel}: this channel cannot receive answers"

    async def _send_telegram(self, chat_id: str, text: str) -> tuple[Outcome, str]:
        import html

        from telegram.constants import ParseMode
        from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError

        from bot.channels.render import TELEGRAM_LIMIT, split_message
        from bot.channels.telegram import telegram_length

        try:
            bot = await self._telegram_bot()
        except (InvalidToken, TelegramError) as exc:
            return "retry", f"telegram: {type(exc).__name__}"
        if bot is None:
            return "retry", "telegram: TROLYSO_TELEGRAM_TOKEN is not set"
        target: int | str = int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
        chunks = split_message(text, TELEGRAM_LIMIT, telegram_length)
        try:
            for chunk in chunks:
                for attempt in range(3):
                    try:
                        await bot.send_message(target, html.escape(chunk, quote=False), parse_mode=ParseMode.HTML)
                        break
                    except RetryAfter as exc:
                        if attempt == 2:
                            raise
                        await asyncio.sleep(min(30.0, _seconds(exc.retry_after)))
        except (Forbidden, BadRequest) as exc:
            return "refused", f"telegram: {exc}"
        except TelegramError as exc:
            return "retry", f"telegram: {type(exc).__name__}: {exc}"
        return "sent", ""

    async def _send_zalo(self, chat_id: str, text: str) -> tuple[Outcome, str]:
        from bot.channels.zalo import ZaloError

        client = self._zalo_client()
        if client is None:
            return "retry", "zalo: TROLYSO_ZALO_TOKEN is not set"
        try:
            await client.send_message(chat_id, text)
        except ZaloError as exc:
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                return "refused", f"zalo: {exc}"
            return "retry", f"zalo: {exc}"
        return "sent", ""


def _seconds(value: Any) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


_delivering: set[int] = set()  # groups being delivered by this process (never twice at once)


async def deliver_group(queue: ReviewQueue, deliverer: Deliverer, gid: int) -> DeliveryReport:
    """Send a decided group's answer to every open item's chat, and record each outcome."""
    report = DeliveryReport()
    if gid in _delivering:
        return report
    _delivering.add(gid)
    try:
        for d in await asyncio.to_thread(queue.open_deliveries, gid):
            try:
                outcome, problem = await deliverer.send(d.channel, d.chat_id, d.text)
            except Exception as exc:  # noqa: BLE001 - an unexpected failure must not lose the item
                log.exception("review: delivery to %s failed", d.channel)
                outcome, problem = "retry", f"{d.channel}: {type(exc).__name__}"
            await asyncio.to_thread(queue.record, d, outcome)
            report.add(outcome, 1, problem)
            if problem:
                log.warning("review group %s: %s (%s)", gid, problem, outcome)
        await asyncio.to_thread(queue.settle, gid)
    finally:
        _delivering.discard(gid)
    return report


# --- high-level actions (bot buttons and CLI share them) -----------------------------------------
@dataclass
class ActionResult:
    group: GroupView
    report: DeliveryReport = field(default_factory=DeliveryReport)
    added: list[str] = field(default_factory=list)  # wordings written into the FAQ
    backup: Path | None = None
    teach_error: str | None = None
    faq_id: str | None = None


def faq_answer_text(settings: Settings, faq_id: str, index: Index | None = None) -> tuple[str, str]:
    """(question, answer with its source line) of an FAQ entry, from the FAQ file or the index."""
    from indexer.faq import load_faq

    entry = next((e for e in load_faq(settings.faq).entries if e.id == faq_id), None)
    if entry is not None:
        question, answer, source = entry.question, entry.answer, entry.source
    else:
        t = index.target(faq_id) if index is not None else None
        if t is None or t.kind != "faq":
            raise ReviewError(f"no FAQ entry {faq_id!r} in {settings.faq}")
        question, answer, source = t.question, t.answer, t.source
    text = answer.strip()
    if source:
        text += "\n" + replies.SOURCE_LINE.format(source=source)
    return question, text


async def answer_group(queue: ReviewQueue, deliverer: Deliverer, gid: int, answer: str) -> ActionResult:
    await asyncio.to_thread(queue.assign_pending_quietly)
    await asyncio.to_thread(queue.claim_answer, gid, answer)
    report = await deliver_group(queue, deliverer, gid)
    return ActionResult(await asyncio.to_thread(queue.group, gid), report)


async def link_group(queue: ReviewQueue, deliverer: Deliverer, editor: "FaqEditor", gid: int, faq_id: str,
                     index: Index | None = None) -> ActionResult:
    """The group asks an existing FAQ entry: answer the citizens with it, and add their wording
    as alternates of the entry. Linking an already linked group again only teaches."""
    await asyncio.to_thread(queue.assign_pending_quietly)
    _, text = await asyncio.to_thread(faq_answer_text, queue.settings, faq_id, index)
    group = await asyncio.to_thread(queue.group, gid)
    if group.status == "linked" and group.faq_id == faq_id:
        report = DeliveryReport()
    else:
        await asyncio.to_thread(queue.claim_link, gid, faq_id, text)
        report = await deliver_group(queue, deliverer, gid)
    group = await asyncio.to_thread(queue.group, gid)
    result = ActionResult(group, report, faq_id=faq_id)
    try:
        edit = await asyncio.to_thread(editor.add_alternates, faq_id, group.wordings())
        result.added, result.backup = edit.added, edit.backup
    except TeachError as exc:
        result.teach_error = str(exc)
        log.error("review group %s: could not teach the FAQ: %s", gid, exc)
    return result


def promote_group(queue: ReviewQueue, editor: "FaqEditor", gid: int, faq_id: str | None = None,
                  category: str | None = None) -> ActionResult:
    """An answered group becomes a new FAQ entry (its wordings: the question and alternates)."""
    group = queue.group(gid)
    if not group.answer or group.status not in ("answered", "undeliverable"):
        raise ReviewError(f"review group {gid} is {group.status}; only an answered group can be promoted")
    if group.faq_id:
        raise ReviewError(f"review group {gid} is already FAQ entry {group.faq_id!r}")
    edit = editor.add_entry(group.wordings(), group.answer, faq_id=faq_id, category=category)
    queue.set_faq(gid, edit.entry_id)
    return ActionResult(queue.group(gid), added=edit.added, backup=edit.backup, faq_id=edit.entry_id)


# --- teaching: the FAQ file ----------------------------------------------------------------------
@dataclass
class Edit:
    entry_id: str
    added: list[str]
    backup: Path | None


# Question words left out of the id of a promoted entry (folded).
_SLUG_SKIP = frozenset("""
a ad ai ba bac ban bao cach cho chi co con da de duoc em gi giup ha hay hoi khong ko k la lam
minh muon nao ne nhe nhieu nhu o oi phai sao the thi toi va vay voi xin dau ah
""".split())


def _slug(text: str, limit: int = 6) -> str:
    words = [w for w in re.sub(r"[^a-z0-9]+", " ", views(text).folded).split() if w not in _SLUG_SKIP]
    return "-".join(words[:limit]) or "cau-hoi"


class FaqEditor:
    """Changes the FAQ file in place with ruamel.yaml, keeping comments, order and formatting.

    Every change is validated with `indexer.faq.load_faq` before it replaces the file (atomically),
    and the previous file is kept in `backup_dir` as `faq-YYYYmmdd-HHMMSS.yaml`."""

    def __init__(self, path: Path, backup_dir: Path, lock_path: Path | None = None):
        self.path = Path(path)
        self.backup_dir = Path(backup_dir)
        self.lock_path = lock_path or self.backup_dir.parent / "faq-edit.lock"
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "FaqEditor":
        return cls(settings.faq, settings.data_dir / "backups", settings.data_dir / "faq-edit.lock")

    # -- public --------------------------------------------------------------------------------
    def add_alternates(self, faq_id: str, texts: list[str]) -> Edit:
        """Add the wordings that no entry has yet (after normalisation) to entry `faq_id`."""
        def change(data: Any, style: _Style) -> list[str]:
            entry = next((e for e in _entries(data) if str(e.get("id")) == faq_id), None)
            if entry is None:
                raise TeachError(f"no FAQ entry {faq_id!r} in {self.path}")
            new = _new_wordings(data, texts)
            if not new:
                return []
            alts = entry.get("alternates")
            if not isinstance(alts, list):
                from ruamel.yaml.comments import CommentedSeq

                alts = CommentedSeq()
                keys = list(entry.keys())
                at = keys.index("question") + 1 if "question" in keys else len(keys)
                entry.insert(at, "alternates", alts)
            _append(alts, [style.string(t) for t in new])
            return new

        return self._edit(faq_id, change)

    def add_entry(self, wordings: list[str], answer: str, *, faq_id: str | None = None,
                  category: str | None = None, source: str = COMMUNITY_SOURCE) -> Edit:
        """Append a new entry: the first new wording is the question, the others alternates."""
        from indexer.faq import CATEGORIES, ID_RE

        if faq_id is not None and not ID_RE.match(faq_id):
            raise TeachError(f"id {faq_id!r} must use only a-z, 0-9 and '-'")
        if category is not None and category not in CATEGORIES:
            raise TeachError(f"unknown category {category!r}; use one of: {', '.join(CATEGORIES)}")
        chosen: dict[str, str] = {}

        def change(data: Any, style: _Style) -> list[str]:
            from ruamel.yaml.comments import CommentedMap, CommentedSeq
            from ruamel.yaml.scalarstring import LiteralScalarString

            new = _new_wordings(data, wordings)
            if not new:
                raise TeachError("every wording of this group is already in the FAQ")
            ids = {str(e.get("id")) for e in _entries(data)}
            entry_id = faq_id or _slug(new[0])
            if faq_id and faq_id in ids:
                raise TeachError(f"the FAQ already has an entry {faq_id!r}")
            base, n = entry_id, 2
            while entry_id in ids:
                entry_id, n = f"{base}-{n}", n + 1
            chosen["id"] = entry_id
            entry = CommentedMap()
            entry["id"] = entry_id
            if category:
                entry["category"] = category
            entry["question"] = style.string(new[0])
            if new[1:]:
                entry["alternates"] = CommentedSeq([style.string(t) for t in new[1:]])
            entry["answer"] = LiteralScalarString(answer.strip() + "\n")
            entry["source"] = style.string(source)
            entry["reviewed"] = dt.date.today()
            faqs = data.get("faqs")
            if not isinstance(faqs, list):
                faqs = CommentedSeq()
                data["faqs"] = faqs
            faqs.fa.set_block_style()
            _append(faqs, [entry], separate=style.blank_between_entries and len(faqs) > 0)
            return new

        edit = self._edit(faq_id or "", change)
        edit.entry_id = chosen.get("id", edit.entry_id)
        return edit

    # -- plumbing ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.lock_path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _edit(self, entry_id: str, change: Callable[[Any, "_Style"], list[str]]) -> Edit:
        from indexer.faq import load_faq

        with self._locked():
            try:
                text = self.path.read_text(encoding="utf-8")
            except OSError as exc:
                raise TeachError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
            current = load_faq(self.path).errors
            if current:
                raise TeachError(f"{self.path} has errors; fix them first", [str(i) for i in current])
            yaml, style = _yaml_for(text)
            try:
                data = yaml.load(text)
            except Exception as exc:  # noqa: BLE001 - ruamel raises many error types
                issues = [str(i) for i in load_faq(self.path).errors] or [f"{self.path}: {exc}"]
                raise TeachError(f"{self.path} is not valid; fix it first", issues) from exc
            if data is None:
                from ruamel.yaml.comments import CommentedMap

                data = CommentedMap([("version", 1)])
            if not hasattr(data, "get"):
                raise TeachError(f"{self.path}: the file must be a mapping with `version: 1` and `faqs:`")
            added = change(data, style)
            if not added:
                return Edit(entry_id, [], None)
            buf = io.StringIO()
            yaml.dump(data, buf)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            try:
                tmp.write_text(buf.getvalue(), encoding="utf-8")
                errors = load_faq(tmp).errors
                if errors:
                    issues = [str(i).replace(str(tmp), str(self.path)) for i in errors]
                    raise TeachError(f"the change would make {self.path} invalid; nothing was written", issues)
                backup = self._backup()
                shutil.copymode(self.path, tmp)
                os.replace(tmp, self.path)
            finally:
                tmp.unlink(missing_ok=True)
            log.info("FAQ %s: %d wording(s) added to %s (backup %s)", self.path, len(added), entry_id or "a new entry", backup)
            return Edit(entry_id, added, backup)

    def _backup(self) -> Path:
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.backup_dir / f"faq-{stamp}.yaml"
        n = 2
        while target.exists():
            target = self.backup_dir / f"faq-{stamp}-{n}.yaml"
            n += 1
        shutil.copy2(self.path, target)
        return target


@dataclass(frozen=True)
class _Style:
    quoted: bool
    blank_between_entries: bool

    def string(self, text: str) -> Any:
        from ruamel.yaml.scalarstring import DoubleQuotedScalarString

        text = " ".join(text.split())
        return DoubleQuotedScalarString(text) if self.quoted else text


def _yaml_for(text: str) -> tuple[Any, _Style]:
    """A round-trip YAML instance with the file's own indentation, and its quoting habits."""
    from ruamel.yaml import YAML

    y = YAML()
    y.preserve_quotes = True
    y.width = 1_000_000  # never re-wrap long lines
    m = re.search(r"^([ \t]*)-[ \t]+id[ \t]*:", text, re.M)
    offset = len(m.group(1)) if m else 2
    y.indent(mapping=2, sequence=offset + 2, offset=offset)
    quoted = bool(re.search(r"^[ \t]*(?:-[ \t]+)?question:[ \t]*\"", text, re.M)) or not m
    blank = bool(re.search(r"\n[ \t]*\n(?:[ \t]*#[^\n]*\n)*[ \t]*-[ \t]+id[ \t]*:", text))
    return y, _Style(quoted, blank)


def _entries(data: Any) -> list[Any]:
    faqs = data.get("faqs") if hasattr(data, "get") else None
    return [e for e in faqs if hasattr(e, "get")] if isinstance(faqs, list) else []


def _new_wordings(data: Any, texts: list[str]) -> list[str]:
    """Wordings no entry has yet (after normalisation), deduplicated, at most MAX_ALTERNATES."""
    seen: set[str] = set()
    for e in _entries(data):
        for q in [e.get("question"), *(e.get("alternates") or [])]:
            if q is not None:
                seen.add(views(str(q)).folded)
    out: list[str] = []
    for text in texts:
        text = " ".join(str(text).split())
        key = views(text).folded
        if not key or key in seen or len(text) > MAX_WORDING_CHARS:
            continue
        seen.add(key)
        out.append(text)
        if len(out) >= MAX_ALTERNATES:
            break
    return out


# ruamel keeps the comments and blank lines that follow a node on the node's last element, so an
# element appended after it would land below them. These helpers move them to the new last element.
def _last_path(node: Any) -> list[tuple[Any, Any]]:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    path = []
    while isinstance(node, (CommentedMap, CommentedSeq)) and len(node):
        key = list(node.keys())[-1] if isinstance(node, CommentedMap) else len(node) - 1
        path.append((node, key))
        node = node[key]
    return path


def _is_block(value: Any) -> bool:
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    return isinstance(value, (LiteralScalarString, FoldedScalarString))


def _slot(container: Any) -> int:
    from ruamel.yaml.comments import CommentedMap

    return 2 if isinstance(container, CommentedMap) else 0


def _detach_trailing(node: Any) -> str:
    """Remove and return the lines (blank or comments) that follow the end of `node`; an
    end-of-line comment stays where it is."""
    for container, key in reversed(_last_path(node)):
        slot = container.ca.items.get(key)
        pos = _slot(container)
        token = slot[pos] if slot and len(slot) > pos else None
        if token is None:
            continue
        if _is_block(container[key]):
            trailing, keep = token.value, ""
        else:
            inline, newline, trailing = token.value.partition("\n")
            keep = inline + newline if inline.strip() else ""
        if keep:
            token.value = keep
        else:
            slot[pos] = None
        return trailing
    return ""


def _attach_trailing(node: Any, trailing: str) -> None:
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    path = _last_path(node)
    if not trailing or not path:
        return
    container, key = path[-1]
    value = trailing if _is_block(container[key]) else "\n" + trailing
    slot = container.ca.items.setdefault(key, [None, None, None, None])
    slot[_slot(container)] = CommentToken(value, CommentMark(0), None)


def _append(seq: Any, values: list[Any], separate: bool = False) -> None:
    """Append to a sequence, keeping the comments that followed its old last element after the
    new last one; `separate` puts a blank line before each new element."""
    trailing = _detach_trailing(seq) if len(seq) else ""
    for value in values:
        if separate and len(seq):
            _attach_trailing(seq, "\n")
        seq.append(value)
    _attach_trailing(seq, trailing)


# --- the background worker of `trolyso serve` ----------------------------------------------------
class Poster(Protocol):
    async def post(self, group: GroupView) -> bool: ...


class ReviewWorker:
    """Every `review_poll_seconds`: write spooled records, group new review items, post new
    groups to the review chats, and retry deliveries that failed for a passing reason."""

    def __init__(self, queue: ReviewQueue, settings: Settings, poster: Poster | None = None,
                 deliverer_factory: Callable[[], Deliverer] | None = None):
        self.queue = queue
        self.settings = settings
        self.poster = poster
        self._deliverer = deliverer_factory or (lambda: Deliverer(settings))
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def tick(self) -> None:
        store = self.queue.store
        await asyncio.to_thread(store.flush_spool)
        await asyncio.to_thread(self.queue.assign_pending)
        if self.poster is not None:
            for group in await asyncio.to_thread(self.queue.unposted):
                if await self.poster.post(group):
                    await asyncio.to_thread(self.queue.mark_posted, group.id)
        stale = await asyncio.to_thread(self.queue.stale_deliveries)
        if stale:
            async with self._deliverer() as deliverer:
                for gid in stale:
                    report = await deliver_group(self.queue, deliverer, gid)
                    log.info("review group %s: delivery retried: %s", gid, report.summary())

    async def run(self) -> None:
        while True:
            self._wake.clear()  # a wake() during the round below makes another round at once
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except SQLAlchemyError as exc:  # the database is down: questions are spooled meanwhile
                log.warning("review: database unavailable (%s); trying again later", type(exc).__name__)
            except Exception:  # noqa: BLE001 - the loop must survive a bad tick
                log.exception("review: background round failed; trying again later")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.review_poll_seconds)

