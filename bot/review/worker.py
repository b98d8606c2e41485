"""The review loop's background round inside `trolyso serve`: group new review items, post new
groups to the review chats, retry deliveries that failed for a passing reason."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from bot.config import Settings
from bot.periodic import repeat
from bot.review.delivery import Senders, deliver_group
from bot.review.queue import GroupView, ReviewQueue

log = logging.getLogger(__name__)


class Poster(Protocol):
    async def post(self, group: GroupView) -> bool: ...


class ReviewWorker:
    """Every `review_poll_seconds`: group new review items, post new groups to the review chats,
    and retry deliveries that failed for a passing reason."""

    def __init__(self, queue: ReviewQueue, settings: Settings, senders: Senders,
                 poster: Poster | None = None):
        self.queue = queue
        self.settings = settings
        self.senders = senders
        self.poster = poster
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def tick(self) -> None:
        await asyncio.to_thread(self.queue.assign_pending)
        if self.poster is not None:
            for group in await asyncio.to_thread(self.queue.unposted):
                if await self.poster.post(group):
                    await asyncio.to_thread(self.queue.mark_posted, group.id)
        stale = await asyncio.to_thread(self.queue.stale_deliveries)
        for gid in stale:
            report = await deliver_group(self.queue, self.senders, gid)
            log.info("review group %s: delivery retried: %s", gid, report.summary())

    async def run(self) -> None:
        await repeat(self.tick, self.settings.review_poll_seconds, "review", self._wake)
