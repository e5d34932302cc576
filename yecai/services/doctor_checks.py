"""The checks of `yecai doctor`, one small function each: they look, never change anything.
(The connection checks — Kingdee, PM systems, alert channels, TLS — are in doctor_connections.py.)

Each returns findings (ok / warning / error, what was found, the fix; Chinese and English) and
never raises: a failure to look is itself a finding. Nothing here sends a message, writes to
Kingdee or migrates the store. Remote checks use short timeouts (`Limits.timeout`); the runner
(yecai/services/doctor.py) also stops waiting for any check after a deadline.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import ValidationError
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from yecai.errors import YecaiError
from yecai.secrets import KEY_ENV, KEY_FILE, OLD_KEY_ENV, OLD_KEY_FILE, SecretBox
from yecai.services.schema import SchemaState, check_schema
from yecai.settings import Settings
from yecai.store.db import Store, make_engine
from yecai.store.secret_tables import ConnectionSecret
from yecai.workspace import Workspace, load_workspace

Status = Literal["ok", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the doctor looked at: `check` (what kind), `subject` (which one), the status,
    what was found and — unless all is well — what to do."""

    check: str
    subject: str
    status: Status
    found_zh: str
    found_en: str
    fix_zh: str = ""
    fix_en: str = ""
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Limits:
    """The doctor's thresholds (CLI options, or YECAI_DOCTOR_* environment variables)."""

    timeout: float = 5.0  # seconds for each remote call
    max_clock_skew: float = 60.0  # seconds between this machine and Kingdee's server
    min_free_mb: int = 1024  # free disk below this: error; below twice this: warning


def ok(check: str, subject: str, zh: str, en: str) -> Finding:
    return Finding(check, subject, "ok", zh, en)


def problem(
    check: str, subject: str, status: Status, found: tuple[str, str], fix: tuple[str, str]
) -> Finding:
    return Finding(check, subject, status, found[0], found[1], fix[0], fix[1])


# --- configuration -----------------------------------------------------------------------------


def check_settings() -> tuple[Settings | None, Finding]:
    """The YECAI_* environment read into the process settings."""
    try:
        settings = Settings()
    except ValidationError as exc:
        detail = "; ".join(
            f"YECAI_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        return None, problem(
            "config",
            "YECAI_*",
            "error",
            (f"环境变量设置有误：{detail}", f"invalid YECAI_* settings: {detail}"),
            (
                "改正或删除这些环境变量（见 docs/cli.md）",
                "correct or unset these variables (see docs/cli.md)",
            ),
        )
    return settings, ok("config", "YECAI_*", "环境变量设置有效", "YECAI_* settings valid")


def check_workspace(path: Path) -> tuple[Workspace | None, Finding]:
    """The workspace file loads and validates."""
    if not path.is_file():
        return None, problem(
            "config",
            str(path),
            "error",
            (f"工作区文件 {path} 不存在", f"the workspace file {path} does not exist"),
            (
                "用 yecai init 创建，或用 --workspace / YECAI_WORKSPACE 指向它",
                "create one with `yecai init`, or point --workspace / YECAI_WORKSPACE at it",
            ),
        )
    try:
        space = load_workspace(path)
    except YecaiError as exc:
        return None, problem(
            "config",
            str(path),
            "error",
            (exc.zh, exc.en),
            ("按提示改正工作区文件（见 docs/concepts.md）", "correct the workspace file as the message says"),
        )
    count = len(space.connections)
    return space, ok(
        "config", str(path), f"工作区有效，{count} 个连接", f"workspace valid, {count} connections"
    )


# --- the secrets key ---------------------------------------------------------------------------


def _keys(settings: Settings) -> tuple[list[bytes], list[Finding]]:
    """The keys as yecai would read them — without creating a key file as `load_key` does."""
    findings: list[Finding] = []
    env = os.environ.get(KEY_ENV)
    if env:
        keys = [env.strip().encode("ascii")]
        keys += [k.strip().encode("ascii") for k in os.environ.get(OLD_KEY_ENV, "").split(",") if k.strip()]
        where = KEY_ENV
    else:
        path = settings.workdir / KEY_FILE
        where = str(path)
        if not path.is_file():
            findings.append(
                problem(
                    "secrets",
                    where,
                    "error",
                    (f"密钥文件 {path} 不存在，也未设置 {KEY_ENV}", f"no key file {path} and no {KEY_ENV}"),
                    (
                        "从备份中恢复 secret.key 到工作目录（权限 600），或设置 YECAI_SECRET_KEY；"
                        "若从未保存过密钥，任何保存密钥的命令都会创建它",
                        "restore secret.key from the backup into the work directory (mode 600) or set "
                        "YECAI_SECRET_KEY; if no secret was ever stored, any command storing one creates it",
                    ),
                )
            )
            return [], findings
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            findings.append(
                problem(
                    "secrets",
                    where,
                    "error",
                    (
                        f"密钥文件 {path} 权限为 {mode:o}，其他用户可读",
                        f"the key file {path} has mode {mode:o}: others can read it",
                    ),
                    (f"chmod 600 {path}", f"chmod 600 {path}"),
                )
            )
        try:
            keys = [path.read_bytes().strip()]
        except OSError as exc:
            findings.append(
                problem(
                    "secrets",
                    where,
                    "error",
                    (f"无法读取密钥文件：{exc.strerror}", f"cannot read the key file: {exc.strerror}"),
                    (
                        "以运行 yecai 的用户身份拥有该文件（chown），权限 600",
                        "make the user running yecai own the file (chown), mode 600",
                    ),
                )
            )
            return [], findings
        old = settings.workdir / OLD_KEY_FILE
        if old.is_file():
            keys.append(old.read_bytes().strip())
    try:
        [Fernet(key) for key in keys]
    except ValueError:
        findings.append(
            problem(
                "secrets",
                where,
                "error",
                (f"{where} 不是有效的 Fernet 密钥", f"{where} is not a valid Fernet key"),
                ("从备份中恢复正确的密钥", "restore the right key from the backup"),
            )
        )
        return [], findings
    return keys, findings


def check_secrets(settings: Settings, store: Store | None) -> tuple[SecretBox | None, list[Finding]]:
    """The key is present, private and readable, and decrypts every stored secret."""
    keys, findings = _keys(settings)
    if not keys:
        return None, findings
    where = KEY_ENV if os.environ.get(KEY_ENV) else str(settings.workdir / KEY_FILE)
    if len(keys) > 1:
        old = OLD_KEY_ENV if os.environ.get(KEY_ENV) else str(settings.workdir / OLD_KEY_FILE)
        findings.append(
            problem(
                "secrets",
                old,
                "warning",
                (
                    f"密钥轮换尚未完成：旧密钥 {old} 仍可解密",
                    f"a key rotation is not finished: {old} still decrypts",
                ),
                (
                    "确认所有进程运行正常后运行 yecai secrets withdraw-old-key（密钥来自环境变量时先按提示更新并重启）",
                    "once every process runs normally, run `yecai secrets withdraw-old-key` (with the key in the environment: update it and restart first, as rotate-key said)",
                ),
            )
        )
    if store is None:
        if not any(f.status == "error" for f in findings):
            findings.append(
                problem(
                    "secrets",
                    where,
                    "warning",
                    (
                        "密钥可读，但数据库不可用，未能验证已存密钥",
                        "key readable; stored secrets not checked (no database)",
                    ),
                    (
                        "先解决数据库问题，再运行 yecai doctor",
                        "fix the database first, then run yecai doctor again",
                    ),
                )
            )
        return None, findings
    multi = MultiFernet([Fernet(key) for key in keys])
    bad: list[str] = []
    total = 0
    with store.transaction() as session:
        for row in session.scalars(select(ConnectionSecret)):
            total += 1
            try:
                multi.decrypt(row.ciphertext.encode("ascii"))
            except InvalidToken:
                bad.append(f"{row.connection}.{row.name}")
    if bad:
        shown = ", ".join(bad[:5]) + (" …" if len(bad) > 5 else "")
        findings.append(
            problem(
                "secrets",
                where,
                "error",
                (
                    f"密钥错误：{len(bad)}/{total} 个已存密钥无法解密（{shown}）",
                    f"wrong key: {len(bad)} of {total} stored secrets do not decrypt ({shown})",
                ),
                (
                    "恢复保存这些密钥时所用的密钥文件（备份中的 secret.key，或原来的 YECAI_SECRET_KEY）；"
                    "找不回时用 yecai connections set-secret 重新保存每个密钥",
                    "restore the key the secrets were stored with (secret.key from the backup, or the "
                    "former YECAI_SECRET_KEY); if it is lost, store each secret again with "
                    "`yecai connections set-secret`",
                ),
            )
        )
    elif not any(f.status == "error" for f in findings):
        findings.append(
            ok(
                "secrets",
                where,
                f"密钥可用，{total} 个已存密钥均可解密" if total else "密钥可用，尚未保存任何连接密钥",
                f"key in place, all {total} stored secrets decrypt"
                if total
                else "key in place, no secrets stored yet",
            )
        )
    return SecretBox(store, keys), findings


# --- the database and Redis ----------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def check_database(settings: Settings, limits: Limits) -> tuple[Store | None, list[Finding]]:
    """Reachable within the timeout, and its Alembic revision against the code's head (never migrated here)."""
    from sqlalchemy.orm import sessionmaker

    url = settings.store_url()
    shown = make_url(url).render_as_string(hide_password=True)
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[-1].split("?", 1)[0])
        if not path.is_file():
            return None, [
                problem(
                    "database",
                    shown,
                    "error",
                    (f"数据库文件 {path} 不存在", f"the database file {path} does not exist"),
                    (
                        "检查 YECAI_WORKDIR / YECAI_DATABASE_URL；新安装用 yecai init 创建",
                        "check YECAI_WORKDIR / YECAI_DATABASE_URL; a new installation creates it with `yecai init`",
                    ),
                )
            ]
        engine = make_engine(url)
    else:
        engine = create_engine(
            url, pool_pre_ping=True, connect_args={"connect_timeout": max(1, round(limits.timeout))}
        )
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception as exc:  # any driver error: the database cannot be used, whatever the cause
        engine.dispose()
        return None, [
            problem(
                "database",
                shown,
                "error",
                (
                    f"数据库不可达（{limits.timeout:g} 秒内）：{_first_line(exc)}",
                    f"the database does not answer (within {limits.timeout:g} s): {_first_line(exc)}",
                ),
                (
                    "确认数据库服务已启动、地址与账号正确（YECAI_DATABASE_URL）、防火墙放行",
                    "check that the database server runs, that YECAI_DATABASE_URL is right and the firewall lets it through",
                ),
            )
        ]
    store = Store(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))
    # the same reading as `yecai db check`: one place decides behind / current / ahead
    report = check_schema(store)
    if report.state is SchemaState.CURRENT:
        return store, [ok("database", shown, f"数据库可达，{report.zh}", f"database reachable: {report.en}")]
    if report.state is SchemaState.AHEAD:
        fix = (
            "安装写入该数据库的 yecai 版本（或更新版本）；不要用旧版本运行",
            "install the yecai version that wrote it (or newer); do not run an older yecai on it",
        )
    else:
        fix = (
            "备份后运行 yecai db upgrade（yecai serve / worker 启动时也会升级）",
            "back up, then run `yecai db upgrade` (yecai serve / worker also upgrade when they start)",
        )
    return store, [problem("database", shown, "error", (report.zh, report.en), fix)]


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def check_redis(settings: Settings, limits: Limits) -> list[Finding]:
    """When the queue is on Redis: it answers PING within the timeout."""
    url = settings.queue_url
    if not url or not url.startswith(("redis://", "rediss://", "unix://")):
        return [ok("redis", "-", "未配置 Redis（使用内置队列）", "no Redis configured (embedded queue)")]
    import redis  # only when configured

    shown = _without_password(url)
    client = redis.Redis.from_url(url, socket_timeout=limits.timeout, socket_connect_timeout=limits.timeout)
    try:
        client.ping()
    except Exception as exc:  # connection refused, timeout, authentication: Redis cannot be used
        return [
            problem(
                "redis",
                shown,
                "error",
                (f"Redis 不可达：{_first_line(exc)}", f"Redis does not answer: {_first_line(exc)}"),
                (
                    "确认 Redis 已启动、YECAI_QUEUE_URL 的地址和密码正确",
                    "check that Redis runs and that YECAI_QUEUE_URL's address and password are right",
                ),
            )
        ]
    finally:
        client.close()
    return [ok("redis", shown, "Redis 可达", "Redis answers")]


def loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- disk ---------------------------------------------------------------------------------------


def check_disk(check_subject: str, path: Path, what: tuple[str, str], limits: Limits) -> Finding:
    """Free space where `path` lives (its nearest existing folder) against the threshold."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        usage = shutil.disk_usage(existing)
    except OSError as exc:
        return problem(
            "disk",
            check_subject,
            "warning",
            (
                f"无法读取 {existing} 的磁盘空间：{exc.strerror}",
                f"cannot read free space at {existing}: {exc.strerror}",
            ),
            (
                "以运行 yecai 的用户检查该目录的权限",
                "check the folder's permissions for the user running yecai",
            ),
        )
    free_mb = usage.free // (1024 * 1024)
    text = (
        f"{what[0]} {existing}：剩余 {free_mb:,} MB（{usage.free * 100 // max(usage.total, 1)}%）",
        f"{what[1]} {existing}: {free_mb:,} MB free ({usage.free * 100 // max(usage.total, 1)}%)",
    )
    fix = (
        f"清理或扩容该磁盘（阈值 {limits.min_free_mb:,} MB，可用 --min-free-mb 调整）；日志与归档可移到别处",
        f"free or add space on that disk (threshold {limits.min_free_mb:,} MB, --min-free-mb); logs and "
        "archives can move elsewhere",
    )
    if free_mb < limits.min_free_mb:
        return problem("disk", check_subject, "error", text, fix)
    if free_mb < 2 * limits.min_free_mb:
        return problem("disk", check_subject, "warning", text, fix)
    return ok("disk", check_subject, *text)


def database_directory(store: Store | None, settings: Settings) -> Path | None:
    """Where the database keeps its files, when that is on this machine and can be known."""
    url = settings.store_url()
    if url.startswith("sqlite"):
        return Path(url.split("///", 1)[-1].split("?", 1)[0]).parent
    if store is None or not loopback(make_url(url).host or "localhost"):
        return None
    try:
        with store.engine.connect() as connection:
            value = connection.exec_driver_sql("SHOW data_directory").scalar()
    except Exception:  # not a superuser, or not PostgreSQL: the server's disk is watched on its host
        return None
    return Path(str(value)) if value else None
