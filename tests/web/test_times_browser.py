"""Issue 14 items 8 and 15 in a real browser: the console shows times as the CLI and the reports do
(the workspace's zone, labelled) and its footer shows the one version.

Debian's chromium driven by Playwright against the real app over the demo showcase data; fails,
never skips, when chromium is missing (`.ci/run` installs it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.support.showcase import PASSWORD, Showcase, serving
from yecai import __version__
from yecai.jobs import deadletters
from yecai.localtime import shown

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def base_url(showcase: Showcase) -> Iterator[str]:
    with serving(showcase.app()) as url:
        yield url


@pytest.mark.parametrize("language", ["zh", "en"])
def test_dead_letter_times_are_labelled_and_the_footer_shows_the_version(
    showcase: Showcase, browser: Browser, base_url: str, language: str
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto(f"{base_url}/login?next=/dead-letters")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.stacked button[type=submit]")
        page.wait_for_url(f"{base_url}/dead-letters")
        if language == "en":
            page.click("[data-testid=lang-switch]")
            page.wait_for_selector("h1:text-is('Dead letters')")
        letter = deadletters.dead_letter(showcase.store, showcase.dead_letters[-1])
        row = page.locator(f"[data-testid=dead-letter-{letter.id}]")
        expected = shown(letter.failed_at)  # the same text the CLI prints for this moment
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d \(UTC\+8\)", expected)
        assert expected in row.inner_text()
        assert f"yecai {__version__}" in page.inner_text("footer")
    finally:
        context.close()
