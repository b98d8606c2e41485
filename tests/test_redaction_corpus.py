"""Redaction over a corpus of realistic Vietnamese messages (tests/data/redaction_corpus.jsonl).

Each line has `text`, the `secrets` that must vanish (phone numbers with spaces, dots, dashes or
+84; 9- and 12-digit ID numbers; e-mails; bank accounts and cards), the `keep` substrings that
must stay (dates, amounts, hotlines, document numbers such as 57-NQ/TW or 13/2023/NĐ-CP) and,
for some, the exact `expected` redacted form.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.privacy import ACCOUNT, EMAIL, ID_NUMBER, PHONE, redact

CORPUS = Path(__file__).parent / "data" / "redaction_corpus.jsonl"
PLACEHOLDERS = (EMAIL, PHONE, ID_NUMBER, ACCOUNT)


def load() -> list[dict]:
    with open(CORPUS, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


ENTRIES = load()


def _compact(text: str) -> str:
    """Digits with the separators people put between them removed."""
    return re.sub(r"(?<=\d)[ .\-()]+(?=\d)", "", text)


def test_corpus_size_and_shape():
    assert len(ENTRIES) >= 100
    with_secrets = [e for e in ENTRIES if e["secrets"]]
    keep_only = [e for e in ENTRIES if not e["secrets"]]
    assert len(with_secrets) >= 60 and len(keep_only) >= 25
    kinds = " ".join(s for e in ENTRIES for s in e["secrets"])
    for needed in ("+84", "@", "."):  # international phones, e-mails, dotted groups are represented
        assert needed in kinds
    assert all(set(e) <= {"text", "secrets", "keep", "expected"} for e in ENTRIES)


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{i:03d}" for i in range(len(ENTRIES))])
def test_redaction(entry):
    text, out = entry["text"], redact(entry["text"])
    for secret in entry["secrets"]:
        assert secret not in out, f"{secret!r} survived: {out!r}"
        digits = re.sub(r"\D", "", secret)
        if len(digits) >= 6:
            assert digits not in re.sub(r"\D", "", _compact(out)), f"digits of {secret!r} survived: {out!r}"
    for kept in entry["keep"]:
        assert kept in out, f"{kept!r} was redacted: {out!r}"
    if entry["secrets"]:
        assert any(p in out for p in PLACEHOLDERS)
    else:
        assert out == text, f"nothing personal, yet changed: {out!r}"
    if "expected" in entry:
        assert out == entry["expected"]
    assert redact(out) == out  # idempotent: placeholders are never redacted again
