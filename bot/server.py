"""One process, one ASGI app: the Telegram and Zalo channels, their webhooks, /healthz, /metrics.

`trolyso serve` calls `asyncio.run(serve(settings, assistant))`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.channels.common import Metrics
from bot.channels.telegram import TelegramChannel
from bot.channels.zalo import ZaloChannel, ZaloClient
from bot.config import Settings

if TYPE_CHECKING:
    from bot.assistant import Assistant

log = logging.getLogger(__name__)

SECRETS_FILE = "webhook-secrets.json"
_TELEGRAM_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class NoChannelConfigured(RuntimeError):
    """Neither a Telegram nor a Zalo token is set."""


class Channel(Protocol):
    name: str
    mode: str

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


def build_channels(settings: Settings, assistant: Assistant, metrics: Metrics) -> list[Channel]:
    """The configured channels; a channel without a token is skipped with a log line."""
    if not settings.telegram_token and not settings.zalo_token:
        raise NoChannelConfigured(
            "No channel is configured: set TROLYSO_TELEGRAM_TOKEN and/or TROLYSO_ZALO_TOKEN "
            "to serve citizens, or try the assistant in a terminal with `trolyso chat`."
        )
    public_url = (settings.public_url or "").rstrip("/")
    if public_url and not public_url.startswith("https://"):
        raise ValueError(f"TROLYSO_PUBLIC_URL must be an https:// address, not {public_url!r}")
    keys = webhook_secrets(settings) if public_url else {}
    channels: list[Channel] = []
    if settings.telegram_token:
        channels.append(
            TelegramChannel(
                assistant,
                settings.telegram_token,
                base_url=settings.telegram_base_url,
                webhook_url=f"{public_url}/telegram/webhook" if public_url else None,
                secret_token=keys.get("telegram"),
                metrics=metrics,
                rate_limit_per_minute=settings.rate_limit_per_minute,
            )
        )
    else:
        log.info("Telegram: TROLYSO_TELEGRAM_TOKEN is not set; the Telegram channel is off")
    if settings.zalo_token:
        channels.append(
            ZaloChannel(
                assistant,
                ZaloClient(settings.zalo_token, settings.zalo_base_url),
                webhook_url=f"{public_url}/zalo/webhook" if public_url else None,
                secret_token=keys.get("zalo"),
                metrics=metrics,
                rate_limit_per_minute=settings.rate_limit_per_minute,
            )
        )
    else:
        log.info("Zalo: TROLYSO_ZALO_TOKEN is not set; the Zalo channel is off")
    return channels


def create_app(channels: Sequence[Channel], metrics: Metrics) -> Starlette:
    """The ASGI app; its lifespan starts the channels and stops them on shutdown."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "channels": {c.name: c.mode for c in channels}})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    routes = [Route("/healthz", healthz), Route("/metrics", metrics_endpoint)]
    routes += [
        Route(f"/{c.name}/webhook", c.webhook, methods=["POST"]) for c in channels if c.mode == "webhook"
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette):
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

    return Starlette(routes=routes, lifespan=lifespan)


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
    """A uvicorn server for the configured channels (not started)."""
    metrics = metrics or Metrics()
    app = create_app(build_channels(settings, assistant, metrics), metrics)
    host, port = parse_listen(settings.listen)
    config = uvicorn.Config(app, host=host, port=port, lifespan="on", access_log=False, log_config=None)
    return uvicorn.Server(config)


async def serve(settings: Settings, assistant: Assistant) -> None:
    """Run every configured channel (polling or webhook) and the ASGI app until stopped."""
    _protect_tokens(settings)
    server = build_server(settings, assistant)
    from bot.reload import live_services  # file watch + SIGHUP reloads, review posting loop

    async with live_services(settings, assistant):
        await server.serve()
    if not server.started:
        raise RuntimeError("The server did not start; see the log above")
