"""The core pipeline end to end: real model, real index, real SQLite."""

from __future__ import annotations

import unicodedata

import pytest
from sqlalchemy import select

from bot.config import Thresholds
from bot.models import QuestionLog, ReviewItem
from bot.types import Message


def rows(assistant, model):
    with assistant.store.session() as s:
        return list(s.scalars(select(model)))


def test_faq_answer_is_logged_with_hashed_user(assistant):
    r = assistant.handle(Message("quen mk vneid thi lam sao", channel="telegram", user_id="12345", chat_id="12345"))
    assert r.kind == "faq" and r.faq_id == "vneid-quen-mat-khau"
    assert r.source == "Hướng dẫn của Bộ Công an" and 0 < r.score <= 1 and r.log_id
    (q,) = rows(assistant, QuestionLog)
    assert q.kind == "faq" and q.faq_id == "vneid-quen-mat-khau" and q.channel == "telegram"
    assert q.user_hash and "12345" not in q.user_hash
    assert q.candidates and q.candidates[0]["id"] == "vneid-quen-mat-khau"
    assert rows(assistant, ReviewItem) == []


def test_knowledge_answer_cites_heading(assistant):
    r = assistant.handle(Message("Đến năm 2030 kinh tế số phải chiếm bao nhiêu phần trăm GDP?"))
    assert r.kind == "knowledge" and r.faq_id is None
    assert "30% GDP" in r.answer and r.answer.startswith("Theo Nghị quyết 57-NQ/TW")
    assert r.source.endswith("› Mục tiêu đến năm 2030")


def test_out_of_scope_is_unanswered_redacted_and_queued(assistant):
    r = assistant.handle(Message("Giá lúa hôm nay bao nhiêu, gọi tôi 0912 345 678", channel="zalo", user_id="u",
                                 chat_id="chat-9"))
    assert r.kind == "unanswered" and "chưa có câu trả lời" in r.answer
    (q,) = rows(assistant, QuestionLog)
    assert "0912" not in q.text and "[số điện thoại]" in q.text
    (item,) = rows(assistant, ReviewItem)
    assert item.status == "pending" and item.chat_id == "chat-9" and item.channel == "zalo"
    assert "0912" not in item.text


def test_chitchat_is_counted_without_its_text_and_empty_is_not_logged(assistant):
    for text in ("chào bạn", "cảm ơn nhiều nhé", "bạn là ai vậy"):
        reply = assistant.handle(Message(text, channel="zalo", user_id="u1"))
        assert reply.kind == "chitchat" and reply.log_id is None  # nothing to rate
    empty = assistant.handle(Message("   "))
    assert empty.kind == "unanswered" and empty.score == 0
    logged = rows(assistant, QuestionLog)
    assert [(q.kind, q.channel, q.text, q.normalized) for q in logged] == [("chitchat", "zalo", "", "")] * 3
    assert all(q.user_hash and q.user_hash != "u1" for q in logged)


def test_clarify_offers_suggestions_and_rejection_queues(assistant):
    assistant.settings.thresholds = Thresholds(answer=1.01, clarify=0.5, knowledge=1.01)
    r = assistant.handle(Message("mật khẩu", chat_id="7", channel="telegram"))
    assert r.kind == "clarify" and 1 <= len(r.suggestions) <= 3
    assert all(s.faq_id and s.question for s in r.suggestions)
    assert r.answer.startswith("Tôi chưa chắc đã hiểu đúng")
    picked = assistant.answer_faq(r.suggestions[0].faq_id, Message("1", chat_id="7", channel="telegram"))
    assert picked.kind == "faq" and picked.faq_id == r.suggestions[0].faq_id and picked.log_id
    rejected = assistant.reject_suggestions(r.log_id, Message("0", chat_id="7", channel="telegram"))
    assert rejected.kind == "unanswered"
    (item,) = rows(assistant, ReviewItem)
    assert item.reason == "rejected" and item.text == "mật khẩu"


def test_thumbs_down_queues_for_review(assistant):
    r = assistant.handle(Message("quen mk vneid thi lam sao", chat_id="5", channel="telegram"))
    assistant.feedback(r.log_id, False, Message("", chat_id="5", channel="telegram"))
    (q,) = rows(assistant, QuestionLog)
    assert q.helpful is False
    (item,) = rows(assistant, ReviewItem)
    assert item.reason == "thumbs_down" and item.text == "quen mk vneid thi lam sao"


@pytest.mark.parametrize("text", [
    "", " \t\n ", "a" * 100_000, "😀🙏👍", "\x00\x01\x02\x1b[31m", "\u200b\u200c\u200d\ufeff",
    "VNeID مرحبا 你好 привет quên mật khẩu", unicodedata.normalize("NFD", "Quên mật khẩu VNeID thì làm sao?"),
    "<b>quên</b> & mật khẩu *vneid* _x_ `y`", "'; DROP TABLE questions; --", "\ud800"[:0] + "\u202equên",
])
def test_bad_input_never_raises(assistant, text):
    r = assistant.handle(Message(text))
    assert r.kind in ("faq", "knowledge", "clarify", "chitchat", "unanswered")
    assert len(r.question) <= 2000 and r.answer


def test_nfd_question_gets_the_nfc_answer(assistant):
    nfd = unicodedata.normalize("NFD", "Quên mật khẩu VNeID thì làm sao?")
    r = assistant.handle(Message(nfd))
    assert r.faq_id == "vneid-quen-mat-khau"
    assert r.question == unicodedata.normalize("NFC", nfd)


def test_swap_index_is_atomic_for_callers(assistant, small_index_dir, embedder):
    from bot.assistant import retrieval_params
    from bot.retrieval import Index

    old = assistant.index
    assistant.swap_index(Index.open(small_index_dir, embedder, retrieval_params(assistant.settings)))
    assert assistant.index is not old
    assert assistant.handle(Message("quen mk vneid thi lam sao")).faq_id == "vneid-quen-mat-khau"


def test_index_built_with_another_model_is_refused(small_index_dir, embedder):
    import json

    from bot.retrieval import Index, IndexError_

    class Other:
        name, fingerprint = "intfloat/multilingual-e5-base", "f" * 64

    with pytest.raises(IndexError_, match="rebuild it with `trolyso index`"):
        Index.open(small_index_dir, Other())
    manifest = json.loads((small_index_dir / "current" / "manifest.json").read_text())
    assert manifest["model"] == embedder.name and manifest["fingerprint"] == embedder.fingerprint


def test_reindex_after_one_edit_embeds_only_that_entry(tmp_path, embedder):
    from indexer.build import build_index
    from tests.conftest import DATA

    faq = tmp_path / "faq.yaml"
    faq.write_text((DATA / "faq.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    first = build_index(faq, DATA / "knowledge", tmp_path / "idx", embedder, progress=False)
    assert first.embedded == first.vectors
    faq.write_text(faq.read_text(encoding="utf-8").replace(
        "Phong trào Bình dân học vụ số là gì?", "Phong trào Bình dân học vụ số có ý nghĩa gì?"), encoding="utf-8")
    second = build_index(faq, DATA / "knowledge", tmp_path / "idx", embedder, progress=False)
    assert 1 <= second.embedded <= 2  # the edited question, accented and folded
    assert (tmp_path / "idx" / "current").resolve() == second.path


def test_one_plausible_entry_is_a_confirmation_question(assistant):
    from bot.decide import Decided
    from bot.types import Candidate

    target = next(t for t in assistant.index.targets if t.kind == "faq")
    only = Candidate(target.id, "faq", confidence=0.8, rank_score=1.0)
    reply = assistant._reply("câu hỏi", Decided("clarify", only, (only,)), assistant.index)
    assert reply.kind == "clarify" and [s.faq_id for s in reply.suggestions] == [target.id]
    assert reply.answer == f"Có phải bạn hỏi: «{target.question}»?"
    assert reply.to_json()["suggestions"] == [{"faq_id": target.id, "question": target.question}]


def test_an_faq_answer_names_the_question_it_answers(assistant):
    target = next(t for t in assistant.index.targets if t.kind == "faq")
    reply = assistant.handle(Message(target.question, channel="cli", user_id="u"))
    assert reply.kind == "faq" and reply.matched == target.question
