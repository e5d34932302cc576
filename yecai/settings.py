"""Process settings, read from environment variables prefixed `YECAI_` (pydantic-settings).

Only process-wide knobs live here (where the store is, HTTP timeouts, retry counts). Everything
per connection — URLs, credentials, rule sets — belongs to connections and configuration files,
never to the environment of the process.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YECAI_", extra="ignore")

    workspace: Path = Field(Path("yecai.yaml"), description="the workspace file: connections and sync jobs")
    workdir: Path = Field(Path(".yecai"), description="embedded store, secret key, queue and logs")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the store; default: SQLite yecai.sqlite in the work directory"
    )
    queue_url: str | None = Field(
        None, description="redis://… for distributed workers; default: the embedded SQLite queue in workdir"
    )
    http_connect_timeout: float = 10.0
    http_read_timeout: float = 120.0
    kingdee_batch_size: int = Field(50, ge=1, le=500, description="vouchers per BatchSave call")
    kingdee_max_attempts: int = Field(3, ge=1, description="attempts per posting before it fails")

    def store_url(self, workdir: Path | None = None) -> str:
        directory = workdir or self.workdir
        return self.database_url or f"sqlite:///{(directory / 'yecai.sqlite').resolve()}"

    def http_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.http_read_timeout, connect=self.http_connect_timeout)
