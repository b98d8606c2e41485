"""Live updates: the running bot notices changes to the FAQ file and the knowledge documents,
rebuilds the index in the background and swaps it in without stopping.

Triggers: a file watch on `$TROLYSO_FAQ` and `$TROLYSO_KNOWLEDGE_DIR/*.md` (watchfiles), SIGHUP,
and the `/reload` command on Telegram (bot.channels.telegram.review). The build runs in a worker
thread with `indexer.build.build_index`, whose embedding cache re-embeds only changed texts; the
new index is opened and handed to `Assistant.swap_index`, so requests in flight finish on the old
index and new ones use the new index: nothing fails or waits. A file that does not validate never
replaces the index being served: its `file:line` errors go to the log and to the review chats.

`bot.server` builds one `Reloader` and runs it next to the channels inside `serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchfiles import awatch

from bot.assistant import Assistant, retrieval_params
from bot.config import Settings
from bot.replies import admins as say
from bot.retrieval import Index
from indexer.build import BuildStats, build_index
from indexer.faq import FaqError, load_faq

log = logging.getLogger(__name__)

Notify = Callable[[str], Awaitable[None]]
MAX_ERRORS_SHOWN = 20
DEBOUNCE_MS = 800  # changes closer together than this make one rebuild (an editor saving twice)



@dataclass
class ReloadResult:
    ok: bool
    errors: list[str] = field(default_factory=list)
    stats: BuildStats | None = None
    reason: str = ""

    def message(self) -> str:
        if self.ok and self.stats is not None:
            s = self.stats
            return say.RELOADED.format(faq=s.faq, passages=s.passages, embedded=s.embedded)
        shown = self.errors[:MAX_ERRORS_SHOWN]
        text = "\n".join([say.RELOAD_FAILED, *shown])
        if len(self.errors) > len(shown):
            text += "\n" + say.MORE_ERRORS.format(n=len(self.errors) - len(shown))
        return text


class Reloader:
    """Rebuilds the index from the FAQ and knowledge documents and swaps it into the assistant."""

    def __init__(self, settings: Settings, assistant: Assistant, *, index_dir: Path | None = None,
                 notify: Notify | None = None, debounce_ms: int = DEBOUNCE_MS):
        self.settings = settings
        self.assistant = assistant
        self._index_dir = index_dir
        self.notify = notify
        self.debounce_ms = debounce_ms
        self._build_lock = threading.Lock()  # one build at a time, whoever asks
        self._lock: asyncio.Lock | None = None
        self._dirty = False
        self._failed = False
        self.last: ReloadResult | None = None
        self.reloads = 0  # successful swaps
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._tasks: set[asyncio.Task] = set()
        self._watchers: list[asyncio.Task] = []
        self.watching: list[Path] = []
        self.signal_installed = False

    @property
    def index_dir(self) -> Path:
        """Where the served index lives: the folder holding `current` and `builds/`."""
        if self._index_dir is not None:
            return self._index_dir
        path = Path(self.assistant.index.path)
        if path.parent.name == "builds":
            return path.parent.parent
        return self.settings.resolved_index_dir

    # -- the rebuild -----------------------------------------------------------------------------
    def rebuild(self, reason: str = "manual") -> ReloadResult:
        """Build, open and swap in a new index (blocking; thread-safe). Never raises."""
        with self._build_lock:
            current = self.assistant.index
            faq = Path(self.settings.faq)
            had_faq = any(t.kind == "faq" for t in current.targets)
            if had_faq and not faq.exists():
                return self._failure(reason, [f"{faq}:0: error: the FAQ file is missing"])
            if had_faq and faq.exists():
                checked = load_faq(faq)
                if not checked.entries and not checked.errors:  # e.g. an editor saving in two steps
                    return self._failure(reason, [f"{faq}:0: error: the FAQ file has no entries"])
            try:
                stats = build_index(faq, self.settings.knowledge_dir, self.index_dir, current.embedder,
                                    exact_max=self.settings.faiss_exact_max, progress=False, log=log.info)
                index = Index.open(self.index_dir, current.embedder, retrieval_params(self.settings))
            except FaqError as exc:
                return self._failure(reason, [str(i) for i in exc.issues])
            except Exception as exc:  # noqa: BLE001 - any failure keeps the old index serving
                log.exception("reload (%s) failed", reason)
                return self._failure(reason, [f"{type(exc).__name__}: {exc}"])
            self.assistant.swap_index(index)
            self.reloads += 1
            log.info("index reloaded (%s): %d FAQ entries, %d passages, %d texts embedded now, %.1f s",
                     reason, stats.faq, stats.passages, stats.embedded, stats.seconds)
            self.last = ReloadResult(True, [], stats, reason)
            return self.last

    def _failure(self, reason: str, errors: list[str]) -> ReloadResult:
        log.error("reload (%s) refused; the current index keeps serving:\n%s", reason, "\n".join(errors))
        self.last = ReloadResult(False, errors, None, reason)
        return self.last

    async def reload(self, reason: str = "manual", notify: bool = True) -> ReloadResult:
        """Rebuild in a worker thread. Requests made while a rebuild runs are served by one more
        rebuild after it. Failures (and the first success after one) go to `notify`."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        self._dirty = True
        async with self._lock:
            if not self._dirty and self.last is not None:
                return self.last  # a rebuild that started after this request has just finished
            self._dirty = False
            result = await asyncio.to_thread(self.rebuild, reason)
        if notify and self.notify is not None and (not result.ok or self._failed):
            try:
                await self.notify(result.message())
            except Exception:  # noqa: BLE001 - telling admins is best effort
                log.exception("reload: could not notify the review chats")
        self._failed = not result.ok
        return result

    def request(self, reason: str) -> None:
        """Schedule a reload from the event loop thread (signal handler, file watch)."""
        loop = self._loop or asyncio.get_running_loop()
        task = loop.create_task(self.reload(reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- triggers --------------------------------------------------------------------------------
    async def start(self, watch: bool = True, sighup: bool = True) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if sighup:
            try:
                self._loop.add_signal_handler(signal.SIGHUP, self.request, "SIGHUP")
                self.signal_installed = True
            except (NotImplementedError, RuntimeError, ValueError, AttributeError) as exc:
                log.info("reload: SIGHUP not available here (%s)", exc)
        if watch:
            for path, recursive, accept in self._watch_targets():
                self._watchers.append(asyncio.create_task(self._watch(path, recursive, accept),
                                                          name=f"watch {path}"))
                self.watching.append(path)
            if self.watching:
                for _ in range(2):  # let each watcher register its watch before start() returns
                    await asyncio.sleep(0)
                log.info("reload: watching %s", ", ".join(map(str, self.watching)))

    def _watch_targets(self) -> list[tuple[Path, bool, Callable[[Any, str], bool]]]:
        targets = []
        faq = Path(self.settings.faq).absolute()
        if faq.parent.is_dir():  # the folder, not the file: editors and our writer replace it
            targets.append((faq.parent, False, lambda change, p: Path(p).name == faq.name))
        knowledge = Path(self.settings.knowledge_dir).absolute()
        if knowledge.is_dir():
            targets.append((knowledge, True,
                            lambda change, p: p.endswith(".md") and not Path(p).name.startswith(".")))
        return targets

    async def _watch(self, path: Path, recursive: bool, accept: Callable[[Any, str], bool]) -> None:
        try:
            async for changes in awatch(path, watch_filter=accept, recursive=recursive,
                                        debounce=self.debounce_ms, step=50, stop_event=self._stop):
                names = sorted({Path(p).name for _, p in changes})
                log.info("reload: %s changed", ", ".join(names))
                self.request(f"file change: {', '.join(names)}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. inotify limits: SIGHUP and /reload still work
            log.warning("reload: cannot watch %s (%s); use SIGHUP or /reload after changes", path, exc)

    async def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self.signal_installed and self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_signal_handler(signal.SIGHUP)
            self.signal_installed = False
        for task in self._watchers:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, 5)
        self._watchers.clear()
        self.watching.clear()
        if self._tasks:  # let a running rebuild finish: the build thread cannot be cancelled
            await asyncio.gather(*self._tasks, return_exceptions=True)
