"""Screenshots of the reports for docs/reports.md: the monthly HTML report and a project's P&L page.

Run from the repository root: `.venv/bin/python docs/make_report_screenshots.py` (needs Debian's
chromium at /usr/bin/chromium, or --chromium PATH). It builds the report tests' world — both
sandboxes, a sync posting costs, revenue and payments — writes the monthly report, serves the
console on 127.0.0.1 and saves docs/screenshots/monthly-report.png and project-pnl.png. Separate
from make_screenshots.py because the P&L page reads a live Kingdee (sandbox) while it is served.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the world builder lives with the tests

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.support.report_world import report_world  # noqa: E402
from tests.support.showcase import serving  # noqa: E402
from yecai.auth.principal import SYSTEM  # noqa: E402
from yecai.auth.roles import Role  # noqa: E402
from yecai.auth.users import create_user  # noqa: E402
from yecai.reports import service  # noqa: E402
from yecai.web.app import create_app  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
PASSWORD = "report-shots-password-1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--projects", type=int, default=8)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="yecai-report-shots-") as folder,
        report_world(Path(folder) / "world", projects=args.projects, months=2) as world,
    ):
        chosen = service.default_period(world.store, world.workspace)  # as the console opens
        report = service.monthly(
            world.store,
            world.workspace,
            period=chosen.period,
            choice=chosen,
            who=SYSTEM,
            secrets=world.secrets,
        )
        written = service.write_monthly(report, Path(folder) / "out")
        create_user(world.store, username="finance", role=Role.FINANCE.value, by=SYSTEM, password=PASSWORD)
        code = report.by_margin[0].code
        with serving(create_app(world.store, settings=world.settings)) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium)
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.goto(written.html.as_uri())
            page.screenshot(path=str(OUT / "monthly-report.png"), full_page=True)
            print(f"  {(OUT / 'monthly-report.png').relative_to(ROOT)}")
            page.goto(f"{base}/login")
            page.fill("input[name=username]", "finance")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            page.set_viewport_size({"width": 1440, "height": 900})
            page.goto(f"{base}/projects/{code}/pnl")  # no period: the latest with data, named
            page.wait_for_selector("[data-testid=chart-trend][data-chart-ready]")
            page.wait_for_timeout(800)  # ECharts' entry animation
            page.screenshot(path=str(OUT / "project-pnl.png"), full_page=True)
            print(f"  {(OUT / 'project-pnl.png').relative_to(ROOT)}")
            browser.close()


if __name__ == "__main__":
    main()
