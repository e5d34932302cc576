"""PostgreSQL's own client tools for backup and restore: finding them, checking their version.

`pg_dump --format=custom` is the copy PostgreSQL itself stands behind (a consistent snapshot while
a sync writes), and `pg_restore` is its only reader. A pg_dump older than the server refuses to
dump it, so the tool is looked for on PATH and in Debian's /usr/lib/postgresql/<major>/bin, and a
missing or too old one is said plainly, with the fix. The password travels in PGPASSWORD, never
on a command line that `ps` shows.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from yecai.errors import ConfigurationError

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
DEBIAN_BINS = Path("/usr/lib/postgresql")


@dataclass(frozen=True, slots=True)
class Tool:
    path: Path
    version: str  # "15.20"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def tool_version(path: Path) -> str | None:
    try:
        out = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    found = _VERSION.search(out.stdout)
    if not found:
        return None
    return found.group(1) + (f".{found.group(2)}" if found.group(2) else "")


def _candidates(name: str) -> list[Path]:
    found: list[Path] = []
    on_path = shutil.which(name)
    if on_path:
        found.append(Path(on_path))
    if DEBIAN_BINS.is_dir():
        for folder in sorted(DEBIAN_BINS.iterdir(), reverse=True):
            if (folder / "bin" / name).is_file():
                found.append(folder / "bin" / name)
    return found


def find_tool(name: str, *, at_least: int) -> Tool:
    """The newest `name` (pg_dump, pg_restore) of major version `at_least` or later; else a clear error."""
    seen: list[Tool] = []
    for path in _candidates(name):
        version = tool_version(path)
        if version is not None:
            seen.append(Tool(path, version))
    good = sorted((t for t in seen if t.major >= at_least), key=lambda t: t.major, reverse=True)
    if good:
        return good[0]
    if not seen:
        raise ConfigurationError(
            f"找不到 {name}：PostgreSQL 的备份与恢复需要它。请安装与服务器同一主版本（{at_least}）或更新的客户端，"
            f"例如 Debian/Ubuntu 上 apt-get install postgresql-client-{at_least}",
            f"{name} was not found: PostgreSQL backup and restore need it. Install the client tools of the "
            f"server's major version ({at_least}) or newer, e.g. apt-get install postgresql-client-{at_least} "
            "on Debian/Ubuntu",
        )
    versions = ", ".join(f"{t.path} {t.version}" for t in seen)
    raise ConfigurationError(
        f"{name} 版本过旧（{versions}），服务器主版本为 {at_least}：旧版 {name} 无法处理新服务器的数据。"
        f"请安装 postgresql-client-{at_least} 或更新版本",
        f"{name} is too old ({versions}) for the server's major version {at_least}: an older {name} cannot "
        f"handle a newer server. Install postgresql-client-{at_least} or newer",
    )


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """The libpq connection string of a SQLAlchemy URL (no password in it) and the environment to add."""
    parsed: URL = make_url(url)
    env: dict[str, str] = {}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def run_tool(tool: Tool, args: list[str], url: str) -> subprocess.CompletedProcess[str]:
    """Run a client tool against the database at `url`; a failure becomes a bilingual error."""
    dsn, extra = libpq(url)
    env = {**os.environ, **extra}
    done = subprocess.run(
        [str(tool.path), *args, f"--dbname={dsn}"], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()[-2000:]
        raise ConfigurationError(
            f"{tool.path.name} 失败（退出码 {done.returncode}）：{detail}",
            f"{tool.path.name} failed (exit code {done.returncode}): {detail}",
        )
    return done
