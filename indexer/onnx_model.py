"""The default embedding backend: the converted model exported to ONNX, int8-quantised, run by
ONNX Runtime with the model's own tokenizer (tokenizers), mean pooling and L2 normalisation,
exactly as sentence-transformers computes it.

Why not sentence-transformers' own ONNX backend: it needs `optimum-onnx`, whose releases on PyPI
require transformers < 4.58 while sentence-transformers 6 requires transformers >= 5, so the two
cannot be installed together. The export below uses torch's exporter and ONNX Runtime's dynamic
quantisation instead (what that backend does underneath). Serving then imports neither torch nor
sentence-transformers: ~2.5 s to the first answer instead of ~9 s, ~0.6 GB instead of ~1.25 GB,
~10 ms per question instead of ~27 ms (docs/benchmarks.md). The torch backend stays available
(`TROLYSO_EMBEDDING_BACKEND=torch`).

`prepare_onnx(folder)` writes `folder/onnx/model_qint8.onnx` once (about 30 s, at `trolyso model
prepare`), with a marker holding its sha256; `OnnxEncoder` loads it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from indexer.model_convert import MAX_SEQ_LENGTH, ModelError, sha256_file, swap_into_place
from indexer.model_files import folder_fingerprint, quiet_transformers

if TYPE_CHECKING:
    import onnxruntime as ort
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

EXPORT_VERSION = 1
ONNX_DIR = "onnx"
ONNX_FILE = "model_qint8.onnx"
ONNX_MARKER = "trolyso-onnx.json"
FIX = "run `trolyso model prepare` to export it again"


def _read_marker(folder: Path) -> dict | None:
    try:
        marker = json.loads((folder / ONNX_DIR / ONNX_MARKER).read_text(encoding="utf-8"))
        return marker if isinstance(marker, dict) else None
    except (OSError, ValueError):
        return None


def check_onnx(folder: Path, *, deep: bool = False) -> str | None:
    """Why the exported model in `folder` cannot be used (None when it can). Cheap by default:
    the marker, the source model's fingerprint and the file's size and mtime; `deep` (or a
    changed mtime) compares the file's sha256 with the one recorded at export."""
    marker = _read_marker(folder)
    path = folder / ONNX_DIR / ONNX_FILE
    if marker is None or not path.is_file():
        return "the ONNX export is missing"
    if marker.get("export_version") != EXPORT_VERSION or marker.get("source") != folder_fingerprint(folder):
        return "the ONNX export is out of date"
    st = path.stat()
    if st.st_size != marker.get("size"):
        return "the ONNX export is truncated or corrupted"
    if deep or st.st_mtime_ns != marker.get("mtime_ns"):
        if sha256_file(path) != marker.get("sha256"):
            return "the ONNX export is corrupted"
    return None


def prepare_onnx(folder: Path, *, force: bool = False, deep: bool = False, progress: bool = True) -> Path:
    """Export `folder` (a converted sentence-transformers folder) to int8 ONNX unless a valid
    export is there; return the .onnx path. `force` exports again; `deep` checks the sha256."""
    folder = Path(folder)
    path = folder / ONNX_DIR / ONNX_FILE

    def say(msg: str) -> None:
        if progress:
            print(f"trolyso: {msg}", file=sys.stderr, flush=True)
        else:
            log.info(msg)

    if not force and check_onnx(folder, deep=deep) is None:
        return path
    t0 = time.perf_counter()
    say(f"exporting the embedding model to ONNX (int8) in {path.parent} ...")
    tmp = folder / f".{ONNX_DIR}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        _export(folder, tmp / "model_fp32.onnx")
        _quantize(tmp / "model_fp32.onnx", tmp / ONNX_FILE)
        (tmp / "model_fp32.onnx").unlink()
        st = (tmp / ONNX_FILE).stat()
        marker = {"export_version": EXPORT_VERSION, "source": folder_fingerprint(folder), "size": st.st_size,
                  "sha256": sha256_file(tmp / ONNX_FILE), "quantization": "dynamic int8 (onnxruntime)"}
        swap_into_place(tmp, folder / ONNX_DIR)
        marker["mtime_ns"] = path.stat().st_mtime_ns
        (folder / ONNX_DIR / ONNX_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelError(f"cannot write the ONNX export to {folder}: {e.strerror or e}. Free disk space "
                         "(~600 MB while exporting) or set TROLYSO_MODEL_DIR to another folder") from e
    except Exception as e:  # noqa: BLE001 - one actionable line
        shutil.rmtree(tmp, ignore_errors=True)
        detail = " ".join(str(e).split())[:200] or type(e).__name__
        raise ModelError(f"exporting the embedding model to ONNX failed ({type(e).__name__}: {detail}); "
                         "run `trolyso model prepare` (or set TROLYSO_EMBEDDING_BACKEND=torch)") from e
    say(f"ONNX export ready ({path.stat().st_size / 1e6:.0f} MB, {time.perf_counter() - t0:.1f} s)")
    return path


def _export(folder: Path, out: Path) -> None:
    """The transformer (float32) to ONNX: input_ids, attention_mask -> last_hidden_state."""
    import torch
    from transformers import AutoModel


    with quiet_transformers():
        base = AutoModel.from_pretrained(str(folder), dtype=torch.float32, local_files_only=True).eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.base(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=torch.zeros_like(input_ids)).last_hidden_state

    ids = torch.tensor([[0, 1000, 2000, 2], [0, 3000, 2, 1]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    axes = {0: "batch", 1: "tokens"}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Encoder().eval(), (ids, mask), str(out), input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes})


def _quantize(src: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # it logs a pre-processing hint on the root logger
    try:
        quantize_dynamic(str(src), str(out), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)


def onnx_fingerprint(folder: Path) -> str:
    marker = _read_marker(folder) or {}
    return hashlib.sha256(f"onnx-int8\0{marker.get('source')}\0{marker.get('sha256')}".encode()).hexdigest()


_LARGE = 10_000_000  # elements: only the word-embedding table (250,037 x 384) is this large
_shared: dict[tuple[str, str], ort.OrtValue] = {}
_shared_lock = threading.Lock()


def _shared_initializers(path: Path) -> dict[str, ort.OrtValue]:
    """The model's large initializers as values we own, one copy per distinct content.

    Why: left to itself, ONNX Runtime's session holds ~410 MB for this 118 MB file; given the
    (int8) word-embedding table from outside it holds ~55 MB besides the table's 92 MB, at the
    same speed and with the same vectors (measured: 4.2 vs 4.3 ms a run, max difference 0.0).
    The tuned second stage (`trolyso model tune`) never changes that table, so both sessions
    share one copy: serving with the second stage takes ~0.2 GB more instead of ~0.4 GB."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    model = onnx.load(str(path))
    out: dict[str, ort.OrtValue] = {}
    for init in model.graph.initializer:
        if int(np.prod(init.dims)) < _LARGE:
            continue
        array = numpy_helper.to_array(init)
        key = (init.name, hashlib.sha1(array.tobytes()).hexdigest())
        with _shared_lock:
            value = _shared.get(key)
            if value is None:
                value = _shared[key] = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array))
        out[init.name] = value
    return out


_tokenizers: dict[str, Tokenizer] = {}


def _shared_tokenizer(path: Path) -> Tokenizer:
    """One tokenizer per distinct tokenizer.json: the XLM-R vocabulary takes ~280 MB in memory,
    and the tuned second stage uses the same file as the encoder."""
    from tokenizers import Tokenizer as Tok

    key = hashlib.sha1(path.read_bytes()).hexdigest()
    with _shared_lock:
        tok = _tokenizers.get(key)
        if tok is None:
            tok = _tokenizers[key] = Tok.from_file(str(path))
            tok.enable_truncation(MAX_SEQ_LENGTH)
            tok.no_padding()
        return tok


class OnnxEncoder:
    """Tokenise, run the int8 transformer, mean-pool and normalise (sentence-transformers'
    Transformer -> Pooling(mean) -> Normalize), with the model folder's prompts."""

    def __init__(self, folder: Path, threads: int = 1) -> None:
        folder = Path(folder)
        problem = check_onnx(folder)
        if problem:
            raise ModelError(f"{problem} in {folder / ONNX_DIR}; {FIX}")
        self.path = folder / ONNX_DIR / ONNX_FILE
        self.tokenizer = _shared_tokenizer(folder / "tokenizer.json")
        cfg = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        self.prompts: dict[str, str] = dict(cfg.get("prompts") or {})
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
        # sentence-transformers < 6 writes pooling_mode_mean_tokens, 6 writes pooling_mode: "mean"
        if not (pooling.get("pooling_mode_mean_tokens") or pooling.get("pooling_mode") == "mean"):
            raise ModelError(f"{folder}: only mean pooling is supported by the ONNX backend")
        self.dim = int(pooling.get("word_embedding_dimension") or pooling["embedding_dimension"])
        self._session = self._load(threads)  # now: a damaged file fails here, not on the first question

    def _load(self, threads: int) -> ort.InferenceSession:
        """One session, one thread by default: one text at a time gains nothing from a second
        thread (10.4 vs 10.5 ms per question, measured). The word-embedding table is handed to
        the session from our own memory (`_shared_initializers`)."""
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            for name, value in _shared_initializers(self.path).items():
                opts.add_initializer(name, value)
            return ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001
            raise ModelError(f"the ONNX export {self.path} does not load "
                             f"({' '.join(str(e).split())[:200]}); {FIX}") from e

    def encode(self, texts: list[str], prompt_name: str | None, batch_size: int, show_progress: bool,
               threads: int) -> NDArray[np.float32]:
        """One text per run: the activations are quantised per run (dynamic int8), so a text
        embedded inside a batch would depend on its neighbours; alone, it is the same vector
        whether it is a question now or an FAQ wording at index time. `batch_size` and `threads`
        are unused (the session's thread count is fixed when it is loaded)."""
        from tqdm import tqdm

        prefix = self.prompts.get(prompt_name, "") if prompt_name else ""
        session = self._session
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        bar = tqdm(total=len(texts), desc="embedding", unit="text", file=sys.stderr, disable=not show_progress)
        for i, enc in enumerate(self.tokenizer.encode_batch([prefix + t for t in texts])):
            ids = np.array([enc.ids], dtype=np.int64)
            hidden = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
            pooled = hidden.mean(axis=0)
            out[i] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
            bar.update(1)
        bar.close()
        return out
