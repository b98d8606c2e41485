"""Load and validate an FAQ file (the format of ../shared/eval/SPEC.md) with file:line messages."""

from __future__ import annotations

import datetime as dt
import gc
import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from indexer.text import views

CATEGORIES: dict[str, str] = {
    "vneid": "VNeID, định danh điện tử",
    "dichvucong": "Dịch vụ công trực tuyến",
    "thanhtoan": "Thanh toán, chuyển tiền",
    "luadao": "Lừa đảo trên mạng",
    "tinrac": "Tin nhắn rác, cuộc gọi rác",
    "dulieu": "Dữ liệu cá nhân",
    "thuebao": "Thông tin thuê bao SIM",
    "bhxh-thue": "Bảo hiểm xã hội, thuế",
    "suckhoe": "Sổ sức khỏe điện tử",
    "mangxahoi": "Zalo, Facebook, mật khẩu",
    "nq57": "Nghị quyết 57",
    "bdhvs": "Bình dân học vụ số",
    "to-cnscd": "Tổ công nghệ số cộng đồng",
    "laichau": "Lai Châu, chính quyền hai cấp",
}
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
KNOWN_KEYS = {"id", "category", "question", "alternates", "learned", "answer", "source", "reviewed", "review_by",
              "tags"}


@dataclass(frozen=True)
class FaqEntry:
    id: str
    question: str
    answer: str
    category: str | None = None
    alternates: tuple[str, ...] = ()
    source: str | None = None
    reviewed: str | None = None
    tags: tuple[str, ...] = ()
    line: int = 0
    review_by: str | None = None  # ISO date: check the answer again by then (`trolyso faq stale`)
    learned: tuple[str, ...] = ()  # citizens' wordings taught by the review loop (indexer/learned.py)

    @property
    def questions(self) -> tuple[str, ...]:
        return (self.question, *self.alternates)


@dataclass(frozen=True)
class Issue:
    path: str
    line: int
    message: str
    level: str = "error"  # or "warning"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.level}: {self.message}"


@dataclass
class FaqFile:
    path: Path
    entries: list[FaqEntry] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "warning"]


class FaqError(Exception):
    """An FAQ file that cannot be used; carries the file:line issues."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("\n".join(map(str, issues)))


_STR_TAG = "tag:yaml.org,2002:str"


def _scalar(node: yaml.Node) -> object:
    """One scalar with the safe loader's resolution rules (texts, the common case, directly)."""
    if node.tag == _STR_TAG and isinstance(node, yaml.ScalarNode):
        return node.value
    try:
        return yaml.SafeLoader("").construct_object(node, deep=True)
    except ValueError:  # a timestamp that is no date (2027-02-30): its text
        return node.value


def parse_date(value: object) -> dt.date | None:
    """A YAML date, or a text in ISO form (2027-06-30); None when it is neither."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return unicodedata.normalize("NFC", str(value)).strip()


@contextmanager
def paused_gc() -> Iterator[None]:
    """Bulk parsing makes millions of small objects, and Python's cyclic garbage collector then
    runs again and again (a 10,000-entry FAQ: 0.35 s to parse with it paused, 0.9-1.5 s without).
    Nothing built here needs it: reference counting frees what is dropped."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_faq(path: Path, folded: Callable[[str], str] | None = None) -> FaqFile:
    """Parse and validate an FAQ file. Never raises for bad content: see `.issues`.
    `folded` gives the normalised, unaccented form of a question (default: indexer.text.views;
    the indexer passes one that remembers the previous build's)."""
    with paused_gc():
        return _load_faq(path, folded or _folded)


def _folded(question: str) -> str:
    return views(question).folded


class _Report(Protocol):
    """Records one issue of the file being loaded (`err` in `_load_faq`)."""

    def __call__(self, line: int, msg: str, level: str = "error") -> None: ...


def _load_faq(path: Path, folded: Callable[[str], str]) -> FaqFile:
    result = FaqFile(path=path)
    p = str(path)

    def err(line: int, msg: str, level: str = "error") -> None:
        result.issues.append(Issue(p, line, msg, level))

    try:
        raw = path.read_bytes()
    except OSError as exc:
        err(0, f"cannot read file: {exc.strerror or exc}")
        return result
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        err(line, "file is not valid UTF-8")
        return result
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: ~5x faster
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 0
        problem = getattr(exc, "problem", None) or str(exc)
        err(line, f"invalid YAML: {problem}")
        return result
    if root is None:
        return result  # an empty file: no entries (a knowledge-only deployment)
    if not isinstance(root, yaml.MappingNode):
        err(root.start_mark.line + 1, "the file must be a mapping with `version: 1` and `faqs:`")
        return result
    top = {k.value: v for k, v in root.value if isinstance(k, yaml.ScalarNode)}
    version = top.get("version")
    if version is not None and _scalar(version) != 1:
        err(version.start_mark.line + 1, f"unsupported version {_scalar(version)!r} (expected 1)")
    faqs = top.get("faqs")
    if faqs is None or (isinstance(faqs, yaml.ScalarNode) and faqs.value in ("", "~", "null")):
        return result
    if not isinstance(faqs, yaml.SequenceNode):
        err(faqs.start_mark.line + 1, "`faqs` must be a list of entries")
        return result
    for item in faqs.value:
        entry = _entry(item, err)
        if entry is not None:
            result.entries.append(entry)
    _check_duplicates(result, err, folded)
    return result


def _entry(node: yaml.Node, err: _Report) -> FaqEntry | None:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        err(line, "an FAQ entry must be a mapping with id, question and answer")
        return None
    fields: dict[str, yaml.Node] = {}
    for key, value in node.value:
        name = str(key.value)
        if name in fields:
            err(key.start_mark.line + 1, f"duplicate key `{name}` in one entry")
        fields[name] = value
    ok = True
    values: dict[str, object] = {}
    for name in ("id", "question", "answer"):
        if name not in fields:
            err(line, f"missing required field `{name}`")
            ok = False
            continue
        v = fields[name]
        if not isinstance(v, yaml.ScalarNode) or not _text(_scalar(v)):
            err(v.start_mark.line + 1, f"`{name}` must be a non-empty text")
            ok = False
            continue
        values[name] = _text(_scalar(v))
    if "id" in values and not ID_RE.match(str(values["id"])):
        err(fields["id"].start_mark.line + 1,
            f"id {values['id']!r} must use only a-z, 0-9 and '-'")
        ok = False
    category = None
    if "category" in fields:
        category = _text(_scalar(fields["category"])) if isinstance(fields["category"], yaml.ScalarNode) else None
        if category not in CATEGORIES:
            err(fields["category"].start_mark.line + 1,
                f"unknown category {category!r}; use one of: {', '.join(CATEGORIES)}")
            ok = False
    alternates, ok = _texts(fields, "alternates", "an alternate", err, ok)
    learned, ok = _texts(fields, "learned", "a learned wording", err, ok)
    tags: list[str] = []
    if "tags" in fields:
        tnode = fields["tags"]
        if isinstance(tnode, yaml.SequenceNode):
            tags = [str(_text(_scalar(t))) for t in tnode.value if isinstance(t, yaml.ScalarNode)]
        elif isinstance(tnode, yaml.ScalarNode) and _scalar(tnode) is not None:
            tags = [str(_text(_scalar(tnode)))]
    optional = {}
    for name in ("source", "reviewed"):
        if name in fields and isinstance(fields[name], yaml.ScalarNode):
            optional[name] = _text(_scalar(fields[name])) or None
    if "review_by" in fields:
        rnode = fields["review_by"]
        value = rnode.value if isinstance(rnode, yaml.ScalarNode) else None
        date = parse_date(value)
        if date is None:
            shown = value if isinstance(rnode, yaml.ScalarNode) else "a list or mapping"
            err(rnode.start_mark.line + 1, f"`review_by` must be a date (YYYY-MM-DD), got {shown!r}")
            ok = False
        else:
            optional["review_by"] = date.isoformat()
    if not ok:
        return None
    return FaqEntry(
        id=str(values["id"]),
        question=str(values["question"]),
        answer=str(values["answer"]),
        category=category,
        alternates=tuple(alternates),
        learned=tuple(learned),
        source=optional.get("source"),
        reviewed=optional.get("reviewed"),
        tags=tuple(tags),
        line=line,
        review_by=optional.get("review_by"),
    )


def _texts(fields: dict[str, yaml.Node], name: str, what: str, err: _Report, ok: bool) -> tuple[list[str], bool]:
    """An optional list of texts (`alternates`, `learned`); `ok` becomes False on an error."""
    out: list[str] = []
    node = fields.get(name)
    if node is None or (isinstance(node, yaml.ScalarNode) and _scalar(node) is None):
        return out, ok
    if not isinstance(node, yaml.SequenceNode):
        err(node.start_mark.line + 1, f"`{name}` must be a list of texts")
        return out, False
    for a in node.value:
        t = _text(_scalar(a)) if isinstance(a, yaml.ScalarNode) else None
        if not t:
            err(a.start_mark.line + 1, f"{what} must be a non-empty text")
            ok = False
        else:
            out.append(t)
    return out, ok


def _check_duplicates(result: FaqFile, err: _Report, folded: Callable[[str], str]) -> None:
    seen_ids: dict[str, int] = {}
    seen_text: dict[str, tuple[str, int]] = {}
    for e in result.entries:
        if e.id in seen_ids:
            err(e.line, f"duplicate id {e.id!r} (first at line {seen_ids[e.id]})")
        else:
            seen_ids[e.id] = e.line
        for q in (*e.questions, *e.learned):
            key = folded(q)
            other = seen_text.get(key)
            if other and other[0] != e.id:
                err(e.line, f"question {q!r} of {e.id!r} is the same as one of {other[0]!r} "
                    f"(line {other[1]}) after normalisation")
            elif not other:
                seen_text[key] = (e.id, e.line)


def require_valid(path: Path, folded: Callable[[str], str] | None = None) -> list[FaqEntry]:
    """Entries of a valid FAQ file, or FaqError with every error. A missing file is an error."""
    faq = load_faq(path, folded)
    if faq.errors:
        raise FaqError(faq.errors)
    return faq.entries
