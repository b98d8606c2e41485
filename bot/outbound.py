"""The one outbound path: what every message leaving the bot goes through, whatever its reason.

Citizen replies, review posts, community answers and every future outbound feature (bulletins,
hand-off, web chat) send through one `Sender` per provider. A sender splits text under the
provider's limit, escapes it, waits for the provider's rate limits, retries passing failures with
the one `RetryPolicy` below, and reports what could not be delivered instead of raising:

- `sent`: the provider took every part of the message;
- `refused`: it never will (the citizen blocked the bot, the chat does not exist, no chat id);
- `retry`: a passing failure (network, server error, flood control longer than we wait, no token
  configured); the caller keeps the message and tries again later.

Adding a channel means writing a sender (this protocol) and an adapter over
`Assistant.handle(message) -> Reply` (see docs/channels.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Outcome = Literal["sent", "refused", "retry"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a passing failure is retried (every provider, every message)."""

    max_retries: int = 4
    backoff: float = 0.5  # seconds before the first retry; doubled each time
    max_backoff: float = 30.0
    max_retry_after: float = 60.0  # a longer flood-control wait is reported as `retry`, not waited

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (0-based) after a network or 5xx error."""
        return min(self.max_backoff, self.backoff * 2**attempt)


@dataclass(frozen=True)
class SendResult:
    """What happened to one outbound message (all its parts)."""

    outcome: Outcome
    problem: str = ""  # why, for logs and for reviewers (never holds a token)
    message_ids: tuple[str, ...] = ()  # the provider's ids of the parts sent, first one first

    @property
    def ok(self) -> bool:
        return self.outcome == "sent"


SENT = SendResult("sent")


@dataclass(frozen=True)
class Photo:
    """A photo to relay, by reference only (the bot never keeps image bytes): `source` "telegram"
    (a Telegram file id, reusable by this bot) or "link" (a public https URL, as Zalo gives)."""

    source: Literal["telegram", "link"]
    ref: str


class PhotoSender(Protocol):
    """A `Sender` that can also send a photo (Telegram, Zalo); the web chat cannot."""

    async def send_photo(self, chat_id: str, photo: Photo, caption: str = "") -> SendResult:
        """Send a photo with a plain-text caption (sent as text after it when too long)."""
        ...


class Sender(Protocol):
    """One provider's outbound path. `send_text` never raises for a delivery problem."""

    channel: str

    async def start(self) -> None:
        """Connect (e.g. check the token); a sender that cannot connect yet still accepts sends
        and reports them as `retry`."""
        ...

    async def stop(self) -> None: ...

    async def send_text(self, chat_id: str, text: str) -> SendResult:
        """Send plain text (the sender splits and escapes it) to one chat."""
        ...


class NoSender:
    """The sender of a channel that is not configured: every message waits (`retry`)."""

    def __init__(self, channel: str, why: str) -> None:
        self.channel = channel
        self.why = why

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send_text(self, chat_id: str, text: str) -> SendResult:
        return SendResult("retry", f"{self.channel}: {self.why}")
