"""Headless Chromium driven by Selenium, for the explorer's screenshot and browser tests.

    driver = start_browser()          # BrowserMissingError if no browser, driver or selenium
    driver.get(Path("explorer.html").resolve().as_uri())
    driver.quit()

The browser and its driver are the system's (Debian: `apt-get install chromium
chromium-driver`): their paths are passed to Selenium explicitly, so Selenium Manager never
tries to download one. The flags keep Chromium from calling home (without them it waits on a
closed network) and it gets a fresh profile each time.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


class BrowserMissingError(RuntimeError):
    """No headless browser here: says what to install."""


def _which(names: tuple[str, ...]) -> str | None:
    return next((path for path in map(shutil.which, names) if path), None)


def start_browser(width: int = 1280, height: int = 900) -> Any:
    """A Selenium Chrome driver on the system's Chromium, logging the browser console."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as err:
        raise BrowserMissingError('selenium is missing: pip install "tinygrad_attn[test]"') from err
    browser, driver = _which(BROWSERS), _which(DRIVERS)
    if browser is None or driver is None:
        raise BrowserMissingError(
            "no headless browser: apt-get install chromium chromium-driver "
            f"(found browser {browser}, driver {driver})"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    profile = tempfile.TemporaryDirectory(prefix="tg-chromium-")
    options.add_argument(f"--user-data-dir={profile.name}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    chrome.profile_dir = profile  # removed with the driver object, or at exit
    return chrome
