"""The quiz bank: format, file:line errors, `trolyso quiz check`, and the shipped quiz.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from indexer.faq import load_faq
from indexer.quiz import load_quiz, sentences

ROOT = Path(__file__).resolve().parents[1]

GOOD = """\
version: 1
questions:
  - id: q-one
    topic: luadao
    difficulty: 1
    question: "Mã OTP đọc cho ai?"
    options: ["Công an", "Không ai cả", "Ngân hàng"]
    answer: 2
    explanation: "Không đọc OTP cho ai."
    source: "Bộ Công an"
    faq_id: luadao-ma-otp
"""


def test_the_shipped_bank_is_valid_and_large_enough():
    faq_ids = {e.id for e in load_faq(ROOT / "faq.yaml").entries}
    quiz = load_quiz(ROOT / "quiz.yaml", faq_ids)
    assert quiz.errors == []
    assert len(quiz.questions) >= 80
    assert len(quiz.topics()) >= 8
    for topic in ("luadao", "vneid", "dichvucong", "thanhtoan", "dulieu", "thuebao", "nq57", "bdhvs"):
        assert quiz.topics().get(topic, 0) >= 3, topic
    for q in quiz.questions:
        assert q.source and 1 <= sentences(q.explanation) <= 3, q.id


def test_a_good_question_loads(tmp_path):
    path = tmp_path / "quiz.yaml"
    path.write_text(GOOD, "utf-8")
    quiz = load_quiz(path, {"luadao-ma-otp"})
    assert quiz.errors == []
    (q,) = quiz.questions
    assert (q.id, q.answer, q.right_option, q.faq_id, q.line) == ("q-one", 2, "Không ai cả", "luadao-ma-otp", 3)


@pytest.mark.parametrize(("edit", "line", "message"), [
    (("topic: luadao", "topic: lua-dao"), 4, "unknown topic 'lua-dao'"),
    (("difficulty: 1", "difficulty: 5"), 5, "`difficulty` must be 1, 2 or 3"),
    (("answer: 2", "answer: 4"), 8, "`answer` must be the number of the right option (1-3)"),
    (('["Công an", "Không ai cả", "Ngân hàng"]', '["Công an", "Không ai cả"]'), 7, "needs 3-4 options, got 2"),
    (('"Ngân hàng"]', '"công an"]'), 7, "is the same as option 1"),
    (("    source: \"Bộ Công an\"\n", ""), 3, "missing required field `source`"),
    (("faq_id: luadao-ma-otp", "faq_id: khong-co"), 11, "faq_id 'khong-co' is not an entry of the FAQ"),
    (("explanation: \"Không đọc OTP cho ai.\"", "explanation: \"Một. Hai. Ba. Bốn.\""), 9, "has 4 sentences"),
    (("    source:", "    sourse: x\n    source:"), 10, "unknown key `sourse`"),
    (("id: q-one", "id: Q One"), 3, "must use only a-z"),
])
def test_errors_point_at_the_line(tmp_path, edit, line, message):
    path = tmp_path / "quiz.yaml"
    path.write_text(GOOD.replace(*edit), "utf-8")
    errors = [str(e) for e in load_quiz(path, {"luadao-ma-otp"}).errors]
    assert any(e.startswith(f"{path}:{line}: error:") and message in e for e in errors), errors


def test_duplicates_and_bad_yaml(tmp_path):
    path = tmp_path / "quiz.yaml"
    second = GOOD.split("questions:\n", 1)[1].replace("q-one", "q-two")
    path.write_text(GOOD + second.replace("q-two", "q-one", 1), "utf-8")
    assert any("duplicate id 'q-one' (first at line 3)" in str(e) for e in load_quiz(path).errors)
    path.write_text("version: 1\nquestions:\n  - id: [\n", "utf-8")
    assert str(load_quiz(path).errors[0]).startswith(f"{path}:")


def test_quiz_check_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert main(["quiz", "check", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["questions"] >= 80 and out["errors"] == [] and sum(out["topics"].values()) == out["questions"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("answer: 2", "answer: 7"), "utf-8")
    assert main(["quiz", "check", str(bad)]) == 1
    assert f"{bad}:8: error: `answer` must be" in capsys.readouterr().out
    assert main(["quiz", "check", str(bad), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["questions"] == 0 and out["errors"][0].startswith(f"{bad}:8:")
