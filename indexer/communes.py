"""Lai Châu's commune-level units (communes.yaml): loading with file:line errors, and matching a
name as citizens type it (pure functions).

The file lists every unit (xã or phường) with its official code, name, type, the former units it
was formed from in the 2025 reform, and optionally its team's Telegram review chats, the team's
name and its working hours. `load_communes` never raises for bad content: see `.issues`
(`Communes.load` raises `CommuneError` with them).

Matching (`match`) reads what a citizen typed as a unit's name: with or without diacritics,
with or without "xã"/"phường"/"thị trấn", a former unit's name ("Tà Mung" -> xã Mường Kim), small
typos (rapidfuzz). It gives one unit, 2-3 candidates when the name is ambiguous (a current name
that was also a former unit of another one, two close spellings), or none.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from rapidfuzz import fuzz

from indexer.data_file import top_list
from indexer.faq import Issue
from indexer.text import clean, fold

TYPES = ("xã", "phường")
FORMER_TYPES = ("xã", "phường", "thị trấn")
CODE_RE = re.compile(r"^\d{5}$")
KNOWN_KEYS = {"code", "name", "type", "former", "review_chat_ids", "team", "hours"}

# Matching
MAX_CHOICES = 3
ONE_SCORE = 86.0  # rapidfuzz ratio from which a typo'd name is taken as that unit...
ONE_GAP = 6.0  # ...when the next other unit scores at least this much lower
CHOICE_SCORE = 72.0  # ratio from which a unit is offered as a choice
Report = Callable[[int, str], None]  # records one issue: (line, message)
_NOT_WORD = re.compile(r"[\W_]+")
_TYPE_WORDS = {"xa": "xã", "phuong": "phường", "thi tran": "thị trấn", "tt": "thị trấn", "p": "phường"}
# Words around a name that are not part of it (folded): "tôi ở xã ...", "... tỉnh Lai Châu ạ"
_LEADING = ("toi o", "minh o", "em o", "chau o", "nha toi o", "nha minh o", "toi song o", "o", "tai",
            "toi", "minh", "em", "la", "thuoc")
_TRAILING = ("a", "nhe", "nha", "oi", "lai chau", "tinh lai chau", "tinh", "moi", "cu")


@dataclass(frozen=True)
class Former:
    """A unit before the 2025 reform: "xã Tà Mung"."""

    type: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.type} {self.name}"


@dataclass(frozen=True)
class Commune:
    code: str
    name: str
    type: str  # xã or phường
    former: tuple[Former, ...] = ()
    review_chat_ids: tuple[int, ...] = ()
    team: str | None = None
    hours: str | None = None
    line: int = 0

    @property
    def label(self) -> str:
        """"xã Mường Kim", "phường Tân Phong"."""
        return f"{self.type} {self.name}"


class CommuneError(Exception):
    """A communes file that cannot be used; carries the file:line issues."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("\n".join(map(str, issues)))


@dataclass(frozen=True)
class Match:
    """What a typed name is: one unit (`kind` "one"), candidates ("choices") or nothing ("none").
    `via`: for "one", the former unit the citizen named, when they named one."""

    kind: Literal["one", "choices", "none"]
    communes: tuple[Commune, ...] = ()
    via: Former | None = None

    @property
    def commune(self) -> Commune | None:
        return self.communes[0] if self.kind == "one" else None


@dataclass
class Communes:
    """The units of the province, by code, with the name keys the matcher uses."""

    path: Path | None = None
    units: list[Commune] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_code = {c.code: c for c in self.units}

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    @classmethod
    def load(cls, path: Path) -> Communes:
        """The file's units; raises `CommuneError` when it has errors."""
        found = load_communes(path)
        if found.errors:
            raise CommuneError(found.errors)
        return found

    @classmethod
    def load_if_present(cls, path: Path) -> Communes:
        """`load`, or no units when the file does not exist (every question then goes to the
        provincial review chats)."""
        return cls.load(path) if path.exists() else cls(path)

    def get(self, code: str | None) -> Commune | None:
        return self._by_code.get(code) if code else None

    def review_chats(self, code: str | None) -> tuple[int, ...]:
        """The commune's own review chats (empty: its questions go to the provincial chats)."""
        c = self.get(code)
        return c.review_chat_ids if c else ()

    def destination(self, code: str | None) -> str | None:
        """Where a question of a citizen of `code` is reviewed: that code when the commune has
        its own review chats, else None (the provincial review chats)."""
        return code if self.review_chats(code) else None

    def match(self, text: str) -> Match:
        return match(text, self.units)


# -- loading ---------------------------------------------------------------------------------------

def _text(node: yaml.Node) -> str | None:
    if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        return None
    value = unicodedata.normalize("NFC", str(node.value)).strip()
    return " ".join(value.split()) or None


def _former(text: str) -> Former | None:
    """ "xã Tà Mung" -> Former("xã", "Tà Mung"); None without a known type word."""
    lowered = text[:1].lower() + text[1:]
    for t in sorted(FORMER_TYPES, key=len, reverse=True):
        if lowered.lower().startswith(t + " ") and len(lowered) > len(t) + 1:
            return Former(t, lowered[len(t) + 1:].strip())
    return None


def load_communes(path: Path) -> Communes:
    """Parse and validate a communes file. Never raises for bad content: see `.issues`."""
    issues: list[Issue] = []
    p = str(path)

    def err(line: int, msg: str) -> None:
        issues.append(Issue(p, line, msg))

    units: list[Commune] = []
    listed = top_list(path, "communes", "units", err)
    if listed is None:
        return Communes(path, units, issues)
    for node in listed.value:
        unit = _unit(node, err)
        if unit is not None:
            units.append(unit)
    _check_duplicates(units, err)
    return Communes(path, units, issues)


def _unit(node: yaml.Node, err: Report) -> Commune | None:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        err(line, "a unit must be a mapping with code, name, type and former")
        return None
    fields: dict[str, yaml.Node] = {}
    for key, value in node.value:
        name = str(key.value)
        if name in fields:
            err(key.start_mark.line + 1, f"duplicate key `{name}` in one unit")
        elif name not in KNOWN_KEYS:
            err(key.start_mark.line + 1, f"unknown key `{name}`; use: {', '.join(sorted(KNOWN_KEYS))}")
        fields[name] = value
    ok = True
    values: dict[str, str] = {}
    for name in ("code", "name", "type"):
        if name not in fields:
            err(line, f"missing required field `{name}`")
            ok = False
            continue
        value = _text(fields[name])
        if value is None:
            err(fields[name].start_mark.line + 1, f"`{name}` must be a non-empty text")
            ok = False
            continue
        values[name] = value
    if "code" in values and not CODE_RE.match(values["code"]):
        err(fields["code"].start_mark.line + 1, f"code {values['code']!r} must be 5 digits (quote it: \"03637\")")
        ok = False
    if "type" in values and values["type"].lower() not in TYPES:
        err(fields["type"].start_mark.line + 1, f"type {values['type']!r} must be one of: {', '.join(TYPES)}")
        ok = False
    if "name" in values and _former(values["name"]) is not None:
        err(fields["name"].start_mark.line + 1, "write the name without \"xã\"/\"phường\" (the type says it)")
        ok = False
    former: list[Former] = []
    if "former" not in fields:
        err(line, "missing required field `former` (write `former: []` for a unit not rearranged)")
        ok = False
    elif not isinstance(fields["former"], yaml.SequenceNode):
        err(fields["former"].start_mark.line + 1, "`former` must be a list, e.g. [xã Tà Mung, xã Pha Mu]")
        ok = False
    else:
        for item in fields["former"].value:
            text = _text(item)
            f = _former(text) if text else None
            if f is None:
                err(item.start_mark.line + 1,
                    f"former unit {text!r} must start with {', '.join(FORMER_TYPES)} (e.g. \"xã Tà Mung\")")
                ok = False
            else:
                former.append(f)
    chats: list[int] = []
    if "review_chat_ids" in fields:
        raw = fields["review_chat_ids"]
        items = raw.value if isinstance(raw, yaml.SequenceNode) else [raw]
        for item in items:
            text = _text(item) if isinstance(item, yaml.ScalarNode) else None
            if text is None or not re.fullmatch(r"-?\d+", text):
                err(item.start_mark.line + 1, "`review_chat_ids` must be Telegram chat ids (numbers, e.g. -1001234)")
                ok = False
            else:
                chats.append(int(text))
    optional = {}
    for name in ("team", "hours"):
        if name in fields:
            value = _text(fields[name])
            if value is None:
                err(fields[name].start_mark.line + 1, f"`{name}` must be a non-empty text")
                ok = False
            optional[name] = value
    if not ok:
        return None
    return Commune(values["code"], values["name"], values["type"].lower(), tuple(former), tuple(chats),
                   optional.get("team"), optional.get("hours"), line)


def _check_duplicates(units: list[Commune], err: Report) -> None:
    codes: dict[str, int] = {}
    names: dict[str, int] = {}
    formers: dict[str, tuple[int, str]] = {}
    for u in units:
        if u.code in codes:
            err(u.line, f"duplicate code {u.code} (also on line {codes[u.code]})")
        codes.setdefault(u.code, u.line)
        key = _canonical(u.name)
        if key in names:
            err(u.line, f"duplicate name {u.name!r} (also on line {names[key]})")
        names.setdefault(key, u.line)
        for f in u.former:
            fkey = f.label.lower()  # accented: Nậm Cha and Nậm Chà were two different xã
            if fkey in formers and formers[fkey][1] != u.code:
                err(u.line, f"former unit {f.label!r} is listed under two units (also on line {formers[fkey][0]})")
            formers.setdefault(fkey, (u.line, u.code))


# -- matching --------------------------------------------------------------------------------------

def _canonical(text: str) -> str:
    """Lower case, no diacritics (đ -> d), no punctuation, single spaces."""
    return " ".join(_NOT_WORD.sub(" ", fold(clean(text).lower())).split())


def _strip(words: list[str], phrases: tuple[str, ...], leading: bool) -> list[str]:
    changed = True
    while changed and words:
        changed = False
        for phrase in phrases:
            p = phrase.split()
            if len(words) > len(p) and (words[: len(p)] == p if leading else words[-len(p):] == p):
                words = words[len(p):] if leading else words[: -len(p)]
                changed = True
    return words


def split_type(text: str) -> tuple[str | None, str]:
    """(type typed, bare name), both canonical: "Thị trấn Mường Tè ạ" -> ("thị trấn", "muong te")."""
    words = _strip(_strip(_canonical(text).split(), _LEADING, True), _TRAILING, False)
    for folded, typ in sorted(_TYPE_WORDS.items(), key=lambda kv: -len(kv[0])):
        p = folded.split()
        if len(words) > len(p) and words[: len(p)] == p:
            return typ, " ".join(words[len(p):])
    return None, " ".join(words)


@dataclass(frozen=True)
class _Key:
    bare: str  # canonical name without type
    type: str  # its type (xã, phường, thị trấn)
    commune: Commune
    former: Former | None  # None: the unit's current name


def _keys(units: list[Commune]) -> list[_Key]:
    keys = [_Key(_canonical(u.name), u.type, u, None) for u in units]
    keys += [_Key(_canonical(f.name), f.type, u, f) for u in units for f in u.former]
    return keys


def _distinct(keys: list[_Key]) -> list[_Key]:
    """One key per unit, current names first, in the given order otherwise."""
    seen: set[str] = set()
    out = []
    for k in sorted(keys, key=lambda k: k.former is not None):
        if k.commune.code not in seen:
            seen.add(k.commune.code)
            out.append(k)
    return out


def _result(keys: list[_Key]) -> Match:
    if not keys:
        return Match("none")
    if len(keys) == 1:
        return Match("one", (keys[0].commune,), keys[0].former)
    return Match("choices", tuple(k.commune for k in keys[:MAX_CHOICES]))


def former_named(commune: Commune, text: str) -> Former | None:
    """The former unit of `commune` whose name `text` is (folded, exact), if any."""
    _, bare = split_type(text)
    return next((f for f in commune.former if _canonical(f.name) == bare), None)


def match(text: str, units: list[Commune]) -> Match:
    """The unit a typed name means (see the module docstring)."""
    typ, bare = split_type(text)
    if not bare or len(bare) > 60:
        return Match("none")
    keys = _keys(units)
    exact = [k for k in keys if k.bare == bare]
    if typ is not None:  # "thị trấn Mường Tè": the type settles a name shared by two units
        typed = [k for k in exact if k.type == typ]
        exact = typed or exact
    if len(exact) > 1:  # "Nậm Chà" typed with its accents is not "Nậm Cha"
        typed_text = unicodedata.normalize("NFC", clean(text)).lower()
        accented = [k for k in exact if (k.former.name if k.former else k.commune.name).lower() in typed_text]
        exact = accented or exact
    if exact:
        return _result(_distinct(exact))
    scored = sorted(((fuzz.ratio(bare, k.bare), k) for k in keys), key=lambda sk: -sk[0])
    best: dict[str, tuple[float, _Key]] = {}
    for score, k in scored:  # the best-scoring key of each unit
        if k.commune.code not in best:
            best[k.commune.code] = (score, k)
    ranked = sorted(best.values(), key=lambda sk: -sk[0])
    top, key = ranked[0] if ranked else (0.0, None)
    second = ranked[1][0] if len(ranked) > 1 else 0.0
    if key is not None and top >= ONE_SCORE and top - second >= ONE_GAP:
        return Match("one", (key.commune,), key.former)
    choices = [k for score, k in ranked if score >= CHOICE_SCORE][:MAX_CHOICES]
    if len(choices) == 1 and top < ONE_SCORE:
        return Match("choices", (choices[0].commune,))
    return _result(choices) if len(choices) != 1 else Match("one", (choices[0].commune,), choices[0].former)
