"""`trolyso ask`: answer one question, or a batch of them one a line, as text or JSON lines."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from bot.cli import common


def _read_batch(path: str) -> list[str]:
    """The lines of `path` (`-`: standard input), undecodable bytes replaced, CRLF accepted."""
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
        raise SystemExit(common.usage_error("ask", "give a QUESTION or --batch FILE"))
    if args.batch is not None and args.question is not None:
        raise SystemExit(common.usage_error("ask", "give either a QUESTION or --batch FILE, not both"))
    settings = common.settings()
    try:
        questions = _read_batch(args.batch) if args.batch is not None else [args.question]
    except OSError as exc:
        raise common.UserError(f"cannot read {args.batch}: {exc.strerror or exc}") from exc
    assistant = common.assistant(settings, args.index, log_questions=not args.no_log)
    for q in questions:
        reply = assistant.handle(Message(text=q, channel="cli", user_id=f"cli-{os.getuid()}"))
        if args.json:
            print(json.dumps(reply.to_json(), ensure_ascii=False), flush=True)
        else:
            print(common.render_text(reply), flush=True)
            if len(questions) > 1:
                print()
    return 0


def register(subparsers: common.Subparsers) -> None:
    ask = subparsers.add_parser("ask", help="answer one question or a batch")
    ask.add_argument("question", nargs="?")
    ask.add_argument("--index")
    ask.add_argument("--json", action="store_true")
    ask.add_argument("--no-log", action="store_true")
    ask.add_argument("--batch", metavar="FILE")
    ask.set_defaults(func=cmd_ask)
