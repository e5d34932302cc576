"""Settings of the job system, from environment variables prefixed `YECAI_JOBS_`.

Process-wide knobs only: how long a lease lives without a heartbeat, how retries back off, after
how many failed runs a connection pauses, how often the scheduler looks, where the holiday
override table is. Per-job settings (schedule, attempts) live in the workspace file.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class JobSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YECAI_JOBS_", extra="ignore")

    queue_name: str = Field(
        "yecai", pattern=r"^[A-Za-z0-9_]+$", description="queue name (Redis keys, SQLite queue rows)"
    )
    lease_seconds: float = Field(
        120.0, gt=0, description="a running job whose heartbeat is older than this is taken over"
    )
    heartbeat_seconds: float | None = Field(
        None, gt=0, description="heartbeat interval of a running job; default lease_seconds / 6"
    )
    retry_base_seconds: float = Field(60.0, ge=0, description="first retry delay; doubles per attempt")
    retry_max_seconds: float = Field(3600.0, ge=0, description="longest retry delay")
    retry_jitter: float = Field(0.5, ge=0, le=1, description="fraction of each delay that is random")
    pause_after_failures: int = Field(
        5, ge=1, description="consecutive failed runs after which a connection is paused"
    )
    tick_seconds: int = Field(
        60, ge=1, le=60, description="how often each consumer's scheduler looks for due runs"
    )
    holidays_file: Path | None = Field(
        None, description="holiday override table (YAML); default holidays.yaml in the work directory"
    )
    stall_seconds: float | None = Field(
        None,
        gt=0,
        description="a running job without a heartbeat this long raises run.stalled; default half the lease",
    )
    workers: int = Field(2, ge=1, description="consumer threads of `yecai serve` and `yecai worker`")
    limit_wait_seconds: float = Field(
        600.0, gt=0, description="longest wait for a concurrency slot before the call fails (retry)"
    )

    def heartbeat(self) -> float:
        return self.heartbeat_seconds or self.lease_seconds / 6

    def stall(self) -> float:
        return self.stall_seconds or self.lease_seconds / 2
