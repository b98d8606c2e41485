from pathlib import Path

import pytest

from indexer.faq import load_faq, require_valid, FaqError
from indexer.knowledge import chunk_markdown, load_knowledge

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path, text):
    p = tmp_path / "faq.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_dev_set_and_project_faq_load():
    for path in [SHARED / "eval/dev/faq.yaml", ROOT / "faq.yaml", ROOT / "tests/data/faq.yaml"]:
        faq = load_faq(path)
        assert faq.errors == [], faq.errors
        assert faq.entries


def test_bad_yaml_reports_file_and_line(tmp_path):
    p = write(tmp_path, "version: 1\nfaqs:\n  - id: a\n    question: [unclosed\n    answer: x\n")
    faq = load_faq(p)
    assert faq.errors
    msg = str(faq.errors[0])
    assert msg.startswith(f"{p}:") and "invalid YAML" in msg
    assert int(msg.split(":")[1]) >= 4


def test_missing_fields_duplicates_and_same_question(tmp_path):
    p = write(tmp_path, """version: 1
faqs:
  - id: a
    question: "Quên mật khẩu VNeID?"
    answer: "x"
  - id: b
    answer: "y"
  - id: a
    question: "Câu khác"
    answer: "z"
  - id: c
    question: "quen mat khau vneid"
    answer: "w"
  - id: Bad_Id
    question: "q"
    answer: "a"
    category: nope
""")
    errors = [str(e) for e in load_faq(p).errors]
    assert any(":6: error: missing required field `question`" in e for e in errors)
    assert any(":8: error: duplicate id 'a' (first at line 3)" in e for e in errors)
    assert any(":11:" in e and "same as one of 'a'" in e for e in errors)
    assert any(":14:" in e and "must use only" in e for e in errors)
    assert any(":17:" in e and "unknown category" in e for e in errors)
    with pytest.raises(FaqError):
        require_valid(p)


def test_empty_faq_is_valid(tmp_path):
    assert load_faq(write(tmp_path, "version: 1\nfaqs: []\n")).entries == []
    assert load_faq(write(tmp_path, "")).issues == []


def test_not_utf8(tmp_path):
    p = tmp_path / "faq.yaml"
    p.write_bytes(b"version: 1\nfaqs:\n  - id: a\n    question: \xff\xfe\n")
    assert "UTF-8" in str(load_faq(p).errors[0])


def test_knowledge_chunks_keep_heading_path():
    text = "# Tài liệu A\n\nMở đầu dài đủ để là một đoạn văn riêng biệt có nhiều hơn mười hai từ trong câu này.\n\n## Mục 1\n\nĐoạn một của mục một, cũng đủ dài để đứng riêng như một đoạn văn trong tài liệu.\n\n### Mục 1.1\n\n- ý một\n- ý hai\n"
    ps = chunk_markdown("a.md", text)
    assert [p.heading for p in ps] == ["Tài liệu A", "Mục 1", "Mục 1.1"]
    assert ps[1].source == "Tài liệu A › Mục 1"
    assert ps[2].path == ("Mục 1", "Mục 1.1")
    assert "ý một" in ps[2].text and "ý hai" in ps[2].text


def test_project_knowledge_documents_start_with_title():
    ps = load_knowledge(ROOT / "knowledge")
    assert ps
    docs = {p.doc for p in ps}
    for d in docs:
        assert (ROOT / "knowledge" / d).read_text(encoding="utf-8").startswith("# ")
