"""`trolyso serve` runs the web chat, and Telegram and Zalo when their tokens are set;
`trolyso start` (what `make run` calls) is the same."""

from __future__ import annotations

import argparse

from bot.cli import common


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from bot.server import serve

    settings = common.settings()
    assistant = common.assistant(settings, args.index, log_questions=True, rebuild=True)
    asyncio.run(serve(settings, assistant))
    return 0


def register(subparsers: common.Subparsers) -> None:
    """Add `serve` and `start` (its alias for `make run`)."""
    for name, help_text in (("serve", "run the web chat, and Telegram and Zalo when their tokens are set"),
                            ("start", "what `make run` starts: the same as serve")):
        command = subparsers.add_parser(name, help=help_text)
        command.add_argument("--index")
        command.set_defaults(func=cmd_serve)
