"""The role extras of the install, and a clear message when a command needs one that is missing.

`pip install yecai` is the base (CLI, pipeline, jobs, store, sandboxes, demo); `yecai[server]`
adds what the web console and API need. A command of a role checks its extra before importing the
role's modules, so the base CLI imports and runs without it. Later roles (a site agent, BIM) add
an entry here and an extra of the same name in pyproject.toml.
"""

from __future__ import annotations

from importlib.util import find_spec

from yecai.errors import ConfigurationError

# extra → (module imported, distribution to install); only what the code cannot run without
# (uvicorn[standard]'s httptools and uvloop are speed: uvicorn runs without them)
EXTRAS: dict[str, tuple[tuple[str, str], ...]] = {
    "server": (
        ("fastapi", "fastapi"),
        ("uvicorn", "uvicorn"),
        ("jinja2", "jinja2"),
        ("python_multipart", "python-multipart"),
        ("limits", "limits"),
    ),
}


def missing(extra: str) -> list[str]:
    """The distributions of `extra` that are not installed (empty: the extra is there)."""
    return [dist for module, dist in EXTRAS[extra] if find_spec(module) is None]


def require(extra: str, command: str) -> None:
    """Raise a bilingual ConfigurationError naming the install command if `extra` is incomplete."""
    absent = missing(extra)
    if absent:
        names = ", ".join(absent)
        raise ConfigurationError(
            f"{command} 需要安装 yecai[{extra}]（缺少 {names}）：pip install 'yecai[{extra}]'",
            f"{command} needs the {extra} extra (missing {names}): pip install 'yecai[{extra}]'",
        )
