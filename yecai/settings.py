"""Process settings, read from environment variables prefixed `YECAI_` (pydantic-settings).

Only process-wide knobs live here (where the store is, HTTP timeouts, retry counts). Everything
per connection — URLs, credentials, rule sets — belongs to connections and configuration files,
never to the environment of the process.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YECAI_", extra="ignore")

    workdir: Path = Field(Path(".yecai"), description="where the embedded store and sandboxes keep state")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite file yecai.sqlite inside workdir"
    )
    http_connect_timeout: float = 10.0
    http_read_timeout: float = 120.0
    kingdee_batch_size: int = Field(50, ge=1, le=500, description="vouchers per BatchSave call")
    kingdee_max_attempts: int = Field(3, ge=1, description="attempts per posting before it fails")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.workdir / 'yecai.sqlite').resolve()}"
