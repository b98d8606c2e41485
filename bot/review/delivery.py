"""Community answers reach the citizens: one message per chat, through each channel's sender.

What a channel refuses (blocked bot, unknown chat) is marked `undeliverable`; what fails for a
passing reason (network, no token configured) stays open and is retried by the review worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.outbound import Outcome, Sender
from bot.replies import citizens
from bot.review.queue import Delivery, ReviewQueue

log = logging.getLogger(__name__)

Senders = Mapping[str, Sender]


def delivery_text(d: Delivery) -> str:
    return citizens.COMMUNITY_ANSWER.format(question=d.question.strip(), answer=d.answer.strip())




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


_delivering: set[int] = set()  # groups being delivered by this process (never twice at once)


async def deliver_group(queue: ReviewQueue, senders: Senders, gid: int) -> DeliveryReport:
    """Send a decided group's answer to every open item's chat, and record each outcome."""
    report = DeliveryReport()
    if gid in _delivering:
        return report
    _delivering.add(gid)
    try:
        for d in await asyncio.to_thread(queue.open_deliveries, gid):
            try:
                outcome, problem = await send(senders, d)
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


async def send(senders: Senders, d: Delivery) -> tuple[Outcome, str]:
    """Send one delivery through its channel's sender."""
    if not d.chat_id:
        return "refused", f"{d.channel}: no chat to answer"
    sender = senders.get(d.channel)
    if sender is None:
        return "refused", f"{d.channel}: this channel cannot receive answers"
    result = await sender.send_text(d.chat_id, delivery_text(d))
    return result.outcome, result.problem
