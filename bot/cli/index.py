"""`trolyso index`: build the index from the FAQ and the knowledge documents."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli import common


def cmd_index(args: argparse.Namespace) -> int:
    from indexer.build import build_index
    from indexer.faq import FaqError

    settings = common.settings()
    faq = Path(args.faq) if args.faq else settings.faq
    knowledge = Path(args.knowledge) if args.knowledge else settings.knowledge_dir
    out = Path(args.out) if args.out else settings.resolved_index_dir
    embedder = common.embedder(settings)
    try:
        stats = build_index(faq, knowledge, out, embedder, exact_max=settings.faiss_exact_max,
                            progress=not args.quiet)
    except FaqError as exc:  # the FAQ's file:line issues, one a line
        for issue in exc.issues:
            print(issue)
        return 1
    print(f"index ready: {stats.faq} FAQ entries, {stats.passages} passages, {stats.vectors} vectors "
          f"({stats.embedded} embedded now) in {stats.seconds:.1f} s -> {out}")
    return 0


def register(subparsers: common.Subparsers) -> None:
    idx = subparsers.add_parser("index", help="build the index from the FAQ and knowledge documents")
    idx.add_argument("--faq")
    idx.add_argument("--knowledge")
    idx.add_argument("--out")
    idx.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    idx.set_defaults(func=cmd_index)
