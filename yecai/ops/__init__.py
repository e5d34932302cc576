"""Operations: what the person running yecai does to the installation itself (backup, restore, archive).

Each module is one role: `container` the backup file's format, `postgres` the PostgreSQL client
tools, `backup` taking a copy, `restore` putting one back, `archive` moving old raw payloads to
checksummed files. The CLI and the web call them through `yecai.services.backups` and
`yecai.services.archive`.
"""
