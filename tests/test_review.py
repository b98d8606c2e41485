"""bot/review/ and indexer/faq_edit.py: grouping of pending questions, delivery and undeliverable marking, CSV export,
and teaching the FAQ file (ruamel round trip, validation, backups). Real model, SQLite, fakes."""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import json
import re

import pytest
from sqlalchemy import select

from bot.replies import citizens as replies
from bot.models import ReviewItem
from indexer.text import views
from bot.outbound import RetryPolicy
from bot.review.actions import answer_group, faq_editor, link_group, promote_group
from bot.review.delivery import deliver_group
from bot.review.queue import ReviewError, ReviewQueue
from bot.review.worker import ReviewWorker
from bot.server import open_senders
from indexer.faq_edit import FaqEditError as TeachError
from indexer.faq_edit import FaqEditor
from bot.types import Message
from indexer.faq import load_faq
from tests.fakes.zalo_api import FakeZaloAPI
from tests.review_fixtures import (
    BHYT_1,
    BHYT_2,
    BHYT_3,
    BIRTH_1,
    BIRTH_2,
    LOCKED_1,
    LOCKED_2,
    RICE,
    ReviewTelegramAPI,
    make_env,
)


@pytest.fixture
def env(tmp_path, small_index_dir, embedder, model_dir):
    e = make_env(tmp_path, small_index_dir, embedder, model_dir)
    yield e
    e.store.close()


def ask(env, text: str, channel: str = "telegram", chat: str = "", user: str = "") -> None:
    reply = env.assistant.handle(Message(text, channel, user or chat or "u", chat))
    assert reply.kind == "unanswered", (text, reply.kind, reply.score)


def queue_of(env) -> ReviewQueue:
    return ReviewQueue(env.store, env.settings, lambda: env.assistant.index)


def items(env) -> list[ReviewItem]:
    with env.store.session() as s:
        return list(s.scalars(select(ReviewItem).order_by(ReviewItem.id)).all())


# --- grouping ----------------------------------------------------------------------------------
def test_similar_questions_are_grouped_and_different_ones_are_not(env):
    for n, text in enumerate([BHYT_1, BIRTH_1, BHYT_2, RICE, BIRTH_2, BHYT_3]):
        ask(env, text, "zalo" if n % 2 else "telegram", chat=f"c{n}")
    queue = queue_of(env)
    touched = queue.assign_pending()
    groups = {frozenset(i.text for i in g.items): g for g in queue.groups()}
    assert set(groups) == {frozenset({BHYT_1, BHYT_2, BHYT_3}), frozenset({BIRTH_1, BIRTH_2}), frozenset({RICE})}
    assert sorted(touched) == sorted(g.id for g in groups.values())
    bhyt = groups[frozenset({BHYT_1, BHYT_2, BHYT_3})]
    assert (bhyt.count, bhyt.text, bhyt.status) == (3, BHYT_1, "pending")
    assert bhyt.channels == ["telegram", "zalo"]
    assert bhyt.first <= bhyt.last
    assert [g.count for g in queue.groups()] == [3, 2, 1]  # most asked first
    # each group carries the bot's nearest FAQ entries, best first
    index = env.assistant.index
    for g in groups.values():
        assert 1 <= len(g.candidates) <= 5
        assert all(index.target(c["id"]).kind == "faq" for c in g.candidates)
        assert all(c["question"] == index.target(c["id"]).question for c in g.candidates)
        ranked = [c.target for c in index.search(views(g.text)) if c.kind == "faq"]
        assert [c["id"] for c in g.candidates] == ranked[: len(g.candidates)]  # the bot's own ranking
    # the centroid is stored as a unit vector
    with env.store.session() as s:
        from bot.models import ReviewGroup

        emb = s.get(ReviewGroup, bhyt.id).embedding
    assert len(emb) == index.embedder.dim and abs(sum(x * x for x in emb) - 1) < 1e-3
    assert queue.assign_pending() == []  # nothing new: nothing to do


def test_new_questions_join_pending_groups_only(env):
    queue = queue_of(env)
    ask(env, LOCKED_1, chat="a1")
    [gid] = queue.assign_pending()
    ask(env, LOCKED_2, chat="a2")
    assert queue.assign_pending() == [gid]
    assert queue.group(gid).count == 2
    queue.ignore(gid)
    ask(env, LOCKED_1, chat="a3")
    [new] = queue.assign_pending()
    assert new != gid and queue.group(new).count == 1  # a closed group takes no more questions
    assert queue.group(gid).count == 2


def test_the_threshold_comes_from_the_settings(tmp_path, small_index_dir, embedder, model_dir):
    e = make_env(tmp_path, small_index_dir, embedder, model_dir, review_group_cosine=0.999)
    try:
        ask(e, BIRTH_1, chat="b1")
        ask(e, BIRTH_2, chat="b2")
        queue = queue_of(e)
        queue.assign_pending()
        assert [g.count for g in queue.groups()] == [1, 1]
    finally:
        e.store.close()


async def test_spooled_records_are_grouped_once_written(env):
    review = {"reason": "unanswered", "channel": "zalo", "chat_id": "z-spool", "text": RICE}
    record = {"created_at": dt.datetime(2026, 11, 26, 8, 0).isoformat(), "channel": "zalo", "user_hash": "h",
              "text": RICE, "normalized": RICE.lower(), "kind": "unanswered", "faq_id": None, "score": 0.1,
              "candidates": []}
    env.store._spool({"question": record, "review": review, "spool_key": "k1"})  # as when the DB was down
    assert env.store.spooled() == 1
    queue = queue_of(env)
    assert env.store.flush_spool() == 1  # what serve's spool flusher does once the database is back
    await ReviewWorker(queue, env.settings, {}).tick()
    assert env.store.spooled() == 0
    [group] = queue.groups()
    assert group.text == RICE and group.channels == ["zalo"]


def test_unknown_groups_and_wrong_status_are_clear_errors(env):
    queue = queue_of(env)
    with pytest.raises(ReviewError, match="no review group 99"):
        queue.group(99)
    ask(env, RICE, chat="r")
    [gid] = queue.assign_pending()
    queue.ignore(gid)
    [item] = items(env)
    assert (item.status, item.chat_id) == ("ignored", None)
    with pytest.raises(ReviewError, match="already ignored"):
        queue.claim_answer(gid, "trả lời")
    with pytest.raises(ReviewError, match="empty"):
        queue.claim_answer(gid, "  ")


# --- delivery ----------------------------------------------------------------------------------
@pytest.fixture
def apis():
    with ReviewTelegramAPI() as tg, FakeZaloAPI() as zalo:
        yield tg, zalo


def channel_settings(env, tg, zalo):
    return env.settings.model_copy(update={
        "telegram_token": tg.token, "telegram_base_url": tg.base_url,
        "zalo_token": zalo.token, "zalo_base_url": zalo.base_url})


async def test_answer_reaches_every_citizen_and_refusals_are_marked_undeliverable(env, apis):
    tg, zalo = apis
    ask(env, LOCKED_2, "telegram", chat="222")  # this citizen blocked the bot
    ask(env, LOCKED_1, "telegram", chat="111")
    ask(env, LOCKED_1, "zalo", chat="z333")
    ask(env, LOCKED_2, "telegram", chat="111")  # the same person again: one message
    ask(env, LOCKED_1, "cli")  # the console has no chat to answer
    queue = queue_of(env)
    [gid] = queue.assign_pending()
    tg.fail("sendMessage", 403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})
    answer = "Bạn đến công an xã để được mở khóa tài khoản."
    async with open_senders(channel_settings(env, tg, zalo)) as d:
        result = await answer_group(queue, d, gid, answer)
    assert (result.report.sent, result.report.undeliverable, result.report.retry) == (2, 2, 0)
    assert result.group.status == "answered" and result.group.answer == answer
    # the blocked chat was tried first (item order), then the others got it
    [blocked] = [c for c in tg.calls_of("sendMessage") if c.status == 403]
    assert blocked.params["chat_id"] == "222"
    [to_111] = tg.messages_to(111)
    assert to_111["_shown"] == replies.COMMUNITY_ANSWER.format(question=LOCKED_1, answer=answer)
    assert zalo.messages_to("z333") == [replies.COMMUNITY_ANSWER.format(question=LOCKED_1, answer=answer)]
    by_chat = {(i.channel, i.text, i.status) for i in items(env)}
    assert by_chat == {("telegram", LOCKED_1, "answered"), ("telegram", LOCKED_2, "undeliverable"),
                       ("zalo", LOCKED_1, "answered"), ("telegram", LOCKED_2, "answered"),
                       ("cli", LOCKED_1, "undeliverable")}
    assert all(i.chat_id is None for i in items(env))  # raw chat ids dropped once closed


async def test_passing_failures_stay_open_and_are_retried(env, apis):
    tg, zalo = apis
    ask(env, RICE, "zalo", chat="z1")
    queue = queue_of(env)
    [gid] = queue.assign_pending()
    zalo.fail("sendMessage", 500, {"ok": False, "error_code": 500, "description": "boom"}, times=2)
    policy = RetryPolicy(max_retries=1, backoff=0.01)
    async with open_senders(channel_settings(env, tg, zalo), policy) as d:
        result = await answer_group(queue, d, gid, "Xem bản tin nông nghiệp của xã.")
    assert (result.report.sent, result.report.retry) == (0, 1)
    [item] = items(env)
    assert (item.status, item.chat_id) == ("pending", "z1")  # not lost, chat id kept for the retry
    assert queue.stale_deliveries(older_than=3600) == []  # retried later, not at once
    assert queue.stale_deliveries(older_than=0) == [gid]
    assert [c.status for c in zalo.calls_of("sendMessage")] == [500, 500]  # the client's own retry, then given up
    async with open_senders(channel_settings(env, tg, zalo), policy) as d:
        report = await deliver_group(queue, d, gid)
    assert report.sent == 1
    [item] = items(env)
    assert (item.status, item.chat_id) == ("answered", None)
    assert zalo.messages_to("z1")


async def test_a_group_nobody_can_receive_is_undeliverable(env, apis):
    tg, zalo = apis
    ask(env, RICE, "zalo", chat="gone")
    queue = queue_of(env)
    [gid] = queue.assign_pending()
    zalo.fail("sendMessage", 403, {"ok": False, "error_code": 403, "description": "Forbidden: user blocked the bot"})
    async with open_senders(channel_settings(env, tg, zalo)) as d:
        result = await answer_group(queue, d, gid, "Trả lời.")
    assert result.group.status == "undeliverable" and result.report.undeliverable == 1
    assert queue.groups("undeliverable")[0].id == gid


async def test_without_a_channel_token_deliveries_wait(env):
    ask(env, RICE, "zalo", chat="z9")
    queue = queue_of(env)
    [gid] = queue.assign_pending()
    async with open_senders(env.settings) as d:  # no TROLYSO_ZALO_TOKEN
        result = await answer_group(queue, d, gid, "Trả lời.")
    assert result.report.retry == 1 and "TROLYSO_ZALO_TOKEN" in result.report.problems[0]
    [item] = items(env)
    assert (item.status, item.chat_id) == ("pending", "z9")


# --- CSV export --------------------------------------------------------------------------------
def test_csv_export_for_commune_reports(env, tmp_path):
    for n, text in enumerate([BHYT_1, BHYT_2, RICE]):
        ask(env, text, "zalo", chat=f"z{n}")
    queue = queue_of(env)
    queue.assign_pending()
    rice = next(g for g in queue.groups() if g.text == RICE)
    queue.ignore(rice.id)
    out = tmp_path / "bao-cao.csv"
    assert queue.export_csv(out) == 2
    assert out.read_bytes().startswith("\ufeff".encode())  # Excel reads the accents right
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert list(rows[0]) == ["id", "status", "count", "first", "last", "channels", "text", "other_wordings",
                             "candidates", "answer", "faq_id"]
    by_text = {r["text"]: r for r in rows}
    assert by_text[BHYT_1]["count"] == "2" and by_text[BHYT_1]["other_wordings"] == BHYT_2
    assert by_text[BHYT_1]["status"] == "pending" and by_text[RICE]["status"] == "ignored"
    assert by_text[BHYT_1]["first"].endswith("Z") and by_text[BHYT_1]["channels"] == "zalo"
    assert by_text[BHYT_1]["candidates"].split()[0] in {t.id for t in env.assistant.index.targets}
    assert queue.export_csv(tmp_path / "pending.csv", status="pending") == 1


# --- teaching the FAQ --------------------------------------------------------------------------
FAQ_WITH_COMMENTS = """\
# Trợ lý số FAQ (test copy): comments, blank lines and quoting must survive edits.
version: 1
faqs:
  # ===== VNeID =====
  - id: vneid-a
    category: vneid
    question: "Quên mật khẩu VNeID thì làm sao?"
    answer: |
      Bấm "Quên mật khẩu" trong ứng dụng.
    source: 'Bộ Công an'   # single quotes kept
    alternates:
      - "quen mat khau vneid"  # a note on this alternate

  # ===== Lừa đảo =====
  - id: luadao-b
    question: "Công an gọi điện đòi chuyển tiền có phải lừa đảo?"
    answer: >
      Đó là lừa đảo.
      Hãy cúp máy.
    reviewed: 2026-11-26
# the end
"""


def write_faq(tmp_path, text: str = FAQ_WITH_COMMENTS):
    path = tmp_path / "faq.yaml"
    path.write_text(text, encoding="utf-8")
    return path, FaqEditor(path, tmp_path / "var" / "backups")


def added_lines(before: str, after: str) -> list[str]:
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    assert not [d for d in diff if d.startswith("- ")], "an existing line changed"
    return [d[2:] for d in diff if d.startswith("+ ")]


def test_alternates_are_added_with_comments_order_and_quotes_kept(tmp_path):
    path, editor = write_faq(tmp_path)
    edit = editor.add_alternates("vneid-a", ["Tôi bị khóa VNeID", "quen mat khau VNEID", "  Tôi bị  khóa VNeID "])
    after = path.read_text(encoding="utf-8")
    assert edit.added == ["Tôi bị khóa VNeID"]  # known wordings (after normalisation) are skipped
    assert added_lines(FAQ_WITH_COMMENTS, after) == ['      - "Tôi bị khóa VNeID"']
    # the new alternate comes right after the old one, before the blank line and the next section
    assert '  - "quen mat khau vneid"  # a note on this alternate\n      - "Tôi bị khóa VNeID"\n\n  # ===== Lừa đảo' in after
    entry = next(e for e in load_faq(path).entries if e.id == "vneid-a")
    assert entry.alternates == ("quen mat khau vneid", "Tôi bị khóa VNeID")
    # an entry without alternates gets them right after its question
    editor.add_alternates("luadao-b", ["Có người xưng công an bắt chuyển tiền"])
    after2 = path.read_text(encoding="utf-8")
    assert added_lines(after, after2) == ["    alternates:", '      - "Có người xưng công an bắt chuyển tiền"']
    assert after2.index("alternates:\n      - \"Có người") > after2.index('question: "Công an gọi')
    assert after2.endswith("    reviewed: 2026-11-26\n# the end\n")
    assert editor.add_alternates("luadao-b", ["có người xưng công an bắt chuyển tiền"]).added == []


def test_learned_wordings_go_to_their_own_list_after_the_alternates(tmp_path):
    path, editor = write_faq(tmp_path)
    chatty = "Chào ad, bố em ở Tam Đường quên mật khẩu VNeID, giờ lấy lại thế nào ạ?"
    edit = editor.add_learned("vneid-a", [chatty, "QUEN MAT KHAU VNEID", "Quên mật khẩu VNeID thì làm sao?"])
    assert edit.added == [chatty]  # what the entry already says (after normalisation) is skipped
    after = path.read_text(encoding="utf-8")
    assert added_lines(FAQ_WITH_COMMENTS, after) == ["    learned:", f'      - "{chatty}"']
    assert after.index("learned:") > after.index("# a note on this alternate")
    entry = next(e for e in load_faq(path).entries if e.id == "vneid-a")
    assert (entry.alternates, entry.learned) == (("quen mat khau vneid",), (chatty,))
    # a learned wording counts as known: neither an alternate nor another entry's wording repeats it
    assert editor.add_alternates("vneid-a", [chatty.lower()]).added == []
    with pytest.raises(TeachError, match="already in the FAQ"):
        editor.add_entry([chatty], "…")
    # an entry without alternates gets the list right after its question
    editor.add_learned("luadao-b", ["co ng xung cong an bat chuyen tien"])
    after2 = path.read_text(encoding="utf-8")
    assert after2.index("learned:\n      - \"co ng xung") > after2.index('question: "Công an gọi')
    assert after2.index("learned:\n      - \"co ng xung") < after2.index("    answer: >")


def test_learned_wordings_are_validated_like_alternates(tmp_path):
    path, _ = write_faq(tmp_path, FAQ_WITH_COMMENTS.replace(
        '  - "quen mat khau vneid"  # a note on this alternate\n',
        '  - "quen mat khau vneid"  # a note on this alternate\n    learned: "not a list"\n'))
    assert [i.message for i in load_faq(path).errors] == ["`learned` must be a list of texts"]
    path.write_text(FAQ_WITH_COMMENTS.replace('question: "Công an gọi điện đòi chuyển tiền có phải lừa đảo?"',
                                              'question: "Công an gọi điện đòi chuyển tiền có phải lừa đảo?"\n'
                                              '    learned:\n      - "Quen mat khau VNeID thi lam sao"'),
                    encoding="utf-8")
    [issue] = load_faq(path).errors
    assert "is the same as one of 'vneid-a'" in issue.message


def test_a_backup_is_kept_for_every_change(tmp_path):
    path, editor = write_faq(tmp_path)
    first = editor.add_alternates("vneid-a", ["Tôi bị khóa VNeID"])
    second = editor.add_alternates("vneid-a", ["VNeID bị khóa tạm thời"])
    assert first.backup.name.startswith("faq-") and first.backup.suffix == ".yaml"
    assert first.backup.parent == tmp_path / "var" / "backups"
    stamp = first.backup.stem[len("faq-"):][:15]
    dt.datetime.strptime(stamp, "%Y%m%d-%H%M%S")
    assert first.backup.read_text(encoding="utf-8") == FAQ_WITH_COMMENTS
    assert second.backup != first.backup and "Tôi bị khóa VNeID" in second.backup.read_text(encoding="utf-8")
    assert editor.add_alternates("vneid-a", ["Tôi bị khóa VNeID"]).backup is None  # no change, no backup
    assert len(list((tmp_path / "var" / "backups").iterdir())) == 2


def test_a_new_entry_is_appended_in_the_file_style(tmp_path):
    path, editor = write_faq(tmp_path)
    edit = editor.add_entry([RICE, "gia lua hom nay", "Giá lúa hôm nay là bao nhiêu?"],
                            "Trợ lý số không có giá lúa.\nXem bản tin của xã.", category="laichau")
    assert edit.entry_id == "gia-lua-hom-nay"
    after = path.read_text(encoding="utf-8")
    assert added_lines(FAQ_WITH_COMMENTS, after) == [
        "", "  - id: gia-lua-hom-nay", "    category: laichau", f'    question: "{RICE}"', "    alternates:",
        '      - "gia lua hom nay"', '      - "Giá lúa hôm nay là bao nhiêu?"', "    answer: |",
        "      Trợ lý số không có giá lúa.", "      Xem bản tin của xã.",
        '    source: "Tổ công nghệ số cộng đồng"', f"    reviewed: {dt.date.today().isoformat()}"]
    assert after.endswith(f"reviewed: {dt.date.today().isoformat()}\n# the end\n")  # the last comment stays last
    entry = load_faq(path).entries[-1]
    assert (entry.id, entry.question, entry.category) == ("gia-lua-hom-nay", RICE, "laichau")
    assert entry.answer == "Trợ lý số không có giá lúa.\nXem bản tin của xã."
    again = editor.add_entry(["Giá lúa nếp hôm nay"], "…")
    assert again.entry_id == "gia-lua-nep-hom-nay"
    with pytest.raises(TeachError, match="already in the FAQ"):
        editor.add_entry([RICE], "…")


def test_the_project_faq_survives_a_round_trip_unchanged(tmp_path):
    from tests.conftest import ROOT

    text = (ROOT / "faq.yaml").read_text(encoding="utf-8")  # read only: edits go to a copy
    path, editor = write_faq(tmp_path, text)
    faq_id = re.findall(r"^  - id: (\S+)$", text, re.M)[3]
    edit = editor.add_alternates(faq_id, ["Một cách hỏi hoàn toàn mới về mục này"])
    after = path.read_text(encoding="utf-8")
    assert added_lines(text, after) == ['      - "Một cách hỏi hoàn toàn mới về mục này"']
    assert edit.added and edit.backup.read_text(encoding="utf-8") == text


def test_an_invalid_result_never_replaces_the_file(tmp_path):
    path, editor = write_faq(tmp_path)
    with pytest.raises(TeachError, match="already has an entry"):
        editor.add_entry(["Câu mới"], "…", faq_id="vneid-a")
    with pytest.raises(TeachError, match="unknown category"):
        editor.add_entry(["Câu mới"], "…", category="khong-co")
    with pytest.raises(TeachError, match="no FAQ entry 'khong-co'"):
        editor.add_alternates("khong-co", ["x"])
    # a file an admin broke by hand: the edit is refused with the file:line errors
    broken = FAQ_WITH_COMMENTS.replace("  - id: luadao-b\n", "  - id: Luadao B\n")
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(TeachError) as info:
        editor.add_alternates("vneid-a", ["Tôi bị khóa VNeID"])
    assert f"{path}:15: error: id 'Luadao B'" in str(info.value)
    assert path.read_text(encoding="utf-8") == broken
    assert not list(tmp_path.glob(".faq.yaml*"))  # no temporary file left behind
    assert not (tmp_path / "var" / "backups").exists()


async def test_link_teaches_the_wordings_and_promote_adds_an_entry(env, apis):
    tg, zalo = apis
    ask(env, LOCKED_1, "telegram", chat="41")
    ask(env, LOCKED_2, "zalo", chat="z42")
    ask(env, RICE, "zalo", chat="z43")
    queue = queue_of(env)
    queue.assign_pending()
    locked = next(g for g in queue.groups() if g.text == LOCKED_1)
    rice = next(g for g in queue.groups() if g.text == RICE)
    editor = faq_editor(env.settings)
    async with open_senders(channel_settings(env, tg, zalo)) as d:
        linked = await link_group(queue, d, editor, locked.id, "vneid-quen-mat-khau")
        with pytest.raises(ReviewError, match="only an answered group"):
            promote_group(queue, editor, rice.id)
        await answer_group(queue, d, rice.id, "Trợ lý số không có giá lúa.")
    assert linked.group.status == "linked" and linked.report.sent == 2
    assert linked.added == [LOCKED_1, LOCKED_2] and linked.backup.exists()
    entry = next(e for e in load_faq(env.faq).entries if e.id == "vneid-quen-mat-khau")
    assert entry.learned == (LOCKED_1, LOCKED_2)  # citizens' wordings: learned, not alternates
    assert LOCKED_1 not in entry.alternates and LOCKED_2 not in entry.alternates
    assert zalo.messages_to("z42")[0].startswith(replies.COMMUNITY_ANSWER.format(question=LOCKED_2, answer="")[:-1])
    assert entry.answer.strip() in zalo.messages_to("z42")[0]
    promoted = promote_group(queue, editor, rice.id)
    assert promoted.faq_id == "gia-lua-hom-nay" and promoted.group.faq_id == "gia-lua-hom-nay"
    new = load_faq(env.faq).entries[-1]
    assert (new.id, new.question, new.answer, new.source) == (
        "gia-lua-hom-nay", RICE, "Trợ lý số không có giá lúa.", "Tổ công nghệ số cộng đồng")
    with pytest.raises(ReviewError, match="already FAQ entry"):
        promote_group(queue, editor, rice.id)
    assert json.loads(json.dumps(queue.group(rice.id).to_json()))["faq_id"] == "gia-lua-hom-nay"


# --- PostgreSQL ----------------------------------------------------------------------------------
async def test_the_queue_works_on_postgresql(tmp_path, small_index_dir, embedder, model_dir, pg_schema_url, apis):
    tg, zalo = apis
    e = make_env(tmp_path, small_index_dir, embedder, model_dir, db_url=pg_schema_url)
    try:
        for n, text in enumerate([BHYT_1, BHYT_2, RICE]):
            ask(e, text, "zalo", chat=f"pz{n}")
        queue = queue_of(e)
        queue.assign_pending()
        ask(e, BHYT_3, "zalo", chat="pz9")
        queue.assign_pending()  # joins the existing group (counts come from PostgreSQL)
        bhyt = next(g for g in queue.groups() if g.text == BHYT_1)
        assert bhyt.count == 3
        async with open_senders(channel_settings(e, tg, zalo)) as d:
            result = await answer_group(queue, d, bhyt.id, "Làm tại bảo hiểm xã hội huyện.")
        assert result.report.sent == 3 and result.group.status == "answered"
        assert queue.stale_deliveries(older_than=0) == []
        assert queue.export_csv(tmp_path / "pg.csv") == 2
    finally:
        e.store.close()
