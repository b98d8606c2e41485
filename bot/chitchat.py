"""Small talk: greetings, thanks, goodbyes, "who are you". Detected on folded text.

A message is small talk only when every word in it belongs to small talk (so "chào bạn,
cho mình hỏi cách đăng ký VNeID" is a question, not a greeting).
"""

from __future__ import annotations

import re
from typing import Literal

Intent = Literal["greeting", "thanks", "goodbye", "identity", "ack"]

_PHRASES: list[tuple[Intent, str]] = [
    ("identity", r"(ban|em|may|bot|ad|day) (la|la ai|ten|ten la) (ai|gi|nguoi hay may|robot|nguoi that)"),
    ("identity", r"(ban|em|bot) (ten|ten la) gi"),
    ("identity", r"ai (dang )?(tra loi|noi chuyen|chat)"),
    ("identity", r"(ban|em|bot) (lam duoc|giup duoc|biet) (gi|nhung gi)"),
    ("identity", r"(ban|em|bot) (la )?(nguoi that|robot|may|tri tue nhan tao|ai)( hay (nguoi that|robot|may))?"
                 r"( (a|ha|phai khong|khong|vay))?"),
    ("greeting", r"(alo |a lo )?(co )?ai (o )?(do|day) khong"),
    ("goodbye", r"chuc .{0,40}(vui ve|tot lanh|suc khoe|ngu ngon|thanh cong|an lanh|may man)"),
    ("thanks", r"(cam on|cam ta|cam on nhieu|thank you|thanks|thank|tks|thanks you|ok cam on)"),
    ("goodbye", r"(tam biet|bye|bye bye|goodbye|hen gap lai|chao tam biet|di day|ngu ngon)"),
    ("greeting", r"(xin chao|chao|hello|hi|hey|alo|a lo|helo|hallo|chao buoi (sang|trua|chieu|toi)|good morning)"),
    ("ack", r"(ok|oke|okay|okie|vang|da|u|uk|uh|duoc roi|hieu roi|da hieu|tot qua|hay qua|tuyet|ro roi|biet roi)"),
]
# Words that may surround small talk without making it a question.
_FILLER = (
    r"(a|ah|nhe|nha|nhieu|lam|qua|ban|ban oi|em|em oi|anh|chi|bac|co|chu|ad|admin|shop|bot|"
    r"tro ly|tro ly so|oi|nhe ban|minh|toi|to|tui|con|chau|rat|vay|the|nhe|nhá|day|roi|"
    r"mọi người|moi nguoi|mn|ca nha|buoi sang|sang|trua|chieu|toi nay|nhe ad|hihi|haha|hehe|:\)|"
    r"nhieu nhe|very much|so much|ha|hả|vui)"
)
_COMPILED = [
    (intent, re.compile(rf"^(?:{_FILLER} )*{pat}(?: {_FILLER})*$")) for intent, pat in _PHRASES
]


_ANY = "|".join(f"(?:{pat})" for _, pat in _PHRASES)
_ALL = re.compile(rf"^(?:(?:{_FILLER}|{_ANY})(?: |$))+$")
_PARTS: list[tuple[Intent, re.Pattern[str]]] = [
    (intent, re.compile(rf"(?:^| )(?:{pat})(?: |$)")) for intent, pat in _PHRASES if intent != "ack"
] + [("ack", re.compile(r".*"))]


def detect(folded: str) -> Intent | None:
    """Small-talk intent of a folded, normalised message, or None for a real question."""
    text = re.sub(r"[^\w\s]", " ", folded)
    text = re.sub(r"\s+", " ", text).strip()
    if not text or len(text.split()) > 9:
        return None
    for intent, rx in _COMPILED:
        if rx.match(text):
            return intent
    # several small-talk phrases in one message ("em cảm ơn, em hiểu rồi ạ")
    if _ALL.match(text):
        for intent, rx in _PARTS:
            if rx.search(text):
                return intent
    return None
