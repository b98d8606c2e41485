"""bot.batch.handle_many: batched query embeddings, the same replies as one-by-one handling."""

from __future__ import annotations

from bot.batch import handle_many
from bot.types import Message


class CountingEmbedder:
    """The real embedder, counting the texts it is asked to embed per call."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.calls: list[int] = []

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)

    def encode_queries(self, texts, batch_size: int = 32):  # type: ignore[no-untyped-def]
        self.calls.append(1 if isinstance(texts, str) else len(texts))
        return self.inner.encode_queries(texts, batch_size=batch_size)


QUESTIONS = [
    "Quên mật khẩu VNeID thì làm sao?",
    "xin chào",
    "quen mk vneid phai lam the nao",
    "",
    "Hôm nay Lai Châu có mưa không?",
    "Quên mật khẩu VNeID thì làm sao?",  # the same text twice in one batch
    "cảm ơn nhé",
    "Nghị quyết 57 đặt mục tiêu gì cho kinh tế số?",
]


def test_handle_many_gives_the_same_replies_with_one_embedding_call_per_batch(assistant, embedder):
    one_by_one = [assistant.handle(Message(q, channel="cli", user_id="u")) for q in QUESTIONS]
    counting = CountingEmbedder(embedder)
    assistant.index.embedder = counting
    batched = handle_many(assistant, [Message(q, channel="cli", user_id="u") for q in QUESTIONS], batch_size=4)
    assert [(r.kind, r.faq_id, r.answer) for r in batched] == [(r.kind, r.faq_id, r.answer) for r in one_by_one]
    # small talk and empty input are not embedded; each batch of 4 is embedded in one call
    assert counting.calls == [2, 3]
    # logged like one-by-one handling
    assert all(r.log_id is not None for r in batched if r.kind not in ("chitchat",) and r.question)
