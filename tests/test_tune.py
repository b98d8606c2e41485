"""The second stage: `trolyso model tune` builds a tuned encoder from a small FAQ (real training,
real int8 ONNX export), serving finds and uses it, and the teams' decisions become training data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from indexer.faq import FaqEntry, require_valid
from indexer.model_convert import MODEL_FOLDER_NAME
from indexer.text import fold, views
from indexer.tune import (
    Labelled,
    TuneConfig,
    load_wording_vectors,
    newest_tuned,
    read_marker,
    training_triples,
    tune,
    wordings,
)
from tests.conftest import DATA, cli_in_process

SMALL = TuneConfig(max_examples=48)  # three steps: the code path, in seconds


def _entries() -> list[FaqEntry]:
    return require_valid(DATA / "faq.yaml")


def _fake_encode(texts: list[str]) -> np.ndarray:
    """Deterministic unit vectors (for the data-building logic only; the training test below uses the model)."""
    rng = np.random.default_rng(abs(hash(tuple(texts))) % 2**32)
    v = rng.normal(size=(len(texts), 8)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_training_triples_pair_wordings_of_one_entry_against_another_entry():
    entries = _entries()
    triples = training_triples(entries, [], _fake_encode, TuneConfig())
    owner = {w: e.id for e in entries for w in wordings(e)}
    assert triples and all(owner[a] == owner[p] != owner[n] for a, p, n in triples)
    assert any(a == "quen mat khau ung dung vneid thi lay lai nhu the nao" for a, _, _ in triples)  # folded anchors
    assert training_triples(entries, [], _fake_encode, TuneConfig()) == triples  # seeded
    assert training_triples(entries, [], _fake_encode, TuneConfig(seed=1)) != triples


def test_training_triples_use_the_teams_decisions():
    entries = _entries()
    entry = entries[0]
    labelled = [Labelled("mat mk vneid lay lai kieu gi", entry.id, True),
                Labelled("Xoá tài khoản VNeID vĩnh viễn thế nào?", entry.id, False),
                Labelled("câu hỏi về một mục đã xoá", "no-such-entry", True)]
    triples = training_triples(entries, labelled, _fake_encode, TuneConfig())
    own = set(wordings(entry))
    taught = [t for t in triples if t[0] == views("mat mk vneid lay lai kieu gi").normalized]
    assert {p for _, p, _ in taught} == own and all(n not in own for _, _, n in taught)
    text = views("Xoá tài khoản VNeID vĩnh viễn thế nào?").normalized
    away = [t for t in triples if t[0] == text]
    assert len(away) == 1 and away[0][1] == fold(text) != text and away[0][2] in own
    assert not any("mục đã xoá" in t[0] for t in triples)


@pytest.fixture(scope="module")
def tuned_dir(tmp_path_factory, model_dir) -> Path:
    """A model dir holding the base model (linked) and one model tuned on the small test FAQ."""
    root = tmp_path_factory.mktemp("models")
    os.symlink(model_dir / MODEL_FOLDER_NAME, root / MODEL_FOLDER_NAME)
    tune(root / MODEL_FOLDER_NAME, _entries(), [], root, SMALL, faq=DATA / "faq.yaml", progress=False)
    return root


def test_tune_writes_an_onnx_model_that_serving_finds(tuned_dir):
    from indexer.model_files import folder_fingerprint

    fp = folder_fingerprint(tuned_dir / MODEL_FOLDER_NAME)
    folder = newest_tuned(tuned_dir, fp, DATA / "faq.yaml")
    assert folder is not None and (folder / "onnx" / "model_qint8.onnx").is_file()
    marker = read_marker(folder)
    assert marker and marker["entries"] == 8 and marker["triples"] == 48 and marker["base"] == fp
    # the wordings' tuned vectors are stored beside the model: serving does not encode them again
    stored = load_wording_vectors(folder)
    assert set(stored) == {w for e in _entries() for w in wordings(e)}
    assert all(v.shape == (384,) and abs(float(np.linalg.norm(v)) - 1) < 1e-3 for v in stored.values())
    # the tokenizer and the word-embedding table are the base model's: serving shares them
    assert (folder / "tokenizer.json").read_bytes() == (tuned_dir / MODEL_FOLDER_NAME / "tokenizer.json").read_bytes()
    from indexer.onnx_model import _shared_initializers

    assert _shared_initializers(folder / "onnx" / "model_qint8.onnx") == _shared_initializers(
        tuned_dir / MODEL_FOLDER_NAME / "onnx" / "model_qint8.onnx")
    assert newest_tuned(tuned_dir, fp, DATA / "other-faq.yaml") is None  # tuned on another FAQ: not used
    assert newest_tuned(tuned_dir, "another base model", DATA / "faq.yaml") is None
    # the same data and settings: the folder is reused, nothing is trained again
    mtime = (folder / "trolyso-tuned.json").stat().st_mtime_ns
    assert tune(tuned_dir / MODEL_FOLDER_NAME, _entries(), [], tuned_dir, SMALL, faq=DATA / "faq.yaml",
                progress=False) == folder
    assert (folder / "trolyso-tuned.json").stat().st_mtime_ns == mtime


def test_second_stage_lowers_a_top_candidate_the_tuned_model_does_not_prefer(tuned_dir):
    from bot.second_stage import second_stage_for
    from bot.types import Candidate

    stage = second_stage_for(tuned_dir, "builtin:multilingual-e5-small-q4", "onnx", DATA / "faq.yaml")
    assert stage is not None
    assert second_stage_for(tuned_dir, "builtin:multilingual-e5-small-q4", "torch", DATA / "faq.yaml") is None
    entries = {e.id: e for e in _entries()}
    texts = {i: wordings(e) for i, e in entries.items()}
    assert set(stage._vectors) == {w for ws in texts.values() for w in ws}  # loaded, not encoded
    # the question is an entry's own wording, but the first stage put another entry first
    question = wordings(entries["vneid-dang-ky-muc-2"])[0]
    first = [Candidate("vneid-quen-mat-khau", "faq", 0.9, 3.0), Candidate("vneid-dang-ky-muc-2", "faq", 0.85, 2.0),
             Candidate("kb:x#0", "knowledge", 0.5, 1.0)]
    out = stage.rescore(question, first, texts.__getitem__, 1.0, 0.9)
    assert [c.target for c in out] == [c.target for c in first]  # the order is the first stage's
    assert out[0].confidence < 0.9 and out[1].confidence == 0.85 and out[2] == first[2]
    # a near-exact repeat, or a single FAQ candidate: nothing to re-read
    repeat = [Candidate("vneid-quen-mat-khau", "faq", 0.95, 3.0, fuzzy=0.95), first[1]]
    assert stage.rescore(question, repeat, texts.__getitem__, 1.0, 0.9) == repeat
    assert stage.rescore(question, first[:1], texts.__getitem__, 1.0, 0.9) == first[:1]


def test_the_assistant_answers_with_the_second_stage(tuned_dir, tmp_path, monkeypatch, embedder):
    from bot.assistant import Assistant, retrieval_params
    from bot.retrieval import Index
    from bot.types import Message
    from indexer.build import build_index
    from tests.conftest import make_settings

    monkeypatch.setenv("TROLYSO_SECOND_STAGE_WEIGHT", "1")
    settings = make_settings(tmp_path, model_dir=tuned_dir, faq=DATA / "faq.yaml")
    params = retrieval_params(settings)
    assert params.second_stage is not None and params.second_stage_weight == 1
    monkeypatch.setenv("TROLYSO_SECOND_STAGE_WEIGHT", "0")  # 0 switches it off
    assert retrieval_params(make_settings(tmp_path, model_dir=tuned_dir, faq=DATA / "faq.yaml")).second_stage is None
    build_index(DATA / "faq.yaml", DATA / "knowledge", tmp_path / "index", embedder, progress=False)
    a = Assistant(settings, Index.open(tmp_path / "index", embedder, params))
    reply = a.handle(Message("Quên mật khẩu VNeID thì làm sao lấy lại được?"))
    assert reply.kind == "faq" and reply.faq_id == "vneid-quen-mat-khau"
    # without a tuned model for this FAQ the first stage decides alone
    other = make_settings(tmp_path, model_dir=tuned_dir, faq=tmp_path / "faq.yaml")
    assert retrieval_params(other).second_stage is None


def test_model_tune_command(tuned_dir, tmp_path, monkeypatch, capsys):
    code, out, err = cli_in_process(monkeypatch, capsys, tmp_path,
                                    ["model", "tune", "--faq", str(DATA / "faq.yaml"), "--max-examples", "48"],
                                    TROLYSO_MODEL_DIR=str(tuned_dir))
    assert code == 0, err
    assert "second stage ready" in out and str(tuned_dir / "tuned") in out
    code, out, err = cli_in_process(monkeypatch, capsys, tmp_path, ["model", "tune", "--faq", str(tmp_path / "x.yaml")],
                                    TROLYSO_MODEL_DIR=str(tuned_dir))
    assert code != 0 and "x.yaml" in err


def test_review_decisions_become_labelled_pairs(tmp_path):
    from bot.models import QuestionLog, ReviewGroup, ReviewItem
    from bot.review.labels import labelled_decisions
    from bot.storage import Store

    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "spool.jsonl")
    store.ensure_schema()
    with store.session() as s, s.begin():
        linked = ReviewGroup(status="linked", text="quen mk vneid", faq_id="vneid-quen-mat-khau", candidates=[])
        answered = ReviewGroup(status="answered", text="xoá tài khoản VNeID", answer="…",
                               candidates=[{"id": "vneid-quen-mat-khau", "question": "…", "confidence": 0.8}])
        pending = ReviewGroup(status="pending", text="chưa ai xem", candidates=[{"id": "x", "confidence": 0.5}])
        s.add_all([linked, answered, pending])
        s.flush()
        s.add(ReviewItem(group_id=linked.id, text="mat mk vneid roi", status="closed"))
        s.add(QuestionLog(text="cách báo tin rác", normalized="", kind="faq", faq_id="tinrac-bao-cao-5656",
                          helpful=False))
        s.add(QuestionLog(text="hữu ích", normalized="", kind="faq", faq_id="tinrac-bao-cao-5656", helpful=True))
    got = set(labelled_decisions(store))
    store.close()
    assert got == {Labelled("quen mk vneid", "vneid-quen-mat-khau", True),
                   Labelled("mat mk vneid roi", "vneid-quen-mat-khau", True),
                   Labelled("xoá tài khoản VNeID", "vneid-quen-mat-khau", False),
                   Labelled("cách báo tin rác", "tinrac-bao-cao-5656", False)}


def test_prune_keeps_the_newest_two_per_faq(tmp_path):
    import json

    from indexer.tune import MARKER, prune

    def folder(name: str, created: str, faq: str = "/srv/faq.yaml") -> Path:
        f = tmp_path / name
        f.mkdir()
        (f / MARKER).write_text(json.dumps({"base": "b", "faq": faq, "created": created}))
        return f

    old, older, newer = folder("a", "2026-01-01"), folder("b", "2025-01-01"), folder("c", "2026-02-01")
    other = folder("d", "2024-01-01", faq="/srv/other.yaml")
    prune(old)  # the one just tuned is kept even if another is newer
    assert old.exists() and newer.exists() and not older.exists() and other.exists()
