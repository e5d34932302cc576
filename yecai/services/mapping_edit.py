"""Editing a sync job's mapping table from the console or API, safely, and listing what is unmapped.

The table stays a YAML file beside `yecai.yaml` (reviewable, versionable, importable from Excel);
an edit reads it, changes one entry, validates the whole table, and replaces the file atomically
— only if nobody changed it since the editor loaded it (the version is the file's SHA-256, so two
consultants editing at once cannot overwrite each other). Every edit is audited with before and
after. A job on the built-in table must first be given a file (`yecai mapping export`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from yecai.auth import audit
from yecai.auth.principal import Principal
from yecai.errors import ConfigurationError, DataError
from yecai.mapping import checks
from yecai.mapping.interface import Unmapped
from yecai.mapping.rules import MappingTable, default_mapping, load_mapping
from yecai.services.rulecheck import _current_documents
from yecai.store.db import Store
from yecai.workspace import Workspace

TABLES = ("projects", "suppliers", "customers", "workers", "cost_accounts")
BUILTIN = "builtin"
_write_lock = threading.Lock()  # one writer per process; the version check covers other processes


@dataclass(frozen=True, slots=True)
class MappingView:
    job: str
    path: str | None  # None: the built-in table (read-only here)
    version: str
    table: dict[str, Any]


def _path(space: Workspace, job: str) -> Path | None:
    spec = space.syncs.get(job)
    if spec is None:
        raise DataError(f"工作区中没有同步作业 {job}", f"the workspace has no sync job {job}")
    if not spec.mapping:
        return None
    return space.base_dir / spec.mapping


def _version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read(space: Workspace, job: str) -> MappingView:
    path = _path(space, job)
    if path is None:
        table = default_mapping()
        return MappingView(job, None, BUILTIN, table.model_dump(mode="json"))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"无法读取映射表 {path}：{exc}", f"cannot read mapping table {path}: {exc}"
        ) from None
    table = load_mapping(path)
    return MappingView(job, str(path), _version(data), table.model_dump(mode="json"))


def _apply(data: dict[str, Any], table: str, key: str, value: Any) -> tuple[Any, Any]:
    """Change one entry of the raw YAML mapping; returns (before, after) of that entry."""
    if table not in TABLES:
        raise DataError(
            f"未知映射表 {table}，可选：{', '.join(TABLES)}",
            f"unknown table {table}; one of {', '.join(TABLES)}",
        )
    if not key.strip():
        raise DataError("键不能为空", "the key may not be empty")
    if table == "cost_accounts":
        standard, _, category = key.partition("/")
        if not category:
            raise DataError(
                "成本科目的键为 准则/类别，例如 cas/labour",
                "a cost account key is standard/category, e.g. cas/labour",
            )
        section = data.setdefault("cost_accounts", {}).setdefault(standard, {})
        before = section.get(category)
        if value is None:
            section.pop(category, None)
        else:
            section[category] = value
        return before, value
    section = data.setdefault(table, {})
    if not isinstance(section, dict):
        raise ConfigurationError(
            f"映射表的 {table} 不是映射结构", f"{table} in the mapping table is not a mapping"
        )
    lookup = key.strip().upper() if table == "workers" else key.strip()
    before = section.get(lookup)
    if value is None:
        section.pop(lookup, None)
    else:
        section[lookup] = value
    return before, value


_CHANGED = (
    "映射表已被他人修改，请刷新后再改",
    "the mapping table was changed by someone else; reload and edit again",
)


def _editable(space: Workspace, job: str) -> Path:
    path = _path(space, job)
    if path is None:
        raise ConfigurationError(
            f"作业 {job} 使用内置映射表，不能在线编辑：先 yecai mapping export 导出，再在 yecai.yaml 中设置 mapping",
            f"job {job} uses the built-in mapping table: export it (`yecai mapping export`) and name the file "
            "as `mapping:` in yecai.yaml to edit it here",
        )
    return path


def _replace(path: Path, data: dict[str, Any], version: str, header: str = "") -> None:
    """Validate the whole table, then swap the file in — only while it is still at `version`."""
    try:
        MappingTable.model_validate(data)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise DataError(
            f"修改后映射表无效：{detail}", f"the edit makes the mapping table invalid: {detail}"
        ) from None
    text = header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    # write beside, then rename: a crash leaves the old file or the new one, never half of one
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        # a second look right before replacing: another process may have written meanwhile
        if _version(path.read_bytes()) != version:
            raise DataError(*_CHANGED)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def _current(path: Path, version: str) -> dict[str, Any]:
    raw = path.read_bytes()
    if _version(raw) != version:
        raise DataError(*_CHANGED)
    data = yaml.safe_load(raw.decode("utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigurationError(f"映射表 {path} 不是映射结构", f"mapping table {path} is not a mapping")
    return data


def edit(
    store: Store,
    space: Workspace,
    job: str,
    *,
    table: str,
    key: str,
    value: Any,
    version: str,
    by: Principal,
) -> MappingView:
    """Set (value) or delete (None) one entry; refused if the file changed since `version`."""
    path = _editable(space, job)
    with _write_lock:
        data = _current(path, version)
        before, after = _apply(data, table, key, value)
        _replace(path, data, version)
        audit.log(
            store,
            by,
            action="mapping.update" if value is not None else "mapping.delete",
            target_type="mapping",
            target_id=f"{job}:{table}:{key}",
            before=before,
            after=after,
            project_code=key if table == "projects" else None,
        )
    return read(space, job)


def replace_all(
    store: Store, space: Workspace, job: str, *, table: MappingTable, version: str, by: Principal
) -> MappingView:
    """Replace the whole table (an Excel workbook imported), audited with the counts before and after."""
    path = _editable(space, job)
    with _write_lock:
        old = MappingTable.model_validate(_current(path, version))
        data = table.model_dump(mode="json", exclude_defaults=True)
        _replace(path, data, version, header="# 由映射表工作簿导入 · imported from a mapping workbook\n")

        def sizes(t: MappingTable) -> dict[str, int]:
            return {name: len(getattr(t, name)) for name in ("projects", "suppliers", "customers", "workers")}

        audit.log(
            store,
            by,
            action="mapping.import",
            target_type="mapping",
            target_id=job,
            before=sizes(old),
            after=sizes(table),
        )
    return read(space, job)


def unmapped(store: Store, space: Workspace, job: str) -> list[Unmapped]:
    """Every value the job's current documents need and its mapping table lacks."""
    spec = space.syncs.get(job)
    if spec is None:
        raise DataError(f"工作区中没有同步作业 {job}", f"the workspace has no sync job {job}")
    documents = _current_documents(store, spec.source)
    if not documents:
        return []
    return checks.unmapped_values(documents, space.rule_sets(spec), space.mapping(spec))


def as_rows(items: list[Unmapped]) -> list[Mapping[str, object]]:
    return [
        {
            "kind": u.kind,
            "value": u.value,
            "documents": len(u.document_ids),
            "message_zh": u.zh,
            "message_en": u.en,
        }
        for u in items
    ]
