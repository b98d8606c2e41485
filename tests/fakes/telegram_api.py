"""A fake Telegram Bot API on 127.0.0.1 speaking its wire format.

python-telegram-bot posts form-encoded bodies whose nested fields (reply_markup, ...) are JSON
strings; answers are `{"ok": true, "result": ...}` or `{"ok": false, "error_code", "description",
"parameters"?}`. Like Telegram, sendMessage rejects text over 4096 characters (after entity
parsing, counted in UTF-16 units), empty text, unsupported HTML tags and unescaped `<` / `&`, and
callback data over 64 bytes.

    with FakeTelegramAPI() as api:
        app = ApplicationBuilder().token(api.token).base_url(api.base_url)...
        api.push(api.text_update(chat_id=1, text="xin chào"))
        api.wait_for(lambda calls: api.messages_to(1))
"""

from __future__ import annotations

import itertools
import json
import time
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs

from tests.fakes._server import FakeBotAPI

JSON_FIELDS = {
    "reply_markup",
    "allowed_updates",
    "entities",
    "caption_entities",
    "reply_parameters",
    "link_preview_options",
}
ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
    "blockquote", "tg-spoiler", "span", "tg-emoji",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64


class _EntityError(ValueError):
    pass


class _TelegramHTML(HTMLParser):
    """Parses Telegram's HTML subset into plain text, raising on what Telegram rejects."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.parts: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in ALLOWED_TAGS:
            raise _EntityError(f'Unsupported start tag "{tag}"')
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise _EntityError(f'Unexpected end tag "{tag}"')
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or "&" in data:
            raise _EntityError("Unescaped '<' or '&'")
        self.parts.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in NAMED_ENTITIES:
            raise _EntityError(f'Unsupported HTML entity "&{name};"')
        self.parts.append(NAMED_ENTITIES[name])

    def handle_charref(self, name: str) -> None:
        self.parts.append(chr(int(name[1:], 16) if name[:1] in "xX" else int(name)))

    def unknown_decl(self, data: str) -> None:
        raise _EntityError("Unsupported declaration")


def parse_html(text: str) -> str:
    """The plain text Telegram shows for an HTML message; ValueError if Telegram would reject it."""
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise _EntityError(f'Unclosed start tag "{parser.stack[-1]}"')
    return "".join(parser.parts)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeTelegramAPI(FakeBotAPI):
    BOT = {"id": 999000, "is_bot": True, "first_name": "Trợ lý số", "username": "troly_so_bot"}

    def __init__(self, token: str = "123456:TEST-telegram-token", max_poll: float = 1.0) -> None:
        super().__init__(token)
        self.max_poll = max_poll  # cap on how long getUpdates holds the connection
        self.updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self.sent: dict[int, dict] = {}  # message_id -> message the bot sent
        self.webhook: dict[str, Any] = {}
        self.files: set[str] = set()  # file ids of photos this bot has seen or sent
        self.unreachable: set[str] = set()  # links Telegram cannot fetch (sendPhoto answers 400)
        self._file_ids = itertools.count(1)
        self.file_paths: dict[str, str] = {}  # getFile's file_path -> file id (downloads)
        self.downloads: list[str] = []  # file paths downloaded from /file/bot<token>/...
        self.forums: set[int] = set()  # supergroups with topics (getChat: is_forum)
        self.topics: dict[tuple[int, int], dict] = {}  # (chat, message_thread_id) -> {"name", "closed"}

    @property
    def base_url(self) -> str:
        """What python-telegram-bot's `base_url` takes (it appends the token)."""
        return f"{self.root}/bot"

    # -- wire format --------------------------------------------------------------------------

    def parse_params(self, content_type: str, raw: bytes) -> dict[str, Any]:
        if content_type.startswith("multipart/form-data"):  # files: {"filename", "size", "data"}
            from email.parser import BytesParser
            from email.policy import HTTP

            msg = BytesParser(policy=HTTP).parsebytes(
                b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
            parts: dict[str, Any] = {}
            for part in msg.iter_parts():  # type: ignore[attr-defined]
                name = part.get_param("name", header="content-disposition")
                data = part.get_payload(decode=True) or b""
                filename = part.get_filename()
                parts[name] = ({"filename": filename, "size": len(data), "data": data} if filename
                               else data.decode("utf-8"))
            for key, value in list(parts.items()):
                if isinstance(value, str) and value.startswith("attach://"):
                    parts[key] = parts.pop(value[len("attach://"):], value)
            for key in JSON_FIELDS & parts.keys():
                parts[key] = json.loads(parts[key])
            return parts
        if "application/json" in content_type:
            return json.loads(raw or b"{}")
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
        for key in JSON_FIELDS & params.keys():
            params[key] = json.loads(params[key])
        return params

    @staticmethod
    def ok(result: Any) -> tuple[int, dict]:
        return 200, {"ok": True, "result": result}

    @staticmethod
    def error(code: int, description: str) -> tuple[int, dict]:
        return code, {"ok": False, "error_code": code, "description": description}

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict]:
        if method == "getMe":
            return self.ok(self.BOT)
        if method == "getUpdates":
            return self.ok(self._get_updates(params))
        if method == "setWebhook":
            with self.cond:
                self.webhook = dict(params)
            return self.ok(True)
        if method == "deleteWebhook":
            with self.cond:
                self.webhook = {}
            return self.ok(True)
        if method == "sendMessage":
            return self._send_message(params)
        if method == "sendDocument":
            document = params.get("document")
            if not isinstance(document, dict) or not document.get("size"):
                return self.error(400, "Bad Request: there is no document in the request")
            chat_id = int(params["chat_id"])
            message = {"message_id": next(self._message_ids), "date": int(time.time()),
                       "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"}, "from": self.BOT,
                       "document": {"file_id": f"f{chat_id}", "file_unique_id": "u", "file_name": document["filename"],
                                    "file_size": document["size"]}}
            with self.cond:
                self.sent[message["message_id"]] = message
            return self.ok(message)
        if method == "sendPhoto":
            return self._send_photo(params)
        if method == "getFile":
            file_id = params.get("file_id", "")
            if file_id not in self.files:
                return self.error(400, "Bad Request: invalid file_id")
            path = f"photos/file_{sorted(self.files).index(file_id)}.jpg"
            with self.cond:
                self.file_paths[path] = file_id
            return self.ok({"file_id": file_id, "file_unique_id": f"AQAD{len(file_id)}",
                            "file_size": len(self.file_bytes(file_id)), "file_path": path})
        if method == "getChat":
            gifts = dict.fromkeys(("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription",
                                   "gifts_from_channels"), False)
            return self.ok({**self._chat(int(params["chat_id"])), "accent_color_id": 0, "max_reaction_count": 11,
                            "accepted_gift_types": gifts})  # a ChatFullInfo
        if method == "createForumTopic":
            return self._create_topic(params)
        if method == "closeForumTopic":
            chat, thread = int(params["chat_id"]), int(params.get("message_thread_id") or 0)
            topic = self.topics.get((chat, thread))
            if topic is None:
                return self.error(400, "Bad Request: message thread not found")
            if topic["closed"]:
                return self.error(400, "Bad Request: TOPIC_NOT_MODIFIED")
            with self.cond:
                topic["closed"] = True
            return self.ok(True)
        if method in ("sendChatAction", "answerCallbackQuery"):
            return self.ok(True)
        if method == "editMessageReplyMarkup":
            message = self.sent.get(int(params.get("message_id", 0)))
            if message is None:
                return self.error(400, "Bad Request: message to edit not found")
            message = dict(message)
            message.pop("reply_markup", None)
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            return self.ok(message)
        return self.error(404, "Not Found")

    @staticmethod
    def file_bytes(file_id: str) -> bytes:
        """The content of a file (a tiny JPEG-looking body, different for each file id)."""
        return b"\xff\xd8\xff\xe0" + file_id.encode() * 200 + b"\xff\xd9"

    def serve_file(self, path: str) -> tuple[int, bytes, str] | None:
        """Downloads as Telegram serves them: GET /file/bot<token>/<file_path> (getFile's path)."""
        prefix = f"/file/bot{self.token}/"
        if not path.startswith("/file/"):
            return None
        file_id = self.file_paths.get(path[len(prefix):]) if path.startswith(prefix) else None
        if file_id is None:
            return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}', "application/json"
        with self.cond:
            self.downloads.append(path[len(prefix):])
        return 200, self.file_bytes(file_id), "image/jpeg"

    def _create_topic(self, params: dict[str, Any]) -> tuple[int, dict]:
        """createForumTopic: the topic opens with a service message (forum_topic_created) whose
        id is the topic's message_thread_id."""
        chat_id, name = int(params["chat_id"]), params.get("name", "")
        if chat_id not in self.forums:
            return self.error(400, "Bad Request: the chat is not a forum")
        if not 1 <= len(name) <= 128:
            return self.error(400, "Bad Request: TOPIC_TITLE_EMPTY" if not name else "Bad Request: TOPIC_TITLE_INVALID")
        thread = next(self._message_ids)
        created = {"message_id": thread, "date": int(time.time()), "chat": self._chat(chat_id), "from": self.BOT,
                   "message_thread_id": thread, "is_topic_message": True,
                   "forum_topic_created": {"name": name, "icon_color": 7322096}}
        with self.cond:
            self.topics[(chat_id, thread)] = {"name": name, "closed": False}
            self.sent[thread] = created
        return self.ok({"message_thread_id": thread, "name": name, "icon_color": 7322096})

    def _in_topic(self, params: dict[str, Any], message: dict) -> tuple[int, dict] | None:
        """Place a sent message in its topic (message_thread_id); an error when there is none."""
        if not params.get("message_thread_id"):
            return None
        chat, thread = int(params["chat_id"]), int(params["message_thread_id"])
        if (chat, thread) not in self.topics:
            return self.error(400, "Bad Request: message thread not found")
        message.update(message_thread_id=thread, is_topic_message=True)
        return None

    def _get_updates(self, params: dict[str, Any]) -> list[dict]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), self.max_poll)
        deadline = time.monotonic() + timeout
        with self.cond:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed
            while not self.updates and not self.closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.cond.wait(remaining)
            return list(self.updates[:100])

    def _send_message(self, params: dict[str, Any]) -> tuple[int, dict]:
        text = params.get("text", "")
        if params.get("parse_mode") == "HTML":
            try:
                shown = parse_html(text)
            except ValueError as exc:
                return self.error(400, f"Bad Request: can't parse entities: {exc}")
        else:
            shown = text
        if not shown.strip():
            return self.error(400, "Bad Request: message text is empty")
        if utf16_len(shown) > MAX_TEXT:
            return self.error(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        for row in (markup or {}).get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
                    return self.error(400, "Bad Request: BUTTON_DATA_INVALID")
        chat_id = int(params["chat_id"])
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": self.BOT,
            "text": shown,
        }
        if markup:
            message["reply_markup"] = markup
        refused = self._in_topic(params, message)
        if refused:
            return refused
        with self.cond:
            self.sent[message["message_id"]] = message
        params["_message_id"] = message["message_id"]  # recorded with the call, for callbacks
        params["_shown"] = shown  # the text as the citizen sees it
        return self.ok(message)

    def _photo_sizes(self) -> list[dict]:
        """A photo as Telegram gives it: several sizes, the largest last, each with its file id."""
        n = next(self._file_ids)
        sizes = [{"file_id": f"AgACAgIAAxk-{n}-{w}", "file_unique_id": f"AQAD{n}{w}", "width": w,
                  "height": w * 3 // 4, "file_size": w * 90} for w in (90, 320, 1280)]
        with self.cond:
            self.files.update(size["file_id"] for size in sizes)
        return sizes

    def _send_photo(self, params: dict[str, Any]) -> tuple[int, dict]:
        photo = params.get("photo")
        if not isinstance(photo, str) or not photo:
            return self.error(400, "Bad Request: there is no photo in the request")
        if photo.startswith(("http://", "https://")):
            if photo in self.unreachable:
                return self.error(400, "Bad Request: wrong file identifier/HTTP URL specified")
        elif photo not in self.files:
            return self.error(400, "Bad Request: wrong file identifier/HTTP URL specified")
        caption = params.get("caption", "")
        if caption and params.get("parse_mode") == "HTML":
            try:
                caption = parse_html(caption)
            except ValueError as exc:
                return self.error(400, f"Bad Request: can't parse entities: {exc}")
        if utf16_len(caption) > MAX_CAPTION:
            return self.error(400, "Bad Request: message caption is too long")
        chat_id = int(params["chat_id"])
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"}, "from": self.BOT,
                   "photo": self._photo_sizes()}
        if caption:
            message["caption"] = caption
        refused = self._in_topic(params, message)
        if refused:
            return refused
        with self.cond:
            self.sent[message["message_id"]] = message
        params["_message_id"] = message["message_id"]
        params["_shown"] = caption
        return self.ok(message)

    # -- building updates ---------------------------------------------------------------------

    def push(self, update: dict) -> dict:
        """Queue an update for getUpdates (assigns `update_id`)."""
        with self.cond:
            update = {"update_id": next(self._update_ids), **update}
            self.updates.append(update)
            self.cond.notify_all()
        return update

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def _chat(self, chat_id: int) -> dict:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "Dân"}
        if chat_id in self.forums:
            return {"id": chat_id, "type": "supergroup", "title": "Tổ công nghệ số", "is_forum": True}
        return {"id": chat_id, "type": "group", "title": "Tổ công nghệ số"}

    def message_update(self, chat_id: int, user_id: int | None = None, **fields: Any) -> dict:
        """A `message` update from a citizen; fields go into the message (text, sticker, ...)."""
        user_id = user_id or abs(chat_id)
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": {"id": user_id, "is_bot": False, "first_name": "Dân", "language_code": "vi"},
            **fields,
        }
        return {"message": message}

    def text_update(self, chat_id: int, text: str, user_id: int | None = None, **fields: Any) -> dict:
        entities = list(fields.pop("entities", []))
        if text.startswith("/"):
            entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
        if entities:
            fields["entities"] = entities
        return self.message_update(chat_id, user_id, text=text, **fields)

    def photo_update(self, chat_id: int, caption: str | None = None, user_id: int | None = None,
                     **fields: Any) -> dict:
        """A photo message (the file ids become known to the fake, as Telegram's are to the bot)."""
        if caption:
            fields["caption"] = caption
        return self.message_update(chat_id, user_id, photo=self._photo_sizes(), **fields)

    def topic_update(self, chat_id: int, thread: int, text: str, user_id: int, **fields: Any) -> dict:
        """A member's message in a forum topic. Like Telegram, a message that replies to nothing
        else carries the topic's "topic created" message as `reply_to_message`."""
        fields.setdefault("reply_to_message", self.sent[thread])
        return self.text_update(chat_id, text, user_id, message_thread_id=thread, is_topic_message=True, **fields)

    def mention_update(self, chat_id: int, text: str, user_id: int | None = None) -> dict:
        """A group message that mentions the bot at the start: `@troly_so_bot <text>`."""
        mention = f"@{self.BOT['username']}"
        entity = {"type": "mention", "offset": 0, "length": utf16_len(mention)}
        return self.text_update(chat_id, f"{mention} {text}", user_id, entities=[entity])

    def callback_update(self, chat_id: int, data: str, message_id: int, user_id: int | None = None) -> dict:
        """The citizen taps a button with `data` under the bot's message `message_id`."""
        user_id = user_id or abs(chat_id)
        return {
            "callback_query": {
                "id": f"cb{next(self._message_ids)}",
                "from": {"id": user_id, "is_bot": False, "first_name": "Dân"},
                "chat_instance": str(chat_id),
                "data": data,
                "message": self.sent[message_id],
            }
        }

    # -- reading what the bot did -------------------------------------------------------------

    def messages_to(self, chat_id: int) -> list[dict]:
        """sendMessage calls that succeeded for a chat, oldest first: the params as sent, plus
        `_message_id` (the id the fake gave the message) and `_shown` (the text after parsing)."""
        with self.cond:
            return [
                c.params for c in self.calls
                if c.method == "sendMessage" and c.status == 200 and int(c.params["chat_id"]) == chat_id
            ]

    def in_topic(self, chat_id: int, thread: int) -> list[dict]:
        """sendMessage and sendPhoto calls that succeeded into one topic, oldest first."""
        with self.cond:
            return [c.params for c in self.calls
                    if c.method in ("sendMessage", "sendPhoto") and c.status == 200
                    and int(c.params["chat_id"]) == chat_id and int(c.params.get("message_thread_id") or 0) == thread]

    def photos_to(self, chat_id: int) -> list[dict]:
        """sendPhoto calls that succeeded for a chat, oldest first (`_shown`: the caption shown)."""
        with self.cond:
            return [c.params for c in self.calls
                    if c.method == "sendPhoto" and c.status == 200 and int(c.params["chat_id"]) == chat_id]

    def documents_to(self, chat_id: int) -> list[str]:
        """File names of the sendDocument calls that succeeded for a chat, oldest first."""
        with self.cond:
            return [c.params["document"]["filename"] for c in self.calls
                    if c.method == "sendDocument" and c.status == 200 and int(c.params["chat_id"]) == chat_id]

    @staticmethod
    def buttons(params: dict) -> list[tuple[str, str]]:
        """(text, callback_data) of the inline keyboard of a sent message."""
        markup = params.get("reply_markup") or {}
        return [(b["text"], b.get("callback_data", "")) for row in markup.get("inline_keyboard", []) for b in row]
