"""Channel-agnostic text shaping: tidy paragraphs, the source line, numbered lists, splitting.

No business logic here: channels decide what to say, this module only decides how text is cut
and laid out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

from bot.replies import citizens as replies
from bot.types import Reply

TELEGRAM_LIMIT = 4096
ZALO_LIMIT = 2000

# Split levels, coarsest first: paragraphs, lines, sentences, words. Each is a pattern that
# separates pieces and the text that joins them again.
_LEVELS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\n\s*\n"), "\n\n"),
    (re.compile(r"\n"), "\n"),
    (re.compile(r"(?<=[.!?…;:])\s+"), " "),
    (re.compile(r"\s+"), " "),
)
_BLANK_LINES = re.compile(r"\n\s*\n\s*")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


def tidy(text: str) -> str:
    """NFC-normalise, drop trailing spaces and keep at most one blank line between paragraphs."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _TRAILING_SPACE.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def format_answer(answer: str, source: str | None = None) -> str:
    """The answer's paragraphs, then the source line (`bot.replies.SOURCE_LINE`) if any."""
    body = tidy(answer)
    if source and source.strip():
        line = replies.SOURCE_LINE.format(source=tidy(source))
        return f"{body}\n\n{line}" if body else line
    return body


def reply_text(reply: Reply) -> str:
    """A reply's text with its source line; an FAQ answer opens with the question it answers
    (a near-miss answer is then visibly about something else); knowledge answers already open
    with their source."""
    text = format_answer(reply.answer, reply.source if reply.kind == "faq" else None)
    if reply.kind == "faq" and reply.matched and text:
        return replies.MATCHED_QUESTION.format(question=tidy(reply.matched)) + "\n" + text
    return text


def numbered(items: Iterable[str], start: int = 1) -> str:
    """`1. first` / `2. second` lines."""
    return "\n".join(f"{number}. {tidy(item)}" for number, item in enumerate(items, start))


def split_message(text: str, limit: int, length: Callable[[str], int] = len) -> list[str]:
    """Cut `text` into chunks whose `length` is at most `limit`.

    Cuts at paragraph boundaries first, then lines, then sentence ends, then spaces; a single
    word longer than the limit is cut hard. `length` measures a chunk as the channel counts it
    (for example after HTML escaping), so escaping a chunk never pushes it over the limit.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    text = text.strip()
    if not text:
        return []
    return [chunk for chunk in (c.strip() for c in _split(text, limit, length, 0)) if chunk]


def _split(text: str, limit: int, length: Callable[[str], int], level: int) -> list[str]:
    if length(text) <= limit:
        return [text]
    if level == len(_LEVELS):
        return _hard_cut(text, limit, length)
    pattern, joiner = _LEVELS[level]
    parts = [part for part in pattern.split(text) if part.strip()]
    if len(parts) <= 1:
        return _split(text, limit, length, level + 1)
    chunks: list[str] = []
    current = ""
    for part in parts:
        if length(part) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.extend(_split(part, limit, length, level + 1))
            continue
        candidate = f"{current}{joiner}{part}" if current else part
        if length(candidate) <= limit:
            current = candidate
        else:
            chunks.append(current)
            current = part
    if current:
        chunks.append(current)
    return chunks


def _hard_cut(text: str, limit: int, length: Callable[[str], int]) -> list[str]:
    chunks = []
    while text:
        cut = min(limit, len(text))
        while cut > 1 and length(text[:cut]) > limit:
            cut -= 1
        chunks.append(text[:cut])
        text = text[cut:]
    return chunks
