"""Citizen commands: the whole message must be a command phrase; questions never are."""

from __future__ import annotations

import re

import pytest

from bot.commands import COMMANDS, Command, help_text, match, telegram_menu


def name(text: str) -> str | None:
    command = match(text)
    return command.name if command else None


@pytest.mark.parametrize("text", [
    "/help", "/help@TroLySoBot", "/HELP", "Trợ giúp", "tro giup a", "trợ giúp ạ!", "Trợ giúp nhé",
    "HELP", "help.", "  trợ   giúp  ", "Giúp đỡ", "hướng dẫn", "Hướng dẫn ạ", "trợ giúp với",
    "Vui lòng trợ giúp", "xin trợ giúp ạ", "Bạn ơi, trợ giúp nhé!", "trợ giúp 🙏", "TRỢ GIÚP!!!",
    "tro giup giup toi voi a", "tro\u0301 giu\u0301p",  # decomposed accents (NFD keyboards)
])
def test_help_matches(text):
    assert name(text) == "help"


@pytest.mark.parametrize("text,expected", [
    ("/start", "start"), ("/start@TroLySoBot", "start"), ("/start vneid-123", "start"),
    ("Bắt đầu", "start"), ("bat dau di", "start"), ("start", "start"),
    ("/menu", "menu"), ("Menu", "menu"), ("chủ đề", "menu"), ("chu de a", "menu"),
    ("Danh mục nhé", "menu"), ("cho tôi xem danh mục", None),
])
def test_other_commands(text, expected):
    assert name(text) == expected


@pytest.mark.parametrize("text", [
    "dk", "hd", "hdsd", "giup toi voi", "giúp tôi với ạ", "hướng dẫn đăng ký vneid",
    "help me reset password", "tôi cần trợ giúp về VNeID", "trợ giúp đăng ký tài khoản",
    "bắt đầu đăng ký thế nào", "chủ đề nào hỏi về chuyển tiền", "", "   ", "ạ", "nhé", "?", "👍",
    "/helpme", "/unknown", "xin chào", "đúng", "sai", "1", "trợ giúp " * 100,
])
def test_questions_and_other_words_are_not_commands(text):
    assert match(text) is None


def test_telegram_menu_names_are_valid_bot_commands():
    menu = telegram_menu()
    assert [c for c, _ in menu] == ["start", "help", "menu", "xa", "quiz", "canbo", "ketthuc", "dangky", "huydangky",
                                    "dulieu", "xoadulieu"]
    for command, description in menu:
        assert re.fullmatch(r"[a-z0-9_]{1,32}", command)
        assert 1 <= len(description) <= 256
        assert match(f"/{command}") is not None and match(f"/{command}").telegram == command


def test_every_phrase_matches_its_command():
    for command in COMMANDS:
        for phrase in command.phrases:
            assert match(phrase) is command, phrase


def test_help_text_lists_every_command():
    text = help_text()
    for command in COMMANDS:
        assert f"“{command.spoken}”" in text and f"/{command.telegram}" in text
        assert command.description[1:] in text
    assert "“đúng”" in text and "“sai”" in text and "không dấu" in text and "Zalo" in text
    assert len(text) < 1000  # short: read on a phone


def test_bad_definitions_fail_early():
    with pytest.raises(ValueError):
        Command("x", ("x",), "Làm gì đó", "Tro-Giup")  # not a BotFather name
    with pytest.raises(ValueError):
        Command("x", ("x",), "", "x")
    with pytest.raises(ValueError):
        Command("x", ("/x",), "Làm gì đó", "x")  # nothing the /help text can show


def test_commune_command_is_typed_or_slashed():
    assert match("đổi xã").name == "commune"  # type: ignore[union-attr]
    assert match("doi xa nhe").name == "commune"  # type: ignore[union-attr]
    assert match("/xa").name == "commune"  # type: ignore[union-attr]
    assert match("đổi xã thì làm thủ tục gì") is None
