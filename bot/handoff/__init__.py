"""Talking to a person: a citizen's conversation handed to their community team (issue 16).

The citizen asks ("gặp cán bộ", "/canbo", the "Hỏi cán bộ" button); the hand-off is opened in the
database (table `handoffs`, so a restart keeps it open and every replica sees it) and posted to
the team's Telegram group (the commune's `review_chat_ids`, else `TROLYSO_REVIEW_CHAT_IDS`) by a
`TeamDesk` (bot.channels.telegram.handoff), in a topic of its own where the group has forum
topics (a `handoff_messages` row of direction "topic"; closed when it ends). While it is open,
every message of that citizen goes to the group and the bot answers nothing (step 1 of the
precedence in `bot.commands`), except "kết thúc" / `/ketthuc`, which ends it. A member's replies
reach the citizen through the citizen's channel's `Sender`, signed with the member's first name
(or the team's name).

Photos are relayed both ways by reference (`bot.outbound.Photo`: a Telegram file id or a link),
never downloaded or stored: a message of kind photo keeps only its redacted caption; the citizen
is reminded not to send photos of ID cards, bank cards or OTP codes. The web chat shows no images.
Zalo's Bot API sends only public links: with `TROLYSO_PUBLIC_URL` set, a member's photo reaches a
Zalo citizen through a short-lived link of our own (`PhotoLinks`, bot.channels.telegram.media),
minted at each send (a retry gets a fresh one); without it the member is asked to describe it.

Every relayed message is stored redacted (`handoff_messages`) and delivered in full; a relay to
the citizen that fails for a passing reason keeps its full text (`pending`) until the worker
(`HandoffService.run`) delivers it; one that can never be delivered is reported to the team.
The worker also closes hand-offs idle for `handoff_idle_hours`; until a member takes one, only
the team's working hours count (a Friday-evening request is not closed over the weekend).

Working hours come from the commune (`hours` in communes.yaml) or `TROLYSO_HANDOFF_HOURS`
(default 7:30-17:00 Monday to Friday, Vietnam time); outside them the citizen is told when to
expect an answer. A message that looks like a scam in progress gets the emergency steps at once.

Modules: `hours` (working hours, scam words), `store` (the tables), `service` (the flow and the
worker).
"""

from bot.handoff.hours import DEFAULT_HOURS, VIETNAM, Hours, looks_like_scam, parse_hours, when_label
from bot.handoff.service import HandoffService, PhotoLinks, TeamDesk
from bot.handoff.store import HandoffStore, HandoffView, Pending

__all__ = ["DEFAULT_HOURS", "VIETNAM", "HandoffService", "HandoffStore", "HandoffView", "Hours", "Pending",
           "PhotoLinks", "TeamDesk", "looks_like_scam", "parse_hours", "when_label"]
