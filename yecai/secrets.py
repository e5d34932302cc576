"""Secrets at rest: connection secrets encrypted with Fernet in the store, never in plain text.

The key comes from `YECAI_SECRET_KEY` (a Fernet key) or a key file created with owner-only
permissions beside the embedded store; a key file inside a git work tree that does not ignore it is
warned about once (one `git add .` would put it in the history). Secrets are resolved at the moment
a connection is opened and never put into job arguments, logs or error messages; `redact` removes
them from text. During a key rotation (`yecai secrets rotate-key`, yecai/services/secret_keys.py)
the previous key (`secret.key.old` or `YECAI_SECRET_KEY_OLD`) still decrypts, and a box opened
with `open_box` re-reads the key files when a secret does not decrypt, so running processes
carry on across the switch.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select

from yecai.errors import ConfigurationError
from yecai.gitignore import is_ignored, work_tree
from yecai.observability.redaction import register_secret
from yecai.store.db import Store
from yecai.store.secret_tables import ConnectionSecret

KEY_ENV = "YECAI_SECRET_KEY"
# the key a rotation replaced, still accepted for decryption until it is withdrawn
OLD_KEY_ENV = "YECAI_SECRET_KEY_OLD"
KEY_FILE = "secret.key"
OLD_KEY_FILE = "secret.key.old"

log = logging.getLogger(__name__)
_WARNED: set[Path] = set()  # key files already warned about in this process: once is enough


def load_key(workdir: Path) -> bytes:
    """The Fernet key: from the environment, else the key file (created on first use, mode 0600)."""
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode("ascii")
    path = workdir / KEY_FILE
    if not path.exists():
        workdir.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        warn_if_exposed(path)
        return key
    # a key file made by hand (or by an older yecai) may be readable by others: owner only
    if path.stat().st_mode & 0o077:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    warn_if_exposed(path)
    return path.read_bytes().strip()


def old_keys(workdir: Path) -> list[bytes]:
    """Keys a rotation replaced and that still decrypt (never encrypt): `YECAI_SECRET_KEY_OLD` when
    the key comes from the environment, else the `secret.key.old` file beside the key file."""
    if os.environ.get(KEY_ENV):
        env = os.environ.get(OLD_KEY_ENV, "")
        return [part.strip().encode("ascii") for part in env.split(",") if part.strip()]
    path = workdir / OLD_KEY_FILE
    try:
        return [path.read_bytes().strip()] if path.is_file() else []
    except OSError:
        return []


def load_keys(workdir: Path) -> list[bytes]:
    """The key that encrypts, then any old keys that still decrypt (see `old_keys`)."""
    primary = load_key(workdir)
    return [primary, *(key for key in old_keys(workdir) if key != primary)]


def current_keys(workdir: Path) -> list[bytes]:
    """`load_keys` without creating anything: empty when there is no key (yet, or any more)."""
    env = os.environ.get(KEY_ENV)
    path = workdir / KEY_FILE
    if env:
        primary = env.encode("ascii")
    elif path.is_file():
        primary = path.read_bytes().strip()
    else:
        return []
    return [primary, *(key for key in old_keys(workdir) if key != primary)]


def open_box(store: Store, workdir: Path) -> SecretBox:
    """The secret box of a work directory: current and old keys, re-read when a rotation changes them."""
    return SecretBox(store, load_keys(workdir), reload=lambda: current_keys(workdir))


def exposure(path: Path) -> tuple[str, str] | None:
    """(中文, English) saying the key file would be committed, with the fix; None when it is safe."""
    root = work_tree(path.parent)
    if root is None or is_ignored(path, root):
        return None
    folder = path.resolve().parent  # work_tree walked up from it: root is one of its parents
    # the key's folder (the work directory: store, queue and logs are no repository's business
    # either), or the file itself when it sits at the top of the work tree
    entry = folder.relative_to(root).as_posix() + "/" if folder != root else path.name
    ignore = root / ".gitignore"
    return (
        f"密钥文件 {path} 位于 git 工作区 {root} 中，且未被忽略：一次 git add 就会把它提交进历史，"
        f"所有连接密钥随之泄露。请在 {ignore} 中加入一行 {entry}（或把 YECAI_WORKDIR 设到工作区之外）",
        f"the key file {path} is inside the git work tree {root} and not ignored: one `git add` would "
        f"commit it, and with it every connection secret. Add the line {entry} to {ignore} (or set "
        "YECAI_WORKDIR outside the work tree)",
    )


def warn_if_exposed(path: Path) -> None:
    """Warn once per process (Chinese, then English) when `exposure` finds the key file exposed."""
    resolved = path.resolve()
    if resolved in _WARNED:
        return
    _WARNED.add(resolved)
    try:
        found = exposure(path)
    except OSError:  # an unreadable .gitignore or folder must never stop the key from loading
        return
    if found is not None:
        log.warning("%s\n%s", *found)


class SecretBox:
    """Encrypts and decrypts connection secrets held in the store."""

    def __init__(
        self,
        store: Store,
        key: bytes | Sequence[bytes],
        *,
        reload: Callable[[], Sequence[bytes]] | None = None,
    ) -> None:
        """`key`: one key, or the key that encrypts followed by old keys that still decrypt.
        `reload`: where to read the keys again when a rotation may have replaced them."""
        self.store = store
        self._reload = reload
        self._keys: tuple[bytes, ...] = ()
        self._use(key)

    def _use(self, key: bytes | Sequence[bytes]) -> None:
        keys = (key,) if isinstance(key, bytes) else tuple(key)
        self._fernet = MultiFernet([Fernet(each) for each in keys])  # ValueError before any change
        self._keys = keys

    def _refresh(self) -> bool:
        """Read the keys again; True when they changed (a rotation happened since)."""
        if self._reload is None:
            return False
        try:
            found = tuple(self._reload())
        except (OSError, ValueError, ConfigurationError):
            return False
        if not found:
            return False  # no key file any more: keep what this process knows, never invent one
        # the keys read now first; those this process held stay readable behind them
        keys = (*found, *(key for key in self._keys if key not in found))
        if keys == self._keys:
            return False
        try:
            self._use(keys)
        except ValueError:  # a damaged key file: carry on with the keys already held
            return False
        return True

    def set(self, connection: str, name: str, value: str) -> None:
        # a rotation may have put a new key in place since this process started: write under it
        self._refresh()
        token = self._fernet.encrypt(value.encode("utf-8")).decode("ascii")
        with self.store.transaction() as session:
            row = session.get(ConnectionSecret, (connection, name))
            if row is None:
                session.add(ConnectionSecret(connection=connection, name=name, ciphertext=token))
            else:
                row.ciphertext = token

    def get(self, connection: str, name: str) -> str | None:
        with self.store.transaction() as session:
            row = session.get(ConnectionSecret, (connection, name))
            token = row.ciphertext if row else None
        if token is None:
            return None
        try:
            value = self._decrypt(token)
        except InvalidToken:
            raise ConfigurationError(
                f"连接 {connection} 的密钥 {name} 无法解密：加密密钥已更换？",
                f"secret {name} of connection {connection} cannot be decrypted: was the key changed?",
            ) from None
        register_secret(value)  # from now on no log line of this process carries it
        return value

    def _decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            # re-encrypted under a key this process has not read yet: read the key files again
            if not self._refresh():
                raise
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")

    def delete(self, connection: str, name: str) -> bool:
        with self.store.transaction() as session:
            row = session.get(ConnectionSecret, (connection, name))
            if row is None:
                return False
            session.delete(row)
            return True

    def names(self, connection: str) -> list[str]:
        with self.store.transaction() as session:
            return list(
                session.scalars(
                    select(ConnectionSecret.name)
                    .where(ConnectionSecret.connection == connection)
                    .order_by(ConnectionSecret.name)
                )
            )


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every secret value replaced, for logs and error messages."""
    for value in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(value, "***")
    return text
