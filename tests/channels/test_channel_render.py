"""Unit tests of the shared text shaping (bot/channels/render.py)."""

from __future__ import annotations

import html
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.render import format_answer, numbered, split_message, tidy
from bot.channels.telegram.sender import telegram_length


def _words(text: str) -> list[str]:
    return text.split()


def test_short_text_is_one_chunk():
    assert split_message("Xin chào.", 2000) == ["Xin chào."]
    assert split_message("   \n\n ", 2000) == []


def test_splits_at_paragraphs_first():
    paragraphs = [f"Đoạn {i}. " + "chữ " * 40 for i in range(10)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    chunks = split_message(text, 500)
    assert all(len(c) <= 500 for c in chunks)
    # every chunk is made of whole paragraphs
    for chunk in chunks:
        for part in chunk.split("\n\n"):
            assert part.startswith("Đoạn ")
    assert "\n\n".join(chunks) == text


def test_splits_a_long_paragraph_at_sentences():
    sentence = "Người dân cài đặt VNeID trên điện thoại và đăng nhập bằng số định danh."
    text = " ".join([sentence] * 60)
    chunks = split_message(text, 300)
    assert len(chunks) > 1
    assert all(len(c) <= 300 and c.endswith(".") for c in chunks)
    assert _words(" ".join(chunks)) == _words(text)


def test_cuts_a_word_longer_than_the_limit():
    text = "https://dichvucong.gov.vn/" + "a" * 5000
    chunks = split_message(text, 2000)
    assert [len(c) for c in chunks] == [2000, 2000, 1026]
    assert "".join(chunks) == text


def test_measures_with_the_channel_length():
    text = "<&> " * 2000  # escaping makes each chunk much longer than its raw text
    chunks = split_message(text, 4096, telegram_length)
    assert all(len(html.escape(c, quote=False)) <= 4096 for c in chunks)
    assert _words(" ".join(chunks)) == _words(text)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("aăâđêôơưb <&.?!\n") + ["ạ", "ế", "👍"]), max_size=3000),
    st.integers(min_value=20, max_value=600),
)
def test_split_property(text, limit):
    chunks = split_message(text, limit)
    assert all(0 < len(c) <= limit for c in chunks)
    assert all(c == c.strip() for c in chunks)
    # nothing but whitespace is lost or added
    assert "".join("".join(chunks).split()) == "".join(text.split())


def test_format_answer_adds_the_source_line():
    assert format_answer("Trả lời.\n\n\n\nĐoạn hai.  \n", "Nghị định 69/2024") == (
        "Trả lời.\n\nĐoạn hai.\n\nNguồn: Nghị định 69/2024"
    )
    assert format_answer("Trả lời.", None) == "Trả lời."
    assert format_answer("Trả lời.", "  ") == "Trả lời."


def test_tidy_normalises_to_nfc():
    nfd = unicodedata.normalize("NFD", "Cài đặt thế nào")
    assert tidy(nfd) == "Cài đặt thế nào"


def test_numbered():
    assert numbered(["Một", "Hai"]) == "1. Một\n2. Hai"
