"""Re-indexing reuses the previous build (vectors, normalised texts, BM25 term counts) and gives
the same index as a build from scratch; the BM25 scores are bm25s's."""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest

from indexer.bm25 import BM25, DocCounts
from bot.retrieval import Index
from indexer.text import views
from indexer.build import build_index
from indexer.faq import FaqError
from tests.conftest import DATA

EDITED = ("Phong trào Bình dân học vụ số là gì?", "Phong trào Bình dân học vụ số có ý nghĩa gì?")
QUESTIONS = ["Bình dân học vụ số có ý nghĩa gì", "quen mat khau vneid", "đăng ký tài khoản định danh",
             "nghi quyet 57 la gi"]


def test_bm25_scores_are_bm25s_scores():
    bm25s = pytest.importorskip("bm25s")
    rng = random.Random(7)
    words = [f"w{i}" for i in range(200)] + ["dang_ky", "tai", "khoan"]
    docs = [[rng.choice(words) for _ in range(rng.randint(1, 60))] for _ in range(150)]
    ours = BM25.from_docs([DocCounts.of(d) for d in docs])
    ref = bm25s.BM25()
    ref.index(docs, show_progress=False)
    for _ in range(50):
        query = [rng.choice(words) for _ in range(rng.randint(1, 8))] + ["not-in-any-document"]
        np.testing.assert_allclose(ours.scores(query), ref.get_scores(query), rtol=1e-5, atol=1e-6)
    assert not ours.scores(["not-in-any-document"]).any() and not ours.scores([]).any()


def test_bm25_round_trip_and_empty_documents(tmp_path):
    index = BM25.from_docs([DocCounts.of(["a", "b", "a"]), DocCounts.of([]), DocCounts.of(["b"])])
    index.save(tmp_path / "bm25.npz")
    again = BM25.load(tmp_path / "bm25.npz")
    np.testing.assert_array_equal(index.scores(["a", "b"]), again.scores(["a", "b"]))
    scores = again.scores(["a"])
    assert scores[0] > 0 and scores[1] == 0 and scores[2] == 0
    assert list(again.doc(0).counts) == [2, 1] or list(again.doc(0).counts) == [1, 2]


def _build(faq, out, embedder):  # type: ignore[no-untyped-def]
    return build_index(faq, DATA / "knowledge", out, embedder, progress=False)


def _same_index(a: Index, b: Index) -> None:
    assert [t.id for t in a.targets] == [t.id for t in b.targets]
    np.testing.assert_array_equal(a.dense_map, b.dense_map)
    np.testing.assert_allclose(a.dense.reconstruct_n(0, a.dense.ntotal), b.dense.reconstruct_n(0, b.dense.ntotal),
                               atol=2e-5)  # batch composition changes the last float bits
    for q in QUESTIONS:
        v = views(q)
        np.testing.assert_allclose(a.lexical_scores(v.folded), b.lexical_scores(v.folded), rtol=1e-6)
        assert [c.target for c in a.search(v)] == [c.target for c in b.search(v)]
    assert a._terms == b._terms and a._fuzzy_choices == b._fuzzy_choices


def test_reindex_after_an_edit_equals_a_fresh_build(tmp_path, embedder):
    faq = tmp_path / "faq.yaml"
    faq.write_text((DATA / "faq.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    _build(faq, tmp_path / "idx", embedder)
    faq.write_text(faq.read_text(encoding="utf-8").replace(*EDITED), encoding="utf-8")
    again = _build(faq, tmp_path / "idx", embedder)
    assert 1 <= again.embedded <= 2
    fresh = _build(faq, tmp_path / "fresh", embedder)
    assert fresh.embedded == fresh.vectors
    _same_index(Index.open(tmp_path / "idx", embedder), Index.open(tmp_path / "fresh", embedder))
    keys = json.loads((again.path / "texts.json").read_text(encoding="utf-8"))["targets"]
    assert keys == json.loads((fresh.path / "texts.json").read_text(encoding="utf-8"))["targets"]


def test_damaged_or_stale_caches_only_cost_time(tmp_path, embedder, monkeypatch):
    faq = tmp_path / "faq.yaml"
    shutil.copy(DATA / "faq.yaml", faq)
    first = _build(faq, tmp_path / "idx", embedder)
    (first.path / "bm25.npz").write_bytes(b"garbage")
    (first.path / "dense_keys.json").write_text("[", encoding="utf-8")
    second = _build(faq, tmp_path / "idx", embedder)
    assert second.embedded == second.vectors  # nothing reused, nothing wrong
    # another normalisation code: the previous build's texts are not reused
    import indexer.text_cache

    monkeypatch.setattr(indexer.text_cache, "code_version", lambda: "another version")
    assert indexer.text_cache.TextCache.load(second.path).texts == {}
    third = _build(faq, tmp_path / "idx", embedder)
    _same_index(Index.open(tmp_path / "idx", embedder), Index.open(second.path, embedder))
    assert third.embedded == 0


def test_duplicate_questions_are_caught_with_the_cache(tmp_path, embedder):
    faq = tmp_path / "faq.yaml"
    shutil.copy(DATA / "faq.yaml", faq)
    _build(faq, tmp_path / "idx", embedder)
    text = faq.read_text(encoding="utf-8")
    first_question = text.split("question: ", 1)[1].split("\n", 1)[0].strip().strip('"')
    faq.write_text(text.replace(EDITED[0], first_question.upper()), encoding="utf-8")
    with pytest.raises(FaqError, match="the same as one of"):
        _build(faq, tmp_path / "idx", embedder)
