"""The default backend: the builtin model exported to int8 ONNX, checked against the same model
on sentence-transformers (torch), and its cache checks and repairs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from indexer.embedder import load_embedder
from indexer.model_convert import BUILTIN_MODEL_NAME, MODEL_FOLDER_NAME, ModelError
from indexer.onnx_model import ONNX_DIR, ONNX_FILE, OnnxEncoder, check_onnx, prepare_onnx

TEXTS = ["quen mk vneid thi lam sao", "Làm thế nào để đăng ký tài khoản định danh điện tử mức 2?",
         "Nghị quyết 57-NQ/TW về đột phá phát triển khoa học, công nghệ và chuyển đổi số quốc gia",
         "a", "Bình dân học vụ số " * 120]  # the last one is cut at 512 tokens, as by sentence-transformers


def test_onnx_is_the_default_and_close_to_torch(embedder, torch_embedder):
    assert embedder.backend == "onnx" and torch_embedder.backend == "torch"
    assert embedder.fingerprint != torch_embedder.fingerprint  # an index records which one built it
    for encode, ref in ((embedder.encode_queries, torch_embedder.encode_queries),
                        (embedder.encode_passages, torch_embedder.encode_passages)):
        mine, theirs = encode(TEXTS), ref(TEXTS)
        assert mine.dtype == np.float32 and mine.shape == (len(TEXTS), 384)
        np.testing.assert_allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
        cos = (mine * theirs).sum(axis=1)
        assert cos.min() > 0.95, cos  # int8 weights and activations: ~0.985 typical, ~0.96 at 512 tokens


def test_a_text_gets_the_same_vector_alone_or_in_a_batch(embedder):
    together = embedder.encode_queries(TEXTS)
    alone = np.vstack([embedder.encode_queries([t]) for t in TEXTS])
    np.testing.assert_array_equal(together, alone)
    assert embedder.encode_queries([]).shape == (0, 384)


@pytest.fixture()
def model_copy(tmp_path, model_dir) -> Path:
    out = tmp_path / "models"
    shutil.copytree(model_dir / MODEL_FOLDER_NAME, out / MODEL_FOLDER_NAME)
    return out


def test_damaged_export_is_detected_with_a_clear_error(model_copy):
    folder = model_copy / MODEL_FOLDER_NAME
    assert check_onnx(folder, deep=True) is None
    path = folder / ONNX_DIR / ONNX_FILE
    with open(path, "r+b") as fh:  # same size, new bytes in the middle of the weights
        fh.seek(path.stat().st_size // 2)
        fh.write(b"\x00" * 4096)
    assert check_onnx(folder) == "the ONNX export is corrupted"  # mtime changed: sha256 compared
    with pytest.raises(ModelError) as err:
        OnnxEncoder(folder)
    assert "\n" not in str(err.value) and "trolyso model prepare" in str(err.value)
    path.unlink()
    assert check_onnx(folder) == "the ONNX export is missing"


@pytest.mark.bench  # a full export: ~30 s
def test_load_repairs_a_damaged_export(model_copy, embedder):
    folder = model_copy / MODEL_FOLDER_NAME
    path = folder / ONNX_DIR / ONNX_FILE
    with open(path, "r+b") as fh:
        fh.seek(path.stat().st_size // 2)
        fh.write(b"\x00" * 4096)
    repaired = load_embedder(BUILTIN_MODEL_NAME, model_copy)  # exports again from the intact folder
    assert check_onnx(folder, deep=True) is None
    np.testing.assert_allclose(repaired.encode_queries(TEXTS), embedder.encode_queries(TEXTS), atol=1e-6)
    assert prepare_onnx(folder, deep=True, progress=False) == path
