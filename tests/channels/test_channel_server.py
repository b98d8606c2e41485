"""bot/server.py: channel selection, webhook secrets, /healthz, /metrics, token hygiene."""

from __future__ import annotations

import logging
import stat

import httpx
import pytest

from bot.channels.common import Metrics, UserRateLimit
from bot.config import Settings
from bot.server import (
    _protect_tokens,
    build_channels,
    build_server,
    build_services,
    parse_listen,
    webhook_secrets,
)
from tests.channels.helpers import new_chat_id, serving


def make_settings(tmp_path, **overrides) -> Settings:
    values = {"telegram_token": None, "zalo_token": None, "listen": "127.0.0.1:0", "data_dir": tmp_path}
    return Settings(_env_file=None, **{**values, **overrides})


def test_without_tokens_serve_runs_the_web_chat(tmp_path, spy):
    channels = build_services(make_settings(tmp_path), spy, Metrics()).channels
    assert [(c.name, c.mode) for c in channels] == [("web", "web")]


def test_a_channel_without_token_is_skipped_with_a_log_line(tmp_path, spy, caplog):
    caplog.set_level(logging.INFO, logger="bot.server")
    channels = build_channels(make_settings(tmp_path, zalo_token="1:z"), spy, Metrics())
    assert [(c.name, c.mode) for c in channels] == [("zalo", "polling"), ("web", "web")]
    assert "TROLYSO_TELEGRAM_TOKEN is not set" in caplog.text
    channels = build_channels(make_settings(tmp_path, telegram_token="1:t"), spy, Metrics())
    assert [(c.name, c.mode) for c in channels] == [("telegram", "polling"), ("web", "web")]
    assert "TROLYSO_ZALO_TOKEN is not set" in caplog.text


def test_webhook_secrets_are_generated_once_and_kept_private(tmp_path):
    settings = make_settings(tmp_path)
    first = webhook_secrets(settings)
    path = tmp_path / "webhook-secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert webhook_secrets(settings) == first  # a restart keeps them
    assert len(first["telegram"]) >= 32 and len(first["zalo"]) >= 32 and first["telegram"] != first["zalo"]

    configured = webhook_secrets(make_settings(tmp_path, telegram_webhook_secret="my_secret-1"))
    assert configured == {"telegram": "my_secret-1", "zalo": first["zalo"]}
    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET"):
        webhook_secrets(make_settings(tmp_path, telegram_webhook_secret="có dấu"))
    with pytest.raises(ValueError, match="ZALO_WEBHOOK_SECRET"):
        webhook_secrets(make_settings(tmp_path, zalo_webhook_secret="short"))


def test_parse_listen():
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    assert parse_listen("0.0.0.0:80") == ("0.0.0.0", 80)
    with pytest.raises(ValueError):
        parse_listen("8080x")


async def test_healthz_and_metrics_with_both_channels_polling(tmp_path, spy, faq_questions, telegram_api, zalo_api):
    settings = make_settings(
        tmp_path,
        telegram_token=telegram_api.token,
        telegram_base_url=telegram_api.base_url,
        zalo_token=zalo_api.token,
        zalo_base_url=zalo_api.base_url,
    )
    chat = f"z{new_chat_id()}"
    async with serving(build_server(settings, spy)) as base, httpx.AsyncClient(base_url=base) as http:
        health = await http.get("/healthz")
        assert health.json() == {"status": "ok", "channels": {"telegram": "polling", "zalo": "polling", "web": "web"}}
        assert (await http.post("/telegram/webhook", json={})).status_code in (404, 405)
        assert (await http.post("/zalo/webhook", json={})).status_code in (404, 405)

        zalo_api.push(zalo_api.text_update(chat, faq_questions[0].question))
        await zalo_api.await_for(lambda calls: zalo_api.messages_to(chat))
        metrics = (await http.get("/metrics")).text
    kind = spy.reply_to(chat).kind
    assert f'trolyso_questions_total{{channel="zalo",kind="{kind}"}} 1.0' in metrics
    assert 'trolyso_questions_total{channel="telegram",kind="faq"} 0.0' in metrics
    assert 'trolyso_answer_seconds_count{channel="zalo"} 1.0' in metrics
    assert 'trolyso_errors_total{channel="zalo"} 0.0' in metrics
    assert telegram_api.calls_of("getUpdates")  # Telegram polled in the same process


async def test_tokens_never_reach_the_log(tmp_path, spy, faq_questions, telegram_api, zalo_api, caplog):
    caplog.set_level(logging.DEBUG)
    settings = make_settings(
        tmp_path,
        telegram_token=telegram_api.token,
        telegram_base_url=telegram_api.base_url,
        zalo_token=zalo_api.token,
        zalo_base_url=zalo_api.base_url,
    )
    _protect_tokens(settings)
    zalo_api.fail("sendMessage", 500, "boom")
    chat = f"z{new_chat_id()}"
    async with serving(build_server(settings, spy)):
        zalo_api.push(zalo_api.text_update(chat, faq_questions[0].question))
        await zalo_api.await_for(lambda calls: zalo_api.messages_to(chat))
    logging.getLogger("test").warning("leak? %s", telegram_api.token)  # redacted by the filter
    logging.getLogger("test").error("boom", exc_info=RuntimeError(zalo_api.token))
    text = "\n".join(caplog.handler.format(r) for r in caplog.records)
    assert "retrying" in text and "<token>" in text
    assert telegram_api.token not in text and zalo_api.token not in text


async def test_a_rejected_telegram_token_does_not_echo_the_token(telegram_api, spy):
    from bot.channels.telegram.channel import TelegramChannel
    from bot.channels.telegram.sender import TelegramSender

    channel = TelegramChannel(spy, TelegramSender.connect("999:WRONG-token", telegram_api.base_url))
    with pytest.raises(RuntimeError) as info:
        await channel.start()
    assert "WRONG" not in str(info.value) and info.value.__cause__ is None
    await channel.app.shutdown()


def test_user_rate_limit_window():
    now = [0.0]
    limit = UserRateLimit(2, clock=lambda: now[0])
    assert limit.allow("a") and limit.allow("a") and not limit.allow("a")
    assert limit.allow("b")  # per person
    now[0] = 60.0
    assert limit.allow("a")
    assert all(UserRateLimit(0).allow("a") for _ in range(100))  # 0 turns it off


def test_the_weekly_contest_post_goes_to_the_admin_chats(tmp_path, spy):
    assert build_services(make_settings(tmp_path, telegram_token="1:t"), spy, Metrics()).contest_posts is None
    services = build_services(make_settings(tmp_path, telegram_token="1:t", admin_ids="7", admin_chat_ids="-100,-200"),
                              spy, Metrics())
    assert services.contest_posts is not None and services.contest_posts.chat_ids == (-100, -200)
    services = build_services(make_settings(tmp_path, telegram_token="1:t", admin_ids="7"), spy, Metrics())
    assert services.contest_posts is not None and services.contest_posts.chat_ids == (7,)  # their private chats
