"""Quiz rounds end to end (issue 17): Telegram buttons and Zalo numbers against the fake provider
APIs and the real Assistant; the round lives in the state store (slot "prompt")."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.quiz import Quiz, QuizBank, topic_of
from bot.replies import citizens as replies
from bot.state import MemoryStateStore
from tests.channels.helpers import new_chat_id, telegram_channel, zalo_channel
from tests.channels.test_channel_telegram import ask, tap
from tests.channels.test_channel_zalo import say
from tests.fakes.zalo_api import FakeZaloAPI

QUESTION = """\
  - id: q{n}
    topic: {topic}
    difficulty: 1
    question: "Câu hỏi thử số {n}?"
    options: ["Đáp án A{n}", "Đáp án B{n}", "Đáp án C{n}"]
    answer: {answer}
    explanation: "Giải thích câu {n}."
    source: "Nguồn thử"
    faq_id: {faq_id}
"""


@pytest.fixture
def quiz(tmp_path: Path, faq_questions) -> Quiz:
    """Six luadao questions and one on vneid, each pointing at an FAQ entry of the test index."""
    path = tmp_path / "quiz.yaml"
    items = [QUESTION.format(n=n, topic="luadao" if n < 6 else "vneid", answer=n % 3 + 1,
                             faq_id=faq_questions[n % len(faq_questions)].faq_id) for n in range(7)]
    path.write_text("version: 1\nquestions:\n" + "".join(items), "utf-8")
    titles = {s.faq_id: s.question for s in faq_questions}
    return Quiz(QuizBank(path), titles.get, random.Random(7))


def right(quiz: Quiz, shown: str) -> str:
    """The right option's text for the question shown last in `shown`."""
    n = shown.rsplit("Câu hỏi thử số ", 1)[1].split("?")[0]
    question = quiz.bank.get(f"q{n}")
    assert question is not None
    return question.right_option


def test_topic_of_the_command():
    assert topic_of("/quiz luadao") == "luadao"
    assert topic_of("/quiz lừa đảo trên mạng") == "luadao"
    assert topic_of("/quiz@TroLySoBot to-cnscd") == "to-cnscd"
    assert topic_of("/quiz") is None and topic_of("thi") is None and topic_of("/quiz abc") is None


async def test_telegram_round_with_buttons(telegram_api, spy, quiz):
    api, chat = telegram_api, new_chat_id()
    channel = telegram_channel(spy, api, quiz=quiz)
    await channel.start()
    try:
        [first] = await ask(api, chat, api.text_update(chat, "/quiz luadao"))
        assert first["_shown"].startswith(replies.QUIZ_INTRO_TOPIC.format(topic="Lừa đảo trên mạng", n=5))
        assert "Câu 1/5: Câu hỏi thử số " in first["_shown"]
        sent, old = first, None
        for i in range(5):
            buttons = api.buttons(sent)
            assert [d for _, d in buttons] == [f"z:{i}:{k}" for k in (1, 2, 3)]
            good = right(quiz, sent["_shown"])
            pick = next(d for label, d in buttons if (label.endswith(good)) == (i < 3))  # 3 right, 2 wrong
            [answered] = await tap(api, chat, sent, pick)
            if i < 3:
                assert answered["_shown"].startswith(replies.QUIZ_RIGHT + "\n")
            else:
                assert answered["_shown"].startswith(replies.QUIZ_WRONG.format(option=good) + "\n")
            assert "Giải thích câu" in answered["_shown"]
            old, sent = sent, answered
        assert replies.QUIZ_SCORE.format(score=3, n=5) in sent["_shown"]
        assert replies.QUIZ_READ_MORE in sent["_shown"] and replies.QUIZ_AGAIN in sent["_shown"]
        links = api.buttons(sent)
        assert links and all(d.startswith("q:") for _, d in links)
        [faq] = await tap(api, chat, sent, links[0][1])
        assert spy.calls_of("answer_faq")[0][0][0] == links[0][1][2:]
        assert faq["_shown"]
        # a button of an answered question, once the round is over: told politely
        assert old is not None
        [late] = await ask(api, chat, api.callback_update(chat, "z:4:1", old["_message_id"]))
        assert late["_shown"] == replies.QUIZ_EXPIRED
        # "thi" as a whole message starts a round too; a typed number answers it
        [again] = await ask(api, chat, api.text_update(chat, "Thi ạ"))
        assert "Câu 1/5:" in again["_shown"]
        [typed] = await ask(api, chat, api.text_update(chat, "2"))
        assert typed["_shown"].startswith((replies.QUIZ_RIGHT, "❌")) and "Câu 2/5:" in typed["_shown"]
    finally:
        await channel.stop()


async def test_zalo_round_by_numbers_survives_a_restart(zalo_api, spy, quiz):
    api, chat = zalo_api, f"zalo{new_chat_id():x}"
    state = MemoryStateStore()
    channel = zalo_channel(spy, api, quiz=quiz, state=state)
    await channel.start()
    try:
        [first] = await say(api, chat, "đố vui")
        assert first.startswith(replies.QUIZ_INTRO.format(n=5)) and "Câu 1/5:" in first
        assert first.endswith(replies.QUIZ_ZALO_FOOTER.format(n=3))
        [out_of_range] = await say(api, chat, "7")
        assert out_of_range == replies.ZALO_OUT_OF_RANGE.format(low=1, high=3)
        options = [line[3:] for line in first.splitlines() if line[:3] in ("1. ", "2. ", "3. ")]
        [answered] = await say(api, chat, str(options.index(right(quiz, first)) + 1))
        assert answered.startswith(replies.QUIZ_RIGHT) and "Câu 2/5:" in answered
    finally:
        await channel.stop()

    # a restart (a fresh fake API too: the stopped poller's pending getUpdates would take the
    # next update): the round goes on from the state store
    with FakeZaloAPI() as api:
        await _finish_round(api, chat, spy, quiz, state, answered)


async def _finish_round(api, chat, spy, quiz, state, answered):
    channel = zalo_channel(spy, api, quiz=quiz, state=state)
    await channel.start()
    try:
        shown = answered
        for i in range(2, 6):
            options = [line[3:] for line in shown.splitlines() if line[:3] in ("1. ", "2. ", "3. ")]
            good = options.index(right(quiz, shown)) + 1
            [shown] = await say(api, chat, str(good if i % 2 else good % 3 + 1))
        assert replies.QUIZ_SCORE.format(score=3, n=5) in shown
        assert replies.QUIZ_READ_MORE in shown and shown.endswith(replies.QUIZ_ZALO_READ_MORE_FOOTER)
        await say(api, chat, "1")  # the first FAQ entry to read
        assert spy.calls_of("answer_faq")
        assert state.get("zalo", spy.user_key("zalo", chat), "prompt")["quiz"] is None
    finally:
        await channel.stop()


async def test_a_topic_without_questions_and_no_bank(zalo_api, spy, quiz):
    api, chat = zalo_api, f"zalo{new_chat_id():x}"
    channel = zalo_channel(spy, api, quiz=quiz)
    await channel.start()
    try:
        [none] = await say(api, chat, "/quiz suckhoe")
        assert none == replies.QUIZ_NONE
    finally:
        await channel.stop()
    with FakeZaloAPI() as api:
        channel = zalo_channel(spy, api)  # no quiz wired
        await channel.start()
        try:
            [off] = await say(api, chat, "thi")
            assert off == replies.QUIZ_OFF
        finally:
            await channel.stop()


def test_an_invalid_edit_keeps_the_running_bank(quiz, caplog):
    path = quiz.bank.path
    before = len(quiz.bank.questions())
    path.write_text(path.read_text("utf-8").replace("answer: 1", "answer: 9", 1) + "\n", "utf-8")
    assert len(quiz.bank.questions()) == before
    assert f"{path}:" in caplog.text and "`answer` must be" in caplog.text


# -- the offer after an FAQ answer ("Thử 3 câu đố về chủ đề này?") ------------------------------

@pytest.fixture
def offered(tmp_path: Path, faq_questions, spy):
    """A bank whose questions are on the topic of the first FAQ question; the quiz knows each
    entry's topic (as `bot.server.build_quiz` does from the index)."""
    topics = {t.id: t.category for t in spy.index.targets if t.kind == "faq"}
    first = faq_questions[0]
    topic = topics[first.faq_id]
    path = tmp_path / "quiz.yaml"
    items = [QUESTION.format(n=n, topic=topic, answer=n % 3 + 1, faq_id=first.faq_id) for n in range(4)]
    path.write_text("version: 1\nquestions:\n" + "".join(items), "utf-8")
    titles = {s.faq_id: s.question for s in faq_questions}
    quiz = Quiz(QuizBank(path), titles.get, random.Random(3), faq_topic=topics.get)
    other = next(q for q in faq_questions if topics[q.faq_id] != topic)
    return quiz, first, other


async def test_telegram_offer_once_a_day_starts_a_short_round(telegram_api, spy, offered):
    quiz, first, other = offered
    api, chat = telegram_api, new_chat_id()
    state = MemoryStateStore()
    channel = telegram_channel(spy, api, quiz=quiz, state=state)
    await channel.start()
    try:
        [shown] = await ask(api, chat, api.text_update(chat, other.question))  # a topic without questions
        assert replies.QUIZ_OFFER not in shown["_shown"]
        [answer] = await ask(api, chat, api.text_update(chat, first.question))
        assert spy.reply_to(chat).kind == "faq"
        assert answer["_shown"].endswith("\n" + replies.QUIZ_OFFER)
        buttons = api.buttons(answer)
        assert buttons[-1][0] == replies.QUIZ_OFFER_BUTTON and buttons[-1][1].startswith("o:")
        assert any(d.startswith("f:") for _, d in buttons)  # the feedback buttons stay
        # the same answer again the same day: no second offer
        [again] = await ask(api, chat, api.text_update(chat, first.question))
        assert replies.QUIZ_OFFER not in again["_shown"]
        assert not any(d.startswith("o:") for _, d in api.buttons(again))
        # taking the (earlier) offer: a 3-question round on that topic
        [started] = await tap(api, chat, answer, buttons[-1][1])
        assert "Câu 1/3: Câu hỏi thử số " in started["_shown"]
        round_ = state.get("telegram", spy.user_key("telegram", str(chat)), "prompt")["quiz"]
        assert round_["kind"] == "offer" and len(round_["ids"]) == 3
        sent = started
        for i in range(3):
            [sent] = await tap(api, chat, sent, f"z:{i}:1")
        assert replies.QUIZ_SCORE.format(score=0, n=3)[:15] in sent["_shown"] and "/3 câu" in sent["_shown"]
    finally:
        await channel.stop()


async def test_zalo_offer_is_taken_with_a_word_and_not_repeated(zalo_api, spy, offered):
    quiz, first, _ = offered
    api, chat = zalo_api, f"zalo{new_chat_id():x}"
    state = MemoryStateStore()
    channel = zalo_channel(spy, api, quiz=quiz, state=state)
    await channel.start()
    try:
        [answer] = await say(api, chat, first.question)
        assert answer.endswith(replies.ZALO_FEEDBACK_HINT + "\n" + replies.QUIZ_ZALO_OFFER)
        [thanks] = await say(api, chat, "đúng")  # rating the answer first leaves the offer open
        assert thanks == replies.FEEDBACK_THANKS
        [started] = await say(api, chat, "Thử")
        assert "Câu 1/3:" in started and started.endswith(replies.QUIZ_ZALO_FOOTER.format(n=3))
        [next_] = await say(api, chat, "1")
        assert "Câu 2/3:" in next_
        # later that day the same answer comes without the offer, and "thử" is then a question
        [again] = await say(api, chat, first.question)
        assert replies.QUIZ_ZALO_OFFER not in again
        assert state.get("zalo", spy.user_key("zalo", chat), "quiz_offer") == {"topic": quiz.bank.questions()[0].topic}
    finally:
        await channel.stop()


def test_the_offer_expires_after_a_day(spy, offered):
    import datetime as dt

    from bot.types import Reply

    quiz, first, other = offered
    now = [dt.datetime(2027, 1, 5, 8, 0)]
    state = MemoryStateStore(clock=lambda: now[0])
    faq = Reply(question="q", kind="faq", answer="a", faq_id=first.faq_id, log_id=1)
    assert quiz.offer(state, "zalo", "u1", faq) == quiz.bank.questions()[0].topic
    assert quiz.offer(state, "zalo", "u1", faq) is None  # once a day
    assert quiz.offer(state, "zalo", "u2", faq) is not None  # per citizen
    assert quiz.offer(state, "zalo", "u3", Reply(question="q", kind="knowledge", answer="a")) is None
    assert quiz.offer(state, "zalo", "u3", Reply(question="q", kind="faq", answer="a", faq_id=other.faq_id)) is None
    now[0] += dt.timedelta(hours=24, seconds=1)
    assert quiz.offer(state, "zalo", "u1", faq) is not None


async def test_zalo_contest_round_is_counted_once_a_day(zalo_api, spy, tmp_path):
    """A contest running today: a round played by numbers on Zalo is recorded for the citizen's
    commune; a second full round the same day is told it does not count."""
    import datetime as dt

    from sqlalchemy.orm import sessionmaker

    from bot.contests import ContestBook, ContestRecorder, ContestResults
    from bot.storage import make_engine, migrate

    path = tmp_path / "quiz.yaml"
    path.write_text("version: 1\nquestions:\n" + "".join(
        QUESTION.format(n=n, topic="luadao", answer=1, faq_id="x") for n in range(6)).replace(
        "    faq_id: x\n", ""), "utf-8")
    today = dt.date.today()
    (tmp_path / "contests.yaml").write_text(
        f"version: 1\ncontests:\n  - id: thi-thu\n    title: \"Thi thử\"\n    start: {today - dt.timedelta(days=2)}\n"
        f"    end: {today + dt.timedelta(days=2)}\n    topics: [luadao]\n", "utf-8")
    engine = make_engine(f"sqlite:///{tmp_path / 'contest.db'}")
    migrate(engine)
    store = ContestResults(sessionmaker(engine, expire_on_commit=False))
    book = ContestBook(tmp_path / "contests.yaml")
    quiz = Quiz(QuizBank(path), lambda faq_id: None, random.Random(5), contests=book,
                recorder=ContestRecorder(book, store, lambda channel, key: "A"))
    api, chat = zalo_api, f"zalo{new_chat_id():x}"
    channel = zalo_channel(spy, api, quiz=quiz)
    await channel.start()
    try:
        for expected in (replies.QUIZ_CONTEST_COUNTED, replies.QUIZ_CONTEST_ALREADY):
            [shown] = await say(api, chat, "thi")
            assert replies.QUIZ_CONTEST_ROUND.format(title="Thi thử") in shown
            while replies.QUIZ_ZALO_FOOTER.format(n=3) in shown:
                options = [line[3:] for line in shown.splitlines() if line[:3] in ("1. ", "2. ", "3. ")]
                [shown] = await say(api, chat, str(options.index(right(quiz, shown)) + 1))
            assert replies.QUIZ_SCORE_ALL.format(score=5, n=5) in shown
            assert expected.format(title="Thi thử") in shown
    finally:
        await channel.stop()
    [(user_key, commune, _, score, total)] = store.rows("thi-thu")
    assert (user_key, commune, score, total) == (spy.user_key("zalo", chat), "A", 5, 5)
