"""All configuration in one place: TROLYSO_* environment, `.env`, `trolyso.toml`, defaults.

Precedence: environment variables, then `.env`, then `trolyso.toml` (or the file named by
`TROLYSO_CONFIG`), then the defaults below.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_MODEL = "builtin:multilingual-e5-small-q4"


def _config_file() -> Path:
    return Path(os.environ.get("TROLYSO_CONFIG", "trolyso.toml"))


class Thresholds(BaseModel):
    """Decision thresholds, calibrated on ../shared/eval/dev (never on the FAQ's own questions)."""

    model_config = ConfigDict(extra="ignore")

    answer: float = 0.86  # confidence at or above which the best FAQ entry is answered
    clarify: float = 0.78  # confidence at or above which suggestions are offered
    margin: float = 0.0  # top1 - top2 confidence below which an answer becomes a clarification
    rank_gap: float = 0.0  # top1 - top2 ranking score below which an answer becomes a clarification
    knowledge: float = 0.73  # confidence at or above which a knowledge passage is answered


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TROLYSO_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
    )

    data_dir: Path = Path("var")
    db_url: str | None = None
    model_dir: Path = Path("~/.cache/trolyso/models").expanduser()
    embedding_model: str = DEFAULT_MODEL
    embedding_backend: Literal["onnx", "torch"] = "onnx"  # for the builtin model (others run on torch)
    secret_key: str | None = None
    faq: Path = Path("faq.yaml")
    communes: Path = Path("communes.yaml")  # the province's xã and phường, their review chats
    quiz: Path = Path("quiz.yaml")  # the quiz bank (indexer/quiz.py); contests.yaml lives next to it
    knowledge_dir: Path = Path("knowledge")
    index_dir: Path | None = None

    # Retrieval and decision
    thresholds: Thresholds = Field(default_factory=Thresholds)
    dense_weight: float = 0.7  # weight of the cosine in the absolute confidence
    lexical_scale: float = 12.0  # K: BM25 score divided by K (capped at 1) in the confidence
    coverage_rank: float = 0.5  # weight of the coverage z-score in the ranking
    knowledge_bonus: float = 0.03  # passages' calibration offset against FAQ entries
    # the tuned second stage (`trolyso model tune`, bot/second_stage.py): confidence -= this x how much
    # less similar the tuned encoder finds a top FAQ candidate than the best other one; 0 switches it off
    second_stage_weight: float = 0.5
    type_penalty: float = 0.3  # FAQ confidence *= 1 - this when an entry misses the asked type (question_type.py)
    # diacritics put back (from the index's vocabulary) before the dense encoder: "unaccented" for a
    # question typed with none, "always" for every unaccented syllable, "off" (indexer/diacritics.py)
    restore_diacritics: Literal["off", "unaccented", "always"] = "unaccented"
    near_duplicate_cosine: float = 0.97  # faq check warns above this cosine across ids
    faiss_exact_max: int = 50_000  # above this many vectors, an approximate (HNSW) index is used

    # Channels
    telegram_token: str | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    zalo_token: str | None = None
    zalo_base_url: str = "https://bot-api.zaloplatforms.com"
    public_url: str | None = None
    listen: str = "127.0.0.1:8080"
    telegram_webhook_secret: str | None = None
    zalo_webhook_secret: str | None = None

    # Review loop
    review_chat_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    review_group_cosine: float = 0.95  # cosine to a review group's centroid from which a question joins it
    review_poll_seconds: float = 5.0  # `serve`: how often new review items are grouped and posted

    # Bulletins (bot/bulletins)
    admin_chat_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)  # empty: admins' private chats
    timezone: str = "Asia/Ho_Chi_Minh"  # local time of send_at, expires and quiet hours (the database keeps UTC)
    quiet_hours: str = "21:00-07:00"  # local; nothing is sent in this window (empty: none)
    broadcast_window: int = 10  # deliveries claimed and in flight at once (the most left uncertain by a crash)
    broadcast_poll_seconds: float = 30.0  # `serve`: how often scheduled bulletins are looked for

    # Web chat (bot/channels/web)
    web_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)  # empty: the bot's own origin
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)  # may set X-Forwarded-For
    web_ip_rate_limit_per_minute: int = 120  # questions per minute from one address (a whole office)

    # Reports (bot/report): periods in `timezone` (above)
    report_chat_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)  # empty: the admin chats
    report_formats: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["html", "xlsx", "pdf"])

    # Hand-off to a person (bot/handoff.py)
    handoff_hours: str = "7:30-17:00 thứ Hai đến thứ Sáu"  # a commune's `hours` in communes.yaml win
    handoff_idle_hours: float = 24.0  # idle hand-offs close after this (working hours only until taken)
    handoff_signature: Literal["first_name", "team"] = "first_name"  # how members' messages are signed
    handoff_emergency_faq: str = "luadao-sau-khi-bi-lua"  # the FAQ entry sent at once on a scam in progress
    handoff_summary_minutes: float = 30.0  # a question asked this recently is the hand-off's summary
    media_link_seconds: float = 600.0  # a member's photo link for Zalo (/media/<token>) lives this long

    # Abuse protection
    rate_limit_per_minute: int = 20

    @field_validator("model_dir", "data_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("web_origins", "trusted_proxies", "report_formats", mode="before")
    @classmethod
    def _comma_strings(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @field_validator("review_chat_ids", "admin_ids", "report_chat_ids", "admin_chat_ids", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value

    @property
    def resolved_admin_chat_ids(self) -> list[int]:
        """Where previews go: TROLYSO_ADMIN_CHAT_IDS, else the admins' private chats."""
        return self.admin_chat_ids or self.admin_ids

    @property
    def resolved_index_dir(self) -> Path:
        return self.index_dir or self.data_dir / "index"

    @property
    def resolved_db_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.data_dir / 'trolyso.db').resolve()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, dotenv_settings, toml)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
