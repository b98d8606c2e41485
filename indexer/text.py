"""Vietnamese text normalisation: one input, the views retrieval needs.

- `clean`: NFC, control and zero-width characters removed, odd spaces and look-alikes mapped.
  This is what users see (original wording, just made safe).
- `normalize`: clean + canonical (old-style) tone placement + lower case + teencode expansion,
  with identifiers (57-NQ/TW, URLs, phone numbers, e-mails) kept as single tokens.
- `fold`: diacritics removed, đ -> d (for unaccented matching).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from indexer.teencode import TEENCODE

MAX_QUESTION_CHARS = 2000

_LOOKALIKES = str.maketrans({"\u00d0": "\u0110", "\u0189": "\u0110", "\u00f0": "\u0111"})
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)
_ODD = re.compile("[\u00d0\u0189\u00f0\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e]")
_SPACES = re.compile(r" {2,}")
_SPACE_AROUND_BREAK = re.compile(r" \n ?|\n ")


def _is_space_like(ch: str) -> bool:
    return ch in "\t\n\r\x0b\x0c" or unicodedata.category(ch) == "Zs" or ch in "\u2028\u2029"


def _clean_char(ch: str) -> str:
    if _is_space_like(ch):
        return "\n" if ch in "\n\u2028\u2029" else " "
    if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
        return ""
    return ch


def clean(text: str) -> str:
    """NFC text with control/zero-width characters removed and spaces collapsed."""
    text = unicodedata.normalize("NFC", text)
    if _ODD.search(text):  # str.translate with a dict is slow: only when there is something to map
        text = text.translate(_LOOKALIKES).translate(_ZERO_WIDTH)
    # Printable text (no categories C* or Z* other than the space) needs no per-character pass;
    # line breaks are checked separately since they are kept.
    if not text.replace("\n", " ").isprintable():
        text = "".join(_clean_char(ch) for ch in text)
    text = _SPACES.sub(" ", text)
    text = _SPACE_AROUND_BREAK.sub("\n", text)
    return unicodedata.normalize("NFC", text).strip()


# Canonical (old-style) tone placement for open syllables ending in oa, oe, uy:
# hoà -> hòa, khoẻ -> khỏe, thuý -> thúy (but "quý" and closed syllables like "hoàng" stay).
_TONES = {"\u0300", "\u0301", "\u0309", "\u0303", "\u0323"}  # grave, acute, hook, tilde, dot


def _move_tone(first: str, second: str) -> str:
    decomposed = unicodedata.normalize("NFD", second)
    tone = "".join(c for c in decomposed if c in _TONES)
    base = "".join(c for c in decomposed if c not in _TONES)
    return unicodedata.normalize("NFC", first + tone) + unicodedata.normalize("NFC", base)


_TONE_RE = re.compile(
    r"(?<![qQ])([oO])([àáảãạÀÁẢÃẠèéẻẽẹÈÉẺẼẸ])(?!\w)|(?<![qQ])([uU])([ỳýỷỹỵỲÝỶỸỴ])(?!\w)"
)


def canonical_tones(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(1):
            return _move_tone(m.group(1), m.group(2))
        return _move_tone(m.group(3), m.group(4))

    return _TONE_RE.sub(repl, text)


_COMBINING_DIACRITICS = re.compile("[\u0300-\u036f]+")  # all Vietnamese tone and vowel marks
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _drop_if_mark(m: re.Match[str]) -> str:
    return "" if unicodedata.category(m.group()) == "Mn" else m.group()


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Remove Vietnamese diacritics (đ -> d); keeps everything else."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = _COMBINING_DIACRITICS.sub("", decomposed)
    if not stripped.isascii():  # other nonspacing marks (category Mn) of other scripts
        stripped = _NON_ASCII.sub(_drop_if_mark, stripped)
    return unicodedata.normalize("NFC", stripped)


# Tokens that must stay whole: URLs, e-mails, document numbers (57-NQ/TW, 13/2023/NĐ-CP),
# phone numbers and other digit groups, then words.
_TOKEN_RE = re.compile(
    r"(?P<url>(?:https?://|www\.)\S+|[\w.-]+\.(?:gov|com|org|net|edu)(?:\.vn)?(?:/\S*)?)"
    r"|(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
    r"|(?P<docno>\d+(?:/\d+)*[-/][^\W\d_]+(?:[-/][^\W\d_]+)*)"
    r"|(?P<phone>\+?\d(?:[\d.\- ]{6,}\d))"
    r"|(?P<word>\w+)",
    re.UNICODE,
)


def tokens(text: str) -> list[str]:
    """Lower-cased tokens; identifiers stay whole (phone digits are joined)."""
    out = []
    for m in _TOKEN_RE.finditer(text.lower()):
        tok = m.group(0)
        if m.lastgroup == "phone":
            tok = re.sub(r"[.\- ]", "", tok)
        elif m.lastgroup == "url":
            tok = tok.rstrip(".,;:!?)")
        out.append(tok)
    return out


_PASSWORD_CONTEXT = {
    "quên", "quen", "đổi", "doi", "đặt", "dat", "nhập", "nhap", "lấy", "lay", "sai", "lại", "lai",
    "mới", "moi", "tài", "tai", "khoản", "khoan", "tk", "vneid", "zalo", "facebook", "fb",
    "đăng", "dang", "mạnh", "manh", "yếu", "yeu", "otp", "passcode", "lộ", "lo",
    "app", "ứng", "ung", "gmail", "email", "wifi", "pass", "khẩu", "khau",
}


def expand_teencode(toks: list[str]) -> list[str]:
    """Token-wise teencode expansion; "k" after a number and "mk" resolved from context."""
    out: list[str] = []
    for i, tok in enumerate(toks):
        if tok == "k" and i > 0 and toks[i - 1].isdigit():
            out.append("nghìn")
            continue
        if tok == "mk":
            window = set(toks[max(0, i - 3) : i + 4]) - {"mk"}
            out.append("mật khẩu" if window & _PASSWORD_CONTEXT else "mình")
            continue
        repl = TEENCODE.get(tok)
        if repl is None:
            out.append(tok)
        elif repl:
            out.append(repl)
    return out


@dataclass(frozen=True)
class Views:
    """The views of one text used for matching."""

    original: str  # cleaned, what users see
    normalized: str  # lower-case, canonical tones, teencode expanded (accented)
    folded: str  # normalized without diacritics

    @property
    def has_content(self) -> bool:
        return any(ch.isalnum() for ch in self.normalized)


@lru_cache(maxsize=8192)
def views(text: str) -> Views:
    original = clean(text)[:MAX_QUESTION_CHARS]
    toks = tokens(canonical_tones(original))
    normalized = " ".join(expand_teencode(toks))
    return Views(original=original, normalized=normalized, folded=fold(normalized))


_ID_PARTS = re.compile(r"[^\W_]+")


def lexical_terms(folded: str) -> list[str]:
    """Folded syllables plus syllable bigrams: the lexical channel's terms. An identifier kept
    whole (57-nq/tw, 13/2023/nd-cp) also gives its parts, so "nghi quyet 57" meets "57-NQ/TW"."""
    syl = folded.split()
    parts = [p for tok in syl if not tok.isalnum() for p in _ID_PARTS.findall(tok) if p != tok]
    return syl + [f"{a}_{b}" for a, b in pairwise(syl)] + parts


def has_diacritics(text: str) -> bool:
    return fold(text) != text
