"""Diacritics restored from the index's own vocabulary before the dense encoder (issue 11, item 5)."""

from __future__ import annotations

from bot.retrieval import Index, RetrievalParams
from indexer.diacritics import Restorer, vocabulary_tokens
from indexer.text import views

TEXTS = [
    "Quên mật khẩu VNeID thì làm sao?",
    "Bị lừa chuyển tiền thì báo cho ai?",
    "Lai Châu có bao nhiêu đơn vị hành chính cấp xã?",
    "Đăng ký tài khoản định danh điện tử mức 2 ở đâu?",
    "Bao nhiêu tiền một lần?",
]


def test_restores_from_vocabulary() -> None:
    r = Restorer(TEXTS)
    assert r.restore("quen mat khau vneid thi lam sao") == "quên mật khẩu vneid thì làm sao"
    assert r.restore("lai chau co bao nhieu don vi hanh chinh") == "lai châu có bao nhiêu đơn vị hành chính"


def test_keeps_unknown_and_accented_syllables() -> None:
    r = Restorer(TEXTS)
    assert r.restore("zalo bi khoa") == "zalo bị khoa"  # "khoa" has no accented form in the vocabulary
    assert r.restore("mật khau 123") == "mật khẩu 123"
    assert r.restore("") == ""
    assert r.restore("xyz abc") == "xyz abc"


def test_context_picks_among_forms() -> None:
    r = Restorer(["bao nhiêu tiền", "bao nhiêu tiền", "nhiều người dùng", "rất nhiều"])
    assert r.restore("bao nhieu tien") == "bao nhiêu tiền"
    assert r.restore("rat nhieu") == "rất nhiều"


def test_vocabulary_tokens_canonical_tones() -> None:
    assert vocabulary_tokens("Hoà 57-NQ/TW, khoẻ!") == ["hòa", "nq", "tw", "khỏe"]


def test_dense_text_modes(small_index_dir, embedder) -> None:  # type: ignore[no-untyped-def]
    path = small_index_dir
    v = views("quen mat khau vneid")
    off = Index.open(path, embedder, RetrievalParams())
    assert off.dense_text(v) == v.normalized
    on = Index.open(path, embedder, RetrievalParams(restore_diacritics="unaccented"))
    assert on.dense_text(v) != v.normalized
    assert on.dense_text(views("quên mat khau")) == views("quên mat khau").normalized  # typed with diacritics
    always = Index.open(path, embedder, RetrievalParams(restore_diacritics="always"))
    assert always.dense_text(views("quên mat khau")) != views("quên mat khau").normalized
