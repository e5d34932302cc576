"""Export age: warn when a file is an old export, or older than one already imported.

An export is a snapshot of the PM system at the moment stamped in its title rows; changes made
after that moment are not in it, and importing an older export after a newer one brings back
rows as they were. Neither is an error (the user may mean it), so both are notes, never refusals.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from yecai.files.locks import aware
from yecai.files.reader import Note
from yecai.localtime import shown
from yecai.store.db import Store
from yecai.store.file_tables import FileImport

STALE_EXPORT = dt.timedelta(days=7)


def export_age_notes(store: Store, *, connection: str, kind: str, stamp: dt.datetime | None) -> list[Note]:
    """Notes on an export stamped `stamp`: older than a week, or older than an imported one."""
    if stamp is None:
        return []
    notes: list[Note] = []
    age = dt.datetime.now(dt.UTC) - stamp
    if age > STALE_EXPORT:
        notes.append(
            Note(
                f"该文件导出于 {shown(stamp)}，已过去 {age.days} 天；导出之后的变更不在其中",
                f"the file was exported on {shown(stamp)}, {age.days} days ago; "
                "changes since then are not in it",
            )
        )
    with store.transaction() as session:
        newer = session.scalars(
            select(FileImport)
            .where(
                FileImport.connection == connection,
                FileImport.kind == kind,
                FileImport.status == "imported",
                FileImport.exported_at > stamp.astimezone(dt.UTC),
            )
            .order_by(FileImport.exported_at.desc())
            .limit(1)
        ).one_or_none()
        if newer is not None and newer.exported_at is not None:
            when = shown(aware(newer.exported_at))
            notes.append(
                Note(
                    f"已导入过更新的导出 {newer.file_name}（导出于 {when}，运行 "
                    f"{newer.run_id}）；本文件较旧，其中改动过的行会作为新版本导入，请确认",
                    f"a newer export, {newer.file_name} (exported {when}, run "
                    f"{newer.run_id}), was already imported; rows changed since this older file will be "
                    "imported as new versions: please check",
                )
            )
    return notes
