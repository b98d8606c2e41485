"""Fixtures of the channel tests: the fake provider APIs and a spy over the real Assistant."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The fakes live in tests/fakes for other suites to reuse; make `tests.*` importable however
# pytest is started (the repository root is not on sys.path under the `pytest` script).
_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from bot.types import Suggestion  # noqa: E402
from tests.channels.helpers import SpyAssistant  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402
from tests.fakes.zalo_api import FakeZaloAPI  # noqa: E402


@pytest.fixture
def spy(assistant) -> SpyAssistant:
    return SpyAssistant(assistant)


@pytest.fixture
def faq_questions(assistant) -> list[Suggestion]:
    """Questions of the real FAQ, topic by topic (at least three are needed)."""
    questions = [q for category, _ in assistant.categories() for q in assistant.topic_questions(category)]
    assert len(questions) >= 3, "the test FAQ needs at least three questions"
    return questions


@pytest.fixture
def telegram_api():
    with FakeTelegramAPI() as api:
        yield api


@pytest.fixture
def zalo_api():
    with FakeZaloAPI() as api:
        yield api
