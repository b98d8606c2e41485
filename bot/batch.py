"""Answer many questions at once: one batched embedding call, then the normal pipeline per question.

`handle_many(assistant, messages)` returns what `[assistant.handle(m) for m in messages]` would
(up to the float rounding of batched inference): it embeds the questions that will reach
retrieval in one call per batch (cheaper per question than one call each) and hands the vectors
to the index through `PrimedEmbedder`, so `Assistant.handle` itself runs unchanged (normalising,
small talk, retrieval, decision, logging) for every message.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from bot.chitchat import detect as detect_chitchat
from bot.types import Message, Reply
from indexer.text import views

if TYPE_CHECKING:
    from bot.assistant import Assistant
    from indexer.embedder import TextEmbedder


class PrimedEmbedder:
    """Wraps an Embedder: query texts primed in a batch by this thread are served from memory;
    anything else is embedded as usual. Every other attribute is the wrapped embedder's.

    Primed vectors are thread-local, so concurrent callers never see each other's batches.
    """

    def __init__(self, embedder: TextEmbedder) -> None:
        self.inner = embedder
        self._local = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _primed(self) -> dict[str, NDArray[np.float32]]:
        primed = getattr(self._local, "primed", None)
        if primed is None:
            primed = self._local.primed = {}
        return primed

    def prime(self, texts: Sequence[str], batch_size: int = 32) -> None:
        todo = list(dict.fromkeys(texts))
        if todo:
            self._primed().update(zip(todo, self.inner.encode_queries(todo, batch_size=batch_size), strict=True))

    def clear(self) -> None:
        self._primed().clear()

    def encode_queries(self, texts: str | Sequence[str], batch_size: int = 32) -> NDArray[np.float32]:
        batch = [texts] if isinstance(texts, str) else list(texts)
        primed = self._primed()
        if batch and all(t in primed for t in batch):
            return np.vstack([primed[t] for t in batch]).astype(np.float32, copy=False)
        return self.inner.encode_queries(batch, batch_size=batch_size)


def primed_embedder(assistant: Assistant) -> PrimedEmbedder:
    """The assistant's index embedder, wrapped once (the wrapper stays in place afterwards)."""
    index = assistant.index
    if not isinstance(index.embedder, PrimedEmbedder):
        index.embedder = PrimedEmbedder(index.embedder)
    return index.embedder


def handle_many(assistant: Assistant, messages: Sequence[Message], batch_size: int = 32) -> list[Reply]:
    """`assistant.handle` for every message, with the query embeddings computed in batches."""
    emb = primed_embedder(assistant)
    replies: list[Reply] = []
    for start in range(0, len(messages), batch_size):
        chunk = messages[start : start + batch_size]
        texts = []
        for m in chunk:
            v = views(m.text or "")
            if v.has_content and not detect_chitchat(v.folded):
                texts.append(v.normalized)
        emb.prime(texts, batch_size=batch_size)
        try:
            replies.extend(assistant.handle(m) for m in chunk)
        finally:
            emb.clear()
    return replies
