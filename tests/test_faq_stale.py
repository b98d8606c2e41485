"""Keeping the FAQ fresh (issue 12): `review_by`, old `reviewed` dates and superseded legal
documents, in `trolyso faq check` (warnings, exit 0) and `trolyso faq stale [--json]`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from indexer.check import check_faq
from indexer.faq import load_faq
from indexer.freshness import citations, load_superseded
from tests.conftest import cli_in_process

FAQ = """version: 1
faqs:
  - id: fresh
    question: "Câu hỏi một?"
    answer: "x"
    source: "Nghị định 69/2024/NĐ-CP"
    reviewed: 2026-12-06
    review_by: 2027-06-30
  - id: pilot
    question: "Câu hỏi hai?"
    answer: "y"
    reviewed: 2026-12-06
    review_by: "2027-01-31"
  - id: old
    question: "Câu hỏi ba?"
    answer: "z"
    reviewed: 2025-11-01
  - id: cites-old
    question: "Câu hỏi bốn?"
    answer: "w"
    source: "NĐ 59/2022 (bnews.vn)"
    reviewed: 2026-12-06
  - id: cites-both
    question: "Câu hỏi năm?"
    answer: "v"
    source: "Nghị định 69/2024/NĐ-CP (thay Nghị định 59/2022/NĐ-CP)"
    reviewed: 2026-12-06
  - id: other-kind
    question: "Câu hỏi sáu?"
    answer: "u"
    source: "Thông tư 59/2022/TT-BTC; tin ngày 8/2022"
"""

TABLE = """version: 1
superseded:
  - old: "Nghị định 59/2022/NĐ-CP"
    new: "Nghị định 69/2024/NĐ-CP"
    since: 2024-07-01
"""


def _write(tmp_path: Path, faq: str = FAQ, table: str | None = TABLE) -> Path:
    p = tmp_path / "faq.yaml"
    p.write_text(faq, encoding="utf-8")
    if table is not None:
        (tmp_path / "superseded.yaml").write_text(table, encoding="utf-8")
    return p


def test_review_by_is_optional_and_validated_with_file_line(tmp_path):
    p = _write(tmp_path)
    faq = load_faq(p)
    assert faq.errors == []
    by_id = {e.id: e for e in faq.entries}
    assert by_id["fresh"].review_by == "2027-06-30" and by_id["pilot"].review_by == "2027-01-31"
    assert by_id["old"].review_by is None
    bad = tmp_path / "bad.yaml"
    bad.write_text('version: 1\nfaqs:\n  - id: a\n    question: "q?"\n    answer: "x"\n'
                   '    review_by: "sau Tết"\n  - id: b\n    question: "r?"\n    answer: "y"\n'
                   '    review_by: 2027-02-30\n', encoding="utf-8")
    assert [str(i) for i in load_faq(bad).errors] == [
        f"{bad}:6: error: `review_by` must be a date (YYYY-MM-DD), got 'sau Tết'",
        f"{bad}:10: error: `review_by` must be a date (YYYY-MM-DD), got '2027-02-30'",
    ]


def test_check_warns_as_of_a_pinned_day(tmp_path):
    p = _write(tmp_path)
    issues = check_faq(p, today=dt.date(2027, 2, 1))
    assert [str(i) for i in issues] == [
        f"{p}:9: warning: 'pilot' is past its review_by date 2027-01-31: check the answer, "
        "then update `reviewed` and set a new `review_by`",
        f"{p}:14: warning: 'old' was last reviewed on 2025-11-01, more than a year ago: "
        "check the answer and update `reviewed`",
        f"{p}:18: warning: 'cites-old' cites Nghị định 59/2022/NĐ-CP, replaced by Nghị định 69/2024/NĐ-CP "
        "from 2024-07-01: check the answer against the new text and cite it in `source`",
    ]
    # the day of review_by itself is not past it; nothing reviewed within a year is old
    assert [i.message.split()[0] for i in check_faq(p, today=dt.date(2027, 1, 31))] == ["'old'", "'cites-old'"]
    assert [i.message.split()[0] for i in check_faq(p, today=dt.date(2026, 10, 31))] == ["'cites-old'"]


def test_citations_are_matched_by_kind_number_and_year():
    assert citations("NĐ 59/2022 (bnews.vn)") == {("nd", "59", "2022")}
    assert citations("Nghị định số 59/2022/NĐ-CP") == {("nd", "59", "2022")}
    assert citations("Luật 91/2025/QH15; Thông tư 17/2024/TT-NHNN") == {("luat", "91", "2025"),
                                                                       ("tt", "17", "2024")}
    assert citations("tienphong.vn (17/12/2025); ngày 2/10/2025") == set()


def test_superseded_table_errors_have_file_line_and_fail_the_check(tmp_path):
    table = ('version: 1\nsuperseded:\n  - old: "Nghị định 59/2022/NĐ-CP"\n    new: ""\n'
             '  - old: "Nghị định cũ"\n    new: "Nghị định 69/2024/NĐ-CP"\n    since: hôm qua\n'
             '  - old: "Nghị định 49/2017/NĐ-CP"\n    new: "Nghị định 163/2024/NĐ-CP"\n    by: me\n')
    p = _write(tmp_path, table=table)
    s = tmp_path / "superseded.yaml"
    rows, issues = load_superseded(s)
    assert rows == []
    assert [str(i) for i in issues] == [
        f"{s}:4: error: `new` must be a non-empty text (a document number)",
        f"{s}:5: error: `old` 'Nghị định cũ' has no document number like 59/2022/NĐ-CP",
        f"{s}:7: error: `since` must be a date (YYYY-MM-DD), got 'hôm qua'",
        f"{s}:10: error: unknown key `by` (use old, new, since, note)",
    ]
    checked = check_faq(p, today=dt.date(2026, 12, 6))  # 'old' is a warning, the table's rows are errors
    assert [(Path(i.path).name, i.level) for i in checked] == [("faq.yaml", "warning")] + [("superseded.yaml", "error")] * 4
    (tmp_path / "superseded.yaml").write_text("superseded: 3\n", encoding="utf-8")
    assert [str(i) for i in load_superseded(s)[1]] == [f"{s}:1: error: `superseded` must be a list of {{old, new}} rows"]


def test_without_a_table_only_dates_count(tmp_path):
    p = _write(tmp_path, table=None)
    assert [i.message.split()[0] for i in check_faq(p, today=dt.date(2027, 2, 1))] == ["'pilot'", "'old'"]


def test_cli_check_warnings_exit_0_and_stale_lists_them(tmp_path, monkeypatch, capsys):
    p = _write(tmp_path)
    code, out, err = cli_in_process(monkeypatch, capsys, tmp_path,
                                    ["faq", "check", str(p), "--no-model", "--as-of", "2027-02-01"])
    assert code == 0 and out.count(": warning: ") == 3 and "0 error(s), 3 warning(s)" in err
    code, out, _ = cli_in_process(monkeypatch, capsys, tmp_path,
                                  ["faq", "stale", str(p), "--json", "--as-of", "2027-02-01"])
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [
        {"id": "pilot", "line": 9, "reason": "review_by_passed", "date": "2027-01-31"},
        {"id": "old", "line": 14, "reason": "reviewed_over_a_year_ago", "date": "2025-11-01"},
        {"id": "cites-old", "line": 18, "reason": "cites_superseded", "date": "2024-07-01"},
    ]
    code, out, err = cli_in_process(monkeypatch, capsys, tmp_path, ["faq", "stale", str(p), "--as-of", "2027-02-01"])
    assert code == 0 and out.splitlines()[0].startswith(f"{p}:9: 'pilot' is past its review_by date 2027-01-31")
    assert "3 to review (3 entries)" in err


def test_cli_stale_nothing_stale_and_bad_input(tmp_path, monkeypatch, capsys):
    p = _write(tmp_path, faq=FAQ.split("  - id: old")[0], table=None)
    code, out, _ = cli_in_process(monkeypatch, capsys, tmp_path, ["faq", "stale", str(p), "--json", "--as-of", "2026-12-06"])
    assert (code, out) == (0, "")
    code, _, err = cli_in_process(monkeypatch, capsys, tmp_path, ["faq", "stale", str(p), "--as-of", "6/12/2026"])
    assert code == 2 and "not a date" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text('version: 1\nfaqs:\n  - id: a\n    question: "q?"\n    answer: "x"\n    review_by: 31/1\n',
                   encoding="utf-8")
    code, out, err = cli_in_process(monkeypatch, capsys, tmp_path, ["faq", "stale", str(bad)])
    assert code == 1 and out == "" and f"{bad}:6: error: `review_by` must be a date" in err
