"""Reports: a question log with known counts over channels, kinds, communes and months; every
number of `trolyso report --json` and of the spreadsheet; the HTML and PDF; bad input."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.report.periods import PeriodError, due_period, parse_period
from tests.conftest import cli_in_process

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def utc(y: int, mo: int, d: int, h: int, mi: int = 0) -> dt.datetime:
    """A local (Vietnam) time as the log stores it: naive UTC."""
    return dt.datetime(y, mo, d, h, mi, tzinfo=TZ).astimezone(dt.UTC).replace(tzinfo=None)


# (local time, channel, user, kind, faq_id, commune, helpful, wording)
NOV = [
    *[((2026, 11, 3, 9, 10), "telegram", u, "faq", "a1", "03637", h, "vneid")
      for u, h in [("u1", True), ("u1", True), ("u2", False), ("u3", None), ("u3", None)]],
    *[((2026, 11, 10, 14, 0), "zalo", u, "faq", "b1", "03640", h, "dvc")
      for u, h in [("z1", True), ("z2", None), ("z3", None)]],
    *[((2026, 11, 10, 14, 30), "web", u, "knowledge", None, None, None, "tai lieu") for u in ("w1", "w2")],
    ((2026, 11, 20, 20, 0), "telegram", "u1", "clarify", None, "03637", None, "mo ho"),
    *[((2026, 11, 20, 20, 15), "zalo", "z1", "chitchat", None, "03640", None, "") for _ in range(4)],
    *[((2026, 11, 25, 8, 0), "web", u, "unanswered", None, None, None, "thu tuc xyz") for u in ("w3", "w4", "w5")],
    ((2026, 11, 25, 8, 5), "web", "w6", "unanswered", None, None, None, "abc"),
    ((2026, 11, 30, 23, 30), "telegram", "u2", "knowledge", None, "03637", None, "cuoi thang"),
    *[((2026, 11, 5, 10, 0), "cli", "c1", "faq", "a1", None, None, "vneid") for _ in range(2)],
]
OUTSIDE = [
    ((2026, 10, 31, 23, 30), "telegram", "u9", "knowledge", None, None, None, "truoc"),
    ((2026, 12, 1, 0, 30), "telegram", "u9", "knowledge", None, None, None, "sau"),
    *[((2026, 10, 20, 9, 0), "zalo", f"z{i}", "faq", "b1", "03640", None, "dvc") for i in range(5)],
]

# contest rounds (local day, channel, user, commune, score of 5): Mường Kim 5 participants (k0 twice),
# Khoen On 2 (its average withheld), one without a commune; 31/10 and 1/12 outside November
QUIZ = [
    ((2026, 11, 3), "telegram", "k0", "03637", 5), ((2026, 11, 4), "telegram", "k0", "03637", 3),
    *[((2026, 11, 10), "zalo", u, "03637", s) for u, s in [("k1", 4), ("k2", 2), ("k3", 5), ("k4", 3)]],
    ((2026, 11, 20), "zalo", "h0", "03640", 4), ((2026, 11, 20), "web", "h1", "03640", 5),
    ((2026, 11, 30), "telegram", "n0", None, 1),
    ((2026, 10, 31), "telegram", "k0", "03637", 0), ((2026, 12, 1), "zalo", "k1", "03637", 0),
]


def build_log(url: str) -> None:
    from bot.models import Handoff, QuestionLog, QuizResult, ReviewGroup, ReviewItem
    from bot.storage import Store

    store = Store(url, Path("/nonexistent/spool.jsonl"))
    store.ensure_schema()
    with store.session() as s, s.begin():
        ids = []
        for when, channel, user, kind, faq_id, commune, helpful, wording in NOV + OUTSIDE:
            q = QuestionLog(created_at=utc(*when), channel=channel, user_hash=user, kind=kind, faq_id=faq_id,
                            commune=commune, helpful=helpful, text=wording.title() if wording else "",
                            normalized=wording, score=0.5, candidates=[])
            s.add(q)
            s.flush()
            ids.append(q.id)
        group = ReviewGroup(text="Thủ tục XYZ làm thế nào?", status="answered")
        s.add(group)
        s.flush()
        created = utc(2026, 11, 25, 8, 0)
        for n, (status, hours) in enumerate([("answered", 2), ("answered", 4), ("linked", 6)]):
            s.add(ReviewItem(question_id=ids[15 + n], group_id=group.id, channel="web", text="x", status=status,
                             created_at=created, closed_at=created + dt.timedelta(hours=hours)))
        s.add(ReviewItem(question_id=ids[18], channel="web", text="abc", status="pending", created_at=created))
        s.add(ReviewItem(question_id=ids[2], reason="thumbs_down", channel="telegram", text="x", commune="03637",
                         status="undeliverable", created_at=utc(2026, 11, 3, 9, 10),
                         closed_at=utc(2026, 11, 3, 12, 0)))
        s.add(ReviewItem(question_id=ids[10], reason="rejected", channel="telegram", text="x", commune="03637",
                         status="ignored", created_at=utc(2026, 11, 20, 20, 0), closed_at=utc(2026, 11, 21, 8, 0)))
        # hand-offs: one taken and answered after 12 minutes, one still waiting, one in October
        asked = utc(2026, 11, 12, 9, 0)
        s.add(Handoff(channel="zalo", user_key="h1", created_at=asked, status="closed", taken_at=asked,
                      first_reply_at=asked + dt.timedelta(minutes=12)))
        s.add(Handoff(channel="telegram", user_key="h2", created_at=utc(2026, 11, 20, 10, 0), status="waiting"))
        s.add(Handoff(channel="web", user_key="h3", created_at=utc(2026, 10, 20, 10, 0), status="closed"))
        for day, channel, user, commune, score in QUIZ:
            s.add(QuizResult(contest="cds-2026", user_key=user, channel=channel, commune_code=commune,
                             day=dt.date(*day), score=score, total=5))
    store.close()


def make_index(root: Path) -> Path:
    index = root / "index"
    build = index / "builds" / "b1"
    build.mkdir(parents=True)
    targets = [{"id": "a1", "kind": "faq", "question": "Cài VNeID thế nào?", "category": "vneid"},
               {"id": "b1", "kind": "faq", "question": "Nộp hồ sơ trực tuyến ở đâu?", "category": "dichvucong"}]
    (build / "targets.json").write_text(json.dumps(targets, ensure_ascii=False), encoding="utf-8")
    (index / "current").symlink_to(Path("builds") / "b1")
    changes = [{"at": "2026-11-12T03:00:00+00:00", "added": ["b1"], "edited": [], "removed": ["old"],
                "alternates": ["a1"]},
               {"at": "2026-12-02T03:00:00+00:00", "added": ["c1"], "edited": ["a1"], "removed": [], "alternates": []}]
    (index / "faq-changes.jsonl").write_text("\n".join(json.dumps(c) for c in changes) + "\n", encoding="utf-8")
    return index


def run(monkeypatch, capsys, tmp_path, url, *args):
    make_index(tmp_path / "var") if not (tmp_path / "var" / "index").exists() else None
    env = {"TROLYSO_DB_URL": url, "TROLYSO_COMMUNES": str(Path(__file__).parents[1] / "communes.yaml")}
    return cli_in_process(monkeypatch, capsys, tmp_path, ["report", *args], **env)


EXPECTED = {
    "questions": 20, "citizens": 12, "answer_rate": 0.6875,
    "previous": {"questions": 6, "citizens": 6, "change": 2.3333},
    "by_kind": {"faq": 8, "knowledge": 3, "clarify": 1, "chitchat": 4, "unanswered": 4},
    "by_channel": {"telegram": 7, "zalo": 7, "web": 6},
    "by_category": {"vneid": 5, "dichvucong": 3},
    "by_commune": {"03637": 7, "03640": 7, "unknown": 6},
    "per_day": {"2026-11-03": 5, "2026-11-10": 5, "2026-11-20": 5, "2026-11-25": 4, "2026-11-30": 1},
    "per_hour": {"8": 4, "9": 5, "14": 5, "20": 5, "23": 1},
    "top_faq": [{"id": "a1", "question": "Cài VNeID thế nào?", "count": 5},
                {"id": "b1", "question": "Nộp hồ sơ trực tuyến ở đâu?", "count": 3}],
    "top_unanswered": [{"text": "Thủ tục XYZ làm thế nào?", "count": 3}],
    "feedback": {"helpful": 3, "not_helpful": 1,
                 "by_category": {"dichvucong": {"helpful": 1, "not_helpful": 0},
                                 "vneid": {"helpful": 2, "not_helpful": 1}}},
    "review": {"opened": 6, "answered": 2, "linked": 1, "ignored": 1, "pending": 1, "delivered": 3,
               "undeliverable": 1, "median_hours": 4.0, "p90_hours": 5.6},
    "handoff": {"opened": 2, "taken": 1, "median_first_reply_minutes": 12.0},
    "faq_changes": {"added": 1, "edited": 0, "removed": 1, "alternates": 1},
    "quiz": {"rounds": 9, "participants": 8, "average": 3.56, "percent": 71.1,
             "by_commune": {"03637": {"rounds": 6, "participants": 5, "average": 3.67, "percent": 73.3},
                            "03640": {"rounds": 2, "participants": 2, "average": None, "percent": None},
                            "unknown": {"rounds": 1, "participants": 1, "average": None, "percent": None}}},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def log_url(request, tmp_path):
    url = (f"sqlite:///{tmp_path / 'log.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_schema_url"))
    build_log(url)
    return url


def test_json_numbers_equal_the_log(monkeypatch, capsys, tmp_path, log_url):
    code, out, err = run(monkeypatch, capsys, tmp_path, log_url, "--period", "2026-11", "--json")
    assert code == 0, err
    got = json.loads(out)
    for key, value in EXPECTED.items():
        assert got[key] == value, key
    assert got["period"]["from"] == "2026-11-01" and got["period"]["to"] == "2026-11-30"
    assert got["files"] == []
    assert got["title"] == "Báo cáo kết quả hoạt động Trợ lý số tháng 11/2026"


def test_cli_commune_and_official_periods(monkeypatch, capsys, tmp_path, log_url):
    code, out, _ = run(monkeypatch, capsys, tmp_path, log_url, "--period", "2026-11", "--json", "--include-cli")
    got = json.loads(out)
    assert got["questions"] == 22 and got["by_channel"]["cli"] == 2 and got["by_kind"]["faq"] == 10
    code, out, _ = run(monkeypatch, capsys, tmp_path, log_url, "--period", "2026-11", "--json", "--commune", "03637")
    got = json.loads(out)
    assert (got["questions"], got["citizens"], got["by_commune"]) == (7, 3, {"03637": 7})
    assert got["review"]["opened"] == 2
    assert got["quiz"]["rounds"] == 6 and list(got["quiz"]["by_commune"]) == ["03637"]
    code, out, _ = run(monkeypatch, capsys, tmp_path, log_url, "--period", "2026-11", "--official", "--json")
    got = json.loads(out)
    assert got["period"]["from"] == "2026-10-15" and got["period"]["to"] == "2026-11-14"
    assert got["questions"] == 16  # 5 on 20/10, 1 on 31/10, 5 on 3/11, 5 on 10/11
    assert got["quiz"]["by_commune"]["03637"]["rounds"] == 7  # with 31/10, without 20/11 and 30/11
    assert got["quiz"]["rounds"] == 7
    code, out, _ = run(monkeypatch, capsys, tmp_path, log_url, "--period", "2026-11-25..2026-11-30", "--json")
    assert json.loads(out)["questions"] == 5
    code, out, _ = run(monkeypatch, capsys, tmp_path, log_url, "--period", "2027-03", "--json")
    got = json.loads(out)
    assert code == 0 and got["questions"] == 0 and got["by_kind"]["faq"] == 0 and got["top_unanswered"] == []


def test_files_spreadsheet_html_pdf(monkeypatch, capsys, tmp_path):
    from openpyxl import load_workbook
    from pypdf import PdfReader

    url = f"sqlite:///{tmp_path / 'log.db'}"
    build_log(url)
    out_dir = tmp_path / "out"
    code, out, err = run(monkeypatch, capsys, tmp_path, url, "--period", "2026-11", "--out", str(out_dir),
                         "--format", "html,xlsx,pdf,md,csv", "--json")
    assert code == 0, err
    got = json.loads(out)
    files = {Path(f).name for f in got["files"]}
    base = "bao-cao-2026-11"
    assert {f"{base}.html", f"{base}.xlsx", f"{base}.pdf", f"{base}.md", f"{base}-tong_hop.csv",
            f"{base}-bieu-do-days.png", f"{base}-bieu-do-topics.png", f"{base}-bieu-do-communes.png"} <= files
    for f in got["files"]:
        assert Path(f).exists()
    wb = load_workbook(out_dir / f"{base}.xlsx")
    assert wb.sheetnames == ["tong_hop", "ket_qua", "kenh", "linh_vuc", "xa_phuong", "theo_ngay", "theo_gio",
                             "cau_hoi_nhieu", "chua_tra_loi", "to_cong_nghe_so", "phan_hoi", "cap_nhat_faq",
                             "cuoc_thi"]

    def rows(sheet: str) -> list[tuple]:
        return [tuple(r) for r in wb[sheet].iter_rows(min_row=3, values_only=True)]

    assert rows("tong_hop")[:2] == [("Tổng số câu hỏi", 20), ("Số người hỏi", 12)]
    assert rows("tong_hop")[3] == ("Số câu hỏi kỳ trước", 6)
    assert [r[1] for r in rows("ket_qua")] == [8, 3, 1, 4, 4]
    assert [r[:2] for r in rows("kenh")] == [("Telegram", 7), ("Zalo", 7), ("Trang web", 6)]
    assert [r[:2] for r in rows("linh_vuc")] == [("VNeID, định danh điện tử", 5), ("Dịch vụ công trực tuyến", 3)]
    assert [r[:2] for r in rows("xa_phuong")] == [("Xã Mường Kim", 7), ("Xã Khoen On", 7), ("Chưa rõ xã, phường", 6)]
    assert rows("theo_ngay") == list(EXPECTED["per_day"].items())
    assert [r[1] for r in rows("theo_gio")] == [4, 5, 5, 5, 1]
    assert rows("cau_hoi_nhieu") == [(1, "Cài VNeID thế nào?", 5), (2, "Nộp hồ sơ trực tuyến ở đâu?", 3)]
    assert rows("chua_tra_loi") == [(1, "Thủ tục XYZ làm thế nào?", 3)]
    assert [r[1] for r in rows("to_cong_nghe_so")] == [6, 2, 1, 1, 1, 3, 1, 4.0, 5.6, 2, 1, 12.0]
    assert rows("phan_hoi")[-1][1:3] == (3, 1)
    assert [r[1] for r in rows("cap_nhat_faq")] == [1, 0, 1, 1]
    assert rows("cuoc_thi") == [("Xã Mường Kim", 6, 5, "3.67", "73.3%"), ("Xã Khoen On", 2, 2, "—", "—"),
                                ("Chưa rõ xã, phường", 1, 1, "—", "—"), ("Tổng cộng", 9, 8, "3.56", "71.1%")]

    page = (out_dir / f"{base}.html").read_text(encoding="utf-8")
    assert "Báo cáo kết quả hoạt động Trợ lý số tháng 11/2026" in page
    assert page.count('src="data:image/png;base64,') == 5

    reader = PdfReader(out_dir / f"{base}.pdf")
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert 2 <= len(reader.pages) <= 8
    assert "BÁO CÁO KẾT QUẢ HOẠT ĐỘNG TRỢ LÝ SỐ THÁNG 11/2026" in text
    assert "Xã Mường Kim" in text and "Thủ tục XYZ làm thế nào?" in text
    assert "Cuộc thi đố vui kỹ năng số" in text
    assert sum(len(p.images) for p in reader.pages) == 5


def test_empty_period_is_a_report(monkeypatch, capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    code, out, err = run(monkeypatch, capsys, tmp_path, url, "--period", "2026-11", "--out", str(tmp_path / "o"),
                         "--format", "html,pdf")
    assert code == 0, err
    page = (tmp_path / "o" / "bao-cao-2026-11.html").read_text(encoding="utf-8")
    assert "không có câu hỏi nào" in page


@pytest.mark.parametrize("args, message", [
    (["--period", "2026-13"], "unknown month"),
    (["--period", "tháng 11"], "unknown period"),
    (["--period", "2026-11-31..2026-12-01"], "invalid date"),
    (["--period", "2026-11", "--commune", "99999"], "unknown commune code"),
    (["--period", "2026-11", "--format", "docx"], "unknown format"),
])
def test_bad_input_is_one_line_exit_1(monkeypatch, capsys, tmp_path, args, message):
    code, out, err = run(monkeypatch, capsys, tmp_path, f"sqlite:///{tmp_path / 'x.db'}", *args)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1, err


def test_database_down_and_unwritable_folder(monkeypatch, capsys, tmp_path):
    code, _, err = run(monkeypatch, capsys, tmp_path, "postgresql://nobody:secret@127.0.0.1:1/none",
                       "--period", "2026-11", "--json")
    assert code == 1 and "database unavailable" in err and "secret" not in err
    assert len(err.strip().splitlines()) == 1, err
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run(monkeypatch, capsys, tmp_path, f"sqlite:///{tmp_path / 'x.db'}", "--period", "2026-11",
                       "--out", str(blocker / "sub"))
    assert code == 1 and "cannot write to" in err and len(err.strip().splitlines()) == 1


def test_periods():
    assert parse_period("2026-H1").first == dt.date(2026, 1, 1)
    h1 = parse_period("2026-H1", official=True)
    assert (h1.first, h1.last) == (dt.date(2025, 12, 15), dt.date(2026, 6, 14))
    y = parse_period("2026", official=True)
    assert (y.first, y.last) == (dt.date(2025, 12, 15), dt.date(2026, 12, 14))
    jan = parse_period("2026-01", official=True)
    assert (jan.first, jan.last) == (dt.date(2025, 12, 15), dt.date(2026, 1, 14))
    assert parse_period("2026-03").previous().key == "2026-02"
    with pytest.raises(PeriodError):
        parse_period("2026-11-30..2026-11-01")
    at = dt.datetime(2026, 11, 14, 17, 0, tzinfo=TZ)
    assert due_period(at)[0].key == "2026-11"  # type: ignore[index]
    assert due_period(at - dt.timedelta(minutes=1))[0].key == "2026-10"  # type: ignore[index]
    assert due_period(dt.datetime(2026, 6, 20, tzinfo=TZ))[0].key == "2026-H1"  # type: ignore[index]
    assert due_period(dt.datetime(2027, 1, 2, tzinfo=TZ))[0].key == "2026"  # type: ignore[index]
