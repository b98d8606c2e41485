"""Activity reports for the plan's reporting duty (§V.11): periods, SQL aggregation, rendering,
scheduled delivery. `bot.cli.report` and the server use it; it imports no channel."""
