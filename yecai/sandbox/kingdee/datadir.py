"""A sandbox data directory: the SQLite database, the app credentials and the last served URL.

A fresh directory is seeded atomically (built under a temporary name, then renamed), so a crash
during the first start never leaves a half-seeded data centre. Credentials are minted once —
AppId/AppSecret with `signing.mint_app()`, the integration user's password for ValidateUser — and
kept in `credentials.json`; everything persists across restarts.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from pathlib import Path
from typing import Any

from yecai.kingdee import signing
from yecai.sandbox.kingdee.auth import Credentials
from yecai.sandbox.kingdee.forms import FormRegistry, load_registry
from yecai.sandbox.kingdee.seed import apply_seed, load_seed
from yecai.sandbox.kingdee.settings import SandboxSettings
from yecai.sandbox.kingdee.store import Store

DATABASE_FILE = "kingdee.sqlite"
CREDENTIALS_FILE = "credentials.json"
SERVER_FILE = "server.json"
DEFAULT_DATA_DIR = Path(".yecai-sandbox/kingdee")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090
CREDENTIAL_KEYS = ("server_url", "acct_id", "user_name", "app_id", "app_secret", "lcid", "org_num")


def _stored_seed(database: Path) -> dict[str, Any] | None:
    if not database.exists():
        return None
    conn = sqlite3.connect(database)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'seed'").fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()
    return json.loads(row[0]) if row else None


def open_store(
    data_dir: Path, settings: SandboxSettings, seed_file: Path | None = None
) -> tuple[Store, FormRegistry]:
    """The data centre's store, seeding the directory first if it is new."""
    data_dir.mkdir(parents=True, exist_ok=True)
    database = data_dir / DATABASE_FILE
    seed = _stored_seed(database)
    if seed is None:
        seed = load_seed(seed_file)
        registry = load_registry(seed)
        building = data_dir / (DATABASE_FILE + ".building")
        for leftover in data_dir.glob(DATABASE_FILE + ".building*"):
            leftover.unlink()
        fresh = Store(building, registry)
        try:
            apply_seed(fresh, registry, settings, seed)
            fresh.checkpoint()
        finally:
            fresh.close()
        for suffix in ("-wal", "-shm"):
            Path(str(building) + suffix).unlink(missing_ok=True)
        os.replace(building, database)
    registry = load_registry(seed)
    _ensure_credentials(data_dir, seed)
    return Store(database, registry), registry


def _org_number(value: Any) -> int | str:
    """The SDK compares org_num with 0 (`org_num > 0`), so numeric org numbers must be ints."""
    text = str(value)
    return int(text) if text.isdigit() else text


def _ensure_credentials(data_dir: Path, seed: dict[str, Any]) -> None:
    path = data_dir / CREDENTIALS_FILE
    if path.exists():
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("password"):
            return
        record["password"] = _mint_password()  # a data directory from before password logins
    else:
        centre = seed["data_centre"]
        app_id, _client_secret, app_secret = signing.mint_app()
        record = {
            "acct_id": str(centre["acct_id"]),
            "user_name": str(centre["user_name"]),
            "app_id": app_id,
            "app_secret": app_secret,
            "lcid": int(centre.get("lcid", 2052)),
            "org_num": _org_number(centre.get("org_num", 0)),
            "password": _mint_password(),
        }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    temporary.chmod(0o600)
    os.replace(temporary, path)


def _mint_password() -> str:
    return secrets.token_urlsafe(12)


def load_credentials(data_dir: Path) -> Credentials:
    raw = json.loads((data_dir / CREDENTIALS_FILE).read_text(encoding="utf-8"))
    return Credentials(
        acct_id=raw["acct_id"],
        user_name=raw["user_name"],
        app_id=raw["app_id"],
        app_secret=raw["app_secret"],
        lcid=int(raw["lcid"]),
        org_num=raw["org_num"],
        password=str(raw.get("password", "")),
    )


def ensure_data_dir(
    data_dir: Path, settings: SandboxSettings | None = None, seed_file: Path | None = None
) -> None:
    """Initialise `data_dir` (database, seed, credentials) if it is not initialised yet."""
    if (data_dir / DATABASE_FILE).exists() and (data_dir / CREDENTIALS_FILE).exists():
        return
    store, _ = open_store(data_dir, settings or SandboxSettings(), seed_file)
    store.close()


def credentials(data_dir: Path, server_url: str) -> dict[str, Any]:
    """What `K3CloudApiSdk(server_url).InitConfig(...)` needs to talk to this data centre."""
    ensure_data_dir(data_dir)
    creds = load_credentials(data_dir)
    return {
        "server_url": server_url,
        "acct_id": creds.acct_id,
        "user_name": creds.user_name,
        "app_id": creds.app_id,
        "app_secret": creds.app_secret,
        "lcid": creds.lcid,
        "org_num": creds.org_num,
    }


def password_credentials(data_dir: Path, server_url: str | None = None) -> dict[str, Any]:
    """What a password login (AuthService.ValidateUser) needs: acct id, user, password, lcid."""
    ensure_data_dir(data_dir)
    creds = load_credentials(data_dir)
    found: dict[str, Any] = {} if server_url is None else {"server_url": server_url}
    found.update(acct_id=creds.acct_id, user_name=creds.user_name, password=creds.password, lcid=creds.lcid)
    return found


def server_url_for(host: str, port: int) -> str:
    """The URL clients use; a wildcard bind address is reached through the loopback address."""
    reachable = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    if ":" in reachable:
        reachable = f"[{reachable}]"
    return f"http://{reachable}:{port}/K3Cloud/"


def record_server_url(data_dir: Path, server_url: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / SERVER_FILE).write_text(json.dumps({"server_url": server_url}), encoding="utf-8")


def recorded_server_url(data_dir: Path) -> str | None:
    path = data_dir / SERVER_FILE
    if not path.exists():
        return None
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["server_url"])
    except (ValueError, KeyError):
        return None
