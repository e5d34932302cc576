"""Secrets key rotation: a new Fernet key, every stored secret re-encrypted under it, the old key
kept for reading until it is withdrawn.

`rotate_key` writes the old key to `secret.key.old` and the new one to `secret.key` (each written
whole to a temporary file, 0600, then renamed into place), then re-encrypts every row of
`connection_secrets` with `MultiFernet([new, old]).rotate` in one transaction, audited. Processes
already running re-read the key files when a secret does not decrypt (`yecai.secrets.open_box`),
so they carry on. `withdraw_old_key` re-encrypts whatever an old process wrote under the old key
meanwhile, proves every secret decrypts with the new key alone, and only then deletes the old key.
When the key comes from `YECAI_SECRET_KEY` the new key is shown once (or written to `--out`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import false, select, update
from sqlalchemy.exc import SQLAlchemyError

from yecai.auth import audit
from yecai.auth.principal import Principal
from yecai.errors import ConfigurationError
from yecai.secrets import KEY_ENV, KEY_FILE, OLD_KEY_ENV, OLD_KEY_FILE, load_keys
from yecai.store.db import Store
from yecai.store.secret_tables import ConnectionSecret


@dataclass(frozen=True, slots=True)
class Rotation:
    """What a rotation did. `new_key` is set only when it must be shown (environment, no --out)."""

    secrets: int
    from_env: bool
    key_file: Path | None
    old_key_file: Path | None
    out: Path | None
    new_key: str | None


@dataclass(frozen=True, slots=True)
class Withdrawal:
    secrets: int
    from_env: bool
    removed: Path | None


def write_private(path: Path, data: bytes, *, replace: bool = True) -> None:
    """`path` holds `data`, mode 0600, or its old content: written to a temporary file, synced,
    then renamed over it (a crash never leaves half a key)."""
    if not replace and path.exists():
        raise ConfigurationError(f"文件 {path} 已存在，不覆盖", f"{path} exists already; not overwritten")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power loss
    finally:
        os.close(directory)


def _fernet(key: bytes, where: str) -> Fernet:
    try:
        return Fernet(key)
    except ValueError:
        raise ConfigurationError(
            f"{where} 不是有效的 Fernet 密钥（32 字节，URL 安全 base64）",
            f"{where} is not a valid Fernet key (32 bytes, URL-safe base64)",
        ) from None


def _undecryptable(store: Store, fernet: Fernet | MultiFernet) -> list[str]:
    """`connection.name` of every stored secret these keys cannot decrypt."""
    bad: list[str] = []
    with store.transaction() as session:
        for row in session.scalars(select(ConnectionSecret)):
            try:
                fernet.decrypt(row.ciphertext.encode("ascii"))
            except InvalidToken:
                bad.append(f"{row.connection}.{row.name}")
    return bad


def _refuse_undecryptable(store: Store, fernet: Fernet | MultiFernet) -> None:
    bad = _undecryptable(store, fernet)
    if bad:
        shown = ", ".join(bad[:5]) + (" …" if len(bad) > 5 else "")
        raise ConfigurationError(
            f"{len(bad)} 个已存密钥无法用当前密钥解密（{shown}）：未轮换。请先找回正确的密钥（yecai doctor 会指出），"
            "或用 yecai connections set-secret 重新保存这些密钥",
            f"{len(bad)} stored secrets do not decrypt with the current key ({shown}): nothing rotated. "
            "Find the right key first (yecai doctor says which), or store those secrets again with "
            "`yecai connections set-secret`",
        )


def reencrypt(store: Store, primary: bytes, old: list[bytes], *, by: Principal, action: str) -> int:
    """Every stored secret under `primary` (MultiFernet.rotate), in one audited transaction."""
    multi = MultiFernet([Fernet(primary), *(Fernet(key) for key in old)])
    with store.transaction() as session:
        # a writer from the first statement: SQLite then waits for other writers (busy timeout)
        # instead of failing when one commits between this read and its writes; PostgreSQL locks
        # the rows it reads
        session.execute(update(ConnectionSecret).where(false()).values(name=ConnectionSecret.name))
        rows = list(session.scalars(select(ConnectionSecret).with_for_update()))
        for row in rows:
            row.ciphertext = multi.rotate(row.ciphertext.encode("ascii")).decode("ascii")
        audit.record(
            session,
            by,
            action=action,
            target_type="secrets",
            target_id="connection_secrets",
            after={"re_encrypted": len(rows)},
        )
    return len(rows)


def _pending(zh_where: str, en_where: str) -> ConfigurationError:
    return ConfigurationError(
        f"上一次密钥轮换尚未完成（{zh_where}仍在）：请先运行 yecai secrets withdraw-old-key 撤下旧密钥，再轮换",
        f"the previous key rotation is not finished ({en_where} is still there): run "
        "`yecai secrets withdraw-old-key` to withdraw the old key first, then rotate",
    )


def rotate_key(store: Store, workdir: Path, *, by: Principal, out: Path | None = None) -> Rotation:
    """A new key for every stored secret (see the module docstring); ConfigurationError when the
    current key is missing or wrong, or a previous rotation has not been finished."""
    new = Fernet.generate_key()
    env = os.environ.get(KEY_ENV)
    if env:
        if os.environ.get(OLD_KEY_ENV):
            raise _pending(f"环境变量 {OLD_KEY_ENV} ", f"the environment variable {OLD_KEY_ENV}")
        old = env.strip().encode("ascii")
        _refuse_undecryptable(store, _fernet(old, KEY_ENV))
        if out is not None:  # the new key is safe on disk before any secret depends on it
            write_private(out, new, replace=False)
        count = reencrypt(store, new, [old], by=by, action="secret.rotate_key")
        return Rotation(count, True, None, None, out, None if out else new.decode("ascii"))
    key_file, old_file = workdir / KEY_FILE, workdir / OLD_KEY_FILE
    if not key_file.is_file():
        raise ConfigurationError(
            f"没有密钥文件 {key_file}，也未设置 {KEY_ENV}：没有可轮换的密钥",
            f"no key file {key_file} and no {KEY_ENV}: there is no key to rotate",
        )
    if old_file.exists():
        raise _pending(f"{old_file} ", str(old_file))
    old = key_file.read_bytes().strip()
    _refuse_undecryptable(store, _fernet(old, str(key_file)))
    # Old key kept first, then the new key in place: from here on every process that reads the
    # files decrypts with both, so nothing breaks if the transaction below fails or is cut short
    # (withdraw-old-key then finishes the job).
    write_private(old_file, old)
    write_private(key_file, new)
    try:
        count = reencrypt(store, new, [old], by=by, action="secret.rotate_key")
    except SQLAlchemyError as exc:
        raise ConfigurationError(
            f"重新加密失败（{type(exc).__name__}）：新旧密钥都已就位，没有丢失任何密钥；"
            "数据库恢复后运行 yecai secrets withdraw-old-key 完成轮换",
            f"re-encryption failed ({type(exc).__name__}): the new and the old key are both in place and "
            "nothing is lost; once the database works, run `yecai secrets withdraw-old-key` to finish",
        ) from exc
    return Rotation(count, False, key_file, old_file, out, None)


def withdraw_old_key(store: Store, workdir: Path, *, by: Principal) -> Withdrawal:
    """Re-encrypt leftovers under the current key, prove it alone decrypts them all, drop the old key."""
    keys = load_keys(workdir)
    primary, old = keys[0], keys[1:]
    from_env = bool(os.environ.get(KEY_ENV))
    if not old:
        where = f"{OLD_KEY_ENV}" if from_env else str(workdir / OLD_KEY_FILE)
        raise ConfigurationError(
            f"没有可撤下的旧密钥（{where} 不存在）", f"there is no old key to withdraw ({where} is absent)"
        )
    _refuse_undecryptable(store, MultiFernet([Fernet(key) for key in keys]))
    count = reencrypt(store, primary, old, by=by, action="secret.withdraw_old_key")
    _refuse_undecryptable(store, Fernet(primary))  # the new key alone reads every secret
    if from_env:
        return Withdrawal(count, True, None)
    removed = workdir / OLD_KEY_FILE
    removed.unlink()
    return Withdrawal(count, False, removed)
