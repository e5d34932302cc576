"""The backup file: one tar holding `manifest.json` and its members, each checked by sha256.

The manifest says what the file is (yecai version, schema revision, database kind, when it was
made, whether the secrets key is inside) and the sha256 and size of every other member, so a
restore refuses a truncated or altered file before it touches any database. Only the members the
manifest names are read, by name, never extracted as paths (a tar can carry `../` names).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yecai.errors import DataError

FORMAT = "yecai-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite"
POSTGRES_MEMBER = "database.pgdump"
KEY_MEMBER = "secret.key"
# the key a rotation replaced, which still decrypts until it is withdrawn (`yecai secrets rotate-key`)
OLD_KEY_MEMBER = "secret.key.old"
MEMBERS = (SQLITE_MEMBER, POSTGRES_MEMBER, KEY_MEMBER, OLD_KEY_MEMBER)
PRIVATE = 0o600
_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(slots=True)
class Manifest:
    yecai_version: str
    schema_revision: str | None
    database: str  # sqlite | postgresql
    created_at: str  # ISO 8601, UTC
    includes_key: bool
    tool: str  # what made the copy: "sqlite3 3.40.1 backup API" / "pg_dump 15.20"
    server_version: str | None = None  # PostgreSQL only
    postings: dict[str, int] = field(default_factory=dict)  # state → count at the time of the copy
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → {sha256, size}

    @property
    def database_member(self) -> str:
        return SQLITE_MEMBER if self.database == "sqlite" else POSTGRES_MEMBER

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "yecai_version": self.yecai_version,
            "schema_revision": self.schema_revision,
            "database": self.database,
            "created_at": self.created_at,
            "includes_key": self.includes_key,
            "tool": self.tool,
            "server_version": self.server_version,
            "postings": self.postings,
            "members": self.members,
        }


def write_container(out: Path, manifest: Manifest, members: dict[str, Path]) -> None:
    """Write the tar to `out` (mode 0600 from its first byte; replaced atomically when complete)."""
    manifest.members = {
        name: {"sha256": sha256_of(path), "size": path.stat().st_size} for name, path in members.items()
    }
    body = json.dumps(manifest.as_json(), ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    # created 0600 before anything is written: a copy of the store (and maybe the key) is never
    # readable by others, not even for the moment between create and chmod
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    try:
        os.fchmod(fd, PRIVATE)  # O_CREAT does not change the mode of a file left by a crashed run
        with (
            os.fdopen(fd, "wb") as handle,
            tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(body), PRIVATE, int(time.time())
            tar.addfile(info, io.BytesIO(body))
            for name, path in members.items():
                info = tar.gettarinfo(str(path), arcname=name)
                info.mode, info.uid, info.gid, info.uname, info.gname = PRIVATE, 0, 0, "", ""
                with path.open("rb") as member:
                    tar.addfile(info, member)
            tar.close()
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _bad(path: Path, zh: str, en: str) -> DataError:
    return DataError(f"备份文件 {path} 无效：{zh}", f"the backup file {path} is not valid: {en}")


def read_manifest(path: Path) -> Manifest:
    """The manifest of a backup file, checked for format (not yet the members' checksums)."""
    try:
        with tarfile.open(path, mode="r:") as tar:
            member = tar.getmember(MANIFEST)
            handle = tar.extractfile(member)
            assert handle is not None
            data = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        raise DataError(f"备份文件 {path} 不存在", f"the backup file {path} does not exist") from None
    except (tarfile.TarError, KeyError, ValueError, AssertionError):
        raise _bad(
            path, "不是业财备份（缺少清单或已损坏）", "not a yecai backup (no manifest, or damaged)"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _bad(path, "清单格式不是 yecai-backup", "the manifest is not of format yecai-backup")
    if data.get("format_version") != FORMAT_VERSION:
        raise _bad(
            path,
            f"备份格式版本 {data.get('format_version')} 不受支持（本版本支持 {FORMAT_VERSION}），请使用更新的业财恢复",
            f"backup format version {data.get('format_version')} is not supported (this yecai reads "
            f"{FORMAT_VERSION}); restore it with a newer yecai",
        )
    try:
        manifest = Manifest(
            yecai_version=str(data["yecai_version"]),
            schema_revision=data.get("schema_revision"),
            database=str(data["database"]),
            created_at=str(data["created_at"]),
            includes_key=bool(data["includes_key"]),
            tool=str(data.get("tool") or ""),
            server_version=data.get("server_version"),
            postings={str(k): int(v) for k, v in (data.get("postings") or {}).items()},
            members={str(k): dict(v) for k, v in dict(data["members"]).items()},
        )
    except (KeyError, TypeError, ValueError):
        raise _bad(path, "清单缺少必填项", "the manifest lacks required entries") from None
    if manifest.database not in ("sqlite", "postgresql"):
        raise _bad(path, f"未知数据库类型 {manifest.database}", f"unknown database kind {manifest.database}")
    unknown = set(manifest.members) - set(MEMBERS)
    if unknown or manifest.database_member not in manifest.members:
        raise _bad(path, "清单列出的成员不符", "the manifest lists unexpected or missing members")
    if OLD_KEY_MEMBER in manifest.members and KEY_MEMBER not in manifest.members:
        raise _bad(path, "有旧密钥而无当前密钥", "an old key without the current one")
    if manifest.includes_key != (KEY_MEMBER in manifest.members):
        raise _bad(path, "清单关于密钥的说明与成员不符", "the manifest's key flag disagrees with its members")
    return manifest


def unpack(path: Path, into: Path) -> Manifest:
    """Copy every member the manifest names into `into` and check its sha256 and size; the manifest."""
    manifest = read_manifest(path)
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode="r:") as tar:
        names = set(tar.getnames())
        for name, expected in manifest.members.items():
            if name not in names:
                raise _bad(path, f"缺少成员 {name}", f"member {name} is missing")
            source = tar.extractfile(name)
            if source is None:
                raise _bad(path, f"成员 {name} 不是文件", f"member {name} is not a file")
            target = into / name  # a name from MEMBERS, never a path from the tar
            digest = hashlib.sha256()
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
            with os.fdopen(fd, "wb") as handle:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    handle.write(chunk)
            if digest.hexdigest() != expected.get("sha256") or target.stat().st_size != expected.get("size"):
                raise _bad(
                    path,
                    f"成员 {name} 的校验和与清单不符（文件被截断或改动过）",
                    f"the checksum of member {name} does not match the manifest (truncated or altered)",
                )
    return manifest
