import pytest

from bot.privacy import hash_user, load_secret_key, redact

PHONES = ["0912345678", "0912 345 678", "0912.345.678", "+84 912 345 678", "+84912345678", "84 912 345 678",
          "0203 3876 543", "091-234-5678", "(+84) 912345678"]
IDS = ["001203004567", "001 203 004 567", "123456789", "012.345.678"]
EMAILS = ["nguyen.van.a@gmail.com", "lan_pt+test@laichau.gov.vn"]
ACCOUNTS = ["19034567891012", "1903 4567 8910 12", "0071000123456", "102-345-678-910"]


@pytest.mark.parametrize("secret", PHONES + IDS + EMAILS + ACCOUNTS)
def test_personal_numbers_are_redacted(secret):
    text = f"Tôi tên Lan, số của tôi là {secret}, nhờ hỗ trợ ạ"
    out = redact(text)
    digits = "".join(ch for ch in secret if ch.isdigit())
    assert secret not in out
    if digits:
        assert digits not in "".join(ch for ch in out if ch.isdigit())
    assert out.startswith("Tôi tên Lan, số của tôi là [")


@pytest.mark.parametrize("keep", ["Nghị quyết 57-NQ/TW", "Nghị định 13/2023/NĐ-CP", "gửi 5656", "gọi 156",
                                  "chuyển 10 triệu đồng", "năm 2030", "ngày 22/12/2024"])
def test_ordinary_numbers_are_kept(keep):
    assert redact(keep) == keep


def test_user_hash_is_keyed_and_stable():
    assert hash_user(b"k1", "telegram", "42") == hash_user(b"k1", "telegram", "42")
    assert hash_user(b"k1", "telegram", "42") != hash_user(b"k2", "telegram", "42")
    assert "42" not in hash_user(b"k1", "telegram", "42")


def test_secret_key_generated_once_with_private_mode(tmp_path):
    k1 = load_secret_key(None, tmp_path)
    k2 = load_secret_key(None, tmp_path)
    assert k1 == k2 and len(k1) >= 32
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert load_secret_key("configured", tmp_path) == b"configured"
