"""Short-lived public links to a team member's photo, for channels that send photos only from a
public link (Zalo's Bot API: `sendPhoto` takes an https URL, no upload; issue 16).

Telegram's own download links contain the bot token, so they are never handed out. Instead
`MediaLinks.link` mints `TROLYSO_PUBLIC_URL/media/<token>`: an unguessable token (256 bits)
that maps, in the state store (so every replica can answer it), to the photo's Telegram file id
for `TROLYSO_MEDIA_LINK_SECONDS` (default 10 minutes). `GET /media/<token>` (`MediaLinks.endpoint`,
a route of the ASGI app) asks Telegram where the file is (getFile) and streams it through; the
bytes are never written anywhere and the Telegram link never leaves this process. An unknown
or expired token is a plain 404.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import AsyncIterator

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from bot.channels.telegram.sender import TelegramSender
from bot.outbound import Photo
from bot.state import StateStore

log = logging.getLogger(__name__)

CHANNEL, SLOT = "media", "photo"  # state store key: ("media", <token>, "photo")
PATH = "/media/{token}"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}
MAX_BYTES = 20 * 1024 * 1024  # Telegram lets bots download files up to 20 MB


class MediaLinks:
    """Mints and serves the links (see the module docstring)."""

    def __init__(self, public_url: str, state: StateStore, telegram: TelegramSender, ttl: float = 600.0,
                 timeout: float = 30.0) -> None:
        self.public_url = public_url.rstrip("/")
        self.state = state
        self.telegram = telegram
        self.ttl = ttl
        self.timeout = timeout

    async def link(self, photo: Photo) -> Photo | None:
        """A public link to a Telegram photo (a link stays as it is)."""
        if photo.source == "link":
            return photo
        token = secrets.token_urlsafe(32)
        await asyncio.to_thread(self.state.put, CHANNEL, token, SLOT, {"file_id": photo.ref}, self.ttl)
        return Photo("link", f"{self.public_url}/media/{token}")

    def routes(self) -> list[Route]:
        return [Route(PATH, self.endpoint, methods=["GET", "HEAD"])]

    async def endpoint(self, request: Request) -> Response:
        token = str(request.path_params.get("token", ""))
        entry = (await asyncio.to_thread(self.state.get, CHANNEL, token, SLOT)) if TOKEN.match(token) else None
        if not entry or not isinstance(entry.get("file_id"), str):
            return Response(status_code=404, headers=_NO_STORE)
        url = await self.telegram.file_url(entry["file_id"])
        if url is None:
            return Response(status_code=502, headers=_NO_STORE)
        client = httpx.AsyncClient(timeout=self.timeout)
        try:
            upstream = await client.send(client.build_request("GET", url), stream=True)
        except httpx.HTTPError as exc:
            await client.aclose()
            log.warning("media: Telegram's file could not be fetched (%s)", type(exc).__name__)
            return Response(status_code=502, headers=_NO_STORE)
        size = upstream.headers.get("content-length")
        if upstream.status_code != 200 or (size and size.isdigit() and int(size) > MAX_BYTES):
            log.warning("media: Telegram's file server answered %s", upstream.status_code)
            await upstream.aclose()
            await client.aclose()
            return Response(status_code=502, headers=_NO_STORE)
        headers = dict(_NO_STORE)
        if size and size.isdigit():
            headers["Content-Length"] = size
        media_type = upstream.headers.get("content-type", "")
        if not media_type.startswith("image/"):
            media_type = TYPES.get(url.rsplit(".", 1)[-1].lower(), "image/jpeg")
        if request.method == "HEAD":
            await upstream.aclose()
            await client.aclose()
            return Response(status_code=200, headers=headers, media_type=media_type)
        return StreamingResponse(_relay(upstream, client), headers=headers, media_type=media_type)


_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


async def _relay(upstream: httpx.Response, client: httpx.AsyncClient) -> AsyncIterator[bytes]:
    """The file's bytes as they arrive, kept nowhere."""
    try:
        async for chunk in upstream.aiter_bytes():
            yield chunk
    finally:
        await upstream.aclose()
        await client.aclose()
