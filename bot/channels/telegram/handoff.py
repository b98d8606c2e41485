"""Telegram side of the hand-off (bot.handoff): the teams' groups and the citizens' private chats.

- `TelegramDesk` (a `bot.handoff.TeamDesk`) posts a hand-off to its groups (the commune's
  `review_chat_ids`, else `TROLYSO_REVIEW_CHAT_IDS`) with **Nhận**, **Chuyển tỉnh** and
  **Kết thúc**, and relays the citizen's messages there. In a group with forum topics (getChat's
  `is_forum`) each hand-off gets a topic of its own, named after the citizen's summary
  (createForumTopic; the bot needs the "manage topics" right), and the post, the citizen's
  messages and the bot's notes go there (`message_thread_id`); the topic is closed when the
  hand-off ends. In an ordinary group they are replies to the post (a reply chain).
- `HandoffHandlers.early_handlers()` run before every other handler (`TelegramChannel`):
  * the buttons of a post (`ho:<action>:<id>`), only for members of the group's team or admins
    (`Authorizer` of the review loop; others get a refusal);
  * a member's message in a hand-off's topic, or reply to one of the bot's messages of a
    hand-off: relayed to the citizen on their channel ("kết thúc" / `/ketthuc` ends it);
  * a citizen's private message: the hand-off's precedence step (`HandoffService.on_citizen`);
  * the citizen's "Hỏi cán bộ" button (`hc:<question log id>`) under unanswered replies.
  After a hand-off ends, **Là câu hỏi có sẵn** adds its summary as an alternate of an FAQ entry
  and **Thêm vào câu hỏi thường gặp** makes a new entry from it and the team's answers (the
  review loop's `FaqEditor`).

Callback data: `ho:<t|p|e|l|m>:<id>`, `ho:k:<id>:<candidate number>`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram import Message as TgMessage
from telegram.error import TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import commands
from bot.channels.telegram.citizen import CB_HANDOFF, message_of
from bot.channels.telegram.review import VIETNAM, Authorizer, _short
from bot.channels.telegram.sender import TOPIC_NAME_LIMIT, TelegramSender, keyboard
from bot.config import Settings
from bot.handoff import HandoffService, HandoffView
from bot.outbound import Photo
from bot.replies import reviewers as say
from bot.retrieval import Index
from indexer.communes import Communes
from indexer.faq_edit import FaqEditError, FaqEditor
from indexer.text import views

log = logging.getLogger(__name__)

PREFIX, ASK = "ho", CB_HANDOFF  # ASK: the citizens' "Hỏi cán bộ" button (bot.channels.telegram.channel)
TAKE, PROVINCE, END, LINK, PICK, PROMOTE = "t", "p", "e", "l", "k", "m"
CANDIDATES = 3
THREAD_MARKS = (say.HANDOFF_TITLE[:2], say.HANDOFF_FROM_CITIZEN[:2], say.HANDOFF_PHOTO_FROM_CITIZEN[:2])  # 🙋 💬 🖼
LOOKUPS, LOOKUP_PAUSE = 20, 0.1


def _first_name(user: Any) -> str:
    return (getattr(user, "first_name", None) or say.MEMBER).strip()


class TelegramDesk:
    """Where the teams see hand-offs: their Telegram groups."""

    def __init__(self, settings: Settings, sender: TelegramSender, communes: Communes) -> None:
        self.settings = settings
        self.sender = sender
        self.communes = communes

    def chats(self, commune: str | None) -> tuple[int, ...]:
        return self.communes.review_chats(commune) or tuple(self.settings.review_chat_ids)

    def post_text(self, view: HandoffView, recent: list[str], later: str | None, scam: bool,
                  note: str | None) -> str:
        unit = self.communes.get(view.commune)
        when = _local(view.created_at)
        lines = [say.HANDOFF_TITLE.format(hid=view.id), say.HANDOFF_SUMMARY.format(summary=_short(view.summary))]
        if unit is not None:
            lines.append(say.POST_COMMUNE.format(names=unit.label))
        if note:
            lines.append(note)
        lines.append(say.HANDOFF_CHANNEL.format(channel=say.CHANNEL_NAMES.get(view.channel, view.channel),
                                                when=when))
        others = [q for q in recent if q != view.summary]
        if others:
            lines += ["", say.HANDOFF_RECENT, *(f"• {_short(q, 200)}" for q in others)]
        if scam:
            lines += ["", say.HANDOFF_SCAM]
        if later:
            lines += ["", say.HANDOFF_OUTSIDE_HOURS.format(when=later)]
        lines += ["", say.HANDOFF_HOW]
        return "\n".join(lines)

    def markup(self, view: HandoffView, taken: bool = False) -> InlineKeyboardMarkup:
        row = [] if taken else [(say.HANDOFF_BUTTON_TAKE, f"{PREFIX}:{TAKE}:{view.id}")]
        if view.commune is not None and self.settings.review_chat_ids:
            row.append((say.HANDOFF_BUTTON_PROVINCE, f"{PREFIX}:{PROVINCE}:{view.id}"))
        return keyboard([row, [(say.HANDOFF_BUTTON_END, f"{PREFIX}:{END}:{view.id}")]] if row
                        else [[(say.HANDOFF_BUTTON_END, f"{PREFIX}:{END}:{view.id}")]])

    def topic_name(self, view: HandoffView) -> str:
        """The topic's name: the hand-off's number and the citizen's (redacted) summary."""
        return _short(f"#{view.id} {' '.join(view.summary.split())}", TOPIC_NAME_LIMIT)

    async def open_topics(self, view: HandoffView) -> list[tuple[int, int]]:
        """A topic of its own in each group that is a forum (getChat's `is_forum`); a group
        whose topic cannot be made (no "manage topics" right) keeps the reply chain."""
        done: list[tuple[int, int]] = []
        for chat in self.chats(view.commune):
            if await self.sender.is_forum(chat):
                thread = await self.sender.create_topic(chat, self.topic_name(view))
                if thread is not None:
                    done.append((chat, thread))
        return done

    async def close_topics(self, topics: Mapping[int, int]) -> None:
        for chat, thread in topics.items():
            await self.sender.close_topic(chat, thread)

    async def post(self, view: HandoffView, recent: list[str], later: str | None, scam: bool,
                   note: str | None = None, topics: Mapping[int, int] | None = None) -> list[tuple[int, int]]:
        done: list[tuple[int, int]] = []
        text = self.post_text(view, recent, later, scam, note)
        for chat in self.chats(view.commune):
            result = await self.sender.send(chat, text, markup=self.markup(view), markup_on_first=True,
                                            thread=(topics or {}).get(chat))
            if result.ok and result.message_ids:
                done.append((chat, int(result.message_ids[0])))
            else:
                log.error("handoff #%s: cannot post to chat %s: %s", view.id, chat, result.problem)
        return done

    async def relay(self, view: HandoffView, text: str, posts: Mapping[int, int],
                    topics: Mapping[int, int] | None = None) -> list[tuple[int, int]]:
        return await self._to_groups(view, say.HANDOFF_FROM_CITIZEN.format(hid=view.id, text=text), posts, topics)

    async def relay_photo(self, view: HandoffView, photo: Photo, caption: str, posts: Mapping[int, int],
                          topics: Mapping[int, int] | None = None) -> list[tuple[int, int]]:
        """The citizen's photo into each group's thread. A link Telegram cannot fetch (Zalo's)
        goes as a text message with the link instead."""
        text = say.HANDOFF_PHOTO_FROM_CITIZEN.format(hid=view.id, caption=f":\n{caption}" if caption else "")
        done: list[tuple[int, int]] = []
        for chat in self.chats(view.commune):
            reply_to, thread = _place(chat, posts, topics)
            result = await self.sender.send_photo(chat, photo, text, reply_to=reply_to, thread=thread)
            if result.outcome == "refused" and photo.source == "link":
                log.info("handoff #%s: Telegram did not take the photo's link (%s); sending the link", view.id,
                         result.problem)
                result = await self.sender.send(chat, f"{text}\n{photo.ref}", reply_to=reply_to, thread=thread)
            if result.ok and result.message_ids:
                done.extend((chat, int(m)) for m in result.message_ids)
            else:
                log.warning("handoff #%s: photo not delivered to chat %s: %s", view.id, chat, result.problem)
        return done

    async def notice(self, view: HandoffView, text: str, posts: Mapping[int, int],
                     topics: Mapping[int, int] | None = None) -> list[tuple[int, int]]:
        return await self._to_groups(view, text, posts, topics)

    async def _to_groups(self, view: HandoffView, text: str, posts: Mapping[int, int],
                         topics: Mapping[int, int] | None = None) -> list[tuple[int, int]]:
        chats = self.chats(view.commune)
        done: list[tuple[int, int]] = []
        for chat in chats:
            reply_to, thread = _place(chat, posts, topics)
            result = await self.sender.send(chat, text, reply_to=reply_to, thread=thread)
            if result.ok and result.message_ids:
                done.extend((chat, int(m)) for m in result.message_ids)
            else:
                log.warning("handoff #%s: not delivered to chat %s: %s", view.id, chat, result.problem)
        return done


def _place(chat: int, posts: Mapping[int, int], topics: Mapping[int, int] | None) -> tuple[int | None, int | None]:
    """Where a message of the hand-off goes in a group: (reply to, topic). In its topic, no
    reply is needed; elsewhere it replies to the post (the reply chain)."""
    thread = (topics or {}).get(chat)
    return (None, thread) if thread is not None else (posts.get(chat), None)


def _local(value: dt.datetime) -> str:
    return value.replace(tzinfo=dt.UTC).astimezone(VIETNAM).strftime("%H:%M %d/%m")


class HandoffHandlers:
    """The hand-off's Telegram handlers (see the module docstring)."""

    def __init__(self, service: HandoffService, desk: TelegramDesk, auth: Authorizer, editor: FaqEditor,
                 index: Callable[[], Index]) -> None:
        self.service = service
        self.desk = desk
        self.sender = desk.sender
        self.auth = auth
        self.editor = editor
        self.index = index

    def early_handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        """Each in a group of its own, before the review loop's and the citizens' handlers; a
        handler that takes an update stops it (ApplicationHandlerStop)."""
        return [
            CallbackQueryHandler(self.on_button, pattern=rf"^{PREFIX}:"),
            CallbackQueryHandler(self.on_ask, pattern=rf"^{ASK}:\d*$"),
            MessageHandler(filters.UpdateType.MESSAGE & filters.ChatType.GROUPS & (filters.TEXT | filters.PHOTO)
                           & (filters.REPLY | filters.IS_TOPIC_MESSAGE), self.on_member_text),
            MessageHandler(filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & filters.TEXT, self.on_citizen),
            MessageHandler(filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & filters.PHOTO,
                           self.on_citizen_photo),
        ]

    # -- citizens ---------------------------------------------------------------------------------

    async def on_citizen(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text:
            return
        out = await self.service.on_citizen(message_of(update, message.text))
        if out is None:
            return  # not a hand-off matter: the next handlers decide
        for text in out:
            await self._send(message.chat_id, text)
        raise ApplicationHandlerStop

    async def on_citizen_photo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo during an open hand-off goes to the team (by its file id); otherwise the
        citizens' handlers answer it (text only)."""
        message = update.effective_message
        if message is None or not message.photo:
            return
        photo = Photo("telegram", message.photo[-1].file_id)  # the largest size
        out = await self.service.on_citizen(message_of(update, (message.caption or "").strip()), photo=photo)
        if out is None:
            return
        for text in out:
            await self._send(message.chat_id, text)
        raise ApplicationHandlerStop

    async def on_ask(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.message is None:
            return
        raw = (query.data or "").partition(":")[2]
        await query.answer()
        await self.sender.drop_buttons(query.message)
        out = await self.service.on_citizen(message_of(update, ""), asked=True,
                                            log_id=int(raw) if raw.isdigit() else None)
        for text in out or ():
            await self._send(query.message.chat.id, text)
        raise ApplicationHandlerStop

    # -- members' replies in the group ------------------------------------------------------------

    async def on_member_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        replied = message.reply_to_message
        hid = None
        if message.is_topic_message and message.message_thread_id is not None:  # any message in its topic
            hid = await asyncio.to_thread(self.service.store.by_group_message, message.chat_id,
                                          message.message_thread_id)
        if hid is None:
            if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
                return
            hid = await self._thread_of(message.chat_id, replied)
        if hid is None:
            return  # not a hand-off's thread (a review answer, a question to the bot)
        view = await asyncio.to_thread(self.service.store.get, hid)
        if view is None:
            return
        if not await self.auth.allowed(context.bot, user.id, self.desk.chats(view.commune)):
            log.info("handoff #%s: refused a reply from user %s", hid, user.id)
            await self._reply(message, say.REFUSED, hid)
            raise ApplicationHandlerStop
        text = (message.text or message.caption or "").strip()
        command = commands.match(text) if not message.photo else None
        if not view.open:
            await self._reply(message, say.HANDOFF_CLOSED_ALREADY.format(hid=hid), hid)
        elif command is not None and command.name == "end":
            await self._end(hid, user, message.chat_id, message.message_id)
        else:
            relayed = (await self.service.relay_photo_out(hid, user.id, _first_name(user),
                                                          Photo("telegram", message.photo[-1].file_id), text)
                       if message.photo else await self.service.relay_out(hid, user.id, _first_name(user), text))
            if relayed is None:
                await self._reply(message, say.HANDOFF_CLOSED_ALREADY.format(hid=hid), hid)
            elif relayed.unsupported:
                await self._reply(message, say.HANDOFF_PHOTO_UNSUPPORTED.format(
                    hid=hid, channel=say.CHANNEL_NAMES.get(relayed.view.channel, relayed.view.channel)), hid)
            elif relayed.result.outcome == "sent":
                await self._reply(message, say.HANDOFF_SENT, hid)
            elif relayed.result.outcome == "retry":
                await self._reply(message, say.HANDOFF_RETRYING.format(hid=hid), hid)
            else:
                await self._reply(message, say.HANDOFF_UNDELIVERABLE.format(hid=hid, problem=relayed.result.problem),
                                  hid)
        raise ApplicationHandlerStop

    async def _thread_of(self, chat: int, replied: TgMessage) -> int | None:
        """The hand-off whose thread a bot message belongs to. The bot records its message once
        Telegram has answered; a member can reply sooner, so a message that looks like one of the
        hand-off's (post, relay) is looked up again for a moment."""
        store = self.service.store
        for _ in range(LOOKUPS):
            hid = await asyncio.to_thread(store.by_group_message, chat, replied.message_id)
            if hid is not None or not (replied.text or replied.caption or "").startswith(THREAD_MARKS):
                return hid
            await asyncio.sleep(LOOKUP_PAUSE)
        return None

    # -- buttons -------------------------------------------------------------------------------------

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query, user = update.callback_query, update.effective_user
        if query is None:
            return
        parts = (query.data or "").split(":")
        view = (await asyncio.to_thread(self.service.store.get, int(parts[2]))
                if len(parts) >= 3 and parts[2].isdigit() else None)
        if view is None or user is None:
            await query.answer(say.EXPIRED)
            raise ApplicationHandlerStop
        if not await self.auth.allowed(context.bot, user.id, self.desk.chats(view.commune)):
            log.info("handoff #%s: refused a button for user %s", view.id, user.id)
            await query.answer(say.REFUSED, show_alert=True)
            raise ApplicationHandlerStop
        action, hid = parts[1], view.id
        chat = query.message.chat.id if query.message else None
        post = query.message.message_id if query.message else None
        if action == TAKE:
            taken, now = await self.service.take(hid, user.id, _first_name(user))
            if not taken:
                await query.answer(say.HANDOFF_ALREADY_TAKEN.format(hid=hid, who=(now.taken_name if now else "")
                                                                    or say.MEMBER) if now and now.open
                                   else say.HANDOFF_CLOSED_ALREADY.format(hid=hid), show_alert=True)
            else:
                await query.answer()
                if chat is not None and post is not None and now is not None:
                    await self._set_markup(chat, post, self.desk.markup(now, taken=True))
                    await self._say(chat, say.HANDOFF_TAKEN.format(who=_first_name(user), hid=hid), post, hid)
        elif action == END:
            await query.answer()
            if chat is not None and post is not None:
                await self._end(hid, user, chat, post)
        elif action == PROVINCE:
            if not self.desk.settings.review_chat_ids:
                await query.answer(say.HANDOFF_NO_PROVINCE, show_alert=True)
                raise ApplicationHandlerStop
            unit = self.desk.communes.get(view.commune)
            moved = await self.service.transfer(hid, say.HANDOFF_TRANSFERRED_NOTE.format(
                commune=unit.label if unit else "?"))
            await query.answer()
            if moved is not None and chat is not None and post is not None:
                await self.sender.drop_buttons(query.message)
                await self._say(chat, say.HANDOFF_TRANSFERRED.format(who=_first_name(user), hid=hid), post, hid)
        elif action == LINK:
            await query.answer()
            await self._candidates(view, chat, post)
        elif action == PICK and len(parts) == 4 and parts[3].isdigit():
            await query.answer()
            await self._link(view, int(parts[3]), chat, post, query)
        elif action == PROMOTE:
            await query.answer()
            await self._promote(view, chat, post, query)
        else:
            await query.answer(say.EXPIRED)
        raise ApplicationHandlerStop

    async def _end(self, hid: int, user: Any, chat: int, post: int) -> None:
        closed = await self.service.close_by_team(hid)
        if closed is None:
            await self._say(chat, say.HANDOFF_CLOSED_ALREADY.format(hid=hid), post, hid)
            return
        posts = await asyncio.to_thread(self.service.store.posts, hid)
        for group_chat, message_id in posts.items():
            await self.sender.drop_buttons_of(group_chat, message_id)
        text = say.HANDOFF_ENDED_TEAM.format(who=_first_name(user), hid=hid) + "\n" + \
            say.HANDOFF_TEACH.format(hid=hid, summary=_short(closed.summary, 200))
        markup = keyboard([[(say.HANDOFF_BUTTON_LINK, f"{PREFIX}:{LINK}:{hid}")],
                           [(say.HANDOFF_BUTTON_PROMOTE, f"{PREFIX}:{PROMOTE}:{hid}")]])
        await self._say(chat, text, post, hid, markup)
        await self.service.close_topics(hid)  # the bot (an admin) can still post there: the buttons work

    # -- teaching the bot ---------------------------------------------------------------------------

    def _faq_candidates(self, summary: str) -> list[tuple[str, str]]:
        index = self.index()
        found: list[tuple[str, str]] = []
        for c in index.search(views(summary)):
            t = index.target(c.target)
            if t is not None and t.kind == "faq" and all(t.id != f for f, _ in found):
                found.append((t.id, t.question))
            if len(found) == CANDIDATES:
                break
        return found

    async def _candidates(self, view: HandoffView, chat: int | None, post: int | None) -> None:
        if chat is None:
            return
        found = await asyncio.to_thread(self._faq_candidates, view.summary)
        if not found:
            await self._say(chat, say.NO_CANDIDATES.format(gid=view.id), post, view.id)
            return
        rows = [[(f"{n}. {_short(q, 60)}", f"{PREFIX}:{PICK}:{view.id}:{n - 1}")] for n, (_, q) in enumerate(found, 1)]
        listed = "\n".join(f"{n}. {q}" for n, (_, q) in enumerate(found, 1))
        text = say.HANDOFF_PICK.format(hid=view.id, summary=_short(view.summary)) + "\n" + listed
        await self._say(chat, text, post, view.id, keyboard(rows))

    async def _link(self, view: HandoffView, n: int, chat: int | None, post: int | None, query: CallbackQuery) -> None:
        found = await asyncio.to_thread(self._faq_candidates, view.summary)
        if chat is None or not 0 <= n < len(found):
            return
        faq_id = found[n][0]
        try:
            await asyncio.to_thread(self.editor.add_learned, faq_id, [view.summary])
        except FaqEditError as exc:
            await self._say(chat, say.TEACH_FAILED.format(error=exc), post, view.id)
            return
        await asyncio.to_thread(self.service.store.set_faq, view.id, faq_id)
        await self.sender.drop_buttons(query.message)
        await self._say(chat, say.HANDOFF_LINKED.format(summary=_short(view.summary, 200), faq_id=faq_id),
                        post, view.id)

    async def _promote(self, view: HandoffView, chat: int | None, post: int | None, query: CallbackQuery) -> None:
        if chat is None:
            return
        answers = await asyncio.to_thread(self.service.store.texts, view.id, "out")
        if not answers:
            await self._say(chat, say.HANDOFF_NO_ANSWER.format(hid=view.id), post, view.id)
            return
        try:
            edit = await asyncio.to_thread(self.editor.add_entry, [view.summary], "\n".join(answers))
        except FaqEditError as exc:
            await self._say(chat, say.TEACH_FAILED.format(error=exc), post, view.id)
            return
        await asyncio.to_thread(self.service.store.set_faq, view.id, edit.entry_id)
        await self.sender.drop_buttons(query.message)
        await self._say(chat, say.HANDOFF_PROMOTED.format(hid=view.id, faq_id=edit.entry_id), post, view.id)

    # -- helpers ------------------------------------------------------------------------------------

    async def _send(self, chat_id: int, text: str) -> None:
        result = await self.sender.send(chat_id, text)
        if not result.ok:
            log.warning("handoff: a message to a citizen was not delivered (%s): %s", result.outcome, result.problem)

    async def _say(self, chat: int, text: str, reply_to: int | None, hid: int, markup: Any = None) -> None:
        """A bot message in the group's thread of the hand-off (members may reply to it): in its
        topic where the group has one."""
        thread = (await asyncio.to_thread(self.service.store.topics, hid)).get(chat)
        result = await self.sender.send(chat, text, reply_to=reply_to, markup=markup, markup_on_first=True,
                                        thread=thread)
        for message_id in result.message_ids:
            await self.service.note(hid, (chat, int(message_id)))

    async def _reply(self, message: TgMessage, text: str, hid: int) -> None:
        await self._say(message.chat_id, text, message.message_id, hid)

    async def _set_markup(self, chat: int, message_id: int, markup: InlineKeyboardMarkup) -> None:
        try:
            await self.sender.bot.edit_message_reply_markup(chat, message_id, reply_markup=markup)
        except TelegramError as exc:
            log.debug("handoff: could not change the buttons: %s", exc)

