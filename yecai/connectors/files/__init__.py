"""The file way in as a connector: export files imported by `yecai import`, one stream per kind.

A `file` connection is never pulled and accepts no pushes: its records are staged and validated by
the file importer (`yecai.files`), and a sync job whose source is a file connection plans and
posts those documents like any other source's.
"""

from yecai.connectors.files.connector import FileConnector

__all__ = ["FileConnector"]
