"""Answer many questions at once: one batched embedding call, then the normal pipeline per question.

`handle_many(assistant, messages)` returns what `[assistant.handle(m) for m in messages]` would
(up to the float rounding of batched inference): it embeds the questions that will reach
retrieval in one call per batch (cheaper per question than one call each) and hands each vector
to `Assistant.handle(message, query_vec=...)`, so normalising, small talk, retrieval, decision and
logging run unchanged for every message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from bot.chitchat import detect as detect_chitchat
from bot.types import Message, Reply
from indexer.text import views

if TYPE_CHECKING:
    from bot.assistant import Assistant


def handle_many(assistant: Assistant, messages: Sequence[Message], batch_size: int = 32) -> list[Reply]:
    """`assistant.handle` for every message, with the query embeddings computed in batches."""
    replies: list[Reply] = []
    for start in range(0, len(messages), batch_size):
        chunk = messages[start : start + batch_size]
        texts: dict[int, str] = {}
        for n, m in enumerate(chunk):
            v = views(m.text or "")
            if v.has_content and not detect_chitchat(v.folded):
                texts[n] = assistant.index.dense_text(v)
        unique = list(dict.fromkeys(texts.values()))
        vectors: dict[str, NDArray[np.float32]] = {}
        if unique:
            embedded = assistant.index.embedder.encode_queries(unique, batch_size=batch_size)
            vectors = dict(zip(unique, embedded, strict=True))
        replies.extend(assistant.handle(m, query_vec=vectors[texts[n]] if n in texts else None)
                       for n, m in enumerate(chunk))
    return replies
