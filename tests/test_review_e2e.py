"""The review loop end to end, as `serve` runs it (the ASGI app with both channels polling, plus
bot.server.build_services), through the fake Telegram and Zalo APIs on 127.0.0.1: a citizen's
question goes unanswered, appears grouped in the review group, a reviewer acts, the citizens get
the answer on their own channel, the FAQ learns, the bot reloads, and the same question is now
answered directly. Outsiders are refused."""

from __future__ import annotations

import pytest

from bot.replies import citizens as replies
from bot.replies.reviewers import ALREADY, REFUSED
from indexer.faq import load_faq
from tests.channels.helpers import new_chat_id
from tests.fakes.zalo_api import FakeZaloAPI
from tests.review_fixtures import (
    ADMIN,
    LOCKED_1,
    LOCKED_2,
    OUTSIDER,
    REVIEW_CHAT,
    REVIEWER,
    RICE,
    ReviewTelegramAPI,
    make_env,
    review_messages,
    running,
    until,
    wait,
)

FAQ_ID = "vneid-quen-mat-khau"


@pytest.fixture
def apis():
    with ReviewTelegramAPI() as tg, FakeZaloAPI() as zalo:
        tg.members[REVIEW_CHAT] = {REVIEWER}
        yield tg, zalo


@pytest.fixture
def env(tmp_path, small_index_dir, embedder, model_dir, apis):
    tg, zalo = apis
    e = make_env(tmp_path, small_index_dir, embedder, model_dir,
                 telegram_token=tg.token, telegram_base_url=tg.base_url,
                 zalo_token=zalo.token, zalo_base_url=zalo.base_url,
                 review_chat_ids=[REVIEW_CHAT], admin_ids=[ADMIN],
                 review_poll_seconds=3600)  # the test wakes the worker itself: deterministic posts
    yield e
    e.store.close()


async def tap(tg, data: str, message: dict, user: int) -> None:
    assert data in [d for _, d in tg.buttons(message)] or user == OUTSIDER, tg.buttons(message)
    tg.push(tg.callback_update(REVIEW_CHAT, data, message["_message_id"], user_id=user))


async def test_link_to_an_existing_entry_answers_both_channels_and_teaches_the_bot(env, apis):
    tg, zalo = apis
    citizen, zalo_citizen = new_chat_id(), f"z{new_chat_id()}"
    async with running(env) as services:
        # 1. two citizens, two channels, the same question: the bot does not know
        tg.push(tg.text_update(citizen, LOCKED_1))
        zalo.push(zalo.text_update(zalo_citizen, LOCKED_2))
        [first] = await wait(tg, lambda c: tg.messages_to(citizen))
        await wait(zalo, lambda c: zalo.messages_to(zalo_citizen))
        assert first["_shown"] == replies.UNANSWERED
        assert zalo.messages_to(zalo_citizen) == [replies.UNANSWERED]

        # 2. one group in the review chat, with both wordings and buttons
        services.worker.wake()
        [post] = await wait(tg, lambda c: review_messages(tg, "Nhóm câu hỏi #"))
        assert "2 người hỏi" in post["_shown"] and LOCKED_1 in post["_shown"] and LOCKED_2 in post["_shown"]
        assert "Telegram, Zalo" in post["_shown"]
        gid = int(post["_shown"].split("#")[1].split(":")[0])
        assert [text for text, _ in tg.buttons(post)] == ["✍️ Trả lời", "📋 Là câu hỏi có sẵn", "🚫 Bỏ qua"]

        # 3. someone outside the review group taps a button: refused, nothing happens
        await tap(tg, f"rv:i:{gid}", post, OUTSIDER)
        [alert] = await wait(tg, lambda c: [a for a in tg.answers() if a.get("show_alert")])
        assert alert["text"] == REFUSED
        assert services.worker.queue.group(gid).status == "pending"

        # 4. a reviewer says it is an existing question and picks the entry
        await tap(tg, f"rv:l:{gid}", post, REVIEWER)
        [choices] = await wait(tg, lambda c: review_messages(tg, f"Nhóm #{gid}: chọn câu hỏi có sẵn"))
        faq_question = env.assistant.index.target(FAQ_ID).question
        [pick] = [data for text, data in tg.buttons(choices) if faq_question[:40] in text]
        await tap(tg, pick, choices, REVIEWER)
        [summary] = await wait(tg, lambda c: review_messages(tg, f"✅ Nhóm #{gid}"))
        assert "tới 2 người" in summary["_shown"] and "Đã thêm 2 cách hỏi mới vào mục" in summary["_shown"]

        # 5. both citizens got the entry's answer, marked as coming from the community team
        entry = next(e for e in load_faq(env.faq).entries if e.id == FAQ_ID)
        to_tg = await wait(tg, lambda c: tg.messages_to(citizen)[1:])
        expected = replies.COMMUNITY_ANSWER.format(
            question=LOCKED_1, answer=entry.answer + "\n" + replies.SOURCE_LINE.format(source=entry.source))
        assert to_tg[0]["_shown"] == expected
        assert zalo.messages_to(zalo_citizen)[1] == replies.COMMUNITY_ANSWER.format(
            question=LOCKED_2, answer=entry.answer + "\n" + replies.SOURCE_LINE.format(source=entry.source))
        group = services.worker.queue.group(gid)
        assert group.status == "linked" and group.faq_id == FAQ_ID
        assert all(i.status == "linked" and not i.has_chat for i in group.items)

        # 6. the wordings are now learned by the entry; the file watch reloads the bot
        assert set(entry.learned) == {LOCKED_1, LOCKED_2}  # in the order they were asked
        await until(lambda: services.reloader.reloads >= 1)
        assert services.reloader.last.stats.embedded == 0  # learned wordings are not embedded

        # 7. the same question is now answered directly, on both channels
        tg.push(tg.text_update(citizen, LOCKED_1))
        answered = await wait(tg, lambda c: tg.messages_to(citizen)[2:])
        assert answered[0]["_shown"].startswith(f"Về câu hỏi: «{entry.question}»\n{entry.answer.split(chr(10))[0]}")
        zalo.push(zalo.text_update(zalo_citizen, LOCKED_2))
        await wait(zalo, lambda c: zalo.messages_to(zalo_citizen)[2:])
        assert zalo.messages_to(zalo_citizen)[2].startswith(f"Về câu hỏi: «{entry.question}»\n{entry.answer.split(chr(10))[0]}")

        # 8. a late tap on the old post is told the group is done
        await tap(tg, f"rv:a:{gid}", post, REVIEWER)
        await wait(tg, lambda c: [a for a in tg.answers()
                                      if a.get("text") == ALREADY.format(gid=gid, status="linked")])


async def test_reviewer_answer_reaches_zalo_then_promote_makes_it_an_faq_entry(env, apis):
    tg, zalo = apis
    citizen = f"z{new_chat_id()}"
    answer = "Trợ lý số chưa có giá lúa. Bà con xem bản tin nông nghiệp của xã nhé."
    async with running(env) as services:
        zalo.push(zalo.text_update(citizen, RICE))
        await wait(zalo, lambda c: zalo.messages_to(citizen))
        assert zalo.messages_to(citizen) == [replies.UNANSWERED]
        services.worker.wake()
        [post] = await wait(tg, lambda c: review_messages(tg, "Nhóm câu hỏi #"))
        gid = int(post["_shown"].split("#")[1].split(":")[0])

        # "Trả lời": the bot asks for the answer; the reviewer replies to that message
        await tap(tg, f"rv:a:{gid}", post, REVIEWER)
        [prompt] = await wait(tg, lambda c: review_messages(tg, f"nội dung trả lời cho nhóm #{gid}"))
        assert prompt["reply_markup"]["force_reply"] is True
        tg.push(tg.text_update(REVIEW_CHAT, answer, user_id=REVIEWER, reply_to_message=tg.sent[prompt["_message_id"]]))

        # the citizen gets it on Zalo, marked as the community team's answer
        await wait(zalo, lambda c: zalo.messages_to(citizen)[1:])
        assert zalo.messages_to(citizen)[1] == replies.COMMUNITY_ANSWER.format(question=RICE, answer=answer)
        [summary] = await wait(tg, lambda c: review_messages(tg, f"✅ Nhóm #{gid}"))
        assert summary["_shown"] == f"✅ Nhóm #{gid}: đã gửi câu trả lời tới 1 người."
        await wait(tg, lambda c: [e for e in tg.calls_of("editMessageReplyMarkup")
                                      if int(e.params["message_id"]) == post["_message_id"]])
        # the reviewer's reply was not taken for a citizen's question
        assert not review_messages(tg, replies.UNANSWERED.split(".")[0])
        group = services.worker.queue.group(gid)
        assert (group.status, group.answer) == ("answered", answer)

        # promote it into the FAQ from the summary's button; the bot reloads and knows it
        [(label, data)] = tg.buttons(summary)
        assert label == "📚 Thêm vào câu hỏi thường gặp"
        await tap(tg, data, summary, REVIEWER)
        [done] = await wait(tg, lambda c: review_messages(tg, f"📚 Đã thêm nhóm #{gid}"))
        new = load_faq(env.faq).entries[-1]
        assert (new.question, new.answer) == (RICE, answer) and new.id in done["_shown"]
        await until(lambda: services.reloader.reloads >= 1)
        zalo.push(zalo.text_update(citizen, RICE))
        await wait(zalo, lambda c: zalo.messages_to(citizen)[2:])
        assert zalo.messages_to(citizen)[2].startswith(f"Về câu hỏi: «{RICE}»\n{answer}")


async def test_reload_command_is_for_admins_and_review_members_only(env, apis):
    tg, zalo = apis
    async with running(env) as services:
        outsider_chat = OUTSIDER
        tg.push(tg.text_update(outsider_chat, "/reload", user_id=OUTSIDER))
        [refused] = await wait(tg, lambda c: tg.messages_to(outsider_chat))
        assert refused["_shown"] == REFUSED
        assert services.reloader.reloads == 0
        tg.push(tg.text_update(ADMIN, "/reload", user_id=ADMIN))
        done = await wait(tg, lambda c: tg.messages_to(ADMIN)[1:])
        assert done[0]["_shown"].startswith("✅ Đã cập nhật dữ liệu: 8 câu hỏi")
        assert services.reloader.reloads == 1
