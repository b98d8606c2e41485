import unicodedata

import pytest

from indexer.text import canonical_tones, clean, fold, lexical_terms, tokens, views


def test_nfd_input_is_normalised_to_nfc():
    nfd = unicodedata.normalize("NFD", "Cài đặt ứng dụng VNeID thế nào")
    assert views(nfd) == views("Cài đặt ứng dụng VNeID thế nào")


@pytest.mark.parametrize("new,old", [("hoà", "hòa"), ("thuý", "thúy"), ("khoẻ", "khỏe"), ("Hoà Bình", "Hòa Bình")])
def test_canonical_tone_placement(new, old):
    assert canonical_tones(new) == old


@pytest.mark.parametrize("word", ["quý", "hoàng", "khoảng", "thuyền", "hoài"])
def test_tone_placement_leaves_other_syllables(word):
    assert canonical_tones(word) == word


def test_fold_handles_d_with_stroke():
    assert fold("Đăng ký định danh điện tử") == "Dang ky dinh danh dien tu"


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("ko dc", "không được"),
        ("hok bik", "không biết"),
        ("sdt cua toi", "số điện thoại cua toi"),
        ("nap 50k", "nap 50k"),
        ("nap 50 k", "nap 50 nghìn"),
        ("quen mk vneid", "quen mật khẩu vneid"),
        ("mk muon hoi", "mình muon hoi"),
        ("cccd bi mat", "căn cước công dân bi mat"),
    ],
)
def test_teencode_expansion(raw, expected):
    assert views(raw).normalized == expected


def test_identifiers_stay_single_tokens():
    toks = tokens("Nghị quyết 57-NQ/TW, xem https://dichvucong.gov.vn/p/home, gọi 0912 345 678")
    assert "57-nq/tw" in toks
    assert "https://dichvucong.gov.vn/p/home" in toks
    assert "0912345678" in toks
    assert views("Nghị quyết 57-NQ/TW").folded == "nghi quyet 57-nq/tw"


def test_two_views_keep_original():
    v = views("Quên MK VNeID?")
    assert v.original == "Quên MK VNeID?"
    assert v.normalized == "quên mật khẩu vneid"
    assert v.folded == "quen mat khau vneid"


@pytest.mark.parametrize("junk", ["", "   ", "\x00\x01\x1f", "\u200b\u200d", "😀😀", "???", "\u202e"])
def test_no_content(junk):
    assert not views(junk).has_content


def test_clean_removes_controls_and_odd_spaces():
    assert clean("a\u00a0b\u200bc\x07d\u2003e") == "a bcd e"
    assert clean("Ðăng ký") == "Đăng ký"


def test_long_input_is_cut():
    v = views("a " * 100_000)
    assert len(v.original) <= 2000


def test_lexical_terms_have_bigrams():
    assert lexical_terms("quen mat khau") == ["quen", "mat", "khau", "quen_mat", "mat_khau"]


def test_identifiers_also_give_their_parts():
    terms = lexical_terms(views("Nghị quyết 57-NQ/TW là gì?").folded)
    assert "57-nq/tw" in terms and {"57", "nq", "tw"} <= set(terms)  # "nghị quyết 57" meets "57-NQ/TW"
    assert lexical_terms("goi 0912345678") == ["goi", "0912345678", "goi_0912345678"]  # nothing to split
