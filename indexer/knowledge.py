"""Load Markdown knowledge documents and split them into citable passages."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
MIN_WORDS = 12  # a shorter paragraph is merged with the next one under the same heading
MAX_WORDS = 180  # a longer paragraph is split at sentence boundaries


@dataclass(frozen=True)
class Passage:
    id: str  # "<file stem>#<n>"
    doc: str  # file name
    title: str  # the document's first `#` heading
    heading: str  # the nearest heading above the passage
    path: tuple[str, ...]  # heading path below the title
    text: str
    line: int

    @property
    def source(self) -> str:
        return f"{self.title} › {self.heading}" if self.heading and self.heading != self.title else self.title


def _split_long(text: str) -> list[str]:
    if len(text.split()) <= MAX_WORDS:
        return [text]
    sentences = re.split(r"(?<=[.!?;])\s+", text)
    parts: list[str] = []
    cur: list[str] = []
    for s in sentences:
        if cur and len(" ".join(cur + [s]).split()) > MAX_WORDS:
            parts.append(" ".join(cur))
            cur = []
        cur.append(s)
    if cur:
        parts.append(" ".join(cur))
    return parts


def chunk_markdown(name: str, text: str) -> list[Passage]:
    text = unicodedata.normalize("NFC", text)
    stem = Path(name).stem
    title = ""
    stack: list[tuple[int, str]] = []
    passages: list[Passage] = []
    buf: list[str] = []
    buf_line = 0

    def flush() -> None:
        nonlocal buf
        body = " ".join(line.strip() for line in buf).strip()
        buf = []
        if not body:
            return
        heading = stack[-1][1] if stack else title
        path = tuple(h for _, h in stack)
        for part in _split_long(body):
            if passages and passages[-1].path == path and len(passages[-1].text.split()) < MIN_WORDS:
                prev = passages.pop()
                part = prev.text + "\n" + part
                line = prev.line
            else:
                line = buf_line
            passages.append(Passage(f"{stem}#{len(passages)}", name, title or stem, heading, path, part, line))

    for lineno, raw in enumerate(text.splitlines(), start=1):
        m = _HEADING.match(raw)
        if m:
            flush()
            level, head = len(m.group(1)), m.group(2).strip()
            if level == 1 and not title:
                title = head
                continue
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, head))
            continue
        if not raw.strip():
            flush()
            continue
        if not buf:
            buf_line = lineno
        item = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", raw) if re.match(r"^\s*(?:[-*+]|\d+[.)])\s+", raw) else raw
        buf.append(("\n" if buf and item is not raw else "") + item.replace("**", ""))
    flush()
    # renumber ids after merges
    return [Passage(f"{stem}#{i}", p.doc, p.title, p.heading, p.path, p.text, p.line) for i, p in enumerate(passages)]


def load_knowledge(directory: Path | None) -> list[Passage]:
    if directory is None or not directory.is_dir():
        return []
    passages: list[Passage] = []
    for path in sorted(directory.glob("*.md")):
        passages.extend(chunk_markdown(path.name, path.read_text(encoding="utf-8", errors="replace")))
    return passages
