"""The embedded store and the key file are readable by their owner only (0600).

yecai.sqlite holds password hashes and CSRF tokens; its -wal and -shm siblings hold the same pages.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from yecai.auth import users
from yecai.auth.principal import SYSTEM
from yecai.jobs.queue import make_huey
from yecai.secrets import KEY_ENV, load_key
from yecai.settings import Settings
from yecai.store.db import open_store


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_sqlite_store_and_its_wal_files_are_0600(tmp_path: Path) -> None:
    database = tmp_path / "work" / "yecai.sqlite"
    store = open_store(f"sqlite:///{database}")
    try:
        users.create_user(store, username="li.kuaiji", role="finance", by=SYSTEM)
        with store.engine.connect() as connection:
            connection.exec_driver_sql("SELECT count(*) FROM users")
            siblings = [Path(f"{database}{suffix}") for suffix in ("-wal", "-shm")]
            assert any(p.exists() for p in siblings)
            for path in [database, *siblings]:
                if path.exists():
                    assert _mode(path) == 0o600, f"{path.name} is {oct(_mode(path))}"
    finally:
        store.close()


def test_an_existing_world_readable_store_is_tightened(tmp_path: Path) -> None:
    database = tmp_path / "yecai.sqlite"
    open_store(f"sqlite:///{database}").close()
    database.chmod(0o644)
    open_store(f"sqlite:///{database}").close()
    assert _mode(database) == 0o600


def test_the_key_file_is_0600_even_when_it_was_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    key = load_key(tmp_path)
    path = tmp_path / "secret.key"
    assert _mode(path) == 0o600
    path.chmod(0o644)
    assert load_key(tmp_path) == key
    assert _mode(path) == 0o600


def test_the_embedded_queue_file_is_0600(tmp_path: Path) -> None:
    huey = make_huey(Settings(workdir=tmp_path, queue_url=None))
    huey.storage.enqueue(b"x", 0)
    assert _mode(tmp_path / "queue.sqlite3") == 0o600
