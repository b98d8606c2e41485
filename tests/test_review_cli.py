"""`trolyso review ...`: the admins' command line over the review queue (JSON lines, CSV, delivery
through the channel APIs, teaching the FAQ file). Subprocesses for the contract, in-process runs
for the rest."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

from bot.replies import citizens as replies
from bot.review.queue import ReviewQueue
from bot.types import Message
from indexer.faq import load_faq
from tests.conftest import ROOT
from tests.fakes.zalo_api import FakeZaloAPI
from tests.review_fixtures import BHYT_1, BHYT_2, LOCKED_1, LOCKED_2, RICE, make_env

KEYS = {"id", "count", "text", "status", "first", "last", "channels", "candidates", "answer", "faq_id"}


@pytest.fixture
def env(tmp_path, small_index_dir, embedder, model_dir):
    e = make_env(tmp_path, small_index_dir, embedder, model_dir)
    yield e
    e.store.close()


def cli_env(env, **extra: str) -> dict[str, str]:
    values = {"TROLYSO_DATA_DIR": str(env.settings.data_dir), "TROLYSO_FAQ": str(env.faq),
              "TROLYSO_KNOWLEDGE_DIR": str(env.knowledge), "TROLYSO_INDEX_DIR": str(env.index_dir),
              "TROLYSO_MODEL_DIR": str(env.settings.model_dir)}
    return {**values, **extra}


def run(env, args: list[str], **extra: str) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("TROLYSO_")}
    e.update(cli_env(env, **extra), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "bot.cli", "review", *args], capture_output=True,
                          cwd=env.tmp, env=e, timeout=300)


@pytest.fixture
def main(env, monkeypatch, capsys):
    """`trolyso review ...` in this process: (exit code, stdout, stderr)."""
    from bot.cli import main as cli_main
    from bot.config import get_settings

    def call(*args: str, **extra: str) -> tuple[int, str, str]:
        for key, value in cli_env(env, **extra).items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        code = cli_main(["review", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return call


def ask(env, text: str, channel: str, chat: str) -> None:
    assert env.assistant.handle(Message(text, channel, chat, chat)).kind == "unanswered"


def grouped(env) -> dict[str, int]:
    queue = ReviewQueue(env.store, env.settings, lambda: env.assistant.index)
    queue.assign_pending()
    return {g.text: g.id for g in queue.groups(None)}


def test_list_json_prints_one_json_object_per_group(env):
    for text, channel, chat in [(BHYT_1, "telegram", "1"), (BHYT_2, "zalo", "z2"), (RICE, "zalo", "z3"),
                                (BHYT_1, "zalo", "z4")]:
        ask(env, text, channel, chat)
    grouped(env)
    r = run(env, ["list", "--json"])
    assert r.returncode == 0, r.stderr.decode()
    rows = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert [set(row) for row in rows] == [KEYS, KEYS]
    bhyt, rice = rows
    assert (bhyt["count"], bhyt["text"], bhyt["status"], bhyt["channels"]) == (3, BHYT_1, "pending", ["telegram", "zalo"])
    assert (rice["count"], rice["text"]) == (1, RICE)
    assert bhyt["first"] <= bhyt["last"] and bhyt["first"].endswith("Z")
    assert bhyt["candidates"] and set(bhyt["candidates"][0]) == {"id", "question", "confidence"}
    assert all(row["answer"] is None and row["faq_id"] is None for row in rows)
    r = run(env, ["show", "404"])
    assert (r.returncode, r.stdout, r.stderr.decode()) == (1, b"", "trolyso: no review group 404\n")


def test_show_ignore_export_and_statuses(env, main, tmp_path):
    ask(env, BHYT_1, "telegram", "11")
    ask(env, BHYT_2, "zalo", "z12")
    ask(env, RICE, "zalo", "z13")
    ids = grouped(env)
    code, out, _ = main("show", str(ids[BHYT_1]), "--json")
    shown = json.loads(out)
    assert code == 0 and shown["count"] == 2
    assert [(i["channel"], i["text"], i["status"]) for i in shown["items"]] == [
        ("telegram", BHYT_1, "pending"), ("zalo", BHYT_2, "pending")]
    assert "chat_id" not in out and "z12" not in out  # reviewers never see raw chat ids
    code, out, _ = main("show", f"#{ids[RICE]}")
    assert code == 0 and f"#{ids[RICE]} [pending] 1 asked: {RICE}" in out

    code, out, _ = main("ignore", str(ids[RICE]))
    assert code == 0 and f"group {ids[RICE]}: ignored" in out
    code, out, err = main("ignore", str(ids[RICE]))
    assert code == 1 and "already ignored" in err
    code, out, err = main("show", "404")
    assert code == 1 and "no review group 404" in err

    code, out, _ = main("list", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [ids[BHYT_1]]  # pending by default
    code, out, _ = main("list", "--json", "--status", "all")
    statuses = {json.loads(line)["text"]: json.loads(line)["status"] for line in out.splitlines()}
    assert statuses == {BHYT_1: "pending", RICE: "ignored"}
    code, out, _ = main("list")
    assert code == 0 and BHYT_1 in out and RICE not in out

    report = tmp_path / "bao-cao" / "xa.csv"
    report.parent.mkdir()
    code, out, _ = main("export", "--csv", str(report))
    assert code == 0 and "2 group(s) written" in out
    rows = list(csv.DictReader(report.open(encoding="utf-8-sig")))
    assert {(r["text"], r["status"], r["count"]) for r in rows} == {(BHYT_1, "pending", "2"), (RICE, "ignored", "1")}
    code, _, err = main("export", "--csv", str(tmp_path / "missing-dir" / "x.csv"))
    assert code == 1 and "cannot write" in err


def test_answer_is_delivered_through_the_channel_api_by_the_command(env, main):
    ask(env, RICE, "zalo", "z21")
    ask(env, "Giá lúa hôm nay là bao nhiêu vậy?", "zalo", "z22")
    [gid] = set(grouped(env).values())
    answer = "Trợ lý số chưa có giá lúa. Bà con xem bản tin nông nghiệp của xã nhé."
    with FakeZaloAPI() as zalo:
        zalo.fail("sendMessage", 403, {"ok": False, "error_code": 403, "description": "Forbidden: blocked"})
        code, out, err = main("answer", str(gid), answer, TROLYSO_ZALO_TOKEN=zalo.token,
                              TROLYSO_ZALO_BASE_URL=zalo.base_url)
        assert code == 0, err
        assert f"group {gid}: answered; sent 1, undeliverable 1, to retry 0 -> status answered" in out
        assert zalo.messages_to("z22") == [replies.COMMUNITY_ANSWER.format(question="Giá lúa hôm nay là bao nhiêu vậy?",
                                                                            answer=answer)]
    queue = ReviewQueue(env.store, env.settings)
    group = queue.group(gid)
    assert group.status == "answered" and group.answer == answer
    assert sorted(i.status for i in group.items) == ["answered", "undeliverable"]
    assert not any(i.has_chat for i in group.items)


def test_link_and_promote_teach_the_faq_file(env, main):
    ask(env, LOCKED_1, "cli", "")
    ask(env, LOCKED_2, "cli", "")
    ask(env, RICE, "cli", "")
    ids = grouped(env)
    before = env.faq.read_text(encoding="utf-8")
    code, out, _ = main("link", str(ids[LOCKED_1]), "vneid-quen-mat-khau")
    assert code == 0, out
    assert f"group {ids[LOCKED_1]}: linked to vneid-quen-mat-khau" in out
    assert "2 wording(s) added to vneid-quen-mat-khau" in out
    entry = next(e for e in load_faq(env.faq).entries if e.id == "vneid-quen-mat-khau")
    assert entry.learned == (LOCKED_1, LOCKED_2)
    [backup] = (env.settings.data_dir / "backups").iterdir()
    assert backup.read_text(encoding="utf-8") == before
    code, _, err = main("link", str(ids[RICE]), "khong-co-muc-nay")
    assert code == 1 and "no FAQ entry 'khong-co-muc-nay'" in err

    code, _, err = main("promote", str(ids[RICE]))
    assert code == 1 and "only an answered group can be promoted" in err
    code, out, _ = main("answer", str(ids[RICE]), "Trợ lý số chưa có giá lúa.")
    assert code == 0 and "undeliverable 1" in out  # asked in the console: nobody to send it to
    code, out, err = main("promote", str(ids[RICE]), "--id", "gia-lua", "--category", "laichau")
    assert code == 0, err
    assert f"group {ids[RICE]}: new FAQ entry gia-lua in {env.faq}" in out
    new = load_faq(env.faq).entries[-1]
    assert (new.id, new.category, new.question, new.answer) == ("gia-lua", "laichau", RICE, "Trợ lý số chưa có giá lúa.")
    assert len(list((env.settings.data_dir / "backups").iterdir())) == 2
    code, out, _ = main("list", "--json", "--status", "all")
    rows = {json.loads(line)["id"]: json.loads(line) for line in out.splitlines()}
    assert (rows[ids[LOCKED_1]]["status"], rows[ids[LOCKED_1]]["faq_id"]) == ("undeliverable", "vneid-quen-mat-khau")
    assert rows[ids[RICE]]["faq_id"] == "gia-lua"


def test_commands_group_questions_not_grouped_yet(env, main):
    ask(env, BHYT_1, "telegram", "31")
    ask(env, BHYT_2, "zalo", "z32")  # nobody grouped these (no bot running): the command does
    code, out, err = main("list", "--json")
    assert code == 0, err
    [row] = [json.loads(line) for line in out.splitlines()]
    assert (row["count"], row["text"], row["channels"]) == (2, BHYT_1, ["telegram", "zalo"])
