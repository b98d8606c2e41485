"""Shared set-up of the review and reload tests: a private copy of the test FAQ, knowledge and
index, a real Assistant over it, and the fake Telegram API with chat membership."""

from __future__ import annotations

import asyncio
import shutil
import time
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import DATA, make_settings
from tests.fakes.telegram_api import FakeTelegramAPI

# Strict decision thresholds: paraphrases the small test FAQ does not hold go unanswered,
# while a wording that is in the FAQ (fuzzy match 1.0) is answered. Independent of calibration.
STRICT = {"answer": 0.95, "clarify": 0.9}
REVIEW_CHAT = -100777
REVIEWER = 5001
OUTSIDER = 5002
ADMIN = 5003

# Questions of the scenarios (probed on tests/data/faq.yaml): the LOCKED_* wordings are near each
# other (cosine ~0.99) and near vneid-quen-mat-khau; RICE is about nothing in the FAQ.
LOCKED_1 = "Bị khóa tài khoản VNeID vì nhập sai mật khẩu nhiều lần"
LOCKED_2 = "Tài khoản VNeID bị khóa vì nhập sai mật khẩu nhiều lần thì sao?"
RICE = "Giá lúa hôm nay bao nhiêu?"
BHYT_1 = "Làm thẻ bảo hiểm y tế cho con ở đâu?"
BHYT_2 = "Làm thẻ bảo hiểm y tế cho con ở đâu vậy ạ?"
BHYT_3 = "lam the bao hiem y te cho con o dau"  # the same wording without accents
BIRTH_1 = "Làm sao đăng ký khai sinh trực tuyến cho con?"
BIRTH_2 = "Đăng ký khai sinh online cho con như thế nào?"


@dataclass
class Env:
    tmp: Path
    faq: Path
    knowledge: Path
    index_dir: Path
    settings: Any
    assistant: Any

    @property
    def store(self) -> Any:
        return self.assistant.store


def make_env(tmp_path: Path, small_index_dir: Path, embedder: Any, model_dir: Path, **overrides: Any) -> Env:
    from bot.assistant import Assistant, retrieval_params
    from bot.config import Thresholds
    from bot.retrieval import Index
    from bot.storage import Store

    faq = tmp_path / "faq.yaml"
    shutil.copy(DATA / "faq.yaml", faq)
    knowledge = tmp_path / "knowledge"
    shutil.copytree(DATA / "knowledge", knowledge)
    index_dir = tmp_path / "index"
    shutil.copytree(small_index_dir, index_dir, symlinks=True)  # its cache keeps rebuilds incremental
    values = dict(model_dir=model_dir, faq=faq, knowledge_dir=knowledge, index_dir=index_dir,
                  thresholds=Thresholds(**STRICT), review_poll_seconds=0.2, listen="127.0.0.1:0")
    settings = make_settings(tmp_path / "var", **{**values, **overrides})
    index = Index.open(index_dir, embedder, retrieval_params(settings))
    store = Store(settings.resolved_db_url, settings.data_dir / "spool.jsonl")
    return Env(tmp_path, faq, knowledge, index_dir, settings, Assistant(settings, index, store))


class ReviewTelegramAPI(FakeTelegramAPI):
    """The fake Telegram API plus getChatMember: `members[chat_id]` holds the member user ids."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.members: dict[int, set[int]] = {}

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict]:
        if method == "getChatMember":
            chat, user = int(params["chat_id"]), int(params["user_id"])
            status = "member" if user in self.members.get(chat, set()) else "left"
            return self.ok({"status": status, "user": {"id": user, "is_bot": False, "first_name": "Thành viên"}})
        return super().handle(method, params)

    def _send_message(self, params: dict[str, Any]) -> tuple[int, dict]:
        status, body = super()._send_message(params)
        message = body.get("result") if status == 200 else None
        # Like Telegram, a message carries only an inline keyboard, not a ForceReply request.
        if isinstance(message, dict) and "inline_keyboard" not in (message.get("reply_markup") or {"inline_keyboard": 1}):
            message.pop("reply_markup")
        return status, body

    def answers(self) -> list[dict]:
        """answerCallbackQuery calls (the toasts and alerts shown to whoever tapped)."""
        return [c.params for c in self.calls_of("answerCallbackQuery")]


@asynccontextmanager
async def running(env: Env):
    """What `bot.server.serve` runs: every part wired by `build_services`, served by uvicorn."""
    from bot.server import build_services
    from tests.channels.helpers import serving

    services = build_services(env.settings, env.assistant)
    async with serving(services.server()):
        yield services


async def until(predicate: Any, timeout: float = 60.0) -> Any:
    """Wait (without blocking the loop) until `predicate()` is truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
    return value


WAIT = 60.0  # generous: the machine may be busy; nothing asserts timings


async def wait(api: Any, predicate: Any, timeout: float = WAIT) -> Any:
    """`api.await_for` with a timeout for busy machines."""
    return await api.await_for(predicate, timeout)


def review_messages(tg: FakeTelegramAPI, containing: str) -> list[dict]:
    """Messages the bot sent to the review chat that contain a text."""
    return [m for m in tg.messages_to(REVIEW_CHAT) if containing in m["_shown"]]


# -- a commune with its own review chat (communes, hand-off) ---------------------------------------
COMMUNE_CHAT = -100888  # the review chat of xã Mường Kim's team
COMMUNE_MEMBER = 6001  # in that chat only, not in the provincial one


@contextmanager
def commune_apis() -> Any:
    """The fake Telegram (with the provincial and the commune's review chats) and Zalo APIs."""
    from tests.fakes.zalo_api import FakeZaloAPI

    with ReviewTelegramAPI() as tg, FakeZaloAPI() as zalo:
        tg.members[REVIEW_CHAT] = {REVIEWER}
        tg.members[COMMUNE_CHAT] = {COMMUNE_MEMBER}
        yield tg, zalo


def commune_env(tmp_path: Path, small_index_dir: Path, embedder: Any, model_dir: Path, tg: Any, zalo: Any,
                **overrides: Any) -> Env:
    """`make_env` over both fake APIs, with the shipped communes.yaml where xã Mường Kim has its
    own review chat (COMMUNE_CHAT) and team name."""
    communes = tmp_path / "communes.yaml"
    shipped = (DATA.parents[1] / "communes.yaml").read_text(encoding="utf-8")
    communes.write_text(shipped.replace(
        "    name: Mường Kim\n    type: xã\n",
        f"    name: Mường Kim\n    type: xã\n    review_chat_ids: [{COMMUNE_CHAT}]\n"
        "    team: Tổ công nghệ số xã Mường Kim\n", 1), encoding="utf-8")
    return make_env(tmp_path, small_index_dir, embedder, model_dir,
                    telegram_token=tg.token, telegram_base_url=tg.base_url,
                    zalo_token=zalo.token, zalo_base_url=zalo.base_url,
                    review_chat_ids=[REVIEW_CHAT], communes=communes, review_poll_seconds=3600, **overrides)
