"""Personal data redaction (before anything is stored or shown to reviewers) and user-id hashing."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

# Placeholders (what reviewers see instead of the secret).
EMAIL, PHONE, ID_NUMBER, ACCOUNT = "[email]", "[số điện thoại]", "[số giấy tờ]", "[số tài khoản]"

# Possessive quantifiers keep every pattern linear, even on 100,000-character inputs.
_EMAIL = r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)+"
_END = r"(?![ .\-]?\d)"  # a kept number must not be the head of a longer digit run
_DAY, _MONTH, _YEAR = r"(?:0?[1-9]|[12]\d|3[01])", r"(?:0?[1-9]|1[0-2])", r"(?:19|20)\d\d"
# Numbers that are not personal and must stay readable: dates, year ranges, hotlines, amounts.
_KEEP = "|".join([
    rf"{_DAY}(?P<dsep>[./\-]){_MONTH}(?P=dsep){_YEAR}{_END}",  # 22/12/2024, 15-03-2024, 15.03.2024
    rf"{_YEAR}-{_MONTH}-{_DAY}{_END}",  # 2024-12-22
    rf"{_MONTH}[.\-]{_YEAR}{_END}",  # 03-2024
    rf"{_YEAR}\s?[-–]\s?{_YEAR}{_END}",  # 2021-2025
    rf"1[89]00(?:[ .\-]?\d){{4}}(?:(?:[ .\-]?\d){{2}})?{_END}",  # 1900 1234, 1800 1091, 1900 561 290
    # amounts: 1.500.000 đồng, 1.500.000đ, 500,000 VNĐ, 1500000 đồng, 2 triệu
    r"(?:[1-9]\d{0,2}(?:[.,]\d{3})+|[1-9]\d{0,7})(?:[.,]\d{1,2})?\s?"
    r"(?:đồng(?!\s?(?:thời|ý|hồ|bào|chí|nghiệp|hương|bộ|ruộng|tiền))|vnđ|vnd|đ(?!\w)|₫|triệu|tr(?!\w)|"
    r"nghìn|ngàn|k(?!\w)|tỷ|tỉ|usd|\$)",
])
# an amount after a money word, without a unit: "số tiền 1.500.000", "phí: 25.000"
_KEEP_CUED = r"(?<!\w)(?:tiền|phí|giá|lương)\s?:?\s?[1-9]\d{0,2}(?:[.,]\d{3})+" + _END
# A digit run: optional +84 / (+84) / (024) prefix, then digits separated by single spaces, dots
# or dashes (0912 345 678, 0912.345.678, +84 912-345-678, 1903 4567 8910 12).
_PREFIX = r"(?:\(\s?\+?\s?84\s?\)|\+\s?84|\(0\d{1,3}\))[ .\-]?(?:\(0\)[ .\-]?)?"
_RUN = rf"(?:{_PREFIX})?\d(?:[ .\-]?\d)*+"
_PASSPORT = r"(?<![\w])[A-Z]\d{7}(?!\w)"
_TOKENS = re.compile(
    rf"(?P<email>{_EMAIL})|(?P<keep>{_KEEP}|{_KEEP_CUED})|(?P<passport>{_PASSPORT})|(?P<run>{_RUN})",
    re.IGNORECASE | re.UNICODE,
)


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _classify(run: str, before: str, after: str) -> str | None:
    """The placeholder for a digit run, or None to keep it."""
    digits = re.sub(r"\D", "", run)
    n = len(digits)
    international = run.lstrip("(").lstrip().startswith("+") or run.startswith("(")
    if international and digits.startswith("84") and 10 <= n <= 12:
        return PHONE
    if n < 6:
        return None  # short numbers: 156, 5656, 2030, article numbers, amounts in thousands
    phone_like = (digits[0] == "0" and digits[1] != "0" and n in (10, 11)) or (
        digits.startswith("84") and digits[2] != "0" and n in (11, 12))
    if not phone_like and n <= 8 and (before == "/" or after == "/"):
        return None  # part of a document number: 1234567/QĐ-UBND
    if phone_like:
        return PHONE
    if n == 9 or (n == 12 and digits[0] == "0"):
        return ID_NUMBER  # chứng minh nhân dân (9), căn cước (12)
    return ACCOUNT  # bank accounts, cards, tax and insurance codes, OTPs and other long numbers


def redact(text: str) -> str:
    """Replace phone numbers, ID numbers, e-mails and account numbers by placeholders.

    Dates, year ranges, hotlines (1900/1800 …), amounts of money and document numbers
    (57-NQ/TW, 13/2023/NĐ-CP) are kept. Everything stored goes through here, so the result is
    always storable: lone surrogates (a JSON body may carry "\\ud800") and NUL characters
    (PostgreSQL text cannot hold them) become U+FFFD.
    """
    if not text:
        return text
    text = _UNSTORABLE.sub("\ufffd", text)

    def repl(m: re.Match[str]) -> str:
        if m.group("email") is not None:
            return EMAIL
        if m.group("passport") is not None:
            return ID_NUMBER
        if m.group("run") is not None:
            before = text[m.start() - 1] if m.start() else ""
            after = text[m.end()] if m.end() < len(text) else ""
            return _classify(m.group(0), before, after) or m.group(0)
        return m.group(0)

    return _TOKENS.sub(repl, text)


def load_secret_key(configured: str | None, data_dir: Path) -> bytes:
    """TROLYSO_SECRET_KEY, or a random key generated once into the data folder (mode 0600)."""
    if configured:
        return configured.encode()
    path = data_dir / "secret.key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    log.info("generated a new secret key in %s (set TROLYSO_SECRET_KEY to use your own)", path)
    return key


def hash_user(key: bytes, channel: str, user_id: str) -> str:
    if not user_id:
        return ""
    data = f"{channel}:{user_id}".encode("utf-8", "surrogatepass")  # ids come from JSON: any str
    return hmac.new(key, data, hashlib.sha256).hexdigest()[:32]
