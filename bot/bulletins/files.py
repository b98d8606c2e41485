"""A bulletin file: Markdown with YAML front matter, validated with `file:line` errors.

    ---
    id: canh-bao-app-gia-2026-12
    title: Cảnh báo ứng dụng giả mạo VNeID
    topic: canh-bao
    audience: all            # or a list of commune codes: [03637, 03640]
    send_at: 2026-12-10T08:00:00+07:00   # optional, ISO 8601 with an offset
    expires: 2026-12-20T00:00:00+07:00   # optional: not sent after this
    ---
    Nội dung bản tin (Markdown đơn giản: tiêu đề #, **đậm**, danh sách -, [liên kết](https://…)).

Citizens get plain text (the senders escape and split it): the title, the body with its Markdown
marks turned into plain text, and the closing line that Trợ lý số never asks for passwords or OTP
codes (`bot.replies.citizens.BULLETIN_FOOTER`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.replies import citizens as replies
from indexer.communes import Communes
from indexer.faq import Issue

ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TOPIC = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
FIELDS = ("id", "title", "topic", "audience", "send_at", "expires")
REQUIRED = ("id", "title", "topic", "audience")
MAX_BODY = 8000  # characters: a bulletin is a short message, not a document
MAX_TITLE = 200


class BulletinError(Exception):
    """A bulletin file that cannot be used; carries the file:line issues."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("\n".join(map(str, issues)))


@dataclass(frozen=True)
class BulletinFile:
    path: Path
    id: str
    title: str
    topic: str
    audience: tuple[str, ...]  # commune codes; empty: everyone
    body: str  # Markdown, as written
    digest: str  # sha256 of the file's bytes
    send_at: dt.datetime | None = None  # aware
    expires: dt.datetime | None = None  # aware

    @property
    def text(self) -> str:
        """What every citizen receives."""
        return render(self.title, self.body)


def render(title: str, body: str) -> str:
    """The citizen's text: header, the body as plain text, the closing line."""
    return "\n\n".join([replies.BULLETIN_HEADER.format(title=title.strip()), markdown_to_text(body),
                        replies.BULLETIN_FOOTER])


_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+")


def markdown_to_text(body: str) -> str:
    """Simple Markdown as plain text: headings and emphasis lose their marks, bullets become "•",
    links "text (address)". Blank lines are kept as paragraph breaks (at most one in a row)."""
    lines: list[str] = []
    for raw in body.strip().splitlines():
        line = raw.rstrip()
        heading = _HEADING.match(line)
        if heading:
            line = heading.group(1)
        line = _BULLET.sub(lambda m: m.group(1) + "• ", line)
        line = _LINK.sub(lambda m: m.group(1) if m.group(1) == m.group(2) else f"{m.group(1)} ({m.group(2)})", line)
        line = _EMPHASIS.sub(lambda m: m.group(2) or m.group(3), line)
        if not line.strip() and (not lines or not lines[-1].strip()):
            continue
        lines.append(line)
    return "\n".join(lines).strip()


def _split(text: str) -> tuple[str, str, int] | None:
    """(front matter, body, first line number of the body) or None without front matter."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None
    for n, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            return "".join(lines[1:n]), "".join(lines[n + 1:]), n + 2
    return None


def _time(value: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def load_bulletin(path: Path, communes: Communes | None = None) -> BulletinFile:
    """Read and validate a bulletin file; raises `BulletinError` with every problem found."""
    p = str(path)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        raise BulletinError([Issue(p, 0, f"cannot read the file: {exc.strerror or exc}")]) from exc
    except UnicodeDecodeError as exc:
        raise BulletinError([Issue(p, 1, "the file is not UTF-8 text")]) from exc
    parts = _split(text)
    if parts is None:
        raise BulletinError([Issue(p, 1, "a bulletin starts with front matter between two '---' lines")])
    front, body, body_line = parts
    issues: list[Issue] = []
    try:
        node = yaml.compose(front, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        raise BulletinError([Issue(p, line, f"invalid YAML: {getattr(exc, 'problem', exc)}")]) from exc
    if not isinstance(node, yaml.MappingNode):
        raise BulletinError([Issue(p, 2, "the front matter must be 'key: value' lines")])

    values: dict[str, yaml.Node] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key, line = str(key_node.value), key_node.start_mark.line + 2
        if key not in FIELDS:
            issues.append(Issue(p, line, f"unknown field {key!r} (fields: {', '.join(FIELDS)})"))
        elif key in values:
            issues.append(Issue(p, line, f"{key!r} is given twice"))
        else:
            values[key], lines[key] = value_node, line
    for key in REQUIRED:
        if key not in values:
            issues.append(Issue(p, 1, f"missing field {key!r}"))

    def scalar(key: str) -> str:
        value = values.get(key)
        if value is None:
            return ""
        if not isinstance(value, yaml.ScalarNode):
            issues.append(Issue(p, lines[key], f"{key!r} must be a single value"))
            return ""
        return str(value.value).strip()

    bid, title, topic = scalar("id"), scalar("title"), scalar("topic")
    if "id" in values and not ID.match(bid):
        issues.append(Issue(p, lines["id"], f"id {bid!r}: use lower-case letters, digits, '-', '_' or '.' "
                                            "(at most 64)"))
    if "title" in values and not 1 <= len(title) <= MAX_TITLE:
        issues.append(Issue(p, lines["title"], f"the title must be 1-{MAX_TITLE} characters"))
    if "topic" in values and not TOPIC.match(topic):
        issues.append(Issue(p, lines["topic"], f"topic {topic!r}: use lower-case letters, digits and '-'"))

    audience: list[str] = []
    node_a = values.get("audience")
    if isinstance(node_a, yaml.ScalarNode):
        if node_a.value.strip() != "all":
            audience = [node_a.value.strip()]
            if not audience[0]:
                issues.append(Issue(p, lines["audience"], "audience: 'all' or a list of commune codes"))
    elif isinstance(node_a, yaml.SequenceNode):
        if not node_a.value:
            issues.append(Issue(p, lines["audience"], "audience: the list of commune codes is empty"))
        for item in node_a.value:
            line = item.start_mark.line + 2
            if not isinstance(item, yaml.ScalarNode) or not str(item.value).strip():
                issues.append(Issue(p, line, "audience: each item is one commune code"))
                continue
            audience.append(str(item.value).strip())
    elif node_a is not None:
        issues.append(Issue(p, lines["audience"], "audience: 'all' or a list of commune codes"))
    if audience and communes is not None:
        known = {c.code for c in communes.units}
        for code in audience:
            if code not in known:
                issues.append(Issue(p, lines["audience"], f"audience: {code!r} is not a commune code of "
                                                          f"{communes.path or 'communes.yaml'}"))
    if len(set(audience)) != len(audience):
        issues.append(Issue(p, lines["audience"], "audience: a commune code is listed twice"))

    times: dict[str, dt.datetime | None] = {}
    for key in ("send_at", "expires"):
        value = scalar(key) if key in values else ""
        times[key] = _time(value) if value else None
        if value and times[key] is None:
            issues.append(Issue(p, lines[key], f"{key}: {value!r} is not an ISO 8601 time with an offset, "
                                               "e.g. 2026-12-10T08:00:00+07:00"))
    send_at, expires = times["send_at"], times["expires"]
    if send_at and expires and expires <= send_at:
        issues.append(Issue(p, lines["expires"], "expires must be after send_at"))

    if not body.strip():
        issues.append(Issue(p, body_line, "the bulletin has no text after the front matter"))
    elif len(body) > MAX_BODY:
        issues.append(Issue(p, body_line, f"the text is {len(body)} characters long; keep it under {MAX_BODY}"))
    if issues:
        raise BulletinError(sorted(issues, key=lambda i: i.line))
    return BulletinFile(path, bid, title, topic, tuple(audience), body.strip(), hashlib.sha256(raw).hexdigest(),
                        send_at, expires)
