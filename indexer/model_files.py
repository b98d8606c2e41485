"""What a model folder is made of: the fingerprint of its defining files, and quiet loading.

Shared by the embedding backends (`indexer.embedder`) and the ONNX export (`indexer.onnx_model`):
an index records the fingerprint of the model that built it, and the ONNX export records the
fingerprint of the folder it was exported from.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from indexer.model_convert import ModelError

FINGERPRINT_CACHE = "trolyso-fingerprint.json"
FINGERPRINT_VERSION = 1
FIX_HINT = "Set TROLYSO_EMBEDDING_MODEL to a local sentence-transformers folder or run `trolyso model prepare`"

# Files whose bytes define what the model computes. config.json, tokenizer.json and the weights
# are required by the fingerprint; the small sentence-transformers files (prompts, pooling,
# normalisation, max length) change embeddings too, so they are included when present.
_FINGERPRINT_FILES = (
    "config.json",
    "tokenizer.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
)
_WEIGHT_PATTERNS = ("model.safetensors", "model-*.safetensors", "pytorch_model.bin", "pytorch_model-*.bin")


def _weight_files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for pattern in _WEIGHT_PATTERNS:
        found.extend(sorted(folder.glob(pattern)))
        if found:
            break
    return found


def folder_fingerprint(folder: Path) -> str:
    """sha256 over the model's defining files, cached in the folder by their size and mtime."""
    folder = Path(folder)
    weights = _weight_files(folder)
    if not weights:
        raise ModelError(f"no weights file (model.safetensors or pytorch_model.bin) in {folder}. {FIX_HINT}")
    files = [folder / n for n in _FINGERPRINT_FILES if (folder / n).is_file()] + weights
    key = []
    for p in files:
        st = p.stat()
        key.append([p.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns])
    cache = folder / FINGERPRINT_CACHE
    try:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached.get("version") == FINGERPRINT_VERSION and cached.get("files") == key:
            return str(cached["sha256"])
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    h = hashlib.sha256()
    for p, (rel, size, _) in zip(files, key, strict=True):
        h.update(f"{rel}\0{size}\0".encode())
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
    digest = h.hexdigest()
    try:  # best effort: the folder may be read-only (e.g. a shared hub cache)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        record = {"version": FINGERPRINT_VERSION, "files": key, "sha256": digest}
        tmp.write_text(json.dumps(record) + "\n", encoding="utf-8")
        os.replace(tmp, cache)
    except OSError:
        pass
    return digest


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Hide transformers' weight-loading progress bar while loading."""
    try:
        from transformers.utils import logging as tlog
    except Exception:  # pragma: no cover
        yield
        return
    enabled = tlog.is_progress_bar_enabled()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            tlog.enable_progress_bar()
