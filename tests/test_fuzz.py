"""Bad input, property-based (hypothesis): the question path and both webhook endpoints.

Inputs: random Unicode (lone surrogates included: a JSON body can carry "\\ud800"), 100,000
characters, control and zero-width characters, NFD text, right-to-left text and overrides, HTML
and Markdown injection, SQL-looking strings, malformed and oversized JSON bodies, wrong content
types. Properties: no exception escapes, replies are well-formed and correctly escaped (the
fake Telegram server parses every HTML message the way Telegram does and rejects bad markup),
what is stored is redacted and storable, and the database stays consistent.

In `make test`: 200 examples for the text properties, 50 through the model and the database, 25
per webhook test; under the `bench` marker (`make bench`): 10,000 for each property of the
question path and 10,000 webhook deliveries (5,000 per endpoint, half of them malformed).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
import unicodedata
from itertools import count

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from bot.channels.common import Metrics
from bot.replies.citizens import SORRY_ERROR
from bot.channels.render import TELEGRAM_LIMIT, ZALO_LIMIT, reply_text, split_message
from bot.channels.telegram.channel import render_chunks
from bot.channels.telegram.sender import telegram_length
from bot.models import QuestionLog, ReviewItem
from bot.privacy import redact
from bot.server import build_channels, create_app
from indexer.text import MAX_QUESTION_CHARS, fold, views
from bot.types import KINDS, Message, Reply
from indexer.faq import load_faq
from tests.channels.helpers import SpyAssistant
from tests.conftest import DATA, make_settings
from tests.fakes.telegram_api import FakeTelegramAPI, parse_html, utf16_len
from tests.fakes.zalo_api import FakeZaloAPI

FAST, BENCH = 200, 10_000
FAST_QUESTIONS = 50  # through the model and the database: ~0.1 s each
FAST_WEBHOOK, BENCH_WEBHOOK = 25, 5_000  # per endpoint (half well-formed, half malformed)
COMMON = dict(deadline=None, database=None, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

# -- strategies ---------------------------------------------------------------------------------

QUESTIONS = [q for e in load_faq(DATA / "faq.yaml").entries for q in e.questions]
VI_WORDS = ["quên", "mật khẩu", "VNeID", "đăng ký", "tài khoản", "chuyển tiền", "lừa đảo", "căn cước", "dịch vụ công",
            "tin nhắn rác", "Nghị quyết 57-NQ/TW", "13/2023/NĐ-CP", "ạ", "nhé", "ko", "mk", "sđt", "0912 345 678",
            "+84 912 345 678", "001203004567", "nguyen.van.a@gmail.com", "stk 19034567891012", "1900 1234",
            "1.500.000 đồng", "22/12/2024", "xin chào", "cảm ơn", "1", "0", "đúng", "sai", "menu"]
INJECTIONS = ["<b>", "</b>", "<i>x", "<script>alert(1)</script>", '<a href="javascript:alert(1)">x</a>', "&amp;",
              "&lt;", "&#60;", "&#x3C;", "&", "<", ">", "<<>>", "</pre>", "<tg-spoiler>", "<br/>", "<!-- x -->",
              "<![CDATA[x]]>", "*bold*", "_it_", "`code`", "```pre```", "[link](http://evil.example)", "~~s~~",
              "||spoiler||", "\\*", "'; DROP TABLE questions; --", '" OR 1=1 --', "1; DELETE FROM review_items",
              "Robert'); DROP TABLE review_items;--", "%s %d {0} {} %(x)s", "${jndi:ldap://x}", "../../etc/passwd",
              "\\", "\x00", "\r\n", "\u2028", "NULL", "None", "[email]", "[số điện thoại]"]
RTL = ["مرحبا، كيف حالك؟", "שלום עולם", "\u202e", "\u202d", "\u202b", "\u200f", "\u200e", "\u2067", "\u2069",
       "\u202eđăng ký VNeID\u202c"]
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"


def _nfd(s: str) -> str:
    return unicodedata.normalize("NFD", s)


_fragment = st.one_of(
    st.sampled_from(VI_WORDS + QUESTIONS),
    st.sampled_from(QUESTIONS).map(_nfd),
    st.sampled_from(INJECTIONS),
    st.sampled_from(RTL),
    st.text(alphabet=st.sampled_from(ZERO_WIDTH), min_size=1, max_size=4),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"]), min_size=1, max_size=4),
    st.text(max_size=24),
    st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=2),  # lone surrogates
)
# A few fixed 100,000-character texts (fixed, so that caches keyed by text stay small).
HUGE = [
    "a" * 100_000,
    ("Quên mật khẩu VNeID thì làm sao? " * 4000)[:100_000],
    (ZERO_WIDTH * 20_000)[:100_000],
    ("0912 345 678 " * 10_000)[:100_000],
    ("<b>&amp;*_`[x](y)" * 10_000)[:100_000],
    (_nfd("Đăng ký tài khoản định danh điện tử mức 2 ở đâu? ") * 3000)[:100_000],
    ("\u202eمرحبا " * 20_000)[:100_000],
]
texts = st.one_of(
    st.lists(_fragment, max_size=10).map(" ".join),
    st.lists(_fragment, max_size=10).map("".join),
    st.text(),
    st.text(alphabet=st.characters(codec=None), max_size=200),
    st.sampled_from(HUGE),
)


# -- the question path --------------------------------------------------------------------------


def _assert_telegram_html(reply: Reply) -> None:
    """What the Telegram channel sends for a reply parses as Telegram HTML, back to the text."""
    chunks = render_chunks(reply)
    assert chunks
    shown = [parse_html(c) for c in chunks]  # raises where Telegram would answer 400
    assert all(utf16_len(s) <= TELEGRAM_LIMIT for s in shown)
    text = reply_text(reply)
    if text:
        assert shown == split_message(text, TELEGRAM_LIMIT, telegram_length)


def _check_question(assistant, text: str, user: str, logged: list) -> None:
    reply = assistant.handle(Message(text=text, channel="telegram", user_id=user, chat_id=user))
    assert reply.kind in KINDS
    assert isinstance(reply.answer, str) and reply.answer.strip()
    assert math.isfinite(reply.score) and 0.0 <= reply.score <= 1.0
    assert len(reply.question) <= MAX_QUESTION_CHARS
    _assert_telegram_html(reply)
    assert all(len(c) <= ZALO_LIMIT for c in split_message(reply_text(reply), ZALO_LIMIT))
    if reply.log_id is not None:
        row = assistant.store.question(reply.log_id)
        assert row is not None and row.kind == reply.kind and row.faq_id == reply.faq_id
        assert row.text == redact(reply.question)  # stored redacted
        assert "0912 345 678" not in row.text and "0912 345 678" not in row.normalized
        assert user not in row.user_hash
        logged.append(reply.log_id)


def _check_database(store, logged: list[int]) -> None:
    """Integrity, foreign keys, and exactly the logged questions (nothing spooled left behind)."""
    assert store.spooled() == 0
    with store.engine.connect() as conn:
        if store.engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
    with store.session() as s:
        ids = set(s.scalars(select(QuestionLog.id).where(QuestionLog.kind != "chitchat")))
        assert set(logged) <= ids and len(ids) == len(set(logged))
        # small talk is counted for the reports, but its text is never stored
        assert all(t == "" for t in s.scalars(select(QuestionLog.text).where(QuestionLog.kind == "chitchat")))
        orphans = s.scalar(select(func.count()).select_from(ReviewItem).where(
            ReviewItem.question_id.is_not(None), ReviewItem.question_id.not_in(select(QuestionLog.id))))
        assert orphans == 0
        for row in s.scalars(select(QuestionLog)):
            assert row.text == redact(row.text)  # redaction is idempotent: nothing personal is left
            row.text.encode("utf-8")  # storable text only (no lone surrogates)


def _question_path(assistant, n: int) -> None:
    users = count(1)
    logged: list[int] = []

    @settings(max_examples=n, **COMMON)
    @given(texts)
    def prop(t: str) -> None:
        _check_question(assistant, t, f"fuzz{next(users)}", logged)

    prop()
    _check_database(assistant.store, logged)


def test_question_path(assistant):
    _question_path(assistant, FAST_QUESTIONS)


@pytest.mark.bench
def test_question_path_bench(assistant):
    _question_path(assistant, BENCH)


def test_nfd_asks_the_same_as_nfc(assistant):
    for q in QUESTIONS[::3]:
        a = assistant.handle(Message(text=q, channel="cli", user_id="nfc"))
        b = assistant.handle(Message(text=_nfd(q), channel="cli", user_id="nfd"))
        assert (a.kind, a.faq_id, a.answer) == (b.kind, b.faq_id, b.answer)


# -- text views and redaction (no model: cheap, many examples) ----------------------------------

_BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}


def _check_text(t: str) -> None:
    v = views(t)
    assert len(v.original) <= MAX_QUESTION_CHARS
    assert not any(unicodedata.category(ch) in _BAD_CATEGORIES and ch != "\n" for ch in v.original)
    assert not any(ch in ZERO_WIDTH for ch in v.normalized)
    assert v.folded == fold(v.normalized) and fold(v.folded) == v.folded
    assert not any(unicodedata.category(ch) == "Mn" for ch in unicodedata.normalize("NFD", v.folded))
    assert views(_nfd(t)) == v  # canonically equivalent texts are the same question
    r = redact(t)
    assert redact(r) == r
    r.encode("utf-8")  # storable
    assert "\x00" not in r


def _text_props(n: int) -> None:
    @settings(max_examples=n, **COMMON)
    @given(texts)
    def prop(t: str) -> None:
        _check_text(t)

    prop()


def test_text_views_and_redaction():
    _text_props(FAST)


@pytest.mark.bench
def test_text_views_and_redaction_bench():
    _text_props(BENCH)


# Secrets put anywhere in random text vanish; the text around them stays.
_phone = st.builds(lambda p, d, g: p + g.join([d[:3], d[3:6], d[6:]]),
                   st.sampled_from(["0", "+84 ", "+84", "84", "(+84) "]),
                   st.sampled_from(["3", "5", "7", "8", "9"]).flatmap(
                       lambda first: st.text("0123456789", min_size=8, max_size=8).map(lambda r: first + r)),
                   st.sampled_from(["", " ", ".", "-"]))
_cccd = st.builds(lambda d, g: g.join([d[i:i + 3] for i in range(0, 12, 3)]),
                  st.text("0123456789", min_size=11, max_size=11).map(lambda r: "0" + r), st.sampled_from(["", " ", "."]))
_cmnd = st.text("0123456789", min_size=9, max_size=9)
_account = st.builds(lambda d, g: g.join([d[i:i + 4] for i in range(0, len(d), 4)]),
                     st.integers(12, 16).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)),
                     st.sampled_from(["", " ", "-"]))
_email = st.builds(lambda a, b, tld: f"{a}@{b}.{tld}", st.from_regex(r"[a-z][a-z0-9._+]{0,15}[a-z0-9]", fullmatch=True),
                   st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True), st.sampled_from(["vn", "com", "gov.vn"]))
_around = st.text(alphabet=st.characters(exclude_categories=["Cs", "Nd"], exclude_characters="@\x00"), max_size=30)


def _secret_props(n: int) -> None:
    @settings(max_examples=n, **COMMON)
    @given(_around, st.one_of(_phone, _cccd, _cmnd, _account, _email), _around,
           st.sampled_from([" ", ": ", ", ", "\n", "("]), st.sampled_from([" ", ", ", ". ", "\n", ")", "!"]))
    def prop(before: str, secret: str, after: str, sep1: str, sep2: str) -> None:
        out = redact(f"{before}{sep1}{secret}{sep2}{after}")
        assert secret not in out
        digits = "".join(ch for ch in secret if ch.isdigit())
        if "@" not in secret:
            assert digits not in "".join(ch for ch in out if ch.isdigit())
        assert out.endswith(f"{sep2}{after}") or "@" in secret

    prop()


def test_secrets_anywhere_are_redacted():
    _secret_props(FAST)


@pytest.mark.bench
def test_secrets_anywhere_are_redacted_bench():
    _secret_props(BENCH)


# -- both webhook endpoints, against a live server ----------------------------------------------

TG_SECRET, ZALO_SECRET = "tg-fuzz_secret-123", "zalo-fuzz-secret-123"


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class LiveBot:
    """Both channels in webhook mode in one uvicorn server on a thread of its own, over the real
    assistant, talking to the fake Telegram and Zalo servers."""

    def __init__(self, spy: SpyAssistant, tmp_path) -> None:
        self.telegram = FakeTelegramAPI().start()
        self.zalo = FakeZaloAPI().start()
        settings = make_settings(
            tmp_path, telegram_token=self.telegram.token, telegram_base_url=self.telegram.base_url,
            zalo_token=self.zalo.token, zalo_base_url=self.zalo.base_url, public_url="https://bot.example.org",
            listen="127.0.0.1:0", telegram_webhook_secret=TG_SECRET, zalo_webhook_secret=ZALO_SECRET,
            rate_limit_per_minute=0)
        self.spy = spy
        self.metrics = Metrics()
        self.channels = build_channels(settings, spy, self.metrics)
        app = create_app(self.channels, self.metrics)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on",
                                                    log_config=None, access_log=False))
        self.errors = _Errors()
        logging.getLogger().addHandler(self.errors)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        self.ids = count(1)
        self.valid_chats: set = set()

    def close(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(30)
        logging.getLogger().removeHandler(self.errors)
        self.telegram.close()
        self.zalo.close()

    def settle(self, timeout: float = 30) -> None:
        """Wait until the bot has stopped calling the fakes (every update is processed)."""
        deadline = time.monotonic() + timeout
        last = -1
        while time.monotonic() < deadline:
            n = len(self.telegram.calls) + len(self.zalo.calls) + len(self.spy.calls)
            if n == last:
                return
            last = n
            time.sleep(0.5)

    def finish(self, malformed: bool) -> None:
        """After the examples: every answer was accepted by the provider, nothing failed on a
        well-formed update, the server is still healthy, the database consistent.

        Malformed updates (a structure Telegram or Zalo never send, posted with the right
        secret) may end in the channel's own error handler (logged, a polite apology); they must
        never reach uvicorn ("Exception in ASGI application") or asyncio (an unretrieved task
        exception), and never take the server down."""
        self.settle()
        sent = [(api, c) for api in (self.telegram, self.zalo) for c in api.calls if c.method == "sendMessage"]
        to_valid = [(api, c) for api, c in sent if _chat_of(api, c) in self.valid_chats]
        rejected = [c for _, c in to_valid if c.status != 200]
        assert not rejected, [(c.status, c.params.get("text", "")[:200]) for c in rejected]
        assert not [c for _, c in to_valid if c.params.get("text") == SORRY_ERROR]
        unhandled = [r for r in self.errors.records if r.name.startswith(("uvicorn", "asyncio"))
                     or not r.name.startswith("bot.")]
        assert not unhandled, [self.errors.format(r) for r in unhandled[:3]]
        if not malformed:
            assert not self.errors.records, [self.errors.format(r) for r in self.errors.records[:3]]
        else:
            self.handled_errors = len(self.errors.records)
        assert self.http.get("/healthz").json()["status"] == "ok"
        self.check_database()

    def check_database(self) -> None:
        logged = [r.log_id for method in ("handle", "answer_faq") for _, r in self.spy.calls_of(method)
                  if r.log_id is not None]
        _check_database(self.spy.store, logged)


def _chat_of(api, call) -> object:
    chat = call.params.get("chat_id")
    if isinstance(api, FakeTelegramAPI):
        try:
            return int(chat)
        except (TypeError, ValueError):
            return chat
    return chat


@pytest.fixture()
def live(assistant, tmp_path):
    bot = LiveBot(SpyAssistant(assistant), tmp_path)
    yield bot
    bot.close()


def _containers(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4))


_json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
                            _containers, max_leaves=12)
_CONTENT_TYPES = [None, "application/json", "text/plain", "application/x-www-form-urlencoded",
                  "multipart/form-data; boundary=x", "application/json; charset=latin-1", "image/png"]
_BIG_JSON = json.dumps({"update_id": 1, "junk": ["x" * 1000] * 2000})  # ~2 MB


def _mutate(update: dict, path: list[str], value) -> dict:
    """The update with the field at `path` replaced (or removed when value is ...)."""
    out = json.loads(json.dumps(update))
    node = out
    for key in path[:-1]:
        node = node[key]
    if value is Ellipsis:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return out


def _body(draw, valid: dict, malformed: bool) -> tuple[bytes, str | None, bool]:
    """(raw body, content type, whether it is the valid text update). Valid updates come with any
    content type (the endpoints read JSON whatever the header says); malformed ones are mutated
    updates, random JSON values, random bytes, a 2 MB body or a form."""
    ctype = draw(st.sampled_from(_CONTENT_TYPES))
    if not malformed:
        return json.dumps(valid).encode(), ctype, True
    kind = draw(st.sampled_from(["mutated", "mutated", "json", "bytes", "big", "form", "valid"]))
    if kind == "valid":
        return json.dumps(valid).encode(), ctype, True
    if kind == "mutated":
        paths = [["message"], ["message", "text"], ["message", "chat"], ["message", "chat", "id"], ["message", "from"],
                 ["message", "message_id"], ["message", "date"], ["update_id"], ["event_name"]]
        path = draw(st.sampled_from([p for p in paths if _has(valid, p[:-1])]))
        return json.dumps(_mutate(valid, path, draw(st.just(Ellipsis) | _json_values))).encode(), ctype, False
    if kind == "json":
        return json.dumps(draw(_json_values)).encode(), ctype, False
    if kind == "bytes":
        return draw(st.binary(max_size=200)), ctype, False
    if kind == "big":
        return _BIG_JSON.encode(), ctype, False
    return b"update_id=1&message=%7B%7D", "application/x-www-form-urlencoded", False


def _has(d: dict, path: list[str]) -> bool:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return False
        d = d[key]
    return isinstance(d, dict)


def _json_bytes(obj) -> bytes:
    return json.dumps(obj).encode()  # ensure_ascii: surrogates travel as \\ud800 escapes, as on the wire


def _telegram_props(live: LiveBot, n: int, malformed: bool = False) -> None:
    api = live.telegram

    @settings(max_examples=n, **COMMON)
    @given(st.data())
    def prop(data) -> None:
        i = next(live.ids)
        chat = 5_000_000 + i
        t = data.draw(texts, label="text")
        valid = {"update_id": 10_000 + i, "message": {"message_id": i, "date": int(time.time()),
                 "chat": {"id": chat, "type": "private", "first_name": "Dân"},
                 "from": {"id": chat, "is_bot": False, "first_name": "Dân"}, "text": t}}
        body, ctype, is_valid = _body(data.draw, valid, malformed)
        secret = data.draw(st.sampled_from([TG_SECRET] * 6 + [None, "", "wrong", TG_SECRET + "x"]), label="secret")
        headers = {k: v for k, v in {"Content-Type": ctype, "X-Telegram-Bot-Api-Secret-Token": secret}.items()
                   if v is not None}
        response = live.http.post("/telegram/webhook", content=body, headers=headers)
        if secret != TG_SECRET:
            assert response.status_code == 403
            return
        assert response.status_code in (200, 400), response.status_code
        if is_valid:
            assert response.status_code == 200
            live.valid_chats.add(chat)
            if t:  # every non-empty text gets an answer that Telegram accepts
                api.wait_for(lambda calls: api.messages_to(chat), timeout=30)

    prop()
    live.finish(malformed)


def _zalo_props(live: LiveBot, n: int, malformed: bool = False) -> None:
    api = live.zalo

    @settings(max_examples=n, **COMMON)
    @given(st.data())
    def prop(data) -> None:
        i = next(live.ids)
        chat = f"zfuzz{i}"
        t = data.draw(texts, label="text")
        valid = FakeZaloAPI.text_update(api, chat, t, message_id=f"m{i}")
        if data.draw(st.booleans(), label="wrapped"):
            valid = {"ok": True, "result": valid}
        body, ctype, is_valid = _body(data.draw, valid, malformed)
        secret = data.draw(st.sampled_from([ZALO_SECRET] * 6 + [None, "", "wrong", ZALO_SECRET + "x"]), label="secret")
        headers = {k: v for k, v in {"Content-Type": ctype, "X-Bot-Api-Secret-Token": secret}.items()
                   if v is not None}
        response = live.http.post("/zalo/webhook", content=body, headers=headers)
        if secret != ZALO_SECRET:
            assert response.status_code == 401
            return
        assert response.status_code in (200, 400), response.status_code
        if is_valid:
            assert response.status_code == 200
            live.valid_chats.add(chat)
            api.wait_for(lambda calls: api.messages_to(chat), timeout=30)  # always some answer

    prop()
    live.finish(malformed)


def test_telegram_webhook(live):
    _telegram_props(live, FAST_WEBHOOK)


def test_zalo_webhook(live):
    _zalo_props(live, FAST_WEBHOOK)


def test_zalo_webhook_malformed(live):
    _zalo_props(live, FAST_WEBHOOK, malformed=True)


@pytest.mark.bench
def test_telegram_webhook_bench(live):
    _telegram_props(live, BENCH_WEBHOOK // 2)


@pytest.mark.bench
def test_telegram_webhook_malformed_bench(live):
    _telegram_props(live, BENCH_WEBHOOK // 2, malformed=True)
    print(f"telegram: {live.handled_errors} malformed update(s) ended in the channel's error handler")


@pytest.mark.bench
def test_zalo_webhook_bench(live):
    _zalo_props(live, BENCH_WEBHOOK // 2)


@pytest.mark.bench
def test_zalo_webhook_malformed_bench(live):
    _zalo_props(live, BENCH_WEBHOOK // 2, malformed=True)
    print(f"zalo: {live.handled_errors} malformed update(s) ended in the channel's error handler")
