"""The one wiring place: `trolyso serve` builds every part here and passes each what it needs.

Top to bottom: the senders (one outbound path per provider), the reloader, the review queue and
its Telegram handlers, the channels (thin adapters over `Assistant.handle`), the review worker,
the spool flusher, the bulletin scheduler (scheduled bulletins, through the same senders), and one
ASGI app serving the webhooks, `/healthz`, `/metrics` and the hand-off's photo links (`/media/...`). No module
looks another up: what a part uses is given to it here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.assistant import Assistant
from bot.bulletins.delivery import BulletinScheduler, BulletinStore
from bot.bulletins.schedule import QuietHours
from bot.channels.common import Metrics
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.handoff import HandoffHandlers, TelegramDesk
from bot.channels.telegram.media import MediaLinks
from bot.channels.telegram.report import ReportCommand
from bot.channels.telegram.review import Authorizer, ReviewHandlers, ReviewPoster
from bot.channels.telegram.sender import TelegramSender
from bot.channels.web.channel import WebChannel
from bot.channels.web.sessions import WebSender, WebSessions
from bot.channels.zalo.channel import ZaloChannel
from bot.channels.zalo.sender import ZaloSender
from bot.config import Settings
from bot.contest_posts import ContestPoster
from bot.contests import ContestBook, ContestRecorder, ContestResults
from bot.handoff import HandoffService, HandoffStore
from bot.outbound import NoSender, RetryPolicy, Sender
from bot.periodic import repeat
from bot.quiz import Quiz, QuizBank
from bot.reload import Reloader
from bot.replies import admins
from bot.report.schedule import ReportPoster, ReportScheduler
from bot.review.actions import faq_editor
from bot.review.queue import ReviewQueue
from bot.review.worker import ReviewWorker
from bot.state import MemoryStateStore, SqlStateStore, StateStore
from bot.storage import Store
from indexer.quiz import contests_path

log = logging.getLogger(__name__)

SECRETS_FILE = "webhook-secrets.json"
_TELEGRAM_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class Channel(Protocol):
    @property
    def name(self) -> str: ...  # "telegram", "zalo": also the webhook path
    @property
    def mode(self) -> str: ...  # "webhook" or "polling"

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def webhook(self, request: Request) -> Response: ...


def webhook_secrets(settings: Settings) -> dict[str, str]:
    """The webhook secrets: from settings when set, else generated once and kept in
    `data_dir/webhook-secrets.json` (mode 0600) so that restarts keep the same secrets."""
    path = Path(settings.data_dir) / SECRETS_FILE
    stored: dict[str, str] = {}
    if path.exists():
        stored = {k: v for k, v in json.loads(path.read_text("utf-8")).items() if isinstance(v, str)}
    configured = {"telegram": settings.telegram_webhook_secret, "zalo": settings.zalo_webhook_secret}
    result: dict[str, str] = {}
    changed = False
    for channel, value in configured.items():
        if value:
            result[channel] = value
        elif stored.get(channel):
            result[channel] = stored[channel]
        else:
            result[channel] = stored[channel] = secrets.token_urlsafe(32)  # [A-Za-z0-9_-]
            changed = True
    if not _TELEGRAM_SECRET.match(result["telegram"]):
        raise ValueError("TROLYSO_TELEGRAM_WEBHOOK_SECRET may only hold A-Z, a-z, 0-9, _ and - (1-256)")
    if not 8 <= len(result["zalo"]) <= 256:
        raise ValueError("TROLYSO_ZALO_WEBHOOK_SECRET must be 8 to 256 characters long")
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(stored, handle, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        log.info("Webhook secrets generated and kept in %s", path)
    return result


def build_senders(settings: Settings, policy: RetryPolicy | None = None) -> dict[str, Sender]:
    """One sender per provider; a provider without a token gets one that keeps messages waiting."""
    senders: dict[str, Sender] = {}
    if settings.telegram_token:
        senders["telegram"] = TelegramSender.connect(settings.telegram_token, settings.telegram_base_url, policy)
    else:
        senders["telegram"] = NoSender("telegram", "TROLYSO_TELEGRAM_TOKEN is not set")
    if settings.zalo_token:
        senders["zalo"] = ZaloSender.connect(settings.zalo_token, settings.zalo_base_url, policy)
    else:
        senders["zalo"] = NoSender("zalo", "TROLYSO_ZALO_TOKEN is not set")
    return senders


@asynccontextmanager
async def open_senders(settings: Settings, policy: RetryPolicy | None = None,
                       store: Store | None = None) -> AsyncIterator[dict[str, Sender]]:
    """The senders for a command that sends without serving (`trolyso review answer`); with the
    store, web-chat sessions get their answers too."""
    senders = build_senders(settings, policy)
    if store is not None:
        senders["web"] = WebSender(WebSessions(store.sessions))
    try:
        for sender in senders.values():
            await sender.start()
        yield senders
    finally:
        for sender in senders.values():
            with contextlib.suppress(Exception):
                await sender.stop()


@dataclass
class Services:
    """Everything `trolyso serve` runs, built by `build_services`."""

    settings: Settings
    assistant: Assistant
    metrics: Metrics
    senders: dict[str, Sender]
    reloader: Reloader
    channels: list[Channel] = field(default_factory=list)
    worker: ReviewWorker | None = None
    poster: ReviewPoster | None = None
    reports: ReportScheduler | None = None
    handoff: HandoffService | None = None
    bulletins: BulletinScheduler | None = None
    contest_posts: ContestPoster | None = None
    media: MediaLinks | None = None

    @asynccontextmanager
    async def running(self, *, watch: bool = True) -> AsyncIterator[Services]:
        """Start the senders, channels, reloader, review worker and spool flusher; stop them
        in reverse order."""
        tasks: list[asyncio.Task[None]] = []
        stack = contextlib.AsyncExitStack()
        try:
            for name, sender in self.senders.items():
                if not any(c.name == name for c in self.channels):
                    await sender.start()  # a channel starts its own sender (and fails on a bad token)
            await stack.enter_async_context(run_channels(self.channels))
            await self.reloader.start(watch=watch)
            store = self.assistant.store
            if store is not None:
                tasks.append(asyncio.create_task(_flush_spool(store, self.settings.review_poll_seconds),
                                                 name="spool-flusher"))
            if self.worker is not None:
                tasks.append(asyncio.create_task(self.worker.run(), name="review-worker"))
            if self.reports is not None:
                tasks.append(asyncio.create_task(self.reports.run(), name="report-scheduler"))
            if self.handoff is not None:
                tasks.append(asyncio.create_task(self.handoff.run(self.settings.review_poll_seconds),
                                                 name="handoff-worker"))
            if self.bulletins is not None:
                tasks.append(asyncio.create_task(self.bulletins.run(), name="bulletin-scheduler"))
            if self.contest_posts is not None:
                tasks.append(asyncio.create_task(self.contest_posts.run(), name="contest-posts"))
            yield self
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.reloader.stop()
            await stack.aclose()
            for sender in self.senders.values():
                with contextlib.suppress(Exception):
                    await sender.stop()

    def app(self) -> Starlette:
        """The ASGI app; its lifespan runs everything above."""
        return create_app(self.channels, self.metrics, self.running(),
                          routes=self.media.routes() if self.media is not None else ())

    def server(self) -> uvicorn.Server:
        """A uvicorn server for the app (not started)."""
        host, port = parse_listen(self.settings.listen)
        config = uvicorn.Config(self.app(), host=host, port=port, lifespan="on", access_log=False, log_config=None)
        return uvicorn.Server(config)


async def _flush_spool(store: Store, every: float) -> None:
    """Write questions spooled while the database was down, once it answers again."""
    await repeat(lambda: asyncio.to_thread(store.flush_spool), every, "spool")


def build_services(settings: Settings, assistant: Assistant, metrics: Metrics | None = None) -> Services:
    """Build every part of `serve` and wire them together (nothing is started yet)."""
    public_url = (settings.public_url or "").rstrip("/")
    if public_url and not public_url.startswith("https://"):
        raise ValueError(f"TROLYSO_PUBLIC_URL must be an https:// address, not {public_url!r}")
    keys = webhook_secrets(settings) if public_url else {}
    metrics = metrics or Metrics()
    senders = build_senders(settings)
    telegram = senders["telegram"] if isinstance(senders["telegram"], TelegramSender) else None
    zalo = senders["zalo"] if isinstance(senders["zalo"], ZaloSender) else None
    store = assistant.store
    state: StateStore = (SqlStateStore(store.sessions, ensure_schema=store.ensure_schema) if store is not None
                         else MemoryStateStore())

    quiz = build_quiz(settings, assistant, store)
    web = None
    if store is not None:  # the web chat keeps its sessions in the database
        sessions = WebSessions(store.sessions)
        senders["web"] = WebSender(sessions)
        web = WebChannel(assistant, sessions, settings, metrics, state, quiz)


    communes = assistant.communes  # a commune's own review chats take its citizens' questions
    has_review_chats = bool(settings.review_chat_ids) or any(c.review_chat_ids for c in communes.units)
    poster = ReviewPoster(settings, telegram, communes) if telegram and has_review_chats else None
    reloader = Reloader(settings, assistant, notify=poster.notice if poster else None)
    queue = ReviewQueue(store, settings, lambda: assistant.index, communes) if store is not None else None
    services = Services(settings, assistant, metrics, senders, reloader, poster=poster)
    if queue is not None:
        services.worker = ReviewWorker(queue, settings, senders, poster)
    if store is not None:  # scheduled bulletins (send_at), through the same senders
        quiet = QuietHours.parse(settings.quiet_hours, settings.timezone)
        services.bulletins = BulletinScheduler(BulletinStore(store.sessions, store.ensure_schema), senders, quiet,
                                               window=settings.broadcast_window,
                                               every=settings.broadcast_poll_seconds)

    report_command = None
    if telegram is not None and store is not None:  # the official reports, at 17:00 on the 14th
        report_chats = settings.report_chat_ids or settings.resolved_admin_chat_ids or settings.review_chat_ids
        report_poster = ReportPoster(store, telegram, index_dir=settings.resolved_index_dir, communes=communes,
                                     folder=settings.data_dir / "reports", tz_name=settings.timezone,
                                     formats=settings.report_formats)
        report_command = ReportCommand(report_poster, report_chats, settings.admin_ids)
        if report_chats:
            services.reports = ReportScheduler(report_poster, report_chats)
    if telegram is not None and store is not None and quiz.contests is not None and settings.resolved_admin_chat_ids:
        # each contest week's commune leaderboard, to the admin chats (claimed: once across replicas)
        services.contest_posts = ContestPoster(quiz.contests, ContestResults(store.sessions, store.ensure_schema),
                                               store.sessions, telegram, settings.resolved_admin_chat_ids, communes,
                                               store.ensure_schema)
    # Talking to a person (bot.handoff): needs the database and a team group on Telegram
    handoff = handoff_handlers = None
    if telegram is not None and store is not None and has_review_chats:
        desk = TelegramDesk(settings, telegram, communes)
        # a member's photo reaches a Zalo citizen through a short-lived link of ours (/media/<token>)
        services.media = MediaLinks(public_url, state, telegram, settings.media_link_seconds) if public_url else None
        handoff = HandoffService(settings, assistant, HandoffStore(store.sessions, store.ensure_schema),
                                 senders, state, desk, media=services.media)
        handoff_handlers = HandoffHandlers(handoff, desk, Authorizer(settings), faq_editor(settings),
                                           lambda: assistant.index)
        services.handoff = handoff
        if web is not None:
            web.handoff = handoff  # the team's messages reach the widget through GET /api/messages

    if telegram is not None:
        review = (ReviewHandlers(settings, telegram, queue, senders, faq_editor(settings), reloader,
                                 lambda: assistant.index, state, communes) if queue is not None else None)
        services.channels.append(TelegramChannel(
            assistant,
            telegram,
            claims=store,
            handlers=[*(review.handlers() if review else ()), *(report_command.handlers() if report_command else ())],
            early_handlers=[*(handoff_handlers.early_handlers() if handoff_handlers else ()),
                            *(review.early_handlers() if review else ())],
            webhook_url=f"{public_url}/telegram/webhook" if public_url else None,
            secret_token=keys.get("telegram"),
            metrics=metrics,
            rate_limit_per_minute=settings.rate_limit_per_minute,
            state=state,
            quiz=quiz,
            handoff_button=handoff is not None,
        ))
    else:
        log.info("Telegram: TROLYSO_TELEGRAM_TOKEN is not set; the Telegram channel is off")
    if zalo is not None:
        services.channels.append(ZaloChannel(
            assistant,
            zalo,
            claims=store,
            webhook_url=f"{public_url}/zalo/webhook" if public_url else None,
            secret_token=keys.get("zalo"),
            metrics=metrics,
            rate_limit_per_minute=settings.rate_limit_per_minute,
            state=state,
            quiz=quiz,
            handoff=handoff,
        ))
    else:
        log.info("Zalo: TROLYSO_ZALO_TOKEN is not set; the Zalo channel is off")
    if web is not None:
        services.channels.append(web)
    return services


def build_quiz(settings: Settings, assistant: Assistant, store: Store | None = None) -> Quiz:
    """The quiz rounds over `settings.quiz` (reloaded on change; a missing file: no questions);
    the FAQ entries to read next are named from the live index. With a database, the contests
    of `contests.yaml` (next to the bank) are run and their rounds recorded (bot.contests)."""

    def faq_question(faq_id: str) -> str | None:
        target = assistant.index.target(faq_id)
        return target.question if target is not None and target.kind == "faq" else None

    def faq_topic(faq_id: str) -> str | None:
        target = assistant.index.target(faq_id)
        return target.category if target is not None and target.kind == "faq" else None

    book = recorder = None
    if store is not None:
        book = ContestBook(contests_path(settings.quiz), settings.timezone)
        recorder = ContestRecorder(book, ContestResults(store.sessions, store.ensure_schema),
                                   assistant.citizens.commune)
    return Quiz(QuizBank(settings.quiz), faq_question, faq_topic=faq_topic, contests=book, recorder=recorder)


def build_channels(settings: Settings, assistant: Assistant, metrics: Metrics) -> list[Channel]:
    """Only the channels of `build_services` (for an app without the live services)."""
    return build_services(settings, assistant, metrics).channels


@asynccontextmanager
async def run_channels(channels: Sequence[Channel]) -> AsyncIterator[None]:
    """Start the channels (each starts its sender); stop them in reverse order."""
    started: list[Channel] = []
    try:
        for channel in channels:
            await channel.start()
            started.append(channel)
        yield
    finally:
        for channel in reversed(started):
            try:
                await channel.stop()
            except Exception:
                log.exception("%s: error while stopping", channel.name)


def create_app(channels: Sequence[Channel], metrics: Metrics,
               lifespan: contextlib.AbstractAsyncContextManager[object] | None = None,
               routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The ASGI app: webhooks, /healthz, /metrics, and `routes` (the photo links, /media/...);
    `lifespan` runs while it serves."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "channels": {c.name: c.mode for c in channels}})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    served: list[BaseRoute] = [Route("/healthz", healthz), Route("/metrics", metrics_endpoint), *routes]
    served += [
        Route(f"/{c.name}/webhook", c.webhook, methods=["POST"]) for c in channels if c.mode == "webhook"
    ]
    for channel in channels:  # channels that serve pages and an API of their own (the web chat)
        if isinstance(channel, WebChannel):
            served += channel.routes()

    @asynccontextmanager
    async def run(app: Starlette) -> AsyncIterator[None]:
        async with (lifespan if lifespan is not None else run_channels(channels)):
            yield

    return Starlette(routes=served, lifespan=run)


def parse_listen(listen: str) -> tuple[str, int]:
    """`host:port` (IPv6 as `[::1]:8080`) into a host and a port."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"TROLYSO_LISTEN must be host:port, not {listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class _RedactTokens(logging.Filter):
    """Blanks the bot tokens out of every log line (they are part of Bot API URLs)."""

    def __init__(self, tokens: Sequence[str]) -> None:
        super().__init__()
        self.tokens = [t for t in tokens if t]

    def _redact(self, text: str) -> str:
        for token in self.tokens:
            text = text.replace(token, "<token>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(token in message for token in self.tokens):
            record.msg, record.args = self._redact(message), None
        if record.exc_info and not record.exc_text:
            # Formatters print exc_text when it is set: render the traceback once, redacted.
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
        return True


def _protect_tokens(settings: Settings) -> None:
    # httpx logs every request URL at INFO, and Bot API URLs carry the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    secrets = [settings.telegram_token or "", settings.zalo_token or "", settings.secret_key or ""]
    if settings.public_url:  # webhook secrets travel in setWebhook calls, which PTB logs at DEBUG
        secrets += list(webhook_secrets(settings).values())
    redact = _RedactTokens(secrets)
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, _RedactTokens)]:
            handler.removeFilter(old)
        handler.addFilter(redact)


def build_server(settings: Settings, assistant: Assistant, metrics: Metrics | None = None) -> uvicorn.Server:
    """A uvicorn server running every configured part of `serve` (not started)."""
    return build_services(settings, assistant, metrics).server()


async def serve(settings: Settings, assistant: Assistant) -> None:
    """Run every configured channel (polling or webhook), the live updates and the review loop
    until stopped."""
    _protect_tokens(settings)
    server = build_server(settings, assistant)
    host, port = parse_listen(settings.listen)
    shown = f"[{host}]" if ":" in host else ("127.0.0.1" if host in ("0.0.0.0", "") else host)
    print(admins.WEB_READY.format(url=f"http://{shown}:{port}/"), flush=True)
    await server.serve()
    if not server.started:
        raise RuntimeError("The server did not start; see the log above")
