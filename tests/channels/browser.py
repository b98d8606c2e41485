"""A real browser for the web-chat tests and screenshots: Debian's headless Chromium driven by
Selenium through Debian's chromedriver (`.ci/run` installs both with apt; nothing is downloaded)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM = os.environ.get("TROLYSO_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TROLYSO_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")


def missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            return f"{path} is missing: `apt-get install chromium chromium-driver` (.ci/run does it)"
    return None


@contextmanager
def chromium(width: int = 1280, height: int = 900, phone: bool = False) -> Iterator[Any]:
    """Headless Chromium; `phone` emulates a phone screen of `width` x `height` CSS pixels."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager reach the network
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--window-size={width},{height}", "--lang=vi", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    if phone:
        options.add_experimental_option("mobileEmulation", {
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0, "touch": True}})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def shadow(driver: Any) -> Any:
    """The widget's shadow root."""
    from selenium.webdriver.common.by import By

    host = driver.find_element(By.CSS_SELECTOR, "div[data-trolyso]")
    return host.shadow_root


def until(driver: Any, condition: Callable[[], Any], timeout: float = 30) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda _: condition())


def texts(driver: Any) -> list[str]:
    """The widget's messages as shown (read in one step: the widget redraws its log)."""
    return list(driver.execute_script(
        "var r = document.querySelector('div[data-trolyso]').shadowRoot;"
        "return Array.from(r.querySelectorAll('.msg')).map(function (m) { return m.innerText; });"))


def click(driver: Any, selector: str, text: str | None = None, timeout: float = 30) -> None:
    """Click the first element of the widget matching `selector` (and showing `text`), retrying
    while the widget redraws."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    def attempt() -> bool:
        try:
            for element in shadow(driver).find_elements(By.CSS_SELECTOR, selector):
                if text is None or element.text == text:
                    element.click()
                    return True
        except StaleElementReferenceException:
            pass
        return False

    until(driver, attempt, timeout)
