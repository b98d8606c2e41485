import datetime as dt
from pathlib import Path

from indexer.check import check_faq

ROOT = Path(__file__).resolve().parents[1]

TWO_CLOSE = """version: 1
faqs:
  - id: a
    question: "Quên mật khẩu VNeID thì phải làm gì?"
    answer: "x"
  - id: b{tags}
    question: "Quên mật khẩu VNeID thì làm thế nào?"
    answer: "y"
"""


def test_near_duplicates_warn_unless_acknowledged(tmp_path, settings, embedder):
    p = tmp_path / "faq.yaml"
    p.write_text(TWO_CLOSE.format(tags=""), encoding="utf-8")
    issues = check_faq(p, embedder, settings.near_duplicate_cosine)
    assert [i.level for i in issues] == ["warning"]
    assert str(issues[0]).startswith(f"{p}:6: warning: 'b' is close to 'a' (line 3, cosine")
    p.write_text(TWO_CLOSE.format(tags="\n    tags: [distinct]"), encoding="utf-8")
    assert check_faq(p, embedder, settings.near_duplicate_cosine) == []


def test_project_faq_is_clean(settings, embedder):
    """Issue 3: no errors, and every near-duplicate warning fixed or acknowledged. Issue 12: on
    the day of the second content pass nothing is stale and no source cites a superseded document
    (superseded.yaml); later, the only warnings are the dates coming due, never anything else."""
    assert check_faq(ROOT / "faq.yaml", embedder, settings.near_duplicate_cosine,
                     today=dt.date(2026, 12, 6)) == []
    later = check_faq(ROOT / "faq.yaml", today=dt.date(2028, 1, 1))
    assert later and {i.level for i in later} == {"warning"}
    assert all("review_by date" in i.message or "more than a year ago" in i.message for i in later)
