"""The community review loop: questions the bot could not answer reach a person, get answered,
and teach the bot.

- `grouping`: which pending questions are the same (pure functions);
- `queue`: groups and items in the database, decisions, delivery bookkeeping;
- `delivery`: community answers through each channel's sender;
- `actions`: answer, link, ignore, promote (Telegram buttons and the CLI share them);
- `worker`: the background round of `trolyso serve`.
"""
