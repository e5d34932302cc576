"""The README, followed in a real browser, shows no raw code in Chinese or English (issue 14, "Done when").

As a new user would: `yecai demo` in an empty folder, then `yecai serve` from that folder (the
real commands, in subprocesses; free ports instead of 8000 and the demo's defaults, which other
suites may hold), then Debian's chromium signs in with the password the demo printed and opens the
dashboard, a project's P&L, a voucher (posting) page, runs a reconciliation and generates the
monthly report (HTML and Excel) — once in Chinese and once in English after the language switch.
Every page is read as a person reads it (tests/support/visible.py): none of the codes yecai.labels
words may show. Fails — never skips — when chromium is missing.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, Page
from python_calamine import CalamineWorkbook

from tests.support.visible import raw_codes, visible_text

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")
# what the demo's user table prints: │ admin │ 系统管理员 administrator │ <password> │ 全部 all │
USER_ROW = re.compile(r"│\s*(admin|finance|pm1)\s*│[^│]*│\s*(\S+)\s*│")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Served:
    base: str
    folder: Path
    passwords: dict[str, str]
    names: frozenset[str]  # what the demo named: users, connections, its job, secrets


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YECAI_")}
    env.update(PYTHONPATH=str(ROOT), COLUMNS="200")
    return env


def _names(folder: Path, passwords: dict[str, str]) -> frozenset[str]:
    space = yaml.safe_load((folder / ".yecai-demo" / "yecai.yaml").read_text(encoding="utf-8"))
    secrets = re.findall(r"\$\{(\w+)\}", json.dumps(space))
    return frozenset({*passwords, *space["connections"], *space["syncs"], *secrets, "PM_WEBHOOK_SECRET"})


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("readme")
    env = _environment()
    yecai = [sys.executable, "-m", "yecai.cli.main"]
    ports = ["--pm-port", str(_free_port()), "--kingdee-port", str(_free_port())]
    demo = subprocess.run(
        [*yecai, "demo", "--projects", "2", *ports],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    passwords = dict(USER_ROW.findall(demo.stdout))
    assert set(passwords) == {"admin", "finance", "pm1"}, demo.stdout
    assert "yecai serve\n" in demo.stdout  # the README's next command, verbatim from this folder
    port = _free_port()
    log = (folder / "serve.log").open("w", encoding="utf-8")
    server = subprocess.Popen(
        [*yecai, "serve", "--port", str(port)], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (folder / "serve.log").read_text(encoding="utf-8")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (folder / "serve.log").read_text(encoding="utf-8")
            time.sleep(0.5)
        yield Served(base, folder, passwords, _names(folder, passwords))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        log.close()


class Reader:
    """Reads each page as a person does and keeps what is wrong with it."""

    def __init__(self, page: Page, lang: str, names: frozenset[str]) -> None:
        self.page, self.lang, self.names = page, lang, names
        self.leaks: dict[str, set[str]] = {}

    def read(self, what: str) -> str:
        self.page.wait_for_load_state("networkidle")
        text = visible_text(self.page.content(), self.lang)
        found = raw_codes(text, self.lang, self.names)
        if found:
            self.leaks[f"{what} {self.page.url}"] = found
        return text


def _charts(page: Page) -> list[str]:
    """The words of the page's ECharts charts (labels and legends), from their data."""
    words: list[str] = []
    for raw in page.locator("[data-report-chart]").evaluate_all("els => els.map(e => e.dataset.reportChart)"):
        chart = json.loads(raw)
        words += [*chart["labels"], *(s["name"] for s in chart["series"])]
    return words


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_readme_in_a_browser_shows_no_raw_code(served: Served, browser: Browser, lang: str) -> None:
    context = browser.new_context(
        viewport={"width": 1400, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    context.set_default_timeout(30_000)
    page = context.new_page()
    reader = Reader(page, lang, served.names)
    try:
        # sign in with the password `yecai demo` printed (switching the language first, as a reader of
        # the English half of the README would)
        page.goto(f"{served.base}/")
        page.wait_for_url(re.compile(r"/login"))
        if lang == "en":
            page.click("[data-testid=lang-switch]")
            page.wait_for_url(re.compile(r"/login"))
            assert page.inner_text("h1") == "Sign in"
        reader.read("sign-in")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", served.passwords["admin"])
        page.click("form.stacked button[type=submit]")
        page.wait_for_url(f"{served.base}/")
        reader.read("dashboard")

        # a project and its P&L
        page.click("nav.sidebar a[href='/projects']")
        page.click("table a[href^='/projects/']")
        page.wait_for_url(re.compile(r"/projects/[^/]+$"))
        reader.read("project")
        page.click("[data-testid=project-pnl]")
        page.wait_for_url(re.compile(r"/pnl"))
        pnl = reader.read("P&L")
        assert page.locator("[data-testid=pnl-table]").count() == 1, pnl
        categories = page.locator("[data-testid=pnl-table] tbody tr td:first-child").all_inner_texts()
        words = _charts(page)
        if lang == "en":
            assert "labour" in categories
            assert [w for w in (*categories, *words) if CJK.search(w)] == []
        else:
            assert "人工费" in categories

        # a voucher: the first posted posting
        page.click("nav.sidebar a[href='/postings']")
        reader.read("postings")
        page.goto(f"{served.base}/postings?state=posted")
        page.click("[data-testid=posting-rows] a[href^='/postings/'], table a[href^='/postings/']")
        page.wait_for_url(re.compile(r"/postings/\d+$"))
        voucher = reader.read("voucher")
        assert page.locator("[data-testid=voucher]").is_visible(), voucher
        period = page.inner_text("[data-testid=kingdee-number]").split(" ")[0]
        assert re.fullmatch(r"\d{4}-\d{2}", period), period

        # a reconciliation of that period, run from the console
        page.click("nav.sidebar a[href='/reconciliations']")
        reader.read("reconciliations")
        page.fill("[data-testid=reconcile-now] input[name=period]", period)
        page.click("[data-testid=reconcile-now] button[type=submit]")
        page.wait_for_url(re.compile(r"/reconciliations/\d+$"))
        reader.read("reconciliation")
        page.click("nav.sidebar a[href='/reconciliations']")
        reader.read("reconciliations after the run")

        # the monthly report of that period: the page, then both files it generates
        page.click("nav.sidebar a[href='/reports/monthly']")
        reader.read("monthly report")
        page.fill("[data-testid=monthly-period]", period)
        with page.expect_download() as html_download:
            page.click("[data-testid=monthly-html]")
        report = Path(html_download.value.path()).read_text(encoding="utf-8")
        # the report file is bilingual ("中文 English"): read as English, its snake_case codes show
        found = raw_codes(visible_text(report, "en"), "en", served.names)
        assert found == set(), f"the monthly HTML report shows {found}"
        with page.expect_download() as xlsx_download:
            page.click("[data-testid=monthly-xlsx]")
        risks = (
            CalamineWorkbook.from_path(xlsx_download.value.path()).get_sheet_by_name("风险 Risks").to_python()
        )
        for row in risks[3:]:
            assert CJK.search(str(row[0])), f"a risk kind without words: {row[0]}"
    finally:
        context.close()
    assert reader.leaks == {}
