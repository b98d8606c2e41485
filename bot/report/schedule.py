"""Scheduled delivery of the official reports: at 17:00 local time on the 14th the monthly
report (on 14 June the 6-month one, on 14 December the annual one) is posted to the report chats
with its files, with the data up to that moment. Each period is claimed in the database first
(`report_deliveries`), so several replicas send it once; after a downtime only the latest missed
period is sent, at the next start."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.models import ReportDelivery, utcnow
from bot.outbound import SendResult
from bot.report import texts
from bot.report.compose import Report, build_report
from bot.report.periods import Period, due_period, next_due, timezone
from bot.report.render import write_report
from bot.storage import Store
from indexer.communes import Communes

log = logging.getLogger(__name__)


class DocumentSender(Protocol):
    async def send_text(self, chat_id: str, text: str) -> SendResult: ...
    async def send_document(self, chat_id: str, path: Path, caption: str = "") -> SendResult: ...


def summary(r: Report) -> str:
    """The message that goes with the files: the key numbers."""
    n, up_down = r.numbers, r.feedback()
    rate = "—" if r.answer_rate is None else f"{100 * r.answer_rate:.1f}%"
    partial = (texts.PARTIAL.format(until=f"{r.generated_at:%H:%M} ngày {r.generated_at:%d/%m/%Y}")
               if r.partial else "")
    text = texts.MESSAGE.format(
        title=r.title(), span=r.period.span()[:1].upper() + r.period.span()[1:], partial=partial,
        questions=n.questions, previous=r.previous[0], citizens=n.citizens, rate=rate,
        telegram=n.by_channel.get("telegram", 0), zalo=n.by_channel.get("zalo", 0), web=n.by_channel.get("web", 0),
        opened=n.review.get("opened", 0), delivered=n.review.get("delivered", 0),
        helpful=up_down[0], not_helpful=up_down[1]).replace("\n\n", "\n")
    quiz = r.quiz()
    if quiz["rounds"]:  # before the closing line about the files
        head, _, last = text.rpartition("\n")
        text = f"{head}\n{texts.MESSAGE_QUIZ.format(**quiz)}\n{last}"
    return text


class ReportPoster:
    """Builds a report and posts it (message + files) to chats through the Telegram sender."""

    def __init__(self, store: Store, sender: DocumentSender, *, index_dir: Path, communes: Communes,
                 folder: Path, tz_name: str, formats: Sequence[str]) -> None:
        self.store = store
        self.sender = sender
        self.index_dir = index_dir
        self.communes = communes
        self.folder = folder
        self.tz = timezone(tz_name)
        self.formats = tuple(formats)

    def build(self, period: Period, now: dt.datetime | None = None) -> tuple[Report, list[Path]]:
        self.store.ensure_schema()
        report = build_report(self.store.engine, period, self.tz, index_dir=self.index_dir, communes=self.communes,
                              now=now)
        files = write_report(report, self.folder, self.formats)
        report.files = [str(p) for p in files]
        return report, files

    async def post(self, period: Period, chat_ids: Sequence[int], now: dt.datetime | None = None) -> list[str]:
        """Post the report to every chat; the problems (empty: all sent)."""
        report, files = await asyncio.to_thread(self.build, period, now)
        attach = [p for p in files if p.suffix in (".pdf", ".xlsx", ".html")] or files
        problems: list[str] = []
        for chat in chat_ids:
            result = await self.sender.send_text(str(chat), summary(report))
            if not result.ok:
                problems.append(f"{chat}: {result.problem}")
                continue
            for path in attach:
                sent = await self.sender.send_document(str(chat), path)
                if not sent.ok:
                    problems.append(f"{chat} {path.name}: {sent.problem}")
        return problems


class ReportScheduler:
    """Posts the official report due at 17:00 on the 14th, once across replicas."""

    def __init__(self, poster: ReportPoster, chat_ids: Sequence[int],
                 clock: Callable[[], dt.datetime] | None = None, owner: str | None = None) -> None:
        self.poster = poster
        self.chat_ids = tuple(chat_ids)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"

    def _now(self) -> dt.datetime:
        return self.clock().astimezone(self.poster.tz)

    def claim(self, key: str) -> bool:
        """True for the one process that claims `key` first (the database decides)."""
        try:
            self.poster.store.ensure_schema()
            with self.poster.store.session() as s, s.begin():
                s.add(ReportDelivery(key=key, claimed_by=self.owner[:128]))
            return True
        except IntegrityError:
            return False

    def _done(self, key: str, problems: list[str]) -> None:
        with self.poster.store.session() as s, s.begin():
            s.execute(update(ReportDelivery).where(ReportDelivery.key == key)
                      .values(sent_at=utcnow(), outcome=("; ".join(problems) or "sent")[:255]))

    async def run_once(self) -> Period | None:
        """Send the latest due report if no process has; the period sent, if any."""
        now = self._now()
        due = due_period(now)
        if due is None or not self.chat_ids:
            return None
        period, _ = due
        key = f"official:{period.key}"
        if not await asyncio.to_thread(self.claim, key):
            return None
        problems = await self.poster.post(period, self.chat_ids, now)
        await asyncio.to_thread(self._done, key, problems)
        if problems:
            log.warning("report %s: not delivered everywhere: %s", period.key, "; ".join(problems))
        else:
            log.info("report %s posted to %d chat(s)", period.key, len(self.chat_ids))
        return period

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except SQLAlchemyError as exc:
                log.warning("report: database unavailable (%s); trying again in 5 minutes", type(exc).__name__)
                await asyncio.sleep(300)
                continue
            except Exception:  # noqa: BLE001 - the loop must survive a bad round
                log.exception("report: posting failed; trying again in 5 minutes")
                await asyncio.sleep(300)
                continue
            now = self._now()
            await asyncio.sleep(max(1.0, (next_due(now) - now).total_seconds()))
