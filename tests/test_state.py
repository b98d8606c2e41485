"""The conversation state store: memory and database, restarts, PostgreSQL, races, outages."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from bot.models import ConversationState
from bot.state import MemoryStateStore, SqlStateStore, StateStore
from bot.storage import Store, make_engine

T0 = dt.datetime(2026, 12, 1, 8, 0, 0)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def sqlite_store(tmp_path: Path, clock: Clock, name: str = "t.db") -> tuple[Store, SqlStateStore]:
    store = Store(f"sqlite:///{tmp_path}/{name}", tmp_path / "spool.jsonl")
    return store, SqlStateStore(store.sessions, clock, ensure_schema=store.ensure_schema)


@pytest.fixture(params=["memory", "sqlite"])
def clocked(request, tmp_path) -> tuple[StateStore, Clock]:
    clock = Clock()
    if request.param == "memory":
        return MemoryStateStore(clock), clock
    store, state = sqlite_store(tmp_path, clock)
    request.addfinalizer(store.close)
    return state, clock


def rows(store: Store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(ConversationState)) or 0


def test_round_trip_and_copies(clocked):
    state, _ = clocked
    assert state.get("zalo", "u1", "prompt") is None
    data = {"kind": "clarify", "options": [["faq-1", "Quên mật khẩu VNeID"]], "log_id": 7}
    state.put("zalo", "u1", "prompt", data, ttl=900)
    got = state.get("zalo", "u1", "prompt")
    assert got == data
    got["log_id"] = 8  # the caller's copy: nothing stored changes
    data["log_id"] = 9
    assert state.get("zalo", "u1", "prompt")["log_id"] == 7


def test_expiry_overwrite_clear(clocked):
    state, clock = clocked
    state.put("zalo", "u1", "prompt", {"n": 1}, ttl=60)
    clock.advance(59)
    assert state.get("zalo", "u1", "prompt") == {"n": 1}
    clock.advance(1)
    assert state.get("zalo", "u1", "prompt") is None  # expired at exactly ttl
    state.put("zalo", "u1", "prompt", {"n": 2}, ttl=60)  # over an expired entry
    state.put("zalo", "u1", "prompt", {"n": 3}, ttl=60)  # last writer wins
    assert state.get("zalo", "u1", "prompt") == {"n": 3}
    state.clear("zalo", "u1", "prompt")
    assert state.get("zalo", "u1", "prompt") is None
    state.clear("zalo", "u1", "prompt")  # clearing an empty slot is fine


def test_isolation_between_channels_users_slots(clocked):
    state, _ = clocked
    keys = [("zalo", "u1", "prompt"), ("telegram", "u1", "prompt"), ("zalo", "u2", "prompt"),
            ("zalo", "u1", "greeted")]
    for i, key in enumerate(keys):
        state.put(*key, {"i": i}, ttl=60)
    assert [state.get(*key) for key in keys] == [{"i": i} for i in range(len(keys))]
    state.clear("zalo", "u1", "prompt")
    assert [state.get(*key) for key in keys] == [None, {"i": 1}, {"i": 2}, {"i": 3}]


def test_purge_expired(clocked):
    state, clock = clocked
    state.put("zalo", "u1", "prompt", {}, ttl=10)
    state.put("zalo", "u2", "prompt", {}, ttl=10)
    state.put("zalo", "u3", "greeted", {"yes": True}, ttl=1000)
    assert state.purge_expired() == 0
    clock.advance(10)
    assert state.purge_expired() == 2
    assert state.purge_expired() == 0
    assert state.get("zalo", "u3", "greeted") == {"yes": True}


def test_bad_keys_and_data_are_errors_not_outages(clocked):
    state, _ = clocked
    with pytest.raises(ValueError):
        state.put("zalo", "x" * 65, "prompt", {}, ttl=60)  # a raw id or a bug, never truncated
    with pytest.raises(ValueError):
        state.get("zalo", "u1", "")
    with pytest.raises(TypeError):
        state.put("zalo", "u1", "prompt", {"when": dt.datetime.now()}, ttl=60)  # not JSON


def test_memory_store_is_bounded():
    state = MemoryStateStore(Clock(), max_entries=3)
    for i in range(5):
        state.put("zalo", f"u{i}", "prompt", {"i": i}, ttl=60)
    assert len(state) == 3
    assert state.get("zalo", "u4", "prompt") == {"i": 4} and state.get("zalo", "u0", "prompt") is None


def test_state_survives_a_restart(tmp_path):
    clock = Clock()
    store, state = sqlite_store(tmp_path, clock)
    state.put("zalo", "u1", "prompt", {"kind": "feedback", "log_id": 3}, ttl=900)
    store.close()
    store, state = sqlite_store(tmp_path, clock)  # a new process on the same database file
    assert state.get("zalo", "u1", "prompt") == {"kind": "feedback", "log_id": 3}
    store.close()


def test_postgres(pg_schema_url, tmp_path):
    clock = Clock()
    store = Store(pg_schema_url, tmp_path / "spool.jsonl")
    state = SqlStateStore(store.sessions, clock)
    state.put("zalo", "u1", "prompt", {"kind": "choice", "options": ["Một", "Hai"]}, ttl=60)
    state.put("zalo", "u1", "prompt", {"kind": "choice", "options": ["Ba"]}, ttl=60)
    state.put("telegram", "u1", "prompt", {"x": 1}, ttl=600)
    other = SqlStateStore(Store(pg_schema_url, tmp_path / "spool2.jsonl").sessions, clock)  # a replica
    assert other.get("zalo", "u1", "prompt") == {"kind": "choice", "options": ["Ba"]}
    clock.advance(60)
    assert other.get("zalo", "u1", "prompt") is None
    assert state.purge_expired() == 1
    state.clear("telegram", "u1", "prompt")
    assert rows(store) == 0
    store.close()


def _race_into_insert(writer: SqlStateStore, rival: SqlStateStore, key: tuple[str, str, str]) -> None:
    """`writer` finds no row to update; `rival` inserts the row just before `writer` inserts."""
    sessions = writer._sessions
    opened = [0]

    def racing_sessions():  # type: ignore[no-untyped-def]
        opened[0] += 1
        if opened[0] == 2:  # the insert's session
            rival.put(*key, {"by": "rival"}, ttl=60)
        return sessions()

    writer._sessions = racing_sessions  # type: ignore[assignment]
    writer.put(*key, {"by": "writer"}, ttl=60)
    writer._sessions = sessions
    assert opened[0] == 3  # update, insert (unique violation), update again


def test_losing_an_insert_race_updates_instead(tmp_path, caplog):
    clock = Clock()
    store, writer = sqlite_store(tmp_path, clock)
    rival = SqlStateStore(store.sessions, clock)
    _race_into_insert(writer, rival, ("zalo", "u1", "prompt"))
    assert rival.get("zalo", "u1", "prompt") == {"by": "writer"}  # the last writer wins
    assert rows(store) == 1 and len(writer.fallback) == 0 and "unavailable" not in caplog.text
    store.close()


def test_concurrent_upserts_on_postgres(pg_schema_url, tmp_path, caplog):
    stores = [Store(pg_schema_url, tmp_path / f"spool{i}.jsonl") for i in range(2)]  # two engines
    states = [SqlStateStore(s.sessions) for s in stores]
    _race_into_insert(states[0], states[1], ("zalo", "race", "prompt"))
    keys = 40
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(keys):
                barrier.wait(timeout=10)  # both insert the same new key at the same moment
                states[n].put("zalo", f"u{i}", "prompt", {"writer": n, "i": i}, ttl=60)
                states[n].put("zalo", "shared", "prompt", {"writer": n, "i": i}, ttl=60)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert "unavailable" not in caplog.text and all(len(s.fallback) == 0 for s in states)
    with stores[0].session() as s:
        counts = s.execute(select(ConversationState.user_key, func.count())
                           .group_by(ConversationState.user_key)).all()
    assert len(counts) == keys + 2 and all(n == 1 for _, n in counts)
    assert states[0].get("zalo", "race", "prompt") == {"by": "writer"}
    assert states[1].get("zalo", "shared", "prompt")["i"] == keys - 1
    for s in stores:
        s.close()


def test_database_down_keeps_the_conversation_and_writes_it_back(tmp_path, caplog):
    clock = Clock()
    db = tmp_path / "t.db"
    store, state = sqlite_store(tmp_path, clock)
    state.put("zalo", "u1", "prompt", {"n": 1}, ttl=900)
    state.put("zalo", "u2", "prompt", {"n": 1}, ttl=900)
    # the database file becomes unusable: a directory in its place
    store.engine.dispose()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.mkdir()
    store._migrated = False
    with caplog.at_level(logging.WARNING, logger="bot.state"):
        assert state.get("zalo", "u1", "prompt") is None  # what the database had is out of reach
        state.put("zalo", "u1", "prompt", {"n": 2}, ttl=900)
        state.clear("zalo", "u2", "prompt")
        assert state.get("zalo", "u1", "prompt") == {"n": 2}  # reads fall back too
        assert state.purge_expired() == 0
    assert sum("unavailable" in r.getMessage() for r in caplog.records) == 1  # warned once
    # the database is back (empty: the schema is made again), then the kept state is written back
    db.rmdir()
    store.engine.dispose()
    assert state.get("zalo", "u1", "prompt") == {"n": 2}  # this key is written back on access
    assert len(state.fallback) == 0 and list(state._cleared) == [("zalo", "u2", "prompt")]
    assert state.purge_expired() == 0  # and every other key by the purge
    assert not state._cleared
    replica = SqlStateStore(store.sessions, clock)
    assert replica.get("zalo", "u1", "prompt") == {"n": 2}
    store.close()


def test_write_back_keeps_a_later_write_of_another_replica(tmp_path):
    clock = Clock()
    store, state = sqlite_store(tmp_path, clock)
    replica = SqlStateStore(store.sessions, clock)
    state.put("zalo", "u2", "prompt", {"n": 0}, ttl=900)
    sessions, down = state._sessions, True

    def flaky():  # type: ignore[no-untyped-def]
        if down:
            raise OperationalError("connect", {}, Exception("down"))
        return sessions()

    state._sessions = flaky  # type: ignore[assignment]
    state.put("zalo", "u1", "prompt", {"by": "state"}, ttl=900)  # kept in memory
    state.clear("zalo", "u2", "prompt")  # a tombstone
    clock.advance(1)
    replica.put("zalo", "u1", "prompt", {"by": "replica"}, ttl=900)  # later, in the database
    down = False
    assert state.purge_expired() == 0  # writes back every kept key
    assert state.get("zalo", "u1", "prompt") == {"by": "replica"}
    assert replica.get("zalo", "u2", "prompt") is None
    store.close()


def test_postgres_down_is_fast_and_falls_back(caplog):
    engine = make_engine("postgresql://postgres@127.0.0.1:1/x")  # nothing listens on port 1
    state = SqlStateStore(sessionmaker(engine))
    state.put("telegram", "u1", "prompt", {"n": 1}, ttl=60)
    assert state.get("telegram", "u1", "prompt") == {"n": 1}
    state.clear("telegram", "u1", "prompt")
    assert state.get("telegram", "u1", "prompt") is None
    assert state.purge_expired() == 0
    assert sum("unavailable" in r.getMessage() for r in caplog.records) == 1
    engine.dispose()
