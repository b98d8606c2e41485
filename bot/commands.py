"""Citizen commands: one documented list, one matching rule, for every channel.

Why one place: the /help text, the Telegram command menu and the channels' routing must agree
on which words are commands; a word list per channel drifted apart.

What a message means is decided in this order (the channels implement it):

1. an open hand-off to a person (the message goes to the person, whatever it says);
2. the latest pending prompt of this chat (state slot "prompt" in `bot.state`): a numbered
   choice, a "đúng"/"sai" feedback question, a commune being chosen, a quiz answer; a message
   that does not answer it falls through;
3. commands (`match` below);
4. small talk (`bot.chitchat`);
5. retrieval (the FAQ and the knowledge base).

The matching rule: a command matches only when the WHOLE message is one of its phrases, compared
after `clean`, lower case, `fold` (no diacritics, đ -> d), punctuation and emoji removed, spaces
collapsed, and polite words dropped at the start (`_LEADING`) and at the end (`_TRAILING`).
So "Trợ giúp ạ!", "tro giup nhe" and "HELP" are help, but "hướng dẫn đăng ký vneid" is a
question. Matching runs before teencode expansion (`indexer.text.views` is not used): "hd" or
"dk" are never commands.

Slash commands: Telegram sends "/help@TroLySoBot" in groups and "/start PAYLOAD" for deep links;
a message starting with "/name" (optionally "@bot") of a command with a Telegram name is that
command whatever follows, since nobody starts a question with a slash command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.replies import citizens as replies
from indexer.text import clean, fold

# Polite words dropped around a command, folded. "a" (ạ) only at the end: it is also a word.
_ADDRESS = ("ban oi", "em oi", "bot oi", "ad oi")
_LEADING = ("vui long", "xin", "cho toi", "cho minh", "giup toi", "giup minh") + _ADDRESS
_TRAILING = ("a", "nhe", "nha", "oi", "di", "voi", "giup toi", "giup minh", "cho toi", "cho minh") + _ADDRESS

_TELEGRAM_NAME = re.compile(r"[a-z0-9_]{1,32}")  # BotFather's rule for command names
_SLASH = re.compile(r"/([a-z0-9_]+)(?:@\w+)?(?:\s|$)")
_NOT_WORD = re.compile(r"[\W_]+")  # punctuation, symbols and emoji
_LONGEST_COMMAND = 200  # characters: a longer message is a question, not worth normalising


@dataclass(frozen=True)
class Command:
    """A command: `phrases` that trigger it (the first one without a slash is the one the /help
    text shows), what it does (`description`, Vietnamese) and its Telegram menu name."""

    name: str
    phrases: tuple[str, ...]
    description: str
    telegram: str | None = None

    def __post_init__(self) -> None:
        if self.telegram is not None and not _TELEGRAM_NAME.fullmatch(self.telegram):
            raise ValueError(f"Telegram command names are a-z, 0-9 and _: {self.telegram!r}")
        if not 1 <= len(self.description) <= 256:
            raise ValueError(f"command {self.name}: the description must be 1-256 characters")
        if not any(not p.startswith("/") for p in self.phrases):
            raise ValueError(f"command {self.name}: needs a phrase without a slash for /help")

    @property
    def spoken(self) -> str:
        """The phrase the /help text shows."""
        return next(p for p in self.phrases if not p.startswith("/"))


COMMANDS: tuple[Command, ...] = (
    Command("start", ("/start", "bắt đầu", "start"), replies.COMMAND_START, "start"),
    Command("help", ("/help", "trợ giúp", "giúp đỡ", "help", "hướng dẫn"), replies.COMMAND_HELP, "help"),
    Command("menu", ("/menu", "chủ đề", "menu", "danh mục"), replies.COMMAND_MENU, "menu"),
    Command("commune", ("/xa", "đổi xã", "chọn xã", "đổi phường", "chọn phường"), replies.COMMAND_COMMUNE, "xa"),
    Command("quiz", ("/quiz", "thi", "đố vui", "thi đố vui", "câu đố"), replies.COMMAND_QUIZ, "quiz"),

    # a person of the community team (bot.handoff); "kết thúc" ends the conversation with them
    Command("handoff", ("/canbo", *replies.HANDOFF_PHRASES), replies.COMMAND_HANDOFF, "canbo"),
    Command("end", ("/ketthuc", *replies.HANDOFF_END_PHRASES), replies.COMMAND_HANDOFF_END, "ketthuc"),
    Command("subscribe", ("/dangky", "đăng ký nhận tin", "đăng ký nhận bản tin", "nhận tin"),
            replies.COMMAND_SUBSCRIBE, "dangky"),
    Command("unsubscribe", ("/huydangky", "dừng nhận tin", "hủy đăng ký", "hủy đăng ký nhận tin",
                            "hủy nhận tin", "dừng nhận bản tin", "không nhận tin nữa"),
            replies.COMMAND_UNSUBSCRIBE, "huydangky"),
    Command("my_data", ("/dulieu", "dữ liệu của tôi", "xem dữ liệu của tôi"), replies.COMMAND_MY_DATA, "dulieu"),
    Command("erase", ("/xoadulieu", "xóa dữ liệu của tôi", "xóa dữ liệu"), replies.COMMAND_ERASE, "xoadulieu"),
)


def _canonical(text: str) -> str:
    """Lower case, folded, without punctuation or emoji, single spaces."""
    return " ".join(_NOT_WORD.sub(" ", fold(clean(text).lower())).split())


def _strip_particles(words: list[str]) -> list[str]:
    changed = True
    while changed and words:
        changed = False
        for particle in _LEADING:
            p = particle.split()
            if words[: len(p)] == p:
                words, changed = words[len(p):], True
        for particle in _TRAILING:
            p = particle.split()
            if len(words) >= len(p) and words[-len(p):] == p:
                words, changed = words[: -len(p)], True
    return words


def _lookup() -> dict[str, Command]:
    table: dict[str, Command] = {}
    for command in COMMANDS:
        for phrase in command.phrases:
            key = _canonical(phrase)
            if not key or " ".join(_strip_particles(key.split())) != key:
                raise ValueError(f"command phrase {phrase!r} is empty or starts/ends with a polite word")
            if table.setdefault(key, command) is not command:
                raise ValueError(f"command phrase {phrase!r} belongs to two commands")
    return table


_BY_PHRASE = _lookup()
_BY_TELEGRAM = {c.telegram: c for c in COMMANDS if c.telegram}


def match(text: str) -> Command | None:
    """The command the whole message asks for, or None (then it is something else)."""
    if len(text) > _LONGEST_COMMAND:
        return None
    slash = _SLASH.match(fold(clean(text).lower()))
    if slash and slash.group(1) in _BY_TELEGRAM:
        return _BY_TELEGRAM[slash.group(1)]
    return _BY_PHRASE.get(" ".join(_strip_particles(_canonical(text).split())))


def help_text() -> str:
    """What the citizen can do: ask, the commands, numbered lists on Zalo, rating answers."""
    lines = [replies.HELP_INTRO, replies.HELP_ASK]
    for c in COMMANDS:
        description = c.description[:1].lower() + c.description[1:]
        template = replies.HELP_COMMAND if c.telegram else replies.HELP_COMMAND_NO_SLASH
        lines.append(template.format(phrase=c.spoken, slash=f"/{c.telegram}", description=description))
    lines += [replies.HELP_NUMBERS, replies.HELP_RATE]
    return "\n".join(lines)


def telegram_menu() -> list[tuple[str, str]]:
    """(command, description) pairs for Telegram's setMyCommands."""
    return [(c.telegram, c.description) for c in COMMANDS if c.telegram]
