"""Teaching the FAQ file: add wordings to an entry, or append a new entry, in place.

Written with ruamel.yaml so that the admins' comments, order and formatting survive; every change
is validated with `indexer.faq.load_faq` before it replaces the file (atomically), and the
previous file is kept as a dated backup. The community review loop (`bot.review.actions`) calls
it when reviewers link a group to an entry or promote an answered group.

A linked group's wordings go to the entry's `learned` list, not its `alternates`: citizens'
wordings are long and chatty (greetings, family, places), and as alternates, embedded like the
admins' own, they pulled unrelated questions to the entry. Simulated on the dev set
(bench/learning_curve.py, 5 seeds, 100 reviewed questions, ~20 taught), alternates cost the
other needs 10 points of accuracy and add 10 of confident-wrong answers; learned wordings, indexed for
BM25 and fuzzy matching only (indexer/build.py `fuzzy_docs`), stay within a point of the
untaught FAQ, while later citizens asking the same need in other words gain 8 points and the
taught questions asked again (as typed, unaccented, with typos) are all answered.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import io
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.faq import CATEGORIES, ID_RE, load_faq
from indexer.text import views

log = logging.getLogger(__name__)

MAX_ALTERNATES = 10  # wordings added to an FAQ entry by one link or promotion
MAX_WORDING_CHARS = 300  # longer wordings are not copied into the FAQ
COMMUNITY_SOURCE = "Tổ công nghệ số cộng đồng"  # the `source` of entries the community teams write


class FaqEditError(Exception):
    """The FAQ file could not be changed; `issues` holds the file:line errors, if any."""

    def __init__(self, message: str, issues: list[str] | None = None):
        super().__init__(message + ("".join(f"\n{i}" for i in issues) if issues else ""))
        self.issues = issues or []


@dataclass
class Edit:
    entry_id: str
    added: list[str]
    backup: Path | None


# Question words left out of the id of a promoted entry (folded).
_SLUG_SKIP = frozenset("""
a ad ai ba bac ban bao cach cho chi co con da de duoc em gi giup ha hay hoi khong ko k la lam
minh muon nao ne nhe nhieu nhu o oi phai sao the thi toi va vay voi xin dau ah
""".split())


def _slug(text: str, limit: int = 6) -> str:
    words = [w for w in re.sub(r"[^a-z0-9]+", " ", views(text).folded).split() if w not in _SLUG_SKIP]
    return "-".join(words[:limit]) or "cau-hoi"


class FaqEditor:
    """Changes the FAQ file in place with ruamel.yaml, keeping comments, order and formatting.

    Every change is validated with `indexer.faq.load_faq` before it replaces the file (atomically),
    and the previous file is kept in `backup_dir` as `faq-YYYYmmdd-HHMMSS.yaml`."""

    def __init__(self, path: Path, backup_dir: Path, lock_path: Path | None = None):
        self.path = Path(path)
        self.backup_dir = Path(backup_dir)
        self.lock_path = lock_path or self.backup_dir.parent / "faq-edit.lock"
        self._lock = threading.Lock()

    # -- public --------------------------------------------------------------------------------
    def add_alternates(self, faq_id: str, texts: list[str]) -> Edit:
        """Add the wordings that no entry has yet (after normalisation) to entry `faq_id`."""
        return self._add_wordings(faq_id, texts, "alternates")

    def add_learned(self, faq_id: str, texts: list[str]) -> Edit:
        """Add citizens' wordings that no entry has yet to the `learned` list of entry `faq_id`."""
        return self._add_wordings(faq_id, texts, "learned")

    def _add_wordings(self, faq_id: str, texts: list[str], key: str) -> Edit:
        def change(data: Any, style: _Style) -> list[str]:
            entry = next((e for e in _entries(data) if str(e.get("id")) == faq_id), None)
            if entry is None:
                raise FaqEditError(f"no FAQ entry {faq_id!r} in {self.path}")
            new = _new_wordings(data, texts)
            if not new:
                return []
            alts = entry.get(key)
            if not isinstance(alts, list):
                from ruamel.yaml.comments import CommentedSeq

                alts = CommentedSeq()
                keys = list(entry.keys())
                after = [k for k in ("question", "alternates")[: 1 if key == "alternates" else 2] if k in keys]
                at = keys.index(after[-1]) + 1 if after else len(keys)
                # the lines after the entry (blank, comments) must stay after the new last key
                trailing = _detach_trailing(entry) if at == len(keys) else ""
                entry.insert(at, key, alts)
                _append(alts, [style.string(t) for t in new])
                _attach_trailing(entry, trailing)
                return new
            _append(alts, [style.string(t) for t in new])
            return new

        return self._edit(faq_id, change)

    def add_entry(self, wordings: list[str], answer: str, *, faq_id: str | None = None,
                  category: str | None = None, source: str = COMMUNITY_SOURCE) -> Edit:
        """Append a new entry: the first new wording is the question, the others alternates."""
        if faq_id is not None and not ID_RE.match(faq_id):
            raise FaqEditError(f"id {faq_id!r} must use only a-z, 0-9 and '-'")
        if category is not None and category not in CATEGORIES:
            raise FaqEditError(f"unknown category {category!r}; use one of: {', '.join(CATEGORIES)}")
        chosen: dict[str, str] = {}

        def change(data: Any, style: _Style) -> list[str]:
            from ruamel.yaml.comments import CommentedMap, CommentedSeq
            from ruamel.yaml.scalarstring import LiteralScalarString

            new = _new_wordings(data, wordings)
            if not new:
                raise FaqEditError("every wording of this group is already in the FAQ")
            ids = {str(e.get("id")) for e in _entries(data)}
            entry_id = faq_id or _slug(new[0])
            if faq_id and faq_id in ids:
                raise FaqEditError(f"the FAQ already has an entry {faq_id!r}")
            base, n = entry_id, 2
            while entry_id in ids:
                entry_id, n = f"{base}-{n}", n + 1
            chosen["id"] = entry_id
            entry = CommentedMap()
            entry["id"] = entry_id
            if category:
                entry["category"] = category
            entry["question"] = style.string(new[0])
            if new[1:]:
                entry["alternates"] = CommentedSeq([style.string(t) for t in new[1:]])
            entry["answer"] = LiteralScalarString(answer.strip() + "\n")
            entry["source"] = style.string(source)
            entry["reviewed"] = dt.date.today()
            faqs = data.get("faqs")
            if not isinstance(faqs, list):
                faqs = CommentedSeq()
                data["faqs"] = faqs
            faqs.fa.set_block_style()
            _append(faqs, [entry], separate=style.blank_between_entries and len(faqs) > 0)
            return new

        edit = self._edit(faq_id or "", change)
        edit.entry_id = chosen.get("id", edit.entry_id)
        return edit

    # -- plumbing ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.lock_path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _edit(self, entry_id: str, change: Callable[[Any, _Style], list[str]]) -> Edit:
        with self._locked():
            try:
                text = self.path.read_text(encoding="utf-8")
            except OSError as exc:
                raise FaqEditError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
            current = load_faq(self.path).errors
            if current:
                raise FaqEditError(f"{self.path} has errors; fix them first", [str(i) for i in current])
            yaml, style = _yaml_for(text)
            try:
                data = yaml.load(text)
            except Exception as exc:  # noqa: BLE001 - ruamel raises many error types
                issues = [str(i) for i in load_faq(self.path).errors] or [f"{self.path}: {exc}"]
                raise FaqEditError(f"{self.path} is not valid; fix it first", issues) from exc
            if data is None:
                from ruamel.yaml.comments import CommentedMap

                data = CommentedMap([("version", 1)])
            if not hasattr(data, "get"):
                raise FaqEditError(f"{self.path}: the file must be a mapping with `version: 1` and `faqs:`")
            added = change(data, style)
            if not added:
                return Edit(entry_id, [], None)
            buf = io.StringIO()
            yaml.dump(data, buf)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            try:
                tmp.write_text(buf.getvalue(), encoding="utf-8")
                errors = load_faq(tmp).errors
                if errors:
                    issues = [str(i).replace(str(tmp), str(self.path)) for i in errors]
                    raise FaqEditError(f"the change would make {self.path} invalid; nothing was written", issues)
                backup = self._backup()
                shutil.copymode(self.path, tmp)
                os.replace(tmp, self.path)
            finally:
                tmp.unlink(missing_ok=True)
            log.info("FAQ %s: %d wording(s) added to %s (backup %s)",
                     self.path, len(added), entry_id or "a new entry", backup)
            return Edit(entry_id, added, backup)

    def _backup(self) -> Path:
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.backup_dir / f"faq-{stamp}.yaml"
        n = 2
        while target.exists():
            target = self.backup_dir / f"faq-{stamp}-{n}.yaml"
            n += 1
        shutil.copy2(self.path, target)
        return target


@dataclass(frozen=True)
class _Style:
    quoted: bool
    blank_between_entries: bool

    def string(self, text: str) -> Any:
        from ruamel.yaml.scalarstring import DoubleQuotedScalarString

        text = " ".join(text.split())
        return DoubleQuotedScalarString(text) if self.quoted else text


def _yaml_for(text: str) -> tuple[Any, _Style]:
    """A round-trip YAML instance with the file's own indentation, and its quoting habits."""
    from ruamel.yaml import YAML

    y = YAML()
    y.preserve_quotes = True
    y.width = 1_000_000  # never re-wrap long lines
    m = re.search(r"^([ \t]*)-[ \t]+id[ \t]*:", text, re.M)
    offset = len(m.group(1)) if m else 2
    y.indent(mapping=2, sequence=offset + 2, offset=offset)
    quoted = bool(re.search(r"^[ \t]*(?:-[ \t]+)?question:[ \t]*\"", text, re.M)) or not m
    blank = bool(re.search(r"\n[ \t]*\n(?:[ \t]*#[^\n]*\n)*[ \t]*-[ \t]+id[ \t]*:", text))
    return y, _Style(quoted, blank)


def _entries(data: Any) -> list[Any]:
    faqs = data.get("faqs") if hasattr(data, "get") else None
    return [e for e in faqs if hasattr(e, "get")] if isinstance(faqs, list) else []


def _new_wordings(data: Any, texts: list[str]) -> list[str]:
    """Wordings no entry has yet (after normalisation), deduplicated, at most MAX_ALTERNATES."""
    seen: set[str] = set()
    for e in _entries(data):
        for q in [e.get("question"), *(e.get("alternates") or []), *(e.get("learned") or [])]:
            if q is not None:
                seen.add(views(str(q)).folded)
    out: list[str] = []
    for text in texts:
        text = " ".join(str(text).split())
        key = views(text).folded
        if not key or key in seen or len(text) > MAX_WORDING_CHARS:
            continue
        seen.add(key)
        out.append(text)
        if len(out) >= MAX_ALTERNATES:
            break
    return out


# ruamel keeps the comments and blank lines that follow a node on the node's last element, so an
# element appended after it would land below them. These helpers move them to the new last element.
def _last_path(node: Any) -> list[tuple[Any, Any]]:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    path = []
    while isinstance(node, (CommentedMap, CommentedSeq)) and len(node):
        key = list(node.keys())[-1] if isinstance(node, CommentedMap) else len(node) - 1
        path.append((node, key))
        node = node[key]
    return path


def _is_block(value: Any) -> bool:
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    return isinstance(value, (LiteralScalarString, FoldedScalarString))


def _slot(container: Any) -> int:
    from ruamel.yaml.comments import CommentedMap

    return 2 if isinstance(container, CommentedMap) else 0


def _detach_trailing(node: Any) -> str:
    """Remove and return the lines (blank or comments) that follow the end of `node`; an
    end-of-line comment stays where it is."""
    for container, key in reversed(_last_path(node)):
        slot = container.ca.items.get(key)
        pos = _slot(container)
        token = slot[pos] if slot and len(slot) > pos else None
        if token is None:
            continue
        if _is_block(container[key]):
            trailing, keep = token.value, ""
        else:
            inline, newline, trailing = token.value.partition("\n")
            keep = inline + newline if inline.strip() else ""
        if keep:
            token.value = keep
        else:
            slot[pos] = None
        return trailing
    return ""


def _attach_trailing(node: Any, trailing: str) -> None:
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    path = _last_path(node)
    if not trailing or not path:
        return
    container, key = path[-1]
    value = trailing if _is_block(container[key]) else "\n" + trailing
    slot = container.ca.items.setdefault(key, [None, None, None, None])
    slot[_slot(container)] = CommentToken(value, CommentMark(0), None)


def _append(seq: Any, values: list[Any], separate: bool = False) -> None:
    """Append to a sequence, keeping the comments that followed its old last element after the
    new last one; `separate` puts a blank line before each new element."""
    trailing = _detach_trailing(seq) if len(seq) else ""
    for value in values:
        if separate and len(seq):
            _attach_trailing(seq, "\n")
        seq.append(value)
    _attach_trailing(seq, trailing)
