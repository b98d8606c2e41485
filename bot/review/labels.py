"""The review teams' decisions as labelled data for `trolyso model tune` (indexer/tune.py).

Every decision says something about a wording: a group linked to an entry is a positive pair;
a group the team answered with its own text says the bot's nearest entry was a near miss; a 👎
says the entry the bot gave was wrong. The command reads them here and hands them to the
trainer, so `indexer/` never reads the database. Texts are stored redacted (bot/privacy.py).
"""

from __future__ import annotations

from sqlalchemy import select

from bot.models import QuestionLog, ReviewGroup, ReviewItem
from bot.storage import Store
from indexer.tune import Labelled


def labelled_decisions(store: Store) -> list[Labelled]:
    """Positives (linked groups), near misses (groups answered with a new text: their nearest
    entry) and 👎 answers, each wording once per entry and label."""
    store.ensure_schema()
    out: dict[tuple[str, str, bool], Labelled] = {}

    def add(text: str, faq_id: str | None, positive: bool) -> None:
        text = " ".join((text or "").split())
        if text and faq_id:
            out.setdefault((text, faq_id, positive), Labelled(text, faq_id, positive))

    with store.session() as s:
        decided = ReviewGroup.status.in_(("linked", "answered"))
        groups = s.execute(select(ReviewGroup).where(decided)).scalars().all()
        items: dict[int | None, list[str]] = {}
        for gid, text in s.execute(select(ReviewItem.group_id, ReviewItem.text).join(
                ReviewGroup, ReviewItem.group_id == ReviewGroup.id).where(decided)):
            items.setdefault(gid, []).append(text)
        for g in groups:
            texts = [g.text, *items.get(g.id, [])]
            if g.status == "linked":
                for t in texts:
                    add(t, g.faq_id, True)
            elif g.candidates:
                nearest = g.candidates[0].get("id") if isinstance(g.candidates[0], dict) else None
                for t in texts:
                    add(t, nearest, False)
        for text, faq_id in s.execute(select(QuestionLog.text, QuestionLog.faq_id)
                                      .where(QuestionLog.helpful.is_(False), QuestionLog.faq_id.is_not(None))):
            add(text, faq_id, False)
    return list(out.values())
