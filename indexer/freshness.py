"""Keep the FAQ fresh: entries past their `review_by` date, entries whose `reviewed` date is more
than a year old, and sources citing a legal document that `superseded.yaml` (next to faq.yaml)
lists as replaced. Used by `trolyso faq check` (as warnings) and `trolyso faq stale` (a list)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from indexer.faq import FaqFile, Issue, parse_date

SUPERSEDED_FILE = "superseded.yaml"
REVIEWED_MAX_AGE_DAYS = 365

# reasons (the `reason` of `trolyso faq stale --json`)
REVIEW_BY = "review_by_passed"
REVIEWED_OLD = "reviewed_over_a_year_ago"
SUPERSEDED = "cites_superseded"


@dataclass(frozen=True)
class Superseded:
    """One row of superseded.yaml: `old` is no longer in force, `new` replaces it."""

    old: str
    new: str
    since: str | None = None  # ISO date the replacement took effect, when known
    line: int = 0


@dataclass(frozen=True)
class Stale:
    """One reason an FAQ entry needs a look."""

    id: str
    line: int
    reason: str  # REVIEW_BY, REVIEWED_OLD or SUPERSEDED
    date: str | None  # the review_by / reviewed date, or when the cited document was replaced
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "line": self.line, "reason": self.reason, "date": self.date}


# "Nghị định 59/2022/NĐ-CP", "NĐ 59/2022", "Nghị định số 59/2022", "59/2022/NĐ-CP", "Thông tư 17/2024/TT-NHNN"
_KINDS = {"nghị định": "nd", "nđ": "nd", "thông tư": "tt", "tt": "tt", "quyết định": "qd", "qđ": "qd",
          "nghị quyết": "nq", "nq": "nq", "luật": "luat", "qh": "luat", "kế hoạch": "kh", "kh": "kh"}
_CITATION = re.compile(
    r"(?:(?P<prefix>nghị định|nghị quyết|thông tư|quyết định|kế hoạch|luật|nđ|tt|qđ|nq|kh)\.?\s*(?:số\s*)?)?"
    r"(?<![\d/])(?P<num>\d{1,5})/(?P<year>(?:19|20)\d\d)(?!\d)"
    r"(?:/(?P<suffix>[a-zđ]+))?",
    re.IGNORECASE)


def _kind(word: str | None) -> str | None:
    if not word:
        return None
    word = word.lower()
    if word.startswith("qh"):
        return "luat"
    return _KINDS.get(word)


def citations(text: str) -> set[tuple[str | None, str, str]]:
    """The legal documents a text cites, as (kind or None, number, year)."""
    text = unicodedata.normalize("NFC", text)
    found: set[tuple[str | None, str, str]] = set()
    for m in _CITATION.finditer(text):
        kind = _kind(m.group("suffix")) or _kind(m.group("prefix"))
        found.add((kind, str(int(m.group("num"))), m.group("year")))
    return found


def _cites(cited: set[tuple[str | None, str, str]], doc: str) -> bool:
    for kind, num, year in citations(doc):
        for k, n, y in cited:
            if n == num and y == year and k == kind:
                return True
    return False


def load_superseded(path: Path) -> tuple[list[Superseded], list[Issue]]:
    """The table at `path` (missing file: an empty table) and its file:line errors."""
    p = str(path)
    issues: list[Issue] = []
    if not path.exists():
        return [], issues
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Issue(p, 0, f"cannot read file: {exc}")]
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [], [Issue(p, mark.line + 1 if mark else 0,
                          f"invalid YAML: {getattr(exc, 'problem', None) or exc}")]
    if root is None:
        return [], issues
    if not isinstance(root, yaml.MappingNode):
        return [], [Issue(p, root.start_mark.line + 1, "the file must be a mapping with `superseded:`")]
    top = {k.value: v for k, v in root.value if isinstance(k, yaml.ScalarNode)}
    rows_node = top.get("superseded")
    if rows_node is None or (isinstance(rows_node, yaml.ScalarNode) and rows_node.value in ("", "~", "null")):
        return [], issues
    if not isinstance(rows_node, yaml.SequenceNode):
        return [], [Issue(p, rows_node.start_mark.line + 1, "`superseded` must be a list of {old, new} rows")]
    rows: list[Superseded] = []
    seen: dict[str, int] = {}
    for node in rows_node.value:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            issues.append(Issue(p, line, "a row must be a mapping with `old` and `new`"))
            continue
        fields = {str(k.value): v for k, v in node.value}
        values: dict[str, str] = {}
        ok = True
        for key, value in fields.items():
            if key not in ("old", "new", "since", "note"):
                issues.append(Issue(p, value.start_mark.line + 1,
                                    f"unknown key `{key}` (use old, new, since, note)"))
                ok = False
        for key in ("old", "new"):
            v = fields.get(key)
            text_value = str(v.value).strip() if isinstance(v, yaml.ScalarNode) else ""
            if not text_value:
                issues.append(Issue(p, v.start_mark.line + 1 if v is not None else line,
                                    f"`{key}` must be a non-empty text (a document number)"))
                ok = False
            elif not citations(text_value):
                issues.append(Issue(p, v.start_mark.line + 1 if v is not None else line,
                                    f"`{key}` {text_value!r} has no document number like 59/2022/NĐ-CP"))
                ok = False
            else:
                values[key] = unicodedata.normalize("NFC", text_value)
        since = None
        if "since" in fields:
            snode = fields["since"]
            raw = snode.value if isinstance(snode, yaml.ScalarNode) else None
            date = parse_date(raw)
            if date is None:
                issues.append(Issue(p, snode.start_mark.line + 1, f"`since` must be a date (YYYY-MM-DD), got {raw!r}"))
                ok = False
            else:
                since = date.isoformat()
        if not ok:
            continue
        key = values["old"].casefold()
        if key in seen:
            issues.append(Issue(p, line, f"{values['old']!r} is listed twice (first at line {seen[key]})"))
            continue
        seen[key] = line
        rows.append(Superseded(values["old"], values["new"], since, line))
    return rows, issues


def _age_limit(today: dt.date) -> dt.date:
    return today - dt.timedelta(days=REVIEWED_MAX_AGE_DAYS)


def stale_entries(faq: FaqFile, table: list[Superseded], today: dt.date) -> list[Stale]:
    """Every reason an entry of `faq` needs a look as of `today`, in file order."""
    out: list[Stale] = []
    for e in faq.entries:
        by = parse_date(e.review_by)
        if by is not None and today > by:
            out.append(Stale(e.id, e.line, REVIEW_BY, by.isoformat(),
                             f"{e.id!r} is past its review_by date {by.isoformat()}: check the answer, "
                             f"then update `reviewed` and set a new `review_by`"))
        reviewed = parse_date(e.reviewed)
        if reviewed is not None and reviewed < _age_limit(today):
            out.append(Stale(e.id, e.line, REVIEWED_OLD, reviewed.isoformat(),
                             f"{e.id!r} was last reviewed on {reviewed.isoformat()}, more than a year ago: "
                             f"check the answer and update `reviewed`"))
        if e.source and table:
            cited = citations(e.source)
            for row in table:
                if _cites(cited, row.old) and not _cites(cited, row.new):
                    out.append(Stale(e.id, e.line, SUPERSEDED, row.since,
                                     f"{e.id!r} cites {row.old}, replaced by {row.new}"
                                     + (f" from {row.since}" if row.since else "")
                                     + ": check the answer against the new text and cite it in `source`"))
    return out


def freshness_issues(faq: FaqFile, superseded_path: Path, today: dt.date) -> list[Issue]:
    """Errors of the superseded table, then the stale entries as warnings of the FAQ file."""
    table, issues = load_superseded(superseded_path)
    issues = list(issues)
    issues += [Issue(str(faq.path), s.line, s.message, "warning") for s in stale_entries(faq, table, today)]
    return issues


def superseded_path_for(faq_path: Path) -> Path:
    """The superseded table that goes with an FAQ file: `superseded.yaml` in the same folder."""
    return faq_path.parent / SUPERSEDED_FILE
