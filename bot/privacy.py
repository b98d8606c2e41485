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

_SEP = r"[ .\-]?"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("[email]", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)),
    # Vietnamese phone numbers: 0xx… or +84/84 then 9 digits, with spaces, dots or dashes
    ("[số điện thoại]", re.compile(
        rf"(?<![\w+])(?:\(?\+?84\)?{_SEP}?|0){_SEP}?[1-9]\d(?:{_SEP}?\d){{7}}(?!\w)")),
    # ID numbers: 12 digits (căn cước) or 9 digits (old CMND), possibly grouped
    ("[số giấy tờ]", re.compile(r"(?<![\w/])\d{3}[ .]?\d{3}[ .]?\d{3}(?:[ .]?\d{3})?(?![\w/])")),
    # bank accounts and other long digit runs (6-19 digits, possibly grouped by 3-4)
    ("[số tài khoản]", re.compile(r"(?<![\w/])\d(?:[ .\-]?\d){5,18}(?![\w/])")),
]


def redact(text: str) -> str:
    """Replace phone numbers, ID numbers, e-mails and account numbers by placeholders."""
    for placeholder, rx in _PATTERNS:
        text = rx.sub(placeholder, text)
    return text


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
    return hmac.new(key, f"{channel}:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]
