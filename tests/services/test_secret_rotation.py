"""Secrets key rotation (issue 16, item 6): every stored secret re-encrypted under a new key, the
old key withdrawn afterwards, nothing written meanwhile lost, the old key useless at the end.

On SQLite and PostgreSQL (the `store` fixture), through the service and through the command.
"""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from typer.testing import CliRunner

from yecai.auth.principal import cli_principal
from yecai.cli.main import app
from yecai.errors import ConfigurationError
from yecai.secrets import KEY_ENV, OLD_KEY_ENV, SecretBox, load_key, open_box
from yecai.services.secret_keys import rotate_key, withdraw_old_key
from yecai.store.auth_tables import AuditEntry
from yecai.store.db import Store, open_store

WHO = cli_principal("ops")
SECRETS = {
    ("kd", "KD_SECRET"): "kd-app-secret-0123",
    ("pm", "PM_TOKEN"): "pm-token-4567",
    ("mail", "SMTP"): "p@ss",
}


def plant(store: Store, workdir: Path) -> bytes:
    key = load_key(workdir)
    box = SecretBox(store, key)
    for (connection, name), value in SECRETS.items():
        box.set(connection, name, value)
    return key


def readable(store: Store, key: bytes) -> dict[tuple[str, str], str | None]:
    box = SecretBox(store, key)
    return {(c, n): box.get(c, n) for c, n in SECRETS}


def actions(store: Store) -> list[str]:
    with store.transaction() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_rotate_then_withdraw(store: Store, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    old = plant(store, workdir)
    done = rotate_key(store, workdir, by=WHO)
    assert done.secrets == len(SECRETS)
    new = (workdir / "secret.key").read_bytes().strip()
    assert new != old
    assert (workdir / "secret.key.old").read_bytes().strip() == old
    for name in ("secret.key", "secret.key.old"):
        assert stat.S_IMODE((workdir / name).stat().st_mode) == 0o600
    # every secret is under the new key already: it alone reads them
    assert readable(store, new) == SECRETS
    # withdraw: the old key file goes, the secrets still decrypt with the new key alone
    gone = withdraw_old_key(store, workdir, by=WHO)
    assert gone.removed == workdir / "secret.key.old"
    assert not (workdir / "secret.key.old").exists()
    assert readable(store, load_key(workdir)) == SECRETS
    # and the old key alone reads nothing any more
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        SecretBox(store, old).get("kd", "KD_SECRET")
    assert actions(store)[-2:] == ["secret.rotate_key", "secret.withdraw_old_key"]


def test_secret_written_during_the_rotation_window_is_kept(store: Store, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    old = plant(store, workdir)
    running = open_box(store, workdir)  # a process started before the rotation (serve, worker)
    stale = SecretBox(store, old)  # and one that never re-reads the key files
    assert running.get("kd", "KD_SECRET") == SECRETS[("kd", "KD_SECRET")]
    rotate_key(store, workdir, by=WHO)
    # the running process reads the re-encrypted secrets: it re-reads the key files when needed
    assert running.get("pm", "PM_TOKEN") == SECRETS[("pm", "PM_TOKEN")]
    # written during the window: one under the new key (re-read), one still under the old key
    running.set("kd", "NEW_ONE", "written-after-rotation")
    stale.set("pm", "LATE_ONE", "written-with-the-old-key")
    assert open_box(store, workdir).get("pm", "LATE_ONE") == "written-with-the-old-key"  # old + new
    withdraw_old_key(store, workdir, by=WHO)
    only_new = SecretBox(store, load_key(workdir))
    assert only_new.get("kd", "NEW_ONE") == "written-after-rotation"
    assert only_new.get("pm", "LATE_ONE") == "written-with-the-old-key"
    with pytest.raises(ConfigurationError):
        SecretBox(store, old).get("pm", "LATE_ONE")


def test_writers_racing_the_rotation_lose_nothing(store: Store, tmp_path: Path) -> None:
    """Two processes keep storing secrets while the key is rotated: one re-reading the key files,
    one holding the old key only. After the withdrawal the new key alone reads every one of them."""
    workdir = tmp_path / "work"
    old = plant(store, workdir)
    running, stale = open_box(store, workdir), SecretBox(store, old)
    written: dict[tuple[str, str], str] = {}
    stop = threading.Event()

    def write(box: SecretBox, connection: str) -> None:
        n = 0
        while not stop.is_set() or n < 5:
            name, value = f"S{n}", f"{connection}-value-{n}"
            box.set(connection, name, value)
            written[(connection, name)] = value
            n += 1

    threads = [
        threading.Thread(target=write, args=(running, "racer")),
        threading.Thread(target=write, args=(stale, "stale")),
    ]
    for thread in threads:
        thread.start()
    try:
        rotate_key(store, workdir, by=WHO)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    withdraw_old_key(store, workdir, by=WHO)
    only_new = SecretBox(store, load_key(workdir))
    assert len(written) >= 10
    assert {key: only_new.get(*key) for key in written} == written
    assert readable(store, load_key(workdir)) == SECRETS


def test_a_running_process_never_invents_a_key(store: Store, tmp_path: Path) -> None:
    """The key file gone (or damaged) under a running process: it keeps the key it holds."""
    workdir = tmp_path / "work"
    plant(store, workdir)
    running = open_box(store, workdir)
    (workdir / "secret.key").unlink()
    running.set("kd", "AFTER", "still-under-the-held-key")
    assert not (workdir / "secret.key").exists()
    (workdir / "secret.key").write_bytes(b"not a key")
    running.set("kd", "DAMAGED", "also-kept")
    assert running.get("kd", "KD_SECRET") == SECRETS[("kd", "KD_SECRET")]
    assert running.get("kd", "AFTER") == "still-under-the-held-key"
    assert running.get("kd", "DAMAGED") == "also-kept"


def test_refusals_lose_nothing(store: Store, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    plant(store, workdir)
    with pytest.raises(ConfigurationError, match="no old key to withdraw"):
        withdraw_old_key(store, workdir, by=WHO)
    rotate_key(store, workdir, by=WHO)
    with pytest.raises(ConfigurationError, match="not finished"):  # the old key would be overwritten
        rotate_key(store, workdir, by=WHO)
    withdraw_old_key(store, workdir, by=WHO)
    # a key that does not decrypt what is stored: refused before any file is touched
    (workdir / "secret.key").write_bytes(Fernet.generate_key())
    wrong = (workdir / "secret.key").read_bytes()
    with pytest.raises(ConfigurationError, match="3 stored secrets do not decrypt"):
        rotate_key(store, workdir, by=WHO)
    assert (workdir / "secret.key").read_bytes() == wrong
    assert not (workdir / "secret.key.old").exists()


def test_key_from_the_environment(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workdir = tmp_path / "work"
    old = Fernet.generate_key()
    monkeypatch.setenv(KEY_ENV, old.decode())
    plant(store, workdir)
    assert not (workdir / "secret.key").exists()
    out = tmp_path / "new.key"
    done = rotate_key(store, workdir, by=WHO, out=out)
    assert done.from_env
    assert done.new_key is None  # written to --out, not shown
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    new = out.read_bytes().strip()
    assert readable(store, new) == SECRETS
    # the environment updated as told: the new key, the old one beside it until withdrawn
    monkeypatch.setenv(KEY_ENV, new.decode())
    monkeypatch.setenv(OLD_KEY_ENV, old.decode())
    with pytest.raises(ConfigurationError, match="not finished"):
        rotate_key(store, workdir, by=WHO)
    assert withdraw_old_key(store, workdir, by=WHO).removed is None  # the user removes the variable
    monkeypatch.delenv(OLD_KEY_ENV)
    assert readable(store, new) == SECRETS
    # without --out the new key is returned once, to be printed
    shown = rotate_key(store, workdir, by=WHO)
    assert shown.new_key is not None
    assert readable(store, shown.new_key.encode()) == SECRETS


def test_command(tmp_path: Path) -> None:
    workdir = tmp_path / ".yecai"
    (tmp_path / "yecai.yaml").write_text("connections: {}\n", encoding="utf-8")
    store = open_store(f"sqlite:///{workdir / 'yecai.sqlite'}")
    try:
        old = plant(store, workdir)
    finally:
        store.close()
    runner = CliRunner()
    env = {"COLUMNS": "200"}
    args = ["--workspace", str(tmp_path / "yecai.yaml")]
    rotated = runner.invoke(app, ["secrets", "rotate-key", *args], env=env)
    assert rotated.exit_code == 0, rotated.output
    assert "re-encrypted 3 secrets under a new key" in rotated.output
    assert "withdraw-old-key" in rotated.output
    assert "secret.key.old" in rotated.output
    again = runner.invoke(app, ["secrets", "rotate-key", *args], env=env)
    assert again.exit_code == 1
    assert "未完成" in again.output
    assert "not finished" in again.output
    withdrawn = runner.invoke(app, ["secrets", "withdraw-old-key", *args], env=env)
    assert withdrawn.exit_code == 0, withdrawn.output
    assert "all 3 secrets decrypt with the new key alone" in withdrawn.output
    store = open_store(f"sqlite:///{workdir / 'yecai.sqlite'}")
    try:
        assert readable(store, load_key(workdir)) == SECRETS
        assert load_key(workdir) != old
    finally:
        store.close()
