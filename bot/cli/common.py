"""What the `trolyso` commands share, so that no command module imports another or the parser:
the one-line user error, settings, the embedder, the assistant and console rendering."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from bot.config import Settings, get_settings

if TYPE_CHECKING:
    from bot.assistant import Assistant
    from bot.types import Reply
    from indexer.embedder import Embedder

Command: TypeAlias = Callable[[argparse.Namespace], int]
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class UserError(Exception):
    """A problem the user can fix: printed as one line, exit code 1."""


def usage_error(cmd: str, msg: str) -> int:
    """Print a usage error of `trolyso CMD`; the exit code (2) to raise with SystemExit."""
    print(f"usage error: trolyso {cmd}: {msg}", file=sys.stderr)
    return 2


def settings() -> Settings:
    try:
        return get_settings()
    except Exception as exc:  # pydantic validation of env/config
        raise UserError(f"invalid configuration: {exc}".replace("\n", " ")) from exc


def embedder(settings: Settings) -> Embedder:
    from indexer.embedder import embedder_for
    from indexer.model_convert import ModelError

    try:
        return embedder_for(settings)
    except ModelError as exc:
        raise UserError(str(exc)) from exc


def assistant(settings: Settings, index_dir: str | None, log_questions: bool, rebuild: bool = False) -> Assistant:
    """The assistant; with `rebuild` (serve, start, chat) a missing or damaged index is rebuilt
    once (bot.recovery), else (ask) it is a one-line error."""
    from bot.assistant import Assistant
    from bot.recovery import assistant_with_recovery
    from bot.retrieval import IndexError_

    make = assistant_with_recovery if rebuild else Assistant.from_settings
    try:
        return make(settings, Path(index_dir) if index_dir else None,
                    log_questions=log_questions, embedder=embedder(settings))
    except IndexError_ as exc:
        raise UserError(str(exc)) from exc


def render_text(reply: Reply) -> str:
    """A reply as the console shows it (ask, chat): for an FAQ entry the question it answers,
    the answer, then its source."""
    from bot.replies import citizens

    text = reply.answer
    if reply.kind == "faq" and reply.source:
        text += "\n" + citizens.SOURCE_LINE.format(source=reply.source)
    if reply.kind == "faq" and reply.matched:
        text = citizens.MATCHED_QUESTION.format(question=reply.matched) + "\n" + text
    return text
