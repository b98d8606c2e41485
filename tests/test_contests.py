"""Quiz contests (issue 17): contests.yaml (file:line errors), rounds recorded once a day per
citizen (also with several replicas on PostgreSQL), commune leaderboards, `trolyso quiz results`."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from bot.contests import ContestBook, ContestRecorder, ContestResults, leaderboard, results
from bot.quiz import Quiz, QuizBank
from bot.replies import citizens as replies
from bot.storage import make_engine, migrate
from indexer.quiz import contests_path, load_contests
from tests.conftest import cli_in_process

CONTESTS = """\
version: 1
contests:
  - id: cds-2027
    title: "Công dân số thông minh 2027"
    start: 2027-01-04
    end: 2027-01-17
    topics: [luadao, vneid]
"""

QUESTION = """\
  - id: q{n}
    topic: {topic}
    difficulty: 1
    question: "Câu hỏi thử số {n}?"
    options: ["Đáp án A{n}", "Đáp án B{n}", "Đáp án C{n}"]
    answer: 1
    explanation: "Giải thích câu {n}."
    source: "Nguồn thử"
"""


def results_store(url: str) -> ContestResults:
    engine = make_engine(url)
    migrate(engine)
    return ContestResults(sessionmaker(engine, expire_on_commit=False))


# -- contests.yaml ---------------------------------------------------------------------------------

def test_a_valid_file(tmp_path):
    path = tmp_path / "contests.yaml"
    path.write_text(CONTESTS, "utf-8")
    loaded = load_contests(path)
    assert loaded.errors == []
    [contest] = loaded.contests
    assert (contest.id, contest.start, contest.end, contest.topics) == (
        "cds-2027", dt.date(2027, 1, 4), dt.date(2027, 1, 17), ("luadao", "vneid"))
    assert contest.weeks() == [(dt.date(2027, 1, 4), dt.date(2027, 1, 10)), (dt.date(2027, 1, 11), dt.date(2027, 1, 17))]
    assert contests_path(tmp_path / "quiz.yaml") == path
    assert load_contests(tmp_path / "missing.yaml").contests == []


@pytest.mark.parametrize(("edit", "line", "message"), [
    (("end: 2027-01-17", "end: 2027-01-01"), 6, "is before `start`"),
    (("start: 2027-01-04", "start: 4/1/2027"), 5, "must be a date"),
    (("[luadao, vneid]", "[luadao, bongda]"), 7, "unknown topic 'bongda'"),
    (("    topics:", "    topic: x\n    topics:"), 7, "unknown key `topic`"),
    (("    title: \"Công dân số thông minh 2027\"\n", ""), 3, "missing required field `title`"),
    (("id: cds-2027", "id: CDS 2027"), 3, "must use only a-z"),
])
def test_errors_point_at_the_line(tmp_path, edit, line, message):
    path = tmp_path / "contests.yaml"
    path.write_text(CONTESTS.replace(*edit), "utf-8")
    errors = [str(e) for e in load_contests(path).errors]
    assert any(e.startswith(f"{path}:{line}: error:") and message in e for e in errors), errors


def test_duplicate_ids_and_an_invalid_edit_keeps_the_running_contests(tmp_path, caplog):
    path = tmp_path / "contests.yaml"
    path.write_text(CONTESTS + CONTESTS.split("contests:\n", 1)[1], "utf-8")
    assert "duplicate id 'cds-2027' (first at line 3)" in str(load_contests(path).errors[0])
    path.write_text(CONTESTS, "utf-8")
    book = ContestBook(path, clock=lambda: dt.datetime(2027, 1, 4, 1, 0))
    assert book.running() is not None and book.running("vneid") is not None and book.running("thuebao") is None
    path.write_text(CONTESTS.replace("end: 2027-01-17", "end: 2027-13-01") + "\n", "utf-8")
    assert [c.id for c in book.contests()] == ["cds-2027"]
    assert f"{path}:6:" in caplog.text


def test_the_local_day_decides(tmp_path):
    path = tmp_path / "contests.yaml"
    path.write_text(CONTESTS, "utf-8")
    # 2027-01-03 17:30 UTC is 2027-01-04 00:30 in Vietnam: the contest has begun
    assert ContestBook(path, clock=lambda: dt.datetime(2027, 1, 3, 17, 30)).running() is not None
    assert ContestBook(path, clock=lambda: dt.datetime(2027, 1, 3, 16, 30)).running() is None


# -- leaderboards ----------------------------------------------------------------------------------

def test_leaderboard_from_known_answers():
    week1 = dt.date(2027, 1, 5)
    rows = []
    # commune A: 5 citizens scoring 5, 4, 4, 3, 4 -> average 4.0, 80 %
    rows += [(f"a{n}", "A", week1, s, 5) for n, s in enumerate([5, 4, 4, 3, 4])]
    # commune B: 6 citizens, all 5 -> 100 %; one of them also plays in week 2
    rows += [(f"b{n}", "B", week1, 5, 5) for n in range(6)] + [("b0", "B", dt.date(2027, 1, 12), 1, 5)]
    # commune C: only 4 citizens (not ranked); two citizens without a commune
    rows += [(f"c{n}", "C", week1, 5, 5) for n in range(4)] + [("x1", None, week1, 5, 5), ("x2", None, week1, 2, 5)]

    board = leaderboard(rows, dt.date(2027, 1, 4), dt.date(2027, 1, 10))
    assert [(s.commune_code, s.participants, s.rounds, s.average, s.percent) for s in board.ranked] == [
        ("B", 6, 6, 5.0, 100.0), ("A", 5, 5, 4.0, 80.0)]
    assert (board.hidden, board.without_commune) == (1, 2)
    whole = leaderboard(rows, dt.date(2027, 1, 4), dt.date(2027, 1, 17))
    b = whole.ranked[0] if whole.ranked[0].commune_code == "B" else whole.ranked[1]
    assert (b.participants, b.rounds, round(b.average, 3)) == (6, 7, round(31 / 7, 3))
    week2 = leaderboard(rows, dt.date(2027, 1, 11), dt.date(2027, 1, 17))
    assert week2.ranked == [] and week2.hidden == 1


# -- recording: once a day, offers never, several replicas -------------------------------------------

@pytest.fixture
def bank(tmp_path) -> Path:
    path = tmp_path / "quiz.yaml"
    items = [QUESTION.format(n=n, topic=["luadao", "vneid", "thuebao"][n % 3]) for n in range(12)]
    path.write_text("version: 1\nquestions:\n" + "".join(items), "utf-8")
    contests_path(path).write_text(CONTESTS, "utf-8")
    return path


def contest_quiz(bank: Path, store: ContestResults, now: list[dt.datetime],
                 communes: dict[str, str] | None = None) -> Quiz:
    book = ContestBook(contests_path(bank), clock=lambda: now[0])
    recorder = ContestRecorder(book, store, lambda channel, key: (communes or {}).get(key))
    return Quiz(QuizBank(bank), lambda faq_id: None, random.Random(1), contests=book, recorder=recorder)


def play(quiz: Quiz, step, right: int) -> object:
    """Answer every question, the first `right` ones right (answer 1 shown at its position)."""
    n = 0
    while step.state is not None:
        order = step.state["orders"][step.index]
        pick = order.index(0) + 1 if n < right else order.index(1) + 1
        step = quiz.answer(step.state, step.index, pick)
        n += 1
    return step


def test_the_first_full_round_of_a_day_counts(tmp_path, bank):
    store = results_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    now = [dt.datetime(2027, 1, 5, 3, 0)]
    quiz = contest_quiz(bank, store, now, {"u1": "A"})
    step = quiz.start()
    assert step.state["contest"] == "cds-2027"
    assert replies.QUIZ_CONTEST_ROUND.format(title="Công dân số thông minh 2027") in step.text
    assert all(quiz.bank.get(q).topic in ("luadao", "vneid") for q in step.state["ids"])  # the contest's topics
    done = play(quiz, step, right=4)
    assert quiz.record("zalo", "u1", done) == replies.QUIZ_CONTEST_COUNTED.format(title="Công dân số thông minh 2027")
    again = play(quiz, quiz.start(), right=5)
    assert quiz.record("zalo", "u1", again) == replies.QUIZ_CONTEST_ALREADY.format(title="Công dân số thông minh 2027")
    # the offer after an FAQ answer never counts; a topic outside the contest neither
    assert quiz.record("zalo", "u2", play(quiz, quiz.start_offer("luadao"), 3)) is None
    assert quiz.record("zalo", "u2", play(quiz, quiz.start("thuebao"), 3)) is None
    # no commune told: recorded, but for no commune
    assert quiz.record("zalo", "u3", play(quiz, quiz.start(), 1)) == replies.QUIZ_CONTEST_NO_COMMUNE.format(
        title="Công dân số thông minh 2027")
    now[0] += dt.timedelta(days=1)
    assert quiz.record("zalo", "u1", play(quiz, quiz.start(), 2)).startswith("Lượt này đã được tính")
    assert sorted((r[0], r[1], r[3]) for r in store.rows("cds-2027")) == [("u1", "A", 2), ("u1", "A", 4),
                                                                            ("u3", None, 1)]
    now[0] = dt.datetime(2027, 2, 1)  # after the contest: plain rounds
    assert "contest" not in quiz.start().state


def test_two_replicas_record_one_round_a_day(pg_schema_url):
    """Ten threads on two engines (two replicas) record the same citizen's day at once: one row."""
    replicas = [results_store(pg_schema_url), results_store(pg_schema_url)]
    day = dt.date(2027, 1, 5)
    outcomes: list[bool] = []
    barrier = threading.Barrier(10)

    def record(n: int) -> None:
        barrier.wait()
        outcomes.append(replicas[n % 2].record("cds-2027", "u1", "telegram", "A", day, n % 6, 5))

    threads = [threading.Thread(target=record, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == [False] * 9 + [True]
    assert len(replicas[0].rows("cds-2027")) == 1


# -- trolyso quiz results ----------------------------------------------------------------------------

def test_results_cli(tmp_path, monkeypatch, capsys, bank):
    db = tmp_path / "var" / "trolyso.db"
    db.parent.mkdir()
    store = results_store(f"sqlite:///{db}")
    for n in range(5):
        store.record("cds-2027", f"a{n}", "zalo", "A", dt.date(2027, 1, 5), 4, 5)
    for n in range(2):
        store.record("cds-2027", f"b{n}", "telegram", "B", dt.date(2027, 1, 12), 5, 5)
    env = {"TROLYSO_QUIZ": str(bank), "TROLYSO_COMMUNES": str(tmp_path / "none.yaml")}
    code, out, _ = cli_in_process(monkeypatch, capsys, tmp_path, ["quiz", "results", "cds-2027", "--json"], **env)
    assert code == 0
    data = json.loads(out)
    assert (data["participants"], data["rounds"]) == (7, 7)
    assert data["overall"]["communes"] == [{"commune": "A", "name": None, "participants": 5, "rounds": 5,
                                            "average": 4.0, "percent": 80.0}]
    assert data["overall"]["hidden_communes"] == 1
    assert [len(w["communes"]) for w in data["weeks"]] == [1, 0]
    code, out, _ = cli_in_process(monkeypatch, capsys, tmp_path, ["quiz", "results", "cds-2027"], **env)
    assert code == 0 and "1. A: 5 participant(s), 5 round(s), average 4.00, 80.0% right" in out
    code, _, err = cli_in_process(monkeypatch, capsys, tmp_path, ["quiz", "results", "nope"], **env)
    assert code == 1 and "unknown contest 'nope'" in err
    contests_path(bank).write_text(CONTESTS.replace("[luadao, vneid]", "[bongda]"), "utf-8")
    code, out, _ = cli_in_process(monkeypatch, capsys, tmp_path, ["quiz", "check", str(bank)], **env)
    assert code == 1 and f"{contests_path(bank)}:7: error: unknown topic 'bongda'" in out


def test_results_json_shape():
    from indexer.quiz import Contest

    contest = Contest("c", "T", dt.date(2027, 1, 1), dt.date(2027, 1, 3), ("luadao",))
    data = results(contest, [], lambda code: None)
    assert data["weeks"] == [dict(data["overall"], week=1)] and data["overall"]["communes"] == []


def test_erasing_my_data_deletes_my_rounds(tmp_path):
    from bot.subscriptions import Subscriptions

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    store = ContestResults(sessions)
    store.record("cds-2027", "k1", "zalo", "A", dt.date(2027, 1, 5), 3, 5)
    store.record("cds-2027", "k2", "zalo", "A", dt.date(2027, 1, 5), 3, 5)
    assert Subscriptions(sessions).erase("zalo", "k1")["quiz_results"] == 1
    assert [r[0] for r in store.rows("cds-2027")] == ["k2"]


def test_dulieu_mentions_my_contest_rounds(assistant):
    store = ContestResults(assistant.store.sessions, assistant.store.ensure_schema)
    before = assistant.my_data("zalo", "42")
    assert replies.MY_DATA_QUIZ.split("{")[0] not in before  # nothing played: no line
    key = assistant.user_key("zalo", "42")
    store.record("cds-2027", key, "zalo", "A", dt.date(2027, 1, 5), 3, 5)
    store.record("cds-2027", key, "zalo", "A", dt.date(2027, 1, 6), 4, 5)
    store.record("cds-2027", key, "telegram", "A", dt.date(2027, 1, 7), 4, 5)  # not this channel's key
    shown = assistant.my_data("zalo", "42").splitlines()
    assert shown[-2:] == [replies.MY_DATA_QUIZ.format(rounds=2), before.splitlines()[-1]]
    assert assistant.subscriptions.report("zalo", key).quiz_rounds == 2
