"""Recovery from a damaged index at start-up: one clear log line and a rebuild, not a crash loop.

`trolyso serve`, `start` and `chat` open the index through `assistant_with_recovery`; when the
index is missing, corrupted, half-written or built with another model (`IndexError_`), it is
rebuilt from the configured FAQ and knowledge folder with `indexer.build.build_index` (which
publishes a new build and swaps the `current` link atomically) and opened again. `trolyso ask`
does not rebuild: it keeps failing with a one-line error.

If the rebuild itself fails because the damaged build's embedding cache is unreadable, the
`current` link is dropped and everything is embedded afresh. If the FAQ is invalid, the error
says which file to check; a second failure is never retried in a loop.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.retrieval import Index, IndexError_, RetrievalParams

if TYPE_CHECKING:
    from bot.assistant import Assistant
    from indexer.embedder import TextEmbedder

log = logging.getLogger(__name__)


class RebuildFailed(IndexError_):
    """The index was damaged and could not be rebuilt (the message says why, in one line)."""


def _sources(settings: Settings, out: Path) -> tuple[Path | None, Path | None]:
    """The FAQ file and knowledge folder to rebuild from: the configured ones, else those the
    damaged build's manifest recorded (when it is still readable)."""
    faq = settings.faq
    knowledge = settings.knowledge_dir
    if faq.exists() or knowledge.is_dir():
        return faq, knowledge
    try:
        manifest = json.loads((out / "current" / "manifest.json").read_text(encoding="utf-8"))
        recorded_faq = Path(manifest["faq"]) if manifest.get("faq") else None
        recorded_kb = Path(manifest["knowledge"]) if manifest.get("knowledge") else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return faq, knowledge
    if (recorded_faq and recorded_faq.exists()) or (recorded_kb and recorded_kb.is_dir()):
        return recorded_faq, recorded_kb
    return faq, knowledge


def _one_line(what: object, limit: int = 300) -> str:
    """`what` (a message or an exception) on one line of at most `limit` characters."""
    text = " ".join(str(what).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rebuild_index(settings: Settings, embedder: TextEmbedder, out: Path, reason: Exception | None = None) -> Path:
    """Rebuild the index at `out` from the configured sources; return the new build's folder.

    Raises RebuildFailed (one line) when there is nothing to build from or the build fails.
    """
    from indexer.build import BuildStats, build_index
    from indexer.faq import FaqError

    faq, knowledge = _sources(settings, out)
    has_faq = faq is not None and faq.exists()
    has_kb = knowledge is not None and knowledge.is_dir() and any(knowledge.glob("*.md"))
    why = _one_line(reason) if reason else "no usable index"
    if not has_faq and not has_kb:
        raise RebuildFailed(f"{why}; cannot rebuild it: neither the FAQ file {faq} nor the knowledge "
                            f"folder {knowledge} exists (set TROLYSO_FAQ / TROLYSO_KNOWLEDGE_DIR)")
    log.warning("%s; rebuilding it from %s and %s", why, faq if has_faq else "(no FAQ)",
                knowledge if has_kb else "(no knowledge folder)")

    def build() -> BuildStats:
        return build_index(faq if has_faq else None, knowledge if has_kb else None, out, embedder,
                           exact_max=settings.faiss_exact_max, progress=False, log=log.info)

    try:
        try:
            stats = build()
        except FaqError:
            raise
        except Exception as first:  # noqa: BLE001 - anything the damaged build left behind
            log.warning("rebuilding with the previous embedding cache failed (%s); embedding everything again",
                        _one_line(f"{type(first).__name__}: {first}"))
            _drop_current(out)
            stats = build()
    except FaqError as exc:
        first_issue = str(exc.issues[0]) if exc.issues else str(faq)
        raise RebuildFailed(f"{why}; rebuilding it failed: the FAQ has {len(exc.issues)} error(s), "
                            f"first: {_one_line(first_issue)} (check it with `trolyso faq check`)") from exc
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback loop
        raise RebuildFailed(f"{why}; rebuilding it failed ({_one_line(f'{type(exc).__name__}: {exc}')}); "
                            "run `trolyso index` to see the details") from exc
    log.warning("index rebuilt: %d FAQ entries, %d passages in %.1f s -> %s",
                stats.faq, stats.passages, stats.seconds, stats.path)
    return stats.path


def _drop_current(out: Path) -> None:
    """Remove the `current` link (and nothing else) so that the next build starts clean."""
    link = out / "current"
    if link.is_symlink():
        os.unlink(link)


def open_index_or_rebuild(settings: Settings, embedder: TextEmbedder, index_dir: Path | None = None,
                          params: RetrievalParams | None = None) -> Index:
    """Open the index; on IndexError_ log one clear line, rebuild it, and open the new build."""
    from bot.assistant import retrieval_params

    out = Path(index_dir) if index_dir else settings.resolved_index_dir
    params = params or retrieval_params(settings)
    try:
        return Index.open(out, embedder, params)
    except IndexError_ as exc:
        rebuild_index(settings, embedder, out, exc)
    try:
        return Index.open(out, embedder, params)
    except IndexError_ as exc:  # the fresh build does not open either: give up with one line
        raise RebuildFailed(f"the rebuilt index at {out} cannot be opened: {_one_line(exc)}") from exc


def assistant_with_recovery(settings: Settings, index_dir: Path | None = None, *, log_questions: bool = True,
                            embedder: TextEmbedder | None = None) -> Assistant:
    """`Assistant.from_settings`, rebuilding a missing or damaged index once."""
    from bot.assistant import Assistant

    try:
        return Assistant.from_settings(settings, index_dir, log_questions=log_questions, embedder=embedder)
    except IndexError_ as exc:
        if embedder is None:
            from indexer.embedder import embedder_for

            embedder = embedder_for(settings)
        out = Path(index_dir) if index_dir else settings.resolved_index_dir
        rebuild_index(settings, embedder, out, exc)
    try:
        return Assistant.from_settings(settings, index_dir, log_questions=log_questions, embedder=embedder)
    except IndexError_ as exc:
        raise RebuildFailed(f"the rebuilt index cannot be opened: {_one_line(exc)}") from exc
