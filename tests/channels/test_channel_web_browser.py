"""The web chat in a real browser (headless Chromium) against `trolyso serve` on 127.0.0.1:
open the demo page, open the bubble, ask without diacritics, pick a suggestion, give 👎, reload
and find the conversation, and read it on a 360x740 phone screen."""

from __future__ import annotations

import asyncio

import pytest

from bot.config import Settings
from bot.server import build_server
from indexer.text import fold
from tests.channels import browser
from tests.channels.helpers import as_clarify, serving


@pytest.fixture(scope="module", autouse=True)
def _chromium_present() -> None:
    problem = browser.missing()
    if problem:  # a clear failure, never a silent skip
        pytest.fail(problem, pytrace=False)


def _drive(base: str, question, suggestions) -> dict:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    seen: dict = {}
    with browser.chromium() as driver:
        driver.get(base + "/")
        root = browser.shadow(driver)
        bubble = root.find_element(By.CSS_SELECTOR, ".bubble")
        assert bubble.get_attribute("aria-label") == "Mở trò chuyện với Trợ lý số"
        bubble.click()
        browser.until(driver, lambda: any("Xin chào" in t for t in browser.texts(driver)))
        box = root.find_element(By.CSS_SELECTOR, "textarea")
        assert driver.execute_script("return arguments[0].shadowRoot.activeElement === arguments[1]",
                                     driver.find_element(By.CSS_SELECTOR, "div[data-trolyso]"), box)
        # an unaccented question gets the right answer and its source
        box.send_keys(fold(question.question), Keys.ENTER)
        answer = browser.until(driver, lambda: next((t for t in browser.texts(driver) if "Nguồn:" in t), None))
        seen["answer"] = answer
        # a clarification: pick the second suggestion
        box.send_keys("giấy tờ đó làm ở đâu", Keys.ENTER)
        browser.click(driver, ".choices button", suggestions[1].question)
        picked = browser.until(driver, lambda: next(
            (t for t in browser.texts(driver) if f"Về câu hỏi: «{suggestions[1].question}»" in t), None))
        seen["picked"] = picked
        # 👎 on the last answer
        browser.click(driver, ".rate button:last-child")
        browser.until(driver, lambda: any("Xin lỗi vì câu trả lời chưa đúng" in t for t in browser.texts(driver)))
        # a reload keeps the conversation
        driver.refresh()
        root = browser.shadow(driver)
        root.find_element(By.CSS_SELECTOR, ".bubble").click()
        browser.until(driver, lambda: any(fold(question.question) == t.split("\n", 1)[-1] for t in browser.texts(driver)))
        seen["after_reload"] = browser.texts(driver)
        # Escape closes and gives the focus back to the bubble
        root.find_element(By.CSS_SELECTOR, "textarea").send_keys(Keys.ESCAPE)
        seen["closed"] = root.find_element(By.CSS_SELECTOR, ".panel").get_attribute("hidden") is not None
    with browser.chromium(360, 740, phone=True) as driver:  # a phone: fits 360 px, nothing sideways
        driver.get(base + "/")
        browser.click(driver, ".bubble")
        browser.until(driver, lambda: browser.texts(driver))
        seen["viewport"] = driver.execute_script("return window.innerWidth")
        seen["panel_width"] = browser.shadow(driver).find_element(By.CSS_SELECTOR, ".panel").rect["width"]
        seen["overflow"] = driver.execute_script(
            "var log = document.querySelector('div[data-trolyso]').shadowRoot.querySelector('.log');"
            "return log.scrollWidth - log.clientWidth")
    return seen


async def test_the_widget_in_a_real_browser(spy, tmp_path, faq_questions):
    question = faq_questions[0]
    suggestions = faq_questions[:3]
    spy.script["giấy tờ đó làm ở đâu"] = as_clarify(suggestions)
    settings = Settings(_env_file=None, telegram_token=None, zalo_token=None, listen="127.0.0.1:0",
                        data_dir=tmp_path)
    async with serving(build_server(settings, spy)) as base:
        seen = await asyncio.to_thread(_drive, base, question, suggestions)
    reply = next(r for a, r in spy.calls_of("handle") if a[0].text == fold(question.question))
    assert reply.kind == "faq" and reply.faq_id == question.faq_id
    assert f"Về câu hỏi: «{question.question}»" in seen["answer"] and reply.source in seen["answer"]
    assert spy.calls_of("answer_faq")[0][0][0] == suggestions[1].faq_id
    assert any("Nguồn:" in t for t in seen["after_reload"])
    assert seen["viewport"] == 360 and seen["panel_width"] <= 360 and seen["overflow"] <= 0
    assert seen["closed"]
    [(args, _)] = spy.calls_of("feedback")
    assert args[1] is False


def _erase(base: str) -> dict:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from bot.replies import citizens as replies

    seen: dict = {}
    with browser.chromium() as driver:
        driver.get(base + "/")
        browser.click(driver, ".bubble")
        browser.until(driver, lambda: any("Xin chào" in t for t in browser.texts(driver)))
        box = browser.shadow(driver).find_element(By.CSS_SELECTOR, "textarea")
        box.send_keys("cảm ơn", Keys.ENTER)
        browser.until(driver, lambda: len(browser.texts(driver)) >= 3)
        box.send_keys("xóa dữ liệu của tôi", Keys.ENTER)
        browser.until(driver, lambda: any(replies.ERASE_CONFIRM in t for t in browser.texts(driver)))
        seen["before"] = browser.texts(driver)
        seen["session_before"] = driver.execute_script(
            "return JSON.parse(localStorage.getItem('trolyso-chat:' + location.origin)).session")
        browser.click(driver, ".choices button", replies.ERASE_YES)
        browser.until(driver, lambda: any(replies.ERASED in t for t in browser.texts(driver)))
        seen["after"] = browser.texts(driver)
        seen["stored"] = driver.execute_script(
            "return JSON.parse(localStorage.getItem('trolyso-chat:' + location.origin))")
    return seen


async def test_erasing_my_data_in_a_real_browser_forgets_the_conversation(spy, tmp_path):
    from sqlalchemy import select

    from bot.models import WebSession
    from bot.replies import citizens as replies

    settings = Settings(_env_file=None, telegram_token=None, zalo_token=None, listen="127.0.0.1:0",
                        data_dir=tmp_path)
    async with serving(build_server(settings, spy)) as base:
        seen = await asyncio.to_thread(_erase, base)
    assert seen["session_before"] and len(seen["before"]) >= 5  # greeting, "cảm ơn", its reply, the question
    assert [t.split("\n", 1)[-1] for t in seen["after"]] == [replies.ERASED]  # the device forgot the rest
    assert seen["stored"]["session"] is None and len(seen["stored"]["items"]) == 1
    with spy.store.session() as s:
        assert s.scalars(select(WebSession.key)).all() == []  # and so did the server
