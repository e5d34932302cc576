"""File import: Excel (xlsx, xls, ods) and CSV exports of PM systems into records and documents.

`import_file` is the service the CLI, the console and jobs call; `write_template` writes the
blank template of a kind; `write_report` the downloadable report of an import; column mappings
(`ColumnMapping`, `save_mapping`, YAML) let a recurring export with unusual headers be imported.
"""

from __future__ import annotations

from yecai.files.columns import KINDS, KINDS_ORDER, kind_spec
from yecai.files.dedup import ImportCounts
from yecai.files.fingerprints import fingerprint
from yecai.files.importer import CHUNK_ROWS, DEFAULT_CONNECTION, ImportResult, import_file
from yecai.files.locks import STALE_AFTER, ImportLock, acquire, holder_of, release
from yecai.files.mappings import (
    ColumnMapping,
    MappingError,
    delete_mapping,
    import_mappings_yaml,
    list_mappings,
    load_mapping,
    mappings_from_yaml,
    mappings_to_yaml,
    save_mapping,
)
from yecai.files.problems import FileProblem, LockHeld, LockLost
from yecai.files.reader import IMPORT_EXTENSIONS
from yecai.files.report import first_issues, write_report
from yecai.files.resume import PreviousImport
from yecai.files.templates import write_all_templates, write_template

__all__ = [
    "CHUNK_ROWS",
    "DEFAULT_CONNECTION",
    "IMPORT_EXTENSIONS",
    "KINDS",
    "KINDS_ORDER",
    "STALE_AFTER",
    "ColumnMapping",
    "FileProblem",
    "ImportCounts",
    "ImportLock",
    "ImportResult",
    "LockHeld",
    "LockLost",
    "MappingError",
    "PreviousImport",
    "acquire",
    "delete_mapping",
    "fingerprint",
    "first_issues",
    "holder_of",
    "import_file",
    "import_mappings_yaml",
    "kind_spec",
    "list_mappings",
    "load_mapping",
    "mappings_from_yaml",
    "mappings_to_yaml",
    "release",
    "save_mapping",
    "write_all_templates",
    "write_report",
    "write_template",
]
