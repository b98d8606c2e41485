"""Learned wordings (citizens' own, taught by the review loop) are indexed for BM25 and fuzzy
matching only: a repeat of one is answered, but it adds no dense vector, no coverage words and
no question types to its entry (bench/learning_curve.py: as alternates they pulled unrelated
questions to the entry)."""

from __future__ import annotations

from bot.retrieval import Index
from indexer.build import build_index, faq_changes
from indexer.faq_edit import FaqEditor
from indexer.text import fold, views
from tests.conftest import DATA

# A long, chatty wording, as citizens write them; "Mường Tè" and "hiệu lực" appear nowhere else.
CHATTY = ("Chào ad, em là giáo viên cắm bản ở Mường Tè, tuần trước đổi điện thoại mới nên giờ "
          "không đăng nhập được ứng dụng định danh nữa, mật mã cũ em quên rồi. Vậy em lấy lại thế nào ạ?")
ENTRY = "vneid-quen-mat-khau"


def test_a_learned_wording_is_matched_again_but_not_embedded(tmp_path, embedder):
    faq = tmp_path / "faq.yaml"
    faq.write_text((DATA / "faq.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    before = build_index(faq, DATA / "knowledge", tmp_path / "idx", embedder, progress=False)
    old = Index.open(tmp_path / "idx", embedder)
    assert FaqEditor(faq, tmp_path / "backups").add_learned(ENTRY, [CHATTY]).added == [CHATTY]
    after = build_index(faq, DATA / "knowledge", tmp_path / "idx", embedder, progress=False)
    index = Index.open(tmp_path / "idx", embedder)
    i = index.by_id[ENTRY]
    assert index.targets[i].learned == (CHATTY,)
    assert after.vectors == before.vectors and after.embedded == 0  # no dense vector
    assert views(CHATTY).folded in index._fuzzy_choices
    assert "muong" not in index._terms[i] and index._terms[i] == old._terms[i]  # no coverage words
    assert index.covered_types(i) == old.covered_types(old.by_id[ENTRY])  # no question types
    # BM25 counts its terms: a word only the learned wording has now finds the entry
    assert old.lexical_scores("muong te")[i] == 0 < index.lexical_scores("muong te")[i]
    # asked again as typed, unaccented and lower case, or with a typo: the entry, near-certain
    for again in (CHATTY, fold(CHATTY).lower(), CHATTY.replace("đăng nhập", "đăg nhập")):
        top = index.search(views(again))[0]
        assert (top.target, top.confidence >= index.params.fuzzy_min) == (ENTRY, True), again
    changes = faq_changes([{**vars(t), "kind": t.kind} for t in old.targets], index.targets)
    assert changes["alternates"] == [ENTRY]  # the builds' change log counts learned wordings too
