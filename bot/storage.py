"""Storage of the question log and review queue (SQLAlchemy 2 + Alembic migrations).

Nothing is lost when the database is down or locked: records go to a local spool file
(JSON lines) and are written once the database answers again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, select, text, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.models import ProcessedUpdate, QuestionLog, ReviewItem, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuestionRecord:
    """One question as the core hands it to storage (already redacted and hashed)."""

    channel: str
    user_hash: str
    text: str  # the citizen's wording, redacted
    normalized: str  # redacted too
    kind: str
    faq_id: str | None
    score: float
    candidates: tuple[tuple[str, float], ...] = ()  # (target id, confidence), best first
    created_at: dt.datetime = field(default_factory=utcnow)
    commune: str | None = None  # the citizen's commune code, when they told it

    def row(self) -> dict[str, Any]:
        """The `questions` columns (also the spool's JSON form, with the time as ISO text)."""
        return {"created_at": self.created_at, "channel": self.channel, "user_hash": self.user_hash,
                "text": self.text, "normalized": self.normalized, "kind": self.kind, "faq_id": self.faq_id,
                "score": float(self.score),
                "candidates": [{"id": target, "confidence": round(c, 4)} for target, c in self.candidates],
                "commune": self.commune}


@dataclass(frozen=True)
class ReviewRequest:
    """A question that needs a person: unanswered, 👎-rated or "none of these"."""

    reason: str  # unanswered, thumbs_down, rejected
    channel: str
    chat_id: str | None  # raw chat id, kept only while the item is open
    text: str  # redacted
    commune: str | None = None  # the citizen's commune code: its review chats get the question

    def row(self) -> dict[str, Any]:
        return {"reason": self.reason, "channel": self.channel, "chat_id": self.chat_id, "text": self.text,
                "commune": self.commune}


MIGRATIONS = Path(__file__).parent / "migrations"


def normalize_url(url: str) -> str:
    """postgresql:// -> postgresql+psycopg:// (psycopg 3 is the installed driver)."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 5})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                         connect_args={"connect_timeout": 5})


def migrate(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # processes starting together migrate one at a time
            conn.execute(text("SELECT pg_advisory_xact_lock(5757057)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Store:
    def __init__(self, url: str, spool_path: Path):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.spool_path = spool_path
        self._spool_lock = threading.Lock()
        self._local_claims: set[tuple[str, str]] = set()
        self._migrated = False
        try:
            self.ensure_schema()
        except SQLAlchemyError as exc:
            log.warning("database unavailable at start-up (%s); questions go to %s until it is back",
                        exc.__class__.__name__, spool_path)

    def ensure_schema(self) -> None:
        if not self._migrated:
            migrate(self.engine)
            self._migrated = True

    def session(self) -> Session:
        return self.sessions()

    # --- the question log ---------------------------------------------------------------------
    def log_question(self, question: QuestionRecord, review: ReviewRequest | None = None) -> int | None:
        """Store a question (and its review item); spool it if the database fails. Returns its id."""
        record = question.row()
        review_row = review.row() if review is not None else None
        try:
            self.ensure_schema()
            qid = self._insert(record, review_row)
        except SQLAlchemyError as exc:
            log.warning("database write failed (%s); record spooled", exc.__class__.__name__)
            self._spool({"question": record, "review": review_row, "spool_key": uuid.uuid4().hex})
            return None
        self.flush_spool()
        return qid

    def _insert(self, record: dict[str, Any], review: dict[str, Any] | None, spool_key: str | None = None) -> int:
        record = dict(record)
        if isinstance(record.get("created_at"), str):
            record["created_at"] = dt.datetime.fromisoformat(record["created_at"])
        with self.session() as s, s.begin():
            q = QuestionLog(**record, spool_key=spool_key)
            s.add(q)
            s.flush()
            if review is not None:
                s.add(ReviewItem(question_id=q.id, **review))
            return q.id

    def add_review(self, question_id: int | None, review: ReviewRequest) -> None:
        try:
            with self.session() as s, s.begin():
                s.add(ReviewItem(question_id=question_id, **review.row()))
        except SQLAlchemyError as exc:
            log.warning("database write failed (%s); review item spooled", exc.__class__.__name__)
            self._spool({"review_only": review.row(), "question_id": question_id, "spool_key": uuid.uuid4().hex})

    def set_feedback(self, question_id: int, helpful: bool) -> None:
        with self.session() as s, s.begin():
            s.execute(update(QuestionLog).where(QuestionLog.id == question_id).values(helpful=helpful))

    def question(self, question_id: int) -> QuestionLog | None:
        with self.session() as s:
            return s.get(QuestionLog, question_id)

    # --- deduplication of channel updates -----------------------------------------------------
    def claim_update(self, channel: str, key: str) -> bool:
        """True the first time (channel, key) is seen, across processes sharing the database."""
        try:
            with self.session() as s, s.begin():
                s.add(ProcessedUpdate(channel=channel, key=str(key)[:128]))
            return True
        except IntegrityError:
            return False
        except SQLAlchemyError:
            log.warning("database unavailable for deduplication; handling update %s once locally", key)
            return self._claim_local(channel, key)

    def _claim_local(self, channel: str, key: str) -> bool:
        k = (channel, str(key))
        if k in self._local_claims:
            return False
        self._local_claims.add(k)
        return True

    # --- spool -------------------------------------------------------------------------------
    def _spool(self, item: dict[str, Any]) -> None:
        with self._spool_lock:
            self.spool_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.spool_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(item, ensure_ascii=False, default=str) + "\n")

    def spooled(self) -> int:
        try:
            with open(self.spool_path, encoding="utf-8") as fh:
                return sum(1 for line in fh if line.strip())
        except FileNotFoundError:
            return 0

    def flush_spool(self) -> int:
        """Write spooled records to the database; keeps what still fails. Returns records written."""
        if not self.spool_path.exists():
            return 0
        with self._spool_lock:
            try:
                lines = self.spool_path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                return 0
            written, keep, dead = 0, [], []
            for line in lines:
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except ValueError:  # torn by a crash or a full disk: set aside, never block answers
                    dead.append(line)
                    continue
                try:
                    self.ensure_schema()
                    if "question" in item:
                        if not self._already(item["spool_key"]):
                            self._insert(item["question"], item.get("review"), item["spool_key"])
                    else:
                        with self.session() as s, s.begin():
                            s.add(ReviewItem(question_id=item.get("question_id"), **item["review_only"]))
                    written += 1
                except (IntegrityError, DataError, TypeError):  # this record will never fit: set aside
                    dead.append(line)
                except SQLAlchemyError:
                    keep.append(line)
            if dead:
                log.warning("%d spooled record(s) could not be written; kept in %s", len(dead), self.dead_path)
                with open(self.dead_path, "a", encoding="utf-8") as fh:
                    fh.write("\n".join(dead) + "\n")
            tmp = self.spool_path.with_suffix(".tmp")
            if keep:
                tmp.write_text("\n".join(keep) + "\n", encoding="utf-8")
                tmp.replace(self.spool_path)
            else:
                self.spool_path.unlink(missing_ok=True)
            return written

    @property
    def dead_path(self) -> Path:
        return self.spool_path.with_name(self.spool_path.stem + ".dead.jsonl")

    def _already(self, spool_key: str) -> bool:
        with self.session() as s:
            return s.scalar(select(QuestionLog.id).where(QuestionLog.spool_key == spool_key)) is not None

    def close(self) -> None:
        self.engine.dispose()
