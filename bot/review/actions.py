"""What reviewers can decide, shared by the Telegram buttons and `trolyso review`: answer a
group, link it to an FAQ entry (and teach the entry the group's wordings as learned ones), promote an answered
group to a new FAQ entry."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Settings
from bot.replies import citizens
from bot.retrieval import Index
from bot.review.delivery import DeliveryReport, Senders, deliver_group
from bot.review.queue import GroupView, ReviewError, ReviewQueue
from indexer.faq import load_faq
from indexer.faq_edit import FaqEditError, FaqEditor

log = logging.getLogger(__name__)


def faq_editor(settings: Settings) -> FaqEditor:
    return FaqEditor(settings.faq, settings.data_dir / "backups", settings.data_dir / "faq-edit.lock")


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
        text += "\n" + citizens.SOURCE_LINE.format(source=source)
    return question, text


async def answer_group(queue: ReviewQueue, senders: Senders, gid: int, answer: str) -> ActionResult:
    await asyncio.to_thread(queue.assign_pending_quietly)
    await asyncio.to_thread(queue.claim_answer, gid, answer)
    report = await deliver_group(queue, senders, gid)
    return ActionResult(await asyncio.to_thread(queue.group, gid), report)


async def link_group(queue: ReviewQueue, senders: Senders, editor: FaqEditor, gid: int, faq_id: str,
                     index: Index | None = None) -> ActionResult:
    """The group asks an existing FAQ entry: answer the citizens with it, and teach the entry their
    wordings (its `learned` list: indexer/faq_edit.py says why not `alternates`). Linking an
    already linked group again only teaches."""
    await asyncio.to_thread(queue.assign_pending_quietly)
    _, text = await asyncio.to_thread(faq_answer_text, queue.settings, faq_id, index)
    group = await asyncio.to_thread(queue.group, gid)
    if group.status == "linked" and group.faq_id == faq_id:
        report = DeliveryReport()
    else:
        await asyncio.to_thread(queue.claim_link, gid, faq_id, text)
        report = await deliver_group(queue, senders, gid)
    group = await asyncio.to_thread(queue.group, gid)
    result = ActionResult(group, report, faq_id=faq_id)
    try:
        edit = await asyncio.to_thread(editor.add_learned, faq_id, group.wordings())
        result.added, result.backup = edit.added, edit.backup
    except FaqEditError as exc:
        result.teach_error = str(exc)
        log.error("review group %s: could not teach the FAQ: %s", gid, exc)
    return result


def promote_group(queue: ReviewQueue, editor: FaqEditor, gid: int, faq_id: str | None = None,
                  category: str | None = None) -> ActionResult:
    """An answered group becomes a new FAQ entry (its wordings: the question and alternates)."""
    group = queue.group(gid)
    if not group.answer or group.status not in ("answered", "undeliverable"):
        raise ReviewError(f"review group {gid} is {group.status}; only an answered group can be promoted")
    if group.faq_id:
        raise ReviewError(f"review group {gid} is already FAQ entry {group.faq_id!r}")
    try:
        edit = editor.add_entry(group.wordings(), group.answer, faq_id=faq_id, category=category)
    except FaqEditError as exc:
        raise ReviewError(str(exc)) from exc
    queue.set_faq(gid, edit.entry_id)
    return ActionResult(queue.group(gid), added=edit.added, backup=edit.backup, faq_id=edit.entry_id)
