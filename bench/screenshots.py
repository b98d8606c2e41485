"""Screenshots of the web chat for the README: `python bench/screenshots.py` (after `make index`).

Serves the real FAQ's index on 127.0.0.1 (SQLite in a temporary folder), opens the demo page in
Debian's headless Chromium, opens the bubble, asks one unaccented question, and saves the open
widget on a desktop and on a 360x740 phone screen as docs/web-chat-desktop.png and
docs/web-chat-phone.png.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.assistant import Assistant  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.server import build_server  # noqa: E402
from tests.channels import browser  # noqa: E402
from tests.channels.helpers import serving  # noqa: E402

QUESTION = "quen mat khau vneid thi lam sao"


def shoot(base: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    for name, (width, height, phone) in {"desktop": (1280, 800, False), "phone": (360, 740, True)}.items():
        with browser.chromium(width, height, phone=phone) as driver:
            driver.get(base + "/")
            browser.click(driver, ".bubble")
            browser.until(driver, lambda: browser.texts(driver))
            browser.shadow(driver).find_element(By.CSS_SELECTOR, "textarea").send_keys(QUESTION, Keys.ENTER)
            browser.until(driver, lambda: any("Nguồn:" in t for t in browser.texts(driver)))
            out = ROOT / "docs" / f"web-chat-{name}.png"
            driver.save_screenshot(str(out))
            print(f"saved {out}")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base_settings = Settings()
        settings = base_settings.model_copy(update={
            "telegram_token": None, "zalo_token": None, "listen": "127.0.0.1:0",
            "db_url": f"sqlite:///{tmp}/shots.db", "index_dir": base_settings.resolved_index_dir})
        assistant = Assistant.from_settings(settings)
        async with serving(build_server(settings, assistant)) as base:
            await asyncio.to_thread(shoot, base)


if __name__ == "__main__":
    asyncio.run(main())
