"""The backup file and the restore's checks: what is in the file, and what a restore refuses.

A backup is one 0600 tar with a manifest whose sha256 sums cover every member; the secrets key is
in it only with `--include-key`. A restore verifies all of it before touching a database, refuses
a truncated or altered file, a backup of the other database kind or of a newer yecai, and a
non-empty target (unless forced); it says when the restored schema is older than the code. The
SQLite copy is consistent while another connection keeps writing; missing or too old PostgreSQL
tools are said plainly. The commands print all of it Chinese first, then English.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import sqlite3
import stat
import tarfile
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select
from typer.testing import CliRunner

from yecai.cli.main import app
from yecai.errors import ConfigurationError, DataError
from yecai.ops import postgres
from yecai.ops.backup import take_backup
from yecai.ops.container import KEY_MEMBER, MANIFEST, OLD_KEY_MEMBER, SQLITE_MEMBER, unpack, write_container
from yecai.ops.restore import restore_backup
from yecai.secrets import KEY_ENV
from yecai.store.db import alembic_config, open_store
from yecai.store.tables import Posting, Run
from yecai.sync import restored


def add_posting(url: str, key: str, state: str) -> None:
    store = open_store(url)
    try:
        with store.transaction() as session:
            session.add(
                Posting(
                    posting_key=key,
                    connection="kd",
                    rule_set="cost_actuals",
                    form_id="GL_VOUCHER",
                    group_key=f"P1|labour|{key}",
                    business_date=dt.date(2026, 11, 2),
                    state=state,
                    debit_total=Decimal("100.00"),
                    credit_total=Decimal("100.00"),
                    payload="{}",
                )
            )
    finally:
        store.close()


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def test_the_file_is_private_and_its_manifest_covers_every_member(store_url: str, tmp_path: Path) -> None:
    add_posting(store_url, "k1", "sent")
    add_posting(store_url, "k2", "posted")
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "secret.key").write_bytes(Fernet.generate_key())
    plain = take_backup(store_url, workdir, tmp_path / "plain.backup")
    assert stat.S_IMODE(plain.path.stat().st_mode) == 0o600
    inside = members(plain.path)
    assert KEY_MEMBER not in inside
    assert plain.key_from is None
    manifest = json.loads(inside[MANIFEST])
    assert manifest["database"] == ("sqlite" if store_url.startswith("sqlite") else "postgresql")
    assert manifest["schema_revision"]
    assert manifest["yecai_version"]
    assert manifest["created_at"]
    assert manifest["postings"] == {"sent": 1, "posted": 1}
    assert manifest["includes_key"] is False
    (name,) = manifest["members"]
    assert len(inside[name]) == manifest["members"][name]["size"] > 0

    keyed = take_backup(store_url, workdir, tmp_path / "keyed.backup", include_key=True)
    assert members(keyed.path)[KEY_MEMBER] == (workdir / "secret.key").read_bytes().strip()
    assert keyed.manifest.includes_key
    assert keyed.key_from == str(workdir / "secret.key")


def test_the_key_is_never_created_by_a_backup(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'yecai.sqlite'}"
    open_store(url).close()
    with pytest.raises(ConfigurationError) as raised:
        take_backup(url, tmp_path / "work", tmp_path / "b.backup", include_key=True)
    assert "YECAI_SECRET_KEY" in raised.value.zh
    assert "YECAI_SECRET_KEY" in raised.value.en
    assert not (tmp_path / "work" / "secret.key").exists()
    assert not (tmp_path / "b.backup").exists()


def _rewrite(
    source: Path, target: Path, *, change: dict[str, object] | None = None, corrupt: bool = False
) -> None:
    """A copy of a backup with its manifest changed (checksums recomputed) or one member altered."""
    folder = target.parent / f"{target.name}.parts"
    manifest = unpack(source, folder)
    database = folder / manifest.database_member
    if corrupt:
        with database.open("r+b") as handle:
            handle.seek(200)
            handle.write(b"\xff\x00\xff")
    for name, value in (change or {}).items():
        setattr(manifest, name, value)
    write_container(target, manifest, {manifest.database_member: database})
    if corrupt:  # the checksum of the original member, the altered bytes inside
        with tarfile.open(source) as tar:
            original = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
        rebuilt = target.with_suffix(".tmp")
        with tarfile.open(target) as tar, tarfile.open(rebuilt, "w") as out:
            for member in tar.getmembers():
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                if member.name == MANIFEST:
                    data = json.dumps(original).encode()
                    member.size = len(data)
                out.addfile(member, io.BytesIO(data))
        os.replace(rebuilt, target)


def test_an_altered_file_is_refused_before_anything_is_touched(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'yecai.sqlite'}"
    add_posting(url, "k1", "posted")
    good = take_backup(url, tmp_path, tmp_path / "good.backup")
    bad = tmp_path / "bad.backup"
    _rewrite(good.path, bad, corrupt=True)
    target = tmp_path / "restored" / "yecai.sqlite"
    with pytest.raises(DataError) as raised:
        restore_backup(bad, f"sqlite:///{target}", tmp_path / "restored")
    assert "校验和" in raised.value.zh
    assert "checksum" in raised.value.en
    assert not target.exists()
    # cut short: not a backup any more
    truncated = tmp_path / "short.backup"
    truncated.write_bytes(good.path.read_bytes()[:1000])
    with pytest.raises(DataError):
        restore_backup(truncated, f"sqlite:///{target}", tmp_path / "restored")
    assert not target.exists()


def test_a_backup_of_a_newer_yecai_or_the_other_kind_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'yecai.sqlite'}"
    open_store(url).close()
    good = take_backup(url, tmp_path, tmp_path / "good.backup")
    newer = tmp_path / "newer.backup"
    _rewrite(good.path, newer, change={"schema_revision": "9999", "yecai_version": "9.0.0"})
    with pytest.raises(DataError) as raised:
        restore_backup(newer, f"sqlite:///{tmp_path / 'r' / 'yecai.sqlite'}", tmp_path / "r")
    assert "9.0.0" in raised.value.zh
    assert "newer yecai 9.0.0" in raised.value.en
    with pytest.raises(DataError) as other:
        restore_backup(good.path, "postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path / "r")
    assert "same kind" in other.value.en
    assert not (tmp_path / "r" / "yecai.sqlite").exists()


def test_a_non_empty_database_is_refused_unless_forced(
    store_url: str, empty_url: str, tmp_path: Path
) -> None:
    add_posting(store_url, "from-backup", "posted")
    backup = take_backup(store_url, tmp_path, tmp_path / "b.backup")
    add_posting(empty_url, "already-here", "planned")
    with pytest.raises(DataError) as raised:
        restore_backup(backup.path, empty_url, tmp_path / "r")
    assert "postings 1" in raised.value.en
    assert "--force" in raised.value.en
    assert "不是空的" in raised.value.zh
    result = restore_backup(backup.path, empty_url, tmp_path / "r", force=True)
    assert result.postings == {"posted": 1}
    store = open_store(empty_url, upgrade=False)
    try:
        with store.transaction() as session:
            assert list(session.scalars(select(Posting.posting_key))) == ["from-backup"]
            marker = session.scalars(select(Run).where(Run.kind == restored.KIND)).one()
            assert (marker.connection, marker.status) == ("kd", restored.PENDING)
    finally:
        store.close()


def test_an_empty_schema_counts_as_empty(store_url: str, empty_url: str, tmp_path: Path) -> None:
    """A store that was only opened (schema, no rows) — a web process started too early — is empty."""
    add_posting(store_url, "k", "posted")
    backup = take_backup(store_url, tmp_path, tmp_path / "b.backup")
    open_store(empty_url).close()
    assert restore_backup(backup.path, empty_url, tmp_path / "r").postings == {"posted": 1}


def test_the_key_is_restored_only_where_it_does_not_clash(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'yecai.sqlite'}"
    open_store(url).close()
    (tmp_path / "secret.key").write_bytes(key := Fernet.generate_key())
    backup = take_backup(url, tmp_path, tmp_path / "b.backup", include_key=True)
    fresh = tmp_path / "fresh"
    result = restore_backup(backup.path, f"sqlite:///{fresh / 'yecai.sqlite'}", fresh)
    assert result.key == "written"
    assert (fresh / "secret.key").read_bytes() == key
    assert stat.S_IMODE((fresh / "secret.key").stat().st_mode) == 0o600
    other = tmp_path / "other"
    other.mkdir()
    (other / "secret.key").write_bytes(theirs := Fernet.generate_key())
    with pytest.raises(DataError) as raised:
        restore_backup(backup.path, f"sqlite:///{other / 'yecai.sqlite'}", other)
    assert "--force" in raised.value.en
    assert not (other / "yecai.sqlite").exists()  # refused before the database was touched
    forced = restore_backup(backup.path, f"sqlite:///{other / 'yecai.sqlite'}", other, force=True)
    assert forced.key == "replaced"
    assert (other / "secret.key").read_bytes() == key
    kept = [p for p in other.iterdir() if p.name.startswith("secret.key.before-restore-")]
    assert [p.read_bytes() for p in kept] == [theirs]


def test_an_older_schema_is_restored_and_the_upgrade_is_asked_for(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, "0011")
    engine.dispose()
    backup = take_backup(url, tmp_path, tmp_path / "old.backup")
    assert backup.manifest.schema_revision == "0011"
    result = restore_backup(backup.path, f"sqlite:///{tmp_path / 'r' / 'yecai.sqlite'}", tmp_path / "r")
    assert result.behind
    assert result.revision == "0011"
    assert result.head != "0011"


def test_the_sqlite_copy_is_consistent_while_another_connection_writes(tmp_path: Path) -> None:
    path = tmp_path / "busy.sqlite"
    url = f"sqlite:///{path}"
    open_store(url).close()
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        connection = sqlite3.connect(path, timeout=30)
        while not stop.is_set():
            with connection:  # one transaction: a run row and its counts, never half of it
                connection.execute(
                    "INSERT INTO runs (kind, status, started_at, counts) VALUES ('sync', 'running', '2026-12-01', '{}')"
                )
                connection.execute("UPDATE runs SET status = 'succeeded' WHERE id = last_insert_rowid()")
            written[0] += 1
        connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 50:
            stop.wait(0.01)
        backup = take_backup(url, tmp_path, tmp_path / "busy.backup")
        at_copy = written[0]
    finally:
        stop.set()
        thread.join()
    copy = tmp_path / "copy"
    unpack(backup.path, copy)
    with sqlite3.connect(copy / SQLITE_MEMBER) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = connection.execute("SELECT COUNT(*), SUM(status = 'running') FROM runs").fetchone()
    assert 50 <= rows[0] <= at_copy + 1
    assert rows[1] == 0
    assert written[0] > rows[0] or written[0] == at_copy  # the writer went on after the copy


def test_missing_or_old_postgresql_tools_are_said_plainly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(postgres, "_candidates", lambda name: [])
    with pytest.raises(ConfigurationError) as missing:
        postgres.find_tool("pg_dump", at_least=15)
    assert "找不到 pg_dump" in missing.value.zh
    assert "postgresql-client-15" in missing.value.en
    old = tmp_path / "pg_dump"
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 13.9'\n")
    old.chmod(0o755)
    monkeypatch.setattr(postgres, "_candidates", lambda name: [old])
    with pytest.raises(ConfigurationError) as too_old:
        postgres.find_tool("pg_dump", at_least=15)
    assert "版本过旧" in too_old.value.zh
    assert "too old" in too_old.value.en
    assert "13.9" in too_old.value.en
    assert postgres.find_tool("pg_dump", at_least=13).version == "13.9"


def test_the_commands_say_it_chinese_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("YECAI_WORKDIR", str(tmp_path / "work"))
    monkeypatch.delenv("YECAI_DATABASE_URL", raising=False)
    add_posting(f"sqlite:///{tmp_path / 'work' / 'yecai.sqlite'}", "k1", "sent")
    (tmp_path / "work" / "secret.key").write_bytes(Fernet.generate_key())
    cli = CliRunner()
    env = {"COLUMNS": "200"}
    out = cli.invoke(app, ["backup", "--out", str(tmp_path / "b.backup")], env=env)
    assert out.exit_code == 0, out.output
    assert "此备份不含加密密钥" in out.output
    assert "does not hold the secrets key" in out.output
    keyed = cli.invoke(app, ["backup", "--out", str(tmp_path / "k.backup"), "--include-key"], env=env)
    assert keyed.exit_code == 0, keyed.output
    assert "持有该文件的人可以解密" in keyed.output
    assert "decrypt every stored connection secret" in keyed.output
    refused = cli.invoke(app, ["restore", str(tmp_path / "b.backup")], env=env)
    assert refused.exit_code == 1
    assert "不是空的" in refused.output
    assert "not empty" in refused.output
    monkeypatch.setenv("YECAI_WORKDIR", str(tmp_path / "new"))
    done = cli.invoke(app, ["restore", str(tmp_path / "b.backup")], env=env)
    assert done.exit_code == 0, done.output
    assert "1 笔过账结果未知" in done.output
    assert "Run one `yecai sync`" in done.output
    assert "备份不含加密密钥" in done.output
    assert "holds no secrets key" in done.output


def test_a_rotations_previous_key_travels_with_the_key(tmp_path: Path) -> None:
    """After `yecai secrets rotate-key` the previous key still decrypts: backed up and restored beside the key."""
    url = f"sqlite:///{tmp_path / 'yecai.sqlite'}"
    open_store(url).close()
    (tmp_path / "secret.key").write_bytes(key := Fernet.generate_key())
    (tmp_path / "secret.key.old").write_bytes(old := Fernet.generate_key())
    plain = take_backup(url, tmp_path, tmp_path / "plain.backup")
    assert set(members(plain.path)) == {MANIFEST, SQLITE_MEMBER}  # neither key without the flag
    keyed = take_backup(url, tmp_path, tmp_path / "keyed.backup", include_key=True)
    inside = members(keyed.path)
    assert (inside[KEY_MEMBER], inside[OLD_KEY_MEMBER]) == (key, old)
    fresh = tmp_path / "fresh"
    result = restore_backup(keyed.path, f"sqlite:///{fresh / 'yecai.sqlite'}", fresh)
    assert (result.key, result.old_key) == ("written", {"secret.key.old": "written"})
    assert (fresh / "secret.key.old").read_bytes() == old
    assert stat.S_IMODE((fresh / "secret.key.old").stat().st_mode) == 0o600
