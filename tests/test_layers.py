"""The layer rule of DESIGN.md, enforced: who may import whom.

domain imports nothing of yecai; mapping and kingdee do no database work; connectors never reach
the store, the jobs or Kingdee; sandboxes are product of their own and never import the
pipeline. Checked on the import statements of every module, so a violation fails here first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "yecai"

# package → prefixes it must not import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "yecai.domain": ("yecai.",),
    "yecai.mapping": (
        "yecai.store",
        "yecai.sync",
        "yecai.jobs",
        "yecai.kingdee",
        "yecai.sources",
        "sqlalchemy",
        "httpx",
    ),
    "yecai.kingdee": (
        "yecai.store",
        "yecai.sync",
        "yecai.jobs",
        "yecai.mapping",
        "yecai.sandbox",
        "sqlalchemy",
    ),
    # imported by the Kingdee client and by anything that logs: they must not pull the store in
    "yecai.observability.metrics": ("yecai.store", "yecai.sync", "yecai.jobs", "sqlalchemy"),
    "yecai.observability.redaction": ("yecai.",),
    "yecai.connectors": ("yecai.store", "yecai.jobs", "yecai.kingdee", "yecai.sync"),
    "yecai.sources": ("yecai.store", "yecai.jobs", "yecai.kingdee", "yecai.sync"),
    "yecai.sandbox": (
        "yecai.store",
        "yecai.sync",
        "yecai.jobs",
        "yecai.mapping",
        "yecai.sources",
        "yecai.connectors",
    ),
}
# auth is below the web and the pipeline; the web reaches rows only through services
FORBIDDEN["yecai.auth"] = (
    "yecai.web",
    "yecai.cli",
    "yecai.sync",
    "yecai.jobs",
    "yecai.kingdee",
    "yecai.mapping",
)
FORBIDDEN["yecai.web"] = (
    "sqlalchemy",
    "yecai.store.tables",
    "yecai.store.auth_tables",
    "yecai.store.job_tables",
    "yecai.store.file_tables",
)
# reports are services: the web and the CLI call them, never the other way round
FORBIDDEN["yecai.reports"] = ("yecai.web", "yecai.cli", "yecai.jobs")
ALLOWED_IN_DOMAIN = ("yecai.domain",)


def violates(imported: str, prefix: str) -> bool:
    base = prefix.rstrip(".")
    return imported == base or imported.startswith(base + ".")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_layer_rule(path: Path) -> None:
    name = module_name(path)
    for layer, forbidden in FORBIDDEN.items():
        if name != layer and not name.startswith(layer + "."):
            continue
        for imported in imports(path):
            if layer == "yecai.domain" and imported.startswith(ALLOWED_IN_DOMAIN):
                continue
            bad = [prefix for prefix in forbidden if violates(imported, prefix)]
            assert not bad, f"{name} imports {imported}, which the layer rule forbids for {layer}"


def test_every_module_says_what_it_is_for() -> None:
    missing = [
        module_name(p)
        for p in MODULES
        if p.stat().st_size
        and ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None
        and p.parent.name != "versions"
    ]
    assert missing == []
