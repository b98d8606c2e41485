"""`/baocao PERIOD` in the report chats (or from an admin): the report posted there, like the
scheduled one (bot/report/schedule.py)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, ContextTypes

from bot.report import texts
from bot.report.periods import PeriodError, parse_period
from bot.report.schedule import ReportPoster

log = logging.getLogger(__name__)


class ReportCommand:
    def __init__(self, poster: ReportPoster, chat_ids: Sequence[int], admin_ids: Sequence[int]) -> None:
        self.poster = poster
        self.chat_ids = set(chat_ids)
        self.admin_ids = set(admin_ids)

    def handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        return [CommandHandler("baocao", self.on_baocao)]

    async def on_baocao(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None:
            return
        if message.chat.id not in self.chat_ids and (user is None or user.id not in self.admin_ids):
            return  # citizens' chats: not a command for them (nothing is said)
        args = context.args or []
        if len(args) != 1:
            await self.poster.sender.send_text(str(message.chat.id), texts.BAOCAO_USAGE)
            return
        text = args[0]
        official = text.endswith("!")  # /baocao 2026-11! : the official cut-offs
        try:
            period = parse_period(text.rstrip("!"), official=official)
        except PeriodError:
            await self.poster.sender.send_text(str(message.chat.id), texts.BAOCAO_BAD.format(text=text[:40]))
            return
        try:
            await self.poster.post(period, [message.chat.id])
        except SQLAlchemyError as exc:
            log.warning("/baocao: database unavailable (%s)", type(exc).__name__)
            await self.poster.sender.send_text(str(message.chat.id), texts.BAOCAO_FAILED)
