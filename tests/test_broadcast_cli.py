"""`trolyso broadcast preview` and the confirmation of `trolyso broadcast send`, as an admin runs
them, through the real Telegram sender against the fake Telegram Bot API on 127.0.0.1: the
preview reaches the admin chats (and nobody else) exactly as citizens will see the bulletin; a
send asks first on the terminal and sends nothing unless the answer is yes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.bulletins.files import load_bulletin
from bot.replies import admins
from bot.replies import citizens as replies
from bot.storage import Store
from bot.subscriptions import Subscriptions
from tests import test_bulletins_e2e as e2e
from tests.conftest import ROOT, cli_in_process
from tests.fakes.telegram_api import FakeTelegramAPI

SUBSCRIBERS = (7001, 7002, 7003)
ADMIN_CHATS = (-1001, -1002)  # the admins' group chats


def bulletin(tmp_path: Path, bid: str) -> Path:
    """A bulletin for everybody, with Markdown to convert."""
    return e2e.bulletin(tmp_path, bid, body="Có kẻ gửi **đường link** cài ứng dụng VNeID giả.\n\n"
                                            "- Chỉ cài từ CH Play hoặc App Store.")


@pytest.fixture
def tg():
    with FakeTelegramAPI() as api:
        yield api


@pytest.fixture
def env(tmp_path, tg):
    """A database with three Telegram subscribers, and the environment of the admin's shell."""
    db = f"sqlite:///{tmp_path}/bulletins.db"
    store = Store(db, tmp_path / "spool.jsonl")
    subs = Subscriptions(store.sessions, store.ensure_schema)
    for chat in SUBSCRIBERS:
        subs.subscribe("telegram", f"user{chat}", str(chat))
    store.close()
    return {"TROLYSO_DB_URL": db, "TROLYSO_TELEGRAM_TOKEN": tg.token, "TROLYSO_TELEGRAM_BASE_URL": tg.base_url,
            "TROLYSO_QUIET_HOURS": "", "TROLYSO_COMMUNES": str(ROOT / "communes.yaml")}


def shown(tg: FakeTelegramAPI, chat: int) -> list[str]:
    return [m["_shown"] for m in tg.messages_to(chat)]


def sent_to(tg: FakeTelegramAPI) -> set[int]:
    return {int(c.params["chat_id"]) for c in tg.calls_of("sendMessage")}


def test_preview_goes_to_the_admin_chats_as_citizens_will_see_it(tmp_path, monkeypatch, capsys, tg, env):
    path = bulletin(tmp_path, "app-gia-1")
    text = load_bulletin(path).text
    assert text.startswith("📢 Bản tin Trợ lý số: Cảnh báo lừa đảo") and text.endswith(replies.BULLETIN_FOOTER)
    admin = {**env, "TROLYSO_ADMIN_CHAT_IDS": ",".join(map(str, ADMIN_CHATS)), "TROLYSO_ADMIN_IDS": "42"}
    code, out, err = cli_in_process(monkeypatch, capsys, tmp_path, ["broadcast", "preview", str(path)], **admin)
    assert code == 0, err
    assert out.strip() == text and "preview sent to 2 of 2 admin chat(s)" in err
    header = admins.BROADCAST_PREVIEW_HEADER.format(id="app-gia-1")
    for chat in ADMIN_CHATS:
        assert shown(tg, chat) == [header, text]
    assert sent_to(tg) == set(ADMIN_CHATS)  # no subscriber, and not the admin's private chat (42)
    code, out, _ = cli_in_process(monkeypatch, capsys, tmp_path, ["broadcast", "list"], **admin)
    assert code == 0 and out == ""  # a preview registers nothing

    # the citizens then get exactly what the admins saw
    code, out, err = cli_in_process(monkeypatch, capsys, tmp_path, ["broadcast", "send", str(path), "--yes"], **admin)
    assert code == 0, err
    for chat in SUBSCRIBERS:
        assert shown(tg, chat) == [text]


def test_preview_defaults_to_the_admins_private_chats_and_reports_a_refusal(tmp_path, monkeypatch, capsys, tg,
                                                                            env):
    path = bulletin(tmp_path, "app-gia-2")
    # the first sendMessage (the header to admin 41) is refused, as when an admin blocked the bot
    tg.fail("sendMessage", 403, {"ok": False, "error_code": 403,
                                 "description": "Forbidden: bot was blocked by the user"})
    code, out, err = cli_in_process(monkeypatch, capsys, tmp_path, ["broadcast", "preview", str(path)],
                                    **env, TROLYSO_ADMIN_IDS="41,43")
    assert code == 1
    assert "preview not delivered to chat 41: refused" in err and "preview sent to 1 of 2 admin chat(s)" in err
    assert shown(tg, 41) == []
    assert shown(tg, 43) == [admins.BROADCAST_PREVIEW_HEADER.format(id="app-gia-2"), load_bulletin(path).text]
    assert sent_to(tg) == {41, 43}

    tg.calls.clear()
    code, _, err = cli_in_process(monkeypatch, capsys, tmp_path, ["broadcast", "preview", str(path)],
                                  **env, TROLYSO_ADMIN_IDS="")
    assert code == 1 and "TROLYSO_ADMIN_CHAT_IDS" in err  # nobody to preview to: nothing is sent
    assert tg.calls_of("sendMessage") == []


def test_send_asks_first_and_sends_nothing_unless_the_answer_is_yes(tmp_path, monkeypatch, capsys, tg, env):
    path = bulletin(tmp_path, "app-gia-3")
    argv = ["broadcast", "send", str(path)]
    question = admins.BROADCAST_CONFIRM.format(id="app-gia-3", targets=len(SUBSCRIBERS))
    for answer in ("k\n", "\n", "không\n", ""):  # no, the default (Enter), anything else, Ctrl-D
        code, out, err = cli_in_process(monkeypatch, capsys, tmp_path, argv, stdin=answer, tty=True, **env)
        assert (code, out) == (1, question), err
        assert "not sent" in err
    code, _, err = cli_in_process(monkeypatch, capsys, tmp_path, argv, stdin="c\n", **env)  # no terminal, no --yes
    assert code == 2 and "add --yes" in err
    assert tg.calls_of("sendMessage") == []
    code, out, _ = cli_in_process(monkeypatch, capsys, tmp_path, ["broadcast", "status", "app-gia-3", "--json"], **env)
    assert json.loads(out)["delivered"] == 0

    code, out, err = cli_in_process(monkeypatch, capsys, tmp_path, argv, stdin="Có\n", tty=True, **env)
    assert code == 0, err
    assert out.startswith(question)
    assert "bulletin app-gia-3: 3 delivered, 0 failed, 0 opted out, 0 uncertain, 0 pending of 3" in out
    text = load_bulletin(path).text
    for chat in SUBSCRIBERS:
        assert shown(tg, chat) == [text]  # everyone once
    assert sent_to(tg) == set(SUBSCRIBERS)
