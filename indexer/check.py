"""`trolyso faq check`: structural errors, freshness warnings (indexer.freshness) and near-duplicate
warnings from the embedding model."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np

from indexer.embedder import Embedder
from indexer.faq import FaqFile, Issue, load_faq
from indexer.freshness import freshness_issues, superseded_path_for
from indexer.text import has_diacritics, views

DISTINCT_TAG = "distinct"
NEAR_DUPLICATE_COSINE = 0.97  # default of TROLYSO_NEAR_DUPLICATE_COSINE


def near_duplicates(faq: FaqFile, embedder: Embedder, threshold: float) -> list[Issue]:
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
    for a, b in zip(*np.nonzero(np.triu(sims, 1) >= threshold), strict=True):
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


def check_faq(path: Path, embedder: Embedder | Callable[[], Embedder] | None = None,
              threshold: float = NEAR_DUPLICATE_COSINE, today: dt.date | None = None,
              superseded: Path | None = None) -> list[Issue]:
    """Structural issues of the FAQ at `path`; freshness warnings as of `today` (default: the real
    date) with the superseded table (default: superseded.yaml next to the FAQ, whose own errors
    are errors); near-duplicate warnings when an embedder (or a function loading one, called only
    when the file is valid) is given."""
    faq = load_faq(path)
    issues = list(faq.issues)
    if not path.exists():
        return issues
    issues += freshness_issues(faq, superseded or superseded_path_for(path), today or dt.date.today())
    if embedder is not None and not faq.errors and faq.entries:  # errors of the FAQ itself only
        model = embedder if isinstance(embedder, Embedder) else embedder()
        issues += near_duplicates(faq, model, threshold)
    return sorted(issues, key=lambda i: (i.path, i.line, i.level))
