"""Communes end to end, as `serve` runs it (both channels polling the fake Telegram and Zalo APIs):
a citizen tells their commune by typing an unaccented former unit's name, asks what the bot
cannot answer, and the question lands in that commune's review chat, not the provincial one;
a member of the commune's chat answers and the citizen gets it on their channel. A citizen who
did not tell a commune still goes to the provincial chat, in a group of its own."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bot.replies import citizens as replies
from tests.channels.helpers import new_chat_id
from tests.review_fixtures import (
    COMMUNE_CHAT,
    COMMUNE_MEMBER,
    REVIEW_CHAT,
    RICE,
    commune_apis,
    commune_env,
    running,
    wait,
)

SET_MUONG_KIM = "Xã Tà Mung cũ nay thuộc xã Mường Kim. " + replies.COMMUNE_SET.format(label="xã Mường Kim")


@pytest.fixture
def apis():
    with commune_apis() as both:
        yield both


@pytest.fixture
def env(tmp_path, small_index_dir, embedder, model_dir, apis):
    tg, zalo = apis
    e = commune_env(tmp_path, small_index_dir, embedder, model_dir, tg, zalo)
    yield e
    e.store.close()


def posts(tg, chat: int) -> list[dict]:
    return [m for m in tg.messages_to(chat) if "Nhóm câu hỏi #" in m["_shown"]]


async def test_commune_questions_go_to_the_commune_review_chat(env, apis):
    tg, zalo = apis
    citizen, zalo_citizen, stranger = new_chat_id(), f"z{new_chat_id()}", f"z{new_chat_id()}"
    async with running(env) as services:
        # Telegram: "đổi xã", then a former unit's name without diacritics
        tg.push(tg.text_update(citizen, "đổi xã"))
        [ask] = await wait(tg, lambda c: tg.messages_to(citizen))
        assert ask["_shown"] == replies.COMMUNE_ASK
        tg.push(tg.text_update(citizen, "ta mung"))
        [done] = await wait(tg, lambda c: tg.messages_to(citizen)[1:])
        assert done["_shown"] == SET_MUONG_KIM

        # Zalo: the same, typed "doi xa"; a second Zalo citizen never tells a commune
        zalo.push(zalo.text_update(zalo_citizen, "doi xa"))
        await wait(zalo, lambda c: zalo.messages_to(zalo_citizen))
        zalo.push(zalo.text_update(zalo_citizen, "Ta Mung"))
        await wait(zalo, lambda c: zalo.messages_to(zalo_citizen)[1:])
        assert zalo.messages_to(zalo_citizen) == [replies.COMMUNE_ASK, SET_MUONG_KIM]

        # all three ask what the bot cannot answer
        tg.push(tg.text_update(citizen, RICE))
        zalo.push(zalo.text_update(zalo_citizen, RICE))
        zalo.push(zalo.text_update(stranger, RICE))
        await wait(tg, lambda c: tg.messages_to(citizen)[2:])
        await wait(zalo, lambda c: zalo.messages_to(zalo_citizen)[2:])
        await wait(zalo, lambda c: zalo.messages_to(stranger))
        assert tg.messages_to(citizen)[2]["_shown"] == replies.UNANSWERED
        assert zalo.messages_to(stranger) == [replies.UNANSWERED]
        with env.store.session() as s:
            questions = s.execute(text("select commune from questions order by id")).scalars().all()
        assert sorted(questions, key=str) == ["03637", "03637", None]

        # the commune's two citizens: one group in the commune's chat; the stranger: the province's
        services.worker.wake()
        [post] = await wait(tg, lambda c: posts(tg, COMMUNE_CHAT))
        [provincial] = await wait(tg, lambda c: posts(tg, REVIEW_CHAT))
        assert "2 người hỏi" in post["_shown"] and "📍 Xã, phường: xã Mường Kim" in post["_shown"]
        assert "1 người hỏi" in provincial["_shown"] and "Mường Kim" not in provincial["_shown"]
        assert len(posts(tg, COMMUNE_CHAT)) == 1 and len(posts(tg, REVIEW_CHAT)) == 1
        gid = int(post["_shown"].split("#")[1].split(":")[0])

        # a member of the commune's chat answers; both citizens get it on their own channel
        tg.push(tg.callback_update(COMMUNE_CHAT, f"rv:a:{gid}", post["_message_id"], user_id=COMMUNE_MEMBER))
        [prompt] = await wait(tg, lambda c: [m for m in tg.messages_to(COMMUNE_CHAT)
                                             if f"nội dung trả lời cho nhóm #{gid}" in m["_shown"]])
        answer = "Giá lúa xem ở bản tin của xã Mường Kim nhé."
        tg.push(tg.text_update(COMMUNE_CHAT, answer, user_id=COMMUNE_MEMBER,
                               reply_to_message=tg.sent[prompt["_message_id"]]))
        expected = replies.COMMUNITY_ANSWER.format(question=RICE, answer=answer)
        to_tg = await wait(tg, lambda c: tg.messages_to(citizen)[3:])
        assert to_tg[0]["_shown"] == expected
        await wait(zalo, lambda c: zalo.messages_to(zalo_citizen)[3:])
        assert zalo.messages_to(zalo_citizen)[3] == expected
        assert zalo.messages_to(stranger) == [replies.UNANSWERED]  # the provincial group is still open


async def test_greeting_offers_the_commune_and_ambiguous_names_get_buttons(env, apis):
    tg, _ = apis
    citizen = new_chat_id()
    async with running(env):
        tg.push(tg.text_update(citizen, "/start"))
        [greeting] = await wait(tg, lambda c: tg.messages_to(citizen))
        assert replies.COMMUNE_OFFER in greeting["_shown"]
        [offer] = [data for text, data in tg.buttons(greeting) if text == replies.COMMUNE_OFFER_BUTTON]
        tg.push(tg.callback_update(citizen, offer, greeting["_message_id"], user_id=citizen))
        await wait(tg, lambda c: tg.messages_to(citizen)[1:])
        assert tg.messages_to(citizen)[1]["_shown"] == replies.COMMUNE_ASK
        tg.push(tg.text_update(citizen, "muong te"))
        [choices] = await wait(tg, lambda c: tg.messages_to(citizen)[2:])
        assert choices["_shown"] == replies.COMMUNE_CHOICES
        buttons = tg.buttons(choices)
        assert [text for text, _ in buttons] == ["xã Mường Tè", "xã Bum Tở (gồm thị trấn Mường Tè cũ)"]
        tg.push(tg.callback_update(citizen, buttons[1][1], choices["_message_id"], user_id=citizen))
        await wait(tg, lambda c: tg.messages_to(citizen)[3:])
        assert tg.messages_to(citizen)[3]["_shown"] == replies.COMMUNE_SET.format(label="xã Bum Tở")
        assert env.assistant.commune_of("telegram", str(citizen)).name == "Bum Tở"
