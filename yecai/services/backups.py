"""Backup and restore as service calls: what `yecai backup` and `yecai restore` (and any console page)
run, with the sentences they print, Chinese first.

Thin over `yecai.ops`: the store URL and the work directory (where the secrets key lives) come
from the process settings; the wording of the key warnings and of the steps after a restore lives
here so every caller says the same.
"""

from __future__ import annotations

import os
from pathlib import Path

from yecai.ops.backup import BackupResult, take_backup
from yecai.ops.container import OLD_KEY_MEMBER
from yecai.ops.restore import RestoreResult, restore_backup
from yecai.secrets import KEY_ENV
from yecai.settings import Settings
from yecai.sync import restored

# (中文, English): a line to print, and how loud (info | warning | danger)
Line = tuple[str, str, str]


def backup(settings: Settings, out: Path, *, include_key: bool = False) -> BackupResult:
    """Back up the store of these settings into `out` (the key only when `include_key`)."""
    return take_backup(settings.store_url(), settings.workdir, out, include_key=include_key)


def restore(
    settings: Settings, path: Path, *, force: bool = False, lookup_days: int = restored.LOOKUP_DAYS
) -> RestoreResult:
    """Restore the backup at `path` into the (empty) store of these settings."""
    return restore_backup(path, settings.store_url(), settings.workdir, force=force, lookup_days=lookup_days)


def _states(postings: dict[str, int]) -> str:
    return ", ".join(f"{state} {count:,}" for state, count in sorted(postings.items())) or "—"


def backup_lines(result: BackupResult, settings: Settings) -> list[Line]:
    manifest = result.manifest
    lines: list[Line] = [
        (
            f"已写出备份 {result.path}（{result.size:,} 字节，权限 0600）· 数据库 {manifest.database} · "
            f"表结构版本 {manifest.schema_revision} · 业财 {manifest.yecai_version} · {manifest.tool}",
            f"backup written: {result.path} ({result.size:,} bytes, mode 0600) · database {manifest.database} · "
            f"schema revision {manifest.schema_revision} · yecai {manifest.yecai_version} · {manifest.tool}",
            "info",
        ),
        (
            f"备份时的过账状态：{_states(manifest.postings)}",
            f"postings at backup time: {_states(manifest.postings)}",
            "info",
        ),
    ]
    if manifest.includes_key:
        old = OLD_KEY_MEMBER in manifest.members
        lines.append(
            (
                f"此备份包含加密密钥（来自 {result.key_from}{'，另含轮换前的旧密钥' if old else ''}）："
                "持有该文件的人可以解密所有已保存的连接密钥。"
                "请像保管密钥本身一样保管它：勿上传、勿放入 git、勿与他人共享",
                f"this backup holds the secrets key (from {result.key_from}"
                f"{', and the previous key a rotation replaced' if old else ''}): whoever has the file can decrypt "
                "every stored connection secret. Guard it like the key itself: do not upload it, commit it or "
                "share it",
                "danger",
            )
        )
    else:
        where = KEY_ENV if os.environ.get(KEY_ENV) else str(settings.workdir / "secret.key")
        lines.append(
            (
                f"此备份不含加密密钥：请另行妥善保管密钥（{where}），否则恢复后已保存的连接密钥无法读取",
                f"this backup does not hold the secrets key: keep the key ({where}) safe separately, or the "
                "stored connection secrets cannot be read after a restore",
                "warning",
            )
        )
    return lines


def restore_lines(result: RestoreResult, settings: Settings) -> list[Line]:
    manifest = result.manifest
    lines: list[Line] = [
        (
            f"清单与校验和已核对：业财 {manifest.yecai_version} 于 {manifest.created_at} 制作的 {manifest.database} 备份",
            f"manifest and checksums verified: a {manifest.database} backup made by yecai "
            f"{manifest.yecai_version} at {manifest.created_at}",
            "info",
        ),
        (
            f"已恢复到 {result.target} · 过账状态：{_states(result.postings)}",
            f"restored into {result.target} · postings: {_states(result.postings)}",
            "info",
        ),
    ]
    planned = sum(result.postings.get(s, 0) for s in restored.NOT_SENT)
    if result.marked:
        names = ", ".join(result.marked)
        lines.append(
            (
                f"备份时有 {result.in_flight:,} 笔过账结果未知（sent/uncertain）、{planned:,} 笔尚未发送："
                f"它们可能在备份之后已进入金蝶。下一次同步会先按过账键在金蝶（{names}）中查找，找到的直接确认，"
                f"绝不重复过账（恢复后 {result.lookup_days} 天内新计划的过账也先查找）。"
                "请在启动定时任务前先运行一次 yecai sync",
                f"{result.in_flight:,} postings had an unknown outcome (sent/uncertain) and {planned:,} were not sent "
                f"yet when the backup was taken: they may have reached Kingdee since. The next sync looks each up by "
                f"its posting key in Kingdee ({names}) first and confirms the ones found — nothing is posted twice "
                f"(postings planned in the {result.lookup_days} days after the restore are looked up too). Run one "
                "`yecai sync` before starting the schedules",
                "warning",
            )
        )
    key = {
        "written": (
            f"备份中的加密密钥已写入 {result.key_path}（权限 0600）",
            f"the backup's secrets key was written to {result.key_path} (mode 0600)",
            "info",
        ),
        "same": ("备份中的加密密钥与当前密钥相同", "the backup's secrets key is the one in use", "info"),
        "replaced": (
            f"已改用备份中的加密密钥 {result.key_path}（原密钥文件改名保留在同一目录）",
            f"the backup's secrets key now is {result.key_path} (the old key file is kept, renamed, beside it)",
            "warning",
        ),
        "kept_env": (
            f"备份中的加密密钥与环境变量 {KEY_ENV} 不同：仍以环境变量为准，若连接密钥无法解密，请把 {KEY_ENV} 设为备份时的密钥",
            f"the backup's secrets key differs from {KEY_ENV}: the variable still wins; if connection secrets "
            f"cannot be decrypted, set {KEY_ENV} to the key in use when the backup was taken",
            "warning",
        ),
        "absent": (
            f"备份不含加密密钥：请把备份时使用的密钥放回（{KEY_ENV} 或 {settings.workdir / 'secret.key'}），"
            "否则已保存的连接密钥无法读取",
            f"the backup holds no secrets key: put back the key in use when it was taken ({KEY_ENV} or "
            f"{settings.workdir / 'secret.key'}), or the stored connection secrets cannot be read",
            "warning",
        ),
    }[result.key]
    lines.append(key)
    old_key = {
        "written": (
            f"轮换前的旧密钥已写入 {settings.workdir / 'secret.key.old'}（撤下旧密钥之前仍用于解密）",
            f"the previous key a rotation replaced was written to {settings.workdir / 'secret.key.old'} (it "
            "still decrypts until it is withdrawn)",
            "info",
        ),
        "replaced": (
            f"已改用备份中的旧密钥 {settings.workdir / 'secret.key.old'}（原文件改名保留）",
            f"the backup's previous key now is {settings.workdir / 'secret.key.old'} (the old file kept, renamed)",
            "warning",
        ),
        "kept_env": (
            "备份中的旧密钥与环境变量 YECAI_SECRET_KEY_OLD 不同：若有连接密钥无法解密，请把它设为备份中的旧密钥",
            "the backup's previous key differs from YECAI_SECRET_KEY_OLD: if a connection secret cannot be "
            "decrypted, set it to the backup's previous key",
            "warning",
        ),
    }.get(result.old_key.get("secret.key.old", ""))
    if old_key is not None:
        lines.append(old_key)
    if result.behind:
        lines.append(
            (
                f"恢复的表结构版本 {result.revision} 落后于本版本业财的 {result.head}：请运行 yecai db upgrade",
                f"the restored schema revision {result.revision} is older than this yecai's {result.head}: run "
                "`yecai db upgrade`",
                "warning",
            )
        )
    else:
        lines.append(
            (
                f"表结构版本 {result.revision} 与本版本业财一致",
                f"schema revision {result.revision} matches this yecai",
                "info",
            )
        )
    return lines
