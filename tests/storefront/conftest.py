"""One Chromium per session; each browser test gets a fresh context (its own cookies).

The running shop itself is the session fixture `stack` from tests/shop.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.shop import ADMIN_EMAIL, ADMIN_PASSWORD

from .helpers import Browserless

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


# ---- browser --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, stack):
    context = browser.new_context(base_url=stack.url, locale="vi-VN",
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    """Set SCREENSHOT_DIR=docs/screenshots to refresh the README's pictures; else a temp dir."""
    configured = os.environ.get("SCREENSHOT_DIR")
    path = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---- HTTP -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def admin(stack):
    """The shop admin, signed in over HTTP (once per module)."""
    client = Browserless(stack.url)
    client.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    return client
