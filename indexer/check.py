"""`trolyso faq check`: structural errors plus near-duplicate warnings from the embedding model."""

from __future__ import annotations

import numpy as np

from bot.config import Settings
from bot.text import has_diacritics, views
from indexer.faq import FaqFile, Issue, load_faq

DISTINCT_TAG = "distinct"


def near_duplicates(faq: FaqFile, embedder, threshold: float) -> list[Issue]:
    """Questions of different entries closer than `threshold` (cosine), unless acknowledged."""
    rows: list[tuple[int, str]] = []  # (entry index, question)
    for i, e in enumerate(faq.entries):
        for q in e.questions:
            # unaccented texts have inflated cosines with everything: compare accented wording only
            if has_diacritics(q):
                rows.append((i, q))
    if len(faq.entries) < 2:
        return []
    vecs = embedder.encode_queries([views(q).normalized for _, q in rows])
    owner = np.array([i for i, _ in rows])
    sims = vecs @ vecs.T
    sims[owner[:, None] == owner[None, :]] = -1.0
    issues: list[Issue] = []
    seen: set[tuple[int, int]] = set()
    for a, b in zip(*np.nonzero(np.triu(sims, 1) >= threshold)):
        ea, eb = faq.entries[owner[a]], faq.entries[owner[b]]
        pair = (min(owner[a], owner[b]), max(owner[a], owner[b]))
        if pair in seen or DISTINCT_TAG in ea.tags or DISTINCT_TAG in eb.tags:
            continue
        seen.add(pair)
        issues.append(Issue(str(faq.path), eb.line,
                            f"{eb.id!r} is close to {ea.id!r} (line {ea.line}, cosine {sims[a, b]:.3f}): "
                            f"{rows[b][1]!r} ~ {rows[a][1]!r}; merge them, make them distinct, "
                            f"or acknowledge with `tags: [distinct]`", "warning"))
    return issues


def check_faq(path, settings: Settings, use_model: bool = True, embedder=None) -> list[Issue]:  # type: ignore[no-untyped-def]
    faq = load_faq(path)
    issues = list(faq.issues)
    if not path.exists():
        return issues
    if use_model and not faq.errors and faq.entries:
        if embedder is None:
            from indexer.embedder import embedder_for

            embedder = embedder_for(settings)
        issues += near_duplicates(faq, embedder, settings.near_duplicate_cosine)
    return sorted(issues, key=lambda i: (i.line, i.level))
