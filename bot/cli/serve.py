"""`trolyso serve` runs the Telegram and Zalo channels; `trolyso start` (make run) serves when a
channel token is set and otherwise falls back to the console chat it is given."""

from __future__ import annotations

import argparse
import sys

from bot.cli import common
from bot.replies import admins


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from bot.server import serve

    settings = common.settings()
    if not (settings.telegram_token or settings.zalo_token):
        raise common.UserError("no channel token: set TROLYSO_TELEGRAM_TOKEN and/or TROLYSO_ZALO_TOKEN "
                               "(environment or .env), or talk to the bot in the console with `trolyso chat`")
    assistant = common.assistant(settings, args.index, log_questions=True, rebuild=True)
    asyncio.run(serve(settings, assistant))
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    settings = common.settings()
    if settings.telegram_token or settings.zalo_token:
        return cmd_serve(args)
    print(admins.NO_CHANNEL_TOKEN_CHAT, file=sys.stderr)
    console: common.Command = args.console
    return console(args)


def register(subparsers: common.Subparsers, console: common.Command) -> None:
    """Add `serve` and `start`; without a channel token `start` runs `console` (`trolyso chat`)."""
    serve = subparsers.add_parser("serve", help="run the Telegram and Zalo channels")
    serve.add_argument("--index")
    serve.set_defaults(func=cmd_serve)

    start = subparsers.add_parser("start", help="serve if a channel token is set, else chat (make run)")
    start.add_argument("--index")
    start.set_defaults(func=cmd_start, console=console)
