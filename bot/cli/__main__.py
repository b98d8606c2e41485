"""`python -m bot.cli`: runs `bot.cli.main`, so the commands share its classes (one UserError)."""

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main())
