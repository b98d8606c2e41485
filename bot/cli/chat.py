"""`trolyso chat`: talk to the assistant in the console, as a citizen would on a channel."""

from __future__ import annotations

import argparse
import os

from bot.cli import common
from bot.replies import citizens

EXIT_WORDS = {"thoát", "thoat", "exit", "quit"}


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.types import Message, Reply

    settings = common.settings()
    assistant = common.assistant(settings, args.index, log_questions=True, rebuild=True)
    print(citizens.GREETING)
    print(citizens.CHAT_HINT)
    last: Reply | None = None
    while True:
        try:
            line = input("\n" + citizens.CHAT_PROMPT)
        except (EOFError, KeyboardInterrupt):
            print()
            break
        if line.strip().lower() in EXIT_WORDS:
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
        text = common.render_text(reply)
        if reply.kind == "clarify" and len(reply.suggestions) == 1:  # a yes/no confirmation
            text += f"\n1. {citizens.CONFIRM_YES}\n0. {citizens.CONFIRM_NO}\n{citizens.CHAT_ANSWER_BY_NUMBER}"
        elif reply.kind == "clarify":
            text += f"\n0. {citizens.CLARIFY_NONE}\n{citizens.CHAT_ANSWER_BY_NUMBER}"
        print(citizens.CHAT_SPEAKER + text)
        last = reply
    return 0


def register(subparsers: common.Subparsers) -> None:
    chat = subparsers.add_parser("chat", help="talk to the assistant in the console")
    chat.add_argument("--index")
    chat.set_defaults(func=cmd_chat)
