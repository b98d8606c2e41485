"""communes.yaml: the shipped file, the loader's file:line errors, the name matcher, the store of
citizens' communes and the Assistant's commune conversation."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.citizens import MemoryCitizens, SqlCitizens
from bot.replies import citizens as replies
from bot.storage import Store
from indexer.communes import Communes, load_communes

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def communes() -> Communes:
    return Communes.load(ROOT / "communes.yaml")


def test_shipped_file_has_the_38_units_of_the_2025_reform(communes):
    units = communes.units
    assert len(units) == 38
    assert sum(u.type == "xã" for u in units) == 36
    assert sorted(u.name for u in units if u.type == "phường") == ["Tân Phong", "Đoàn Kết"]
    assert len({u.code for u in units}) == 38 and len({u.name for u in units}) == 38
    assert all(len(u.code) == 5 and u.code.isdigit() for u in units)
    # 104 former units + Mù Cả and Tà Tổng (not rearranged) = the 106 units before the reform
    assert sum(len(u.former) for u in units) == 104
    assert [u.name for u in units if not u.former] == ["Tà Tổng", "Mù Cả"]


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "communes.yaml"
    path.write_text("version: 1\ncommunes:\n" + body, encoding="utf-8")
    return path


def test_loader_reports_file_and_line(tmp_path):
    path = _write(tmp_path, (
        '  - code: "03637"\n    name: Mường Kim\n    type: xã\n    former: [xã Tà Mung]\n'  # line 3
        '  - code: "03637"\n    name: muong kim\n    type: huyện\n    former: [Pha Mu]\n'  # line 7
        '  - code: 3640\n    name: Khoen On\n    type: xã\n'  # line 11
    ))
    found = load_communes(path)
    messages = [str(i) for i in found.issues]
    assert f"{path}:9: error: type 'huyện' must be one of: xã, phường" in messages
    assert any(m.startswith(f"{path}:10: error: former unit 'Pha Mu' must start with") for m in messages)
    assert any(m.startswith(f"{path}:11: error: code '3640' must be 5 digits") for m in messages)
    assert f"{path}:11: error: missing required field `former` (write `former: []` for a unit not rearranged)" \
        in messages
    assert [u.name for u in found.units] == ["Mường Kim"]


def test_loader_reports_duplicate_codes_and_names(tmp_path):
    path = _write(tmp_path, (
        '  - {code: "03637", name: Mường Kim, type: xã, former: []}\n'
        '  - {code: "03637", name: Khoen On, type: xã, former: []}\n'
        '  - {code: "03640", name: Muong Kim, type: xã, former: [], review_chat_ids: [-100123], team: Tổ xã}\n'
    ))
    messages = [str(i) for i in load_communes(path).issues]
    assert messages == [f"{path}:4: error: duplicate code 03637 (also on line 3)",
                        f"{path}:5: error: duplicate name 'Muong Kim' (also on line 3)"]


@pytest.mark.parametrize(("typed", "name", "via"), [
    ("Mường Kim", "Mường Kim", None),
    ("muong kim", "Mường Kim", None),
    ("xã Mường Kim ạ", "Mường Kim", None),
    ("tôi ở xã muong kin", "Mường Kim", None),  # a typo
    ("ta mung", "Mường Kim", "xã Tà Mung"),  # a former unit, without diacritics
    ("thị trấn Mường Tè", "Bum Tở", "thị trấn Mường Tè"),
    ("tam duong", "Bình Lư", "thị trấn Tam Đường"),
    ("phuong tan phong", "Tân Phong", None),
    ("doan ket", "Đoàn Kết", None),
    ("sung phai", "Đoàn Kết", "xã Sùng Phài"),
    ("pu xam cap", "Pu Sam Cáp", None),
    ("Mù Cả", "Mù Cả", None),
])
def test_one_match(communes, typed, name, via):
    found = communes.match(typed)
    assert found.kind == "one" and found.commune is not None
    assert found.commune.name == name
    assert (found.via.label if found.via else None) == via


@pytest.mark.parametrize(("typed", "names"), [
    ("muong te", ["Mường Tè", "Bum Tở"]),  # today's xã Mường Tè, and the former thị trấn
    ("muong than", ["Mường Than", "Than Uyên"]),  # today's xã, and the former xã in Than Uyên
    ("nam cha", ["Nậm Tăm", "Mường Mô"]),  # xã Nậm Cha and xã Nậm Chà were two units
])
def test_ambiguous_names_give_choices(communes, typed, names):
    found = communes.match(typed)
    assert found.kind == "choices" and [c.name for c in found.communes] == names


def test_accents_settle_an_ambiguous_name(communes):
    assert communes.match("Nậm Chà").commune.name == "Mường Mô"  # type: ignore[union-attr]


@pytest.mark.parametrize("typed", ["Hà Nội", "lai chau", "tôi muốn hỏi về vneid", ""])
def test_no_match(communes, typed):
    assert communes.match(typed).kind == "none"


def test_destination_is_the_commune_only_with_its_own_chats(tmp_path):
    found = Communes.load(_write(tmp_path, (
        '  - {code: "03637", name: Mường Kim, type: xã, former: [], review_chat_ids: [-100123]}\n'
        '  - {code: "03640", name: Khoen On, type: xã, former: []}\n')))
    assert found.destination("03637") == "03637" and found.review_chats("03637") == (-100123,)
    assert found.destination("03640") is None and found.destination(None) is None


@pytest.mark.parametrize("kind", ["memory", "sql"])
def test_citizen_store_keeps_one_commune_per_user(tmp_path, kind):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "spool.jsonl") if kind == "sql" else None
    citizens = SqlCitizens(store.sessions, store.ensure_schema) if store else MemoryCitizens()
    assert citizens.commune("zalo", "k1") is None
    citizens.set_commune("zalo", "k1", "03637")
    citizens.set_commune("zalo", "k1", "03640")
    citizens.set_commune("telegram", "k1", "03388")
    assert citizens.commune("zalo", "k1") == "03640" and citizens.commune("telegram", "k1") == "03388"
    if store:
        store.close()


def test_assistant_commune_conversation(assistant):
    user = "commune-user-1"
    assert replies.COMMUNE_OFFER in assistant.greeting("zalo", user)
    set_ = assistant.choose_commune("ta mung", "zalo", user)
    assert set_.kind == "set" and set_.code == "03637"
    assert set_.text == ("Xã Tà Mung cũ nay thuộc xã Mường Kim. "
                         + replies.COMMUNE_SET.format(label="xã Mường Kim"))
    assert assistant.commune_of("zalo", user).name == "Mường Kim"
    assert replies.COMMUNE_OFFER not in assistant.greeting("zalo", user)
    assert "xã Mường Kim" in assistant.commune_prompt("zalo", user)
    choices = assistant.choose_commune("muong te", "zalo", user)
    assert choices.kind == "choices"
    assert [label for _, label in choices.options] == ["xã Mường Tè", "xã Bum Tở (gồm thị trấn Mường Tè cũ)"]
    assert assistant.choose_commune("Hà Nội", "zalo", user).kind == "retry"
    assert assistant.choose_commune("trợ giúp", "zalo", user).kind == "not_a_name"
    assert assistant.choose_commune("làm sao để cài VNeID trên điện thoại?", "zalo", user).kind == "not_a_name"
    assert assistant.choose_commune("bỏ qua", "zalo", user).kind == "skipped"
