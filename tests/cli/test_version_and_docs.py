"""Issue 14 item 15: one version everywhere, docs that point only at what the repository holds,
and a README that says what `make test` needs and how long it takes.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from yecai import __version__
from yecai.cli.main import app
from yecai.store.db import open_store
from yecai.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
DOCS = [
    ROOT / "README.md",
    ROOT / "CHANGELOG.md",
    ROOT / "tests" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
# the maintainers' notes and design file live outside the repository: nothing may send a reader there
ABSENT = ("DESIGN" + ".md", "construction-finance" + ".md", "kingdee-k3cloud-webapi" + ".md")
ABSENT += (
    "approval-platforms" + ".md",
    "kingdee-risk-payroll" + ".md",
    "/work" + "/shared",
    "reference" + "/",
)


def test_one_version_in_the_package_the_build_the_cli_the_console_and_the_readme(tmp_path: Path) -> None:
    # the one version is the git tag, written into the installed metadata by setuptools-scm
    assert __version__ == metadata.version("yecai")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]  # not written twice
    assert "version" in project["project"]["dynamic"]
    assert "setuptools-scm>=8" in project["build-system"]["requires"]
    assert "fallback_version" in project["tool"]["setuptools_scm"]  # a clone with no tags still builds
    assert "dynamic" not in project["tool"].get("setuptools", {})
    printed = CliRunner().invoke(app, ["--version"])
    assert printed.exit_code == 0
    assert printed.output.strip() == f"yecai {__version__}"
    store = open_store(f"sqlite:///{tmp_path / 'yecai.sqlite'}")
    try:
        client = TestClient(create_app(store))
        page = client.get("/login", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert f"yecai {__version__} ·" in page.text  # the console's footer
        assert client.get("/openapi.json").json()["info"]["version"] == __version__
    finally:
        store.close()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    # nothing but the tag says which version this is: no number written into the README to go stale
    assert re.search(r"Version \d", readme) is None
    assert "`yecai --version`" in readme
    assert "v0.2 in progress" not in readme


def _text_files() -> list[Path]:
    found = list(DOCS)
    for folder in ("yecai", "tests", "bench"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".yaml", ".md", ".html", ".ini") and path != Path(__file__).resolve():
                found.append(path)
    return found


def test_nothing_points_at_files_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _text_files()
        for name in ABSENT
        if name in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert offenders == []


def _anchors(text: str) -> set[str]:
    """A page's anchors: its headings slugged as GitHub does them, and explicit ids."""
    slugs = {
        re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", text, re.M)
    }
    return slugs | set(re.findall(r'id="([^"]+)"', text))


def test_every_relative_link_in_the_docs_resolves() -> None:
    broken = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (doc.parent / path) if path else doc
            if not file.exists():
                broken.append(f"{doc.name} → {target}")
            elif anchor and anchor not in _anchors(file.read_text(encoding="utf-8")):
                broken.append(f"{doc.name} → {target} (no such heading or id)")
    assert broken == []
    architecture = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for cited in ("WebAPI §", "construction facts §"):
        assert cited in architecture  # the numbers the code and docs cite are explained there


def test_the_readme_says_what_make_test_needs_in_both_languages() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## 两条命令")
    section = readme[start : readme.index("\n## ", start + 1)]
    for needed in ("PostgreSQL", "Redis", "chromium", "fonts-noto-cjk", "make test-fast", "10"):
        assert needed in section, needed
    assert "needs three things besides Python" in section
    assert "除 Python 外还需要三样东西" in section
    assert "17" in section  # what CI measured
