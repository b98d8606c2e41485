"""The `trolyso` command line: the parser and `main`. Every command group lives in its own module
and registers itself here; command modules share `bot.cli.common` and never import this one."""

from __future__ import annotations

import argparse
import logging
import sys

from bot.cli import ask, broadcast, chat, common, faq, index, model, privacy, quiz, report, review, serve
from bot.cli import eval as evaluation


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trolyso", description="Trợ lý số: Vietnamese e-government FAQ assistant")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    model.register(sub)  # trolyso model prepare
    index.register(sub)  # trolyso index
    faq.register(sub)  # trolyso faq check
    quiz.register(sub)  # trolyso quiz check
    ask.register(sub)  # trolyso ask
    chat.register(sub)  # trolyso chat
    evaluation.register(sub)  # trolyso eval
    serve.register(sub)
    privacy.register(sub)  # trolyso privacy purge
    review.register(sub)  # trolyso review ...
    report.register(sub)  # trolyso report
    broadcast.register(sub)  # trolyso broadcast preview|send|status|list
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "sentence_transformers", "transformers", "faiss", "alembic", "urllib3", "matplotlib",
                  "fontTools", "fpdf"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        command: common.Command = args.func
        return command(args)
    except common.UserError as exc:
        print(f"trolyso: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
