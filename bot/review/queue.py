"""The review queue in the database: groups and items, reviewers' decisions, delivery bookkeeping.

Every method is synchronous (call it in a thread). Statuses of groups and items: pending,
answered, linked, ignored, undeliverable. Only open items keep the raw chat id.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import selectinload

from bot.config import Settings
from bot.models import ReviewGroup, ReviewItem, utcnow
from bot.retrieval import Index
from bot.review.grouping import Pending, Wording, similarity, unit
from bot.storage import Store
from indexer.communes import Communes
from indexer.text import views

log = logging.getLogger(__name__)

STATUSES = ("pending", "answered", "linked", "ignored", "undeliverable")
MAX_CANDIDATES = 5  # nearest FAQ entries kept per group
RETRY_SECONDS = 60.0  # deliveries that failed for a passing reason are retried after this long

IndexSource = Callable[[], Index]


class ReviewError(Exception):
    """A review action that cannot be done (unknown group, wrong status, ...): one clear line."""


class _Taken(Exception):
    """The item was assigned by another process meanwhile (rolls the transaction back)."""


@dataclass
class Delivery:
    """One community answer to send: to one chat, for the items of a group asked there."""

    group_id: int
    item_ids: list[int]
    channel: str
    chat_id: str | None
    question: str
    answer: str
    closed_status: str  # what the items become once delivered: answered or linked


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
    commune: str | None = None  # the citizen's commune code


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
    commune: str | None = None  # the commune whose review chats review it; None: the province

    @property
    def communes(self) -> list[str]:
        """The commune codes of the citizens who asked (those who told theirs), first asked first."""
        return list(dict.fromkeys(i.commune for i in self.items if i.commune))

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
                           i.chat_id is not None, i.commune) for i in g.items)
    return GroupView(g.id, g.status, g.text, g.answer, g.faq_id, tuple(g.candidates or ()), g.posted,
                     g.created_at, g.updated_at, items, g.commune)


class ReviewQueue:
    """Review groups and items in the store; every method is synchronous (call it in a thread)."""

    def __init__(self, store: Store, settings: Settings, index: IndexSource | None = None,
                 communes: Communes | None = None):
        self.store = store
        self.settings = settings
        # where a commune's questions are reviewed (its own chats, or the province's)
        self.communes = communes if communes is not None else Communes.load_if_present(settings.communes)
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
        new group. Groups never mix destinations: the questions of a commune with its own review
        chats are grouped apart from the rest (reviewed in the provincial chats). Safe to run from
        several processes at once. Returns the groups created or grown."""
        with self._assign_lock:
            with self.store.session() as s:
                items = s.execute(
                    select(ReviewItem.id, ReviewItem.text, ReviewItem.commune)
                    .where(ReviewItem.group_id.is_(None), ReviewItem.status == "pending")
                    .order_by(ReviewItem.id)
                ).all()
            if not items:
                return []
            index = self._index()
            wordings = [Wording.of(text) for _, text, _ in items]
            vectors = index.embedder.encode_queries([w.normalized for w in wordings])
            groups = self._pending_groups()
            touched: list[int] = []
            for (item_id, _, commune), wording, vec in zip(items, wordings, vectors, strict=False):
                vec = np.asarray(vec, dtype=np.float32)
                destination = self.communes.destination(commune)
                gid = self._assign(item_id, wording, vec, groups.setdefault(destination, []), index, destination)
                if gid is not None:
                    touched.append(gid)
            return sorted(set(touched))

    def _pending_groups(self) -> dict[str | None, list[Pending]]:
        """The pending groups by destination (a commune code, or None for the province)."""
        with self.store.session() as s:
            rows = s.execute(select(ReviewGroup.id, ReviewGroup.embedding, ReviewGroup.text, ReviewGroup.commune)
                             .where(ReviewGroup.status == "pending", ReviewGroup.embedding.is_not(None))).all()
            sizes = dict(s.execute(select(ReviewItem.group_id, func.count(ReviewItem.id))
                                   .where(ReviewItem.group_id.in_([r[0] for r in rows]))
                                   .group_by(ReviewItem.group_id)).all()) if rows else {}
        out: dict[str | None, list[Pending]] = {}
        for gid, emb, text, commune in rows:
            w = Wording.of(text)
            out.setdefault(commune, []).append(Pending(gid, np.asarray(emb, dtype=np.float32),
                                                       max(1, sizes.get(gid, 1)), w.folded, w.words, w.accented))
        return out

    def similarity(self, wording: Wording, vec: np.ndarray, group: Pending) -> float | None:
        return similarity(wording, vec, group, self.threshold)

    def _assign(self, item_id: int, wording: Wording, vec: np.ndarray, groups: list[Pending],
                index: Index, destination: str | None = None) -> int | None:
        best: Pending | None = None
        best_sim = -1.0
        for g in groups:
            sim = self.similarity(wording, vec, g)
            if sim is not None and sim > best_sim:
                best, best_sim = g, sim
        if best is not None:
            centroid = unit(best.centroid * best.size + vec)
            try:
                with self.store.session() as s, s.begin():
                    grown = cast(CursorResult[Any], s.execute(
                        update(ReviewGroup)
                        .where(ReviewGroup.id == best.id, ReviewGroup.status == "pending")
                        .values(embedding=_store_vec(centroid), updated_at=utcnow()))).rowcount
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
                row = ReviewGroup(status="pending", text=wording.text, normalized=wording.normalized,
                                  embedding=_store_vec(vec), candidates=candidates, posted=False,
                                  commune=destination)
                s.add(row)
                s.flush()
                gid = row.id
                if not self._claim_item(s, item_id, gid):
                    raise _Taken
        except _Taken:
            return None
        groups.append(Pending(gid, vec, 1, wording.folded, wording.words, wording.accented))
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
            done = cast(CursorResult[Any], s.execute(
                update(ReviewGroup)
                .where(ReviewGroup.id == gid, ReviewGroup.status.in_(allowed))
                .values(updated_at=utcnow(), **values))).rowcount
        if not done:
            current = self.group(gid)  # raises for an unknown id
            raise ReviewError(f"review group {gid} is already {current.status}")
        return self.group(gid)

    def ignore(self, gid: int) -> GroupView:
        self._claim(gid, ("pending",), status="ignored")
        with self.store.session() as s, s.begin():
            s.execute(update(ReviewItem).where(ReviewItem.group_id == gid, ReviewItem.status == "pending")
                      .values(status="ignored", chat_id=None, closed_at=utcnow()))
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
    def open_deliveries(self, gid: int) -> list[Delivery]:
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

    def record(self, delivery: Delivery, outcome: str) -> None:
        """Close delivered items (dropping the chat id), mark refused ones; keep the rest open."""
        if outcome == "retry":
            return
        status = delivery.closed_status if outcome == "sent" else "undeliverable"
        with self.store.session() as s, s.begin():
            s.execute(update(ReviewItem).where(ReviewItem.id.in_(delivery.item_ids), ReviewItem.status == "pending")
                      .values(status=status, chat_id=None, closed_at=utcnow()))

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
