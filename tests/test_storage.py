
from sqlalchemy import func, inspect, select

from bot.models import QuestionLog, ReviewItem
from bot.storage import QuestionRecord, ReviewRequest, Store


def record(text="câu hỏi", kind="unanswered"):
    return QuestionRecord(channel="telegram", user_hash="h", text=text, normalized=text, kind=kind,
                          faq_id=None, score=0.1, candidates=(("x", 0.1),))


def review(text="câu hỏi"):
    return ReviewRequest(reason="unanswered", channel="telegram", chat_id="42", text=text)


def exercise(store: Store) -> None:
    qid = store.log_question(record(), review())
    assert qid is not None
    with store.session() as s:
        assert s.get(QuestionLog, qid).candidates[0]["id"] == "x"
        item = s.scalars(select(ReviewItem)).one()
        assert item.question_id == qid and item.status == "pending" and item.chat_id == "42"
    store.set_feedback(qid, False)
    assert store.question(qid).helpful is False
    assert store.claim_update("zalo", "m1") is True
    assert store.claim_update("zalo", "m1") is False
    assert store.claim_update("telegram", "m1") is True


def test_sqlite_store(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/t.db", tmp_path / "spool.jsonl")
    exercise(store)
    assert {"questions", "review_items", "review_groups", "processed_updates", "alembic_version"} <= set(
        inspect(store.engine).get_table_names())


def test_postgres_store(pg_schema_url, tmp_path):
    store = Store(pg_schema_url, tmp_path / "spool.jsonl")
    exercise(store)
    store.close()


def test_database_down_spools_and_recovers(tmp_path):
    db = tmp_path / "sub" / "t.db"
    store = Store(f"sqlite:///{db}", tmp_path / "spool.jsonl")
    # make the database unwritable: replace the file by a directory
    store.engine.dispose()
    db.unlink()
    for suffix in ("-wal", "-shm"):
        (tmp_path / "sub" / f"t.db{suffix}").unlink(missing_ok=True)
    db.mkdir()
    assert store.log_question(record("một"), review("một")) is None
    assert store.log_question(record("hai")) is None
    assert store.spooled() == 2
    # the database is back
    db.rmdir()
    store.engine.dispose()
    store._migrated = False
    qid = store.log_question(record("ba"))
    assert qid is not None
    assert store.spooled() == 0
    with store.session() as s:
        assert sorted(s.scalars(select(QuestionLog.text))) == ["ba", "hai", "một"]
        assert s.scalar(select(func.count()).select_from(ReviewItem)) == 1
    # flushing again writes nothing twice
    assert store.flush_spool() == 0
