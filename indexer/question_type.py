"""What a Vietnamese question asks for (its type), and whether a candidate answer covers it.

A near-miss question often shares its topic with an FAQ entry but asks for something else:
the entry says how to register, the citizen asks how much it costs or where to go. Scores cannot
see that; a crude look at the question words can. Types:

    cost        bao nhiêu tiền, lệ phí, phí, mất tiền, miễn phí ...
    time        bao lâu, khi nào, bao giờ, mấy ngày, thời hạn ...
    place       ở đâu, chỗ nào, nơi nào, đi đâu, báo lên đâu ...
    penalty     phạt, xử phạt, bị xử lý ...
    count       bao nhiêu (not money/time), mấy + a noun ...
    permission  được không, có được, có phải ...
    reason      tại sao, vì sao, lý do ...
    procedure   như thế nào, làm sao, cách, các bước, thủ tục ...

Matching works on the normalised text of `indexer.text.views` (teencode expanded: "bn" ->
"bao nhiêu", "ntn" -> "như thế nào", "dc ko" -> "được không"). Accented words are matched by
accented patterns, the folded text by folded patterns, which are stricter where a folded word is
ambiguous ("phat" is phạt or phát, "may" is mấy or máy).

`covered_types(text)` is the declarative side: the types an answer text gives (a sum of money
or "miễn phí" covers cost, a number of days covers time, ...). A candidate covers a type if one of
its wordings asks it or its answer gives it; `type_mismatch` is true when the question asks one
or more informative types (MISMATCH_TYPES) and the candidate covers none of them (a citizen
asking two things is still helped by an answer to one). Used as evidence for the decision (bot/trust.py), never for
ranking. indexer must not import bot: this module is shared by both.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from indexer.text import fold, views

TYPES = ("cost", "time", "place", "penalty", "count", "permission", "reason", "procedure")
# Types a mismatch is counted on. Nearly every answer says what may be done and how (permission,
# procedure), so a missing one there is noise, not evidence of a near miss.
MISMATCH_TYPES = frozenset(("cost", "time", "place", "penalty", "count", "reason"))

_B = r"(?<!\w)"  # word start
_E = r"(?!\w)"  # word end

# Questions, accented (normalised, lower case).
_ASK_ACCENTED: dict[str, str] = {
    "cost": r"bao nhiêu tiền|bao nhiêu đồng|lệ phí|chi phí|mất phí|tốn phí|có phí|thu phí"
            r"|phí bao nhiêu|phí là bao nhiêu|mất tiền|tốn tiền|miễn phí|giá bao nhiêu|giá là bao nhiêu",
    "time": r"bao lâu|khi nào|bao giờ|lúc nào|mấy (?:ngày|giờ|tháng|năm)(?! nay| rồi| trước)|ngày nào(?! cũng)"
            r"|thời hạn|hạn chót|hạn cuối|thời gian|hiệu lực từ|đến hạn",
    "place": r"ở đâu|chỗ nào|nơi nào|tại đâu|đi đâu|đến đâu|lên đâu|về đâu|nộp đâu|báo đâu|gọi đâu|mục nào"
             r"|trang nào|địa chỉ",
    "penalty": r"phạt|xử phạt|bị xử lý|xử lý như thế nào|truy cứu|đi tù|ngồi tù|vi phạm",
    "count": r"bao nhiêu(?! tiền| đồng| lâu)|mấy (?:lần|bước|loại|mức|số|chữ số|ký tự|phần trăm)|số lượng",
    "permission": r"được không|có được|được phép|có phải|có cần|có nên|có bắt buộc|bắt buộc không",
    "reason": r"tại sao|vì sao|sao lại|lý do|do đâu",
    "procedure": r"như thế nào|thế nào|làm sao|làm gì|cách|các bước|thủ tục|hướng dẫn|quy trình",
}

# Questions typed without diacritics (folded). Stricter where a folded word is ambiguous.
_ASK_FOLDED: dict[str, str] = {
    "cost": r"bao nhieu tien|bao nhieu dong|le phi|chi phi|mat phi|ton phi|co phi|thu phi|phi bao nhieu"
            r"|phi la bao nhieu|mat tien|ton tien|mien phi|gia bao nhieu|gia la bao nhieu",
    "time": r"bao lau|khi nao|bao gio|luc nao|may (?:ngay|gio|thang|nam)(?! nay| roi| truoc)|ngay nao(?! cung)"
            r"|thoi han|han chot|han cuoi|thoi gian|hieu luc tu|den han",
    "place": r"o dau|cho nao|noi nao|tai dau|di dau|den dau|len dau|ve dau|nop dau|bao dau|goi dau"
             r"|trang nao|dia chi",
    "penalty": r"bi phat|xu phat|phat tien|muc phat|phat bao nhieu|phat the nao|phat khong|bi xu ly|truy cuu"
               r"|di tu|ngoi tu|vi pham",
    "count": r"bao nhieu(?! tien| dong| lau)|may (?:lan|buoc|loai|so|chu so|ky tu|phan tram)",
    "permission": r"duoc khong|co duoc|duoc phep|co phai|co can|co nen|co bat buoc|bat buoc khong",
    "reason": r"tai sao|vi sao|sao lai|ly do|do dau",
    "procedure": r"nhu the nao|the nao|lam sao|lam gi|cach|cac buoc|thu tuc|huong dan|quy trinh",
}

# Answers: the types a declarative text gives (accented; folded forms for unaccented answers).
_GIVE_ACCENTED: dict[str, str] = {
    "cost": r"\d[\d.,]*\s*(?:đồng|đ|nghìn|ngàn|triệu|tỷ|vnd|vnđ)|miễn phí|lệ phí|phí|không mất tiền|mất tiền",
    "time": r"\d+\s*(?:ngày|giờ|tháng|năm|phút|tuần)|(?:ngày|tháng|năm) \d|thời hạn|trong vòng|ngay|hạn|hiệu lực"
            r"|từ ngày|trước ngày|đến ngày",
    "place": r"tại|ở|cơ quan|trụ sở|bộ phận một cửa|ủy ban|công an|trang|website|cổng|ứng dụng|mục|địa chỉ"
             r"|gov\.vn|https?://|\.vn|tổng đài|số \d|gọi|gửi",
    "penalty": r"phạt|xử phạt|xử lý|truy cứu|tù|vi phạm|chế tài",
    "count": r"\d|một|hai|ba|bốn|năm|sáu|bảy|tám|chín|mười",
    "permission": r"được|có thể|không|chỉ|cần|phải|nên",
    "reason": r"vì|do|lý do|nhằm|để|bởi",
    "procedure": r"bước|\n\s*\d+[.)]|chọn|vào|bấm|nhấn|đăng nhập|mở|làm theo|thực hiện|cách|nhập|gửi|liên hệ",
}
_GIVE_FOLDED: dict[str, str] = {k: fold(v) for k, v in _GIVE_ACCENTED.items()}


def _compile(patterns: dict[str, str]) -> dict[str, re.Pattern[str]]:
    return {t: re.compile(f"{_B}(?:{p}){_E}") for t, p in patterns.items()}


_ASK_A = _compile(_ASK_ACCENTED)
_ASK_F = _compile(_ASK_FOLDED)
_GIVE_A = _compile(_GIVE_ACCENTED)
_GIVE_F = _compile(_GIVE_FOLDED)


def _match(text: str, accented: dict[str, re.Pattern[str]], folded: dict[str, re.Pattern[str]]) -> frozenset[str]:
    """Accented patterns on the text (they need the marks), folded patterns on its folded form:
    teencode expansion mixes both ("phi bn" -> "phi bao nhiêu"), and the folded patterns are
    written strict enough for folded accented words ("phát" folds to "phat": only "bị phạt",
    "xử phạt"... count as asking for a penalty)."""
    f = fold(text)
    return frozenset(t for t in TYPES if accented[t].search(text) or folded[t].search(f))


def question_types(question: str, normalized: bool = False) -> frozenset[str]:
    """The types a question asks for. `normalized`: the text is already `views(...).normalized`."""
    text = question if normalized else views(question).normalized
    return _match(text, _ASK_A, _ASK_F)


def covered_types(answer: str) -> frozenset[str]:
    """The types an answer (declarative text) gives. Fast: NFC + lower case, no teencode."""
    text = unicodedata.normalize("NFC", answer).lower()
    return _match(text, _GIVE_A, _GIVE_F)


def candidate_types(wordings_normalized: Iterable[str], answer: str) -> frozenset[str]:
    """Types a candidate covers: asked by one of its wordings (normalised) or given by its answer."""
    out: set[str] = set(covered_types(answer))
    for w in wordings_normalized:
        out |= question_types(w, normalized=True)
    return frozenset(out)


def missing_types(asked: frozenset[str], covered: frozenset[str]) -> frozenset[str]:
    """The informative types (MISMATCH_TYPES) asked, if the candidate covers none of them; else empty."""
    informative = asked & MISMATCH_TYPES
    return frozenset() if informative & covered else informative


def type_mismatch(question: str, candidate_wordings: Iterable[str], candidate_answer: str) -> bool:
    """The question asks informative types and the candidate covers none of them (its wordings
    ask none and its answer gives none)."""
    asked = question_types(question) & MISMATCH_TYPES
    if not asked:
        return False
    covered = candidate_types((views(w).normalized for w in candidate_wordings), candidate_answer)
    return bool(missing_types(asked, covered))
