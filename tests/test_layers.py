"""The layer rule, enforced: who may import whom, and no import cycles between packages.

domain imports nothing of yecai; mapping and kingdee do no database work; connectors never reach
the store, the jobs or Kingdee; the pipeline (sync), alerts and reconciliation sit below the jobs;
the jobs sit below the web and the CLI; sandboxes are product of their own and never import the
pipeline. Checked on the import statements of every module (imports only for type checking
excepted), so a violation fails here first. `python tests/test_layers.py` prints the package graph.
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
# The upward imports issue 11 removed, forbidden from now on. The order, bottom to top: store →
# kingdee / mapping / sources / connectors → sync (the pipeline) → services, alerts, reconcile →
# jobs → web and cli.
ABOVE_THE_PIPELINE = ("yecai.services", "yecai.jobs", "yecai.web", "yecai.cli")
FORBIDDEN["yecai.sync"] = (*ABOVE_THE_PIPELINE, "yecai.reconcile", "yecai.reports", "yecai.alerts")
FORBIDDEN["yecai.services"] = ("yecai.jobs", "yecai.web", "yecai.cli")
FORBIDDEN["yecai.alerts"] = ("yecai.jobs", "yecai.web", "yecai.cli", "yecai.sync", "yecai.services")
FORBIDDEN["yecai.reconcile"] = ("yecai.jobs", "yecai.web", "yecai.cli")
FORBIDDEN["yecai.jobs"] = ("yecai.web", "yecai.cli")
FORBIDDEN["yecai.web"] = (*FORBIDDEN["yecai.web"], "yecai.cli")
FORBIDDEN["yecai.observability"] = ("yecai.sync", "yecai.services", "yecai.jobs", "yecai.web", "yecai.cli")
FORBIDDEN["yecai.store"] = (
    "yecai.sync",
    "yecai.services",
    "yecai.jobs",
    "yecai.web",
    "yecai.cli",
    "yecai.mapping",
    "yecai.kingdee",
    "yecai.sources",
    "yecai.connectors",
    "yecai.files",
    "yecai.reconcile",
    "yecai.reports",
    "yecai.alerts",
    "yecai.auth",
)
# the words of coded values sit just above the domain: everything may read them, they read nothing
FORBIDDEN["yecai.labels"] = tuple(
    f"yecai.{name}"
    for name in ("store", "sync", "services", "jobs", "web", "cli", "mapping", "kingdee", "sources",
                 "connectors", "files", "reconcile", "reports", "alerts", "auth", "observability", "sandbox")
)  # fmt: skip
ALLOWED_IN_DOMAIN = ("yecai.domain",)


def violates(imported: str, prefix: str) -> bool:
    base = prefix.rstrip(".")
    return imported == base or imported.startswith(base + ".")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:` (such imports never run)."""
    found: list[ast.AST] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        found.append(node)
        for child in ast.iter_child_nodes(node):
            test = child.test if isinstance(child, ast.If) else None
            if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                pending.extend(child.orelse)
                continue
            pending.append(child)
    return found


def imported_names(path: Path) -> set[str]:
    """Names the module imports: modules, or for `from a import b` a.b when b is a module, else a."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import module` reaches the module; `from module import name` the module
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                found.add(dotted if dotted in KNOWN else node.module)
    return found


def imports(path: Path) -> set[str]:
    """Modules the module imports (the `from` part of `from a import b`)."""
    return {name for name in imported_names(path) if name in KNOWN or not name.startswith("yecai")} | {
        _module_of(name) for name in imported_names(path) if name.startswith("yecai")
    }


MODULES = sorted(PACKAGE.rglob("*.py"))
KNOWN = {module_name(path) for path in MODULES}


def _module_of(name: str) -> str:
    """The longest known module a dotted name starts with (`yecai.a.b.func` → `yecai.a.b`)."""
    while name and name not in KNOWN:
        name = name.rpartition(".")[0]
    return name


def module_graph() -> dict[str, set[str]]:
    """Module → the yecai modules it imports at run time."""
    graph: dict[str, set[str]] = {}
    for path in MODULES:
        name = module_name(path)
        targets = {_module_of(imported) for imported in imported_names(path) if imported.startswith("yecai.")}
        graph[name] = {target for target in targets if target and target != name}
    return graph


def package_of(module: str) -> str:
    """The top-level package a module belongs to (`yecai.sync.states` → `yecai.sync`)."""
    return ".".join(module.split(".")[:2])


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, targets in module_graph().items():
        source = package_of(module)
        graph.setdefault(source, set()).update(
            package_of(target) for target in targets if package_of(target) != source
        )
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


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


def test_no_cycle_between_packages() -> None:
    found = cycles(package_graph())
    assert found == [], f"import cycles between packages: {[sorted(c) for c in found]}"


def test_no_cycle_between_modules() -> None:
    found = cycles(module_graph())
    assert found == [], f"import cycles between modules: {[sorted(c) for c in found]}"


def test_cycle_finder_finds_a_cycle() -> None:
    # the checks above are only as good as this: a planted cycle must be found
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]


if __name__ == "__main__":  # draw the package graph: python tests/test_layers.py
    for package, targets in sorted(package_graph().items()):
        print(f"{package} → {', '.join(sorted(targets)) or '—'}")
