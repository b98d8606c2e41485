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
    """Issue 3: no errors, and every near-duplicate warning fixed or acknowledged."""
    assert check_faq(ROOT / "faq.yaml", embedder, settings.near_duplicate_cosine) == []
