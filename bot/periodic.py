"""The background rounds of `trolyso serve` (spool flushing, review grouping and posting, hand-off
retries and idle closing, scheduled bulletins, contest posts) share one loop: a failed round is
logged and the next one comes anyway, so one bad round never stops a worker; a database that is
down is a warning, not a traceback (records are spooled meanwhile)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)


async def repeat(round_: Callable[[], Awaitable[object]], every: float, what: str,
                 wake: asyncio.Event | None = None) -> None:
    """Run `round_` every `every` seconds for ever; `wake.set()` starts the next round at once."""
    while True:
        if wake is not None:
            wake.clear()  # a wake() during the round below makes another round at once
        try:
            await round_()
        except SQLAlchemyError as exc:
            log.warning("%s: database unavailable (%s); trying again later", what, type(exc).__name__)
        except Exception:  # noqa: BLE001 - the loop must survive a bad round
            log.exception("%s: a round failed; trying again later", what)
        if wake is None:
            await asyncio.sleep(every)
        else:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), every)
