"""Process settings, read from environment variables prefixed `YECAI_` (pydantic-settings).

Only process-wide knobs live here (where the store is, HTTP timeouts, retry counts). Everything
per connection — URLs, credentials, rule sets — belongs to connections and configuration files,
never to the environment of the process.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import httpx
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from yecai.domain.documents import FIRST_BUSINESS_DATE, YEARS_AHEAD, DateWindow


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
    archive_dir: Path | None = Field(
        None,
        description="where `yecai archive` writes archive files; default: archive/ in the work directory",
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="log lines of serve and worker: text for people, json for a log collector"
    )
    http_connect_timeout: float = 10.0
    http_read_timeout: float = 120.0
    kingdee_batch_size: int = Field(50, ge=1, le=500, description="vouchers per BatchSave call")
    kingdee_max_attempts: int = Field(3, ge=1, description="attempts per posting before it fails")
    kingdee_period_moves: int = Field(
        12,
        ge=0,
        description=(
            "closed period under the next_open policy: a posting is re-dated into the next month while"
            " its attempts stay below max attempts plus this many (a year of closed months), then held"
        ),
    )
    # what a webhook sender can make us read and parse (docs/sources.md): bodies are refused with 413
    # past the size, with 400 past the nesting depth, before any parsing
    webhook_max_body_bytes: int = Field(
        5 * 1024 * 1024, ge=1, description="largest webhook body accepted, in bytes (default 5 MB)"
    )
    webhook_max_depth: int = Field(
        64, ge=1, le=500, description="deepest nesting of arrays and objects in a webhook body"
    )
    # one writer per process commits webhook events in groups (yecai.sync.webhook_writer): a batch
    # closes this long after its first event or at this many events; 1 event = one transaction each
    webhook_batch_events: int = Field(
        200, ge=1, le=5000, description="most webhook events committed in one transaction"
    )
    webhook_batch_ms: float = Field(
        5.0, ge=0, le=1000, description="longest a webhook event waits for others to share its commit, in ms"
    )
    # console and API sign-in (OWASP session guidance: idle and absolute timeouts, lock-out)
    session_idle_minutes: int = Field(30, ge=1, description="a console session ends after this long idle")
    session_max_hours: int = Field(12, ge=1, description="a console session ends this long after sign-in")
    login_max_failures: int = Field(
        5, ge=1, description="failed sign-ins in a row for a name before each further attempt must wait"
    )
    login_delay_cap_seconds: int = Field(
        300,
        ge=1,
        le=86_400,
        description="the longest pause between attempts after repeated failures (1, 2, 4 … seconds up to this)",
    )
    login_rate_per_address: str = Field(
        "20/minute",
        description="sign-in attempts one client address may make (limits syntax: N/second|minute|hour)",
    )
    login_rate_per_account: str = Field(
        "10/minute", description="sign-in attempts for one user name, from anywhere (known or unknown alike)"
    )
    login_concurrent_verifications: int = Field(
        2, ge=1, le=64, description="password hashes checked at once; more sign-ins wait, then get 429"
    )
    login_verify_wait_seconds: float = Field(
        5.0, ge=0, le=60, description="how long a sign-in waits for a free verification before 429"
    )
    cookie_secure: bool = Field(
        False, description="mark the session cookie Secure (set true behind HTTPS; the demo runs on http)"
    )
    # each file import (API and `yecai import`) is parsed in a worker process of its own
    # (yecai.files.isolated): a parser that aborts, runs out of memory or hangs costs that import only
    import_memory_mb: int = Field(
        2048,
        ge=64,
        description="address-space limit of an import worker, in MB; a file needing more is stopped",
    )
    import_timeout_s: float = Field(
        3600.0,
        gt=0,
        description="wall-clock limit of one import, lock wait included, in seconds (1,000,000 rows: 6–8 minutes)",
    )
    import_workers: int = Field(
        2, ge=1, le=64, description="import workers at once per process; further imports wait their turn"
    )

    @field_validator("login_rate_per_address", "login_rate_per_account")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            # imported here: `limits` comes with the server extra, and only the web's sign-in uses it
            from limits import parse
        except ImportError:
            return value  # checked where it is used: `yecai serve` requires the server extra first
        try:
            parse(value)
        except ValueError:
            raise ValueError(
                f"登录限速 {value!r} 无效，应形如 20/minute / invalid sign-in rate {value!r}; write it like 20/minute"
            ) from None
        return value

    def limits_storage_url(self) -> str:
        """Where sign-in rate limits count: Redis when the queue is on Redis (scaled out), else memory."""
        if self.queue_url and self.queue_url.startswith(("redis://", "rediss://", "unix://")):
            return self.queue_url
        return "memory://"

    # The business dates a document may carry (0001-01-01 and 9999-12-31 are typing mistakes). yecai
    # has no notion of Kingdee's open periods here; a rule set's period policy (`closed` /
    # `next_open`) still decides what happens to a date in a closed period when it is posted.
    business_date_min: dt.date = Field(
        FIRST_BUSINESS_DATE, description="earliest business date a document may carry (YYYY-MM-DD)"
    )
    business_date_max: dt.date | None = Field(
        None, description="latest business date (YYYY-MM-DD); default: today plus business_date_years_ahead"
    )
    business_date_years_ahead: int = Field(
        YEARS_AHEAD, ge=0, le=50, description="when no maximum is set: how many years ahead of today"
    )

    def business_dates(self, today: dt.date | None = None) -> DateWindow:
        """The window every way in (file, REST, webhook) checks business dates against."""
        window = DateWindow.around(
            today, first=self.business_date_min, years_ahead=self.business_date_years_ahead
        )
        return DateWindow(window.first, self.business_date_max or window.last)

    def store_url(self, workdir: Path | None = None) -> str:
        directory = workdir or self.workdir
        return self.database_url or f"sqlite:///{(directory / 'yecai.sqlite').resolve()}"

    def archive_directory(self) -> Path:
        return self.archive_dir or self.workdir / "archive"

    def http_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.http_read_timeout, connect=self.http_connect_timeout)
