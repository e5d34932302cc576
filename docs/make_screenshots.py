"""Screenshots of the main console pages for docs/console.md, taken from the real app on demo data.

Run from the repository root: `.venv/bin/python docs/make_screenshots.py` (needs Debian's
chromium at /usr/bin/chromium, or --chromium PATH). It runs the demo into a temporary directory,
adds users, failures and a dead letter (the same data as the console's browser tests), serves the
app on 127.0.0.1 and saves PNGs into docs/screenshots/.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the demo data builder lives with the tests

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests.support.showcase import PASSWORD, PROJECT_1, build_showcase, serving  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def shoot(page: Page, name: str, *, full: bool = False) -> None:
    page.wait_for_load_state("networkidle")
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=full)
    print(f"  {path.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="yecai-shots-") as folder:
        print("演示数据 demo data …")
        showcase = build_showcase(Path(folder), projects=6)
        try:
            with serving(showcase.app()) as base, sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=args.chromium)
                page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
                page.goto(f"{base}/login")
                shoot(page, "login")
                sign_in(page, base, "admin")
                page.wait_for_selector("[data-chart-ready]")
                shoot(page, "dashboard", full=True)
                page.goto(f"{base}/projects/{PROJECT_1}")
                shoot(page, "project")
                page.goto(f"{base}/postings?state=failed")
                page.click("table[data-testid=postings] tbody tr:first-child td a")
                shoot(page, "posting", full=True)
                page.click("table[data-testid=posting-lines] tbody tr:first-child td:nth-child(5) a")
                shoot(page, "document")
                page.goto(f"{base}/dead-letters")
                shoot(page, "dead-letters")
                page.locator("[data-testid=replay]").first.click()  # leaves a trail for the audit log
                page.locator("[data-testid=dead-letter-status]").get_by_text("已重放").first.wait_for()
                page.goto(f"{base}/mappings/books")
                page.wait_for_selector("[data-testid=map-it]")
                page.click("[data-testid=map-it]")
                page.fill("#mapping-form input[name=number]", "XM2026004")
                page.fill("#mapping-form input[name=org]", "100")
                shoot(page, "mapping")
                page.click("[data-testid=mapping-save]")
                page.get_by_text("已保存").wait_for()
                page.goto(f"{base}/connections")
                page.click("[data-testid=connection-kingdee] [data-testid=test-connection]")
                page.wait_for_selector("[data-testid=test-result-kingdee] .badge")
                shoot(page, "connections")
                page.goto(f"{base}/approvals")
                shoot(page, "approvals")
                page.goto(f"{base}/jobs")
                shoot(page, "jobs")
                page.goto(f"{base}/alerts")
                shoot(page, "alerts")
                page.goto(f"{base}/audit")
                shoot(page, "audit")
                page.goto(f"{base}/users")
                shoot(page, "users")
                page.goto(f"{base}/lang/en?next=/")
                page.wait_for_selector("[data-chart-ready]")
                shoot(page, "dashboard-en", full=True)
                browser.close()
        finally:
            showcase.close()


if __name__ == "__main__":
    main()
