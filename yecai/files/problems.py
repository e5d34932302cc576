"""What can go wrong with a whole file (as opposed to one bad row), said in Chinese and English.

A `FileProblem` means nothing of the file could be read (missing, a directory, a wrong type, a
corrupt or password-protected workbook, no header found); `LockHeld` means another import of the
same kind is running. Both are data/configuration faults a person fixes; neither is retried.
"""

from __future__ import annotations

import datetime as dt

from yecai.errors import Action, Context, Fault, YecaiError
from yecai.localtime import shown


class FileProblem(YecaiError):
    """The file as a whole cannot be imported; `code` names the case for callers and tests."""

    def __init__(self, code: str, zh: str, en: str, *, path: str | None = None) -> None:
        super().__init__(zh, en, Action.FAIL, Fault.DATA, Context(source_key=path))
        self.code = code


class LockHeld(YecaiError):
    """Another import into the same (connection, kind) holds the lock."""

    def __init__(
        self, *, connection: str, kind: str, holder: str, since: dt.datetime, file_name: str
    ) -> None:
        local = shown(since, seconds=True)
        super().__init__(
            f"{holder} 自 {local} 起正在导入 {file_name}（连接 {connection}，类型 {kind}），请稍后再试",
            f"{holder} has been importing {file_name} since {local} (connection {connection}, kind {kind}); "
            "try again when it has finished",
            Action.RETRY,
            Fault.TRANSIENT,
            Context(connection=connection, stream=kind),
        )
        self.holder = holder
        self.since = since
        self.file_name = file_name


class LockLost(YecaiError):
    """Our lock was taken over (we looked dead); the current chunk is rolled back, nothing half-done."""

    def __init__(self, *, connection: str, kind: str) -> None:
        super().__init__(
            f"导入锁（连接 {connection}，类型 {kind}）已被他人接管，本批未提交；重新导入会从断点继续",
            f"the import lock (connection {connection}, kind {kind}) was taken over; this chunk was not "
            "committed; importing the file again resumes from the checkpoint",
            Action.RETRY,
            Fault.TRANSIENT,
            Context(connection=connection, stream=kind),
        )
