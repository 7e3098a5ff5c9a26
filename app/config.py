"""Settings, read once at the edge (environment or ``.env``) and passed down as values.

The names are the environment variables that ``docker-compose.yml`` sets; a test keeps
the two in step.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{REPO_ROOT / 'var' / 'incentives.db'}",
        description="SQLAlchemy URL: an SQLite file by default, PostgreSQL in production",
    )
    database_connect_timeout: int = Field(
        default=5,
        ge=2,
        description="seconds a new PostgreSQL connection of the service or a worker may take "
        "before it fails (libpq's connect_timeout, at least 2); the readiness check waits 2",
    )
    migrate_database_url: str | None = Field(
        default=None,
        description="the URL of the role that owns the schema, for `incentives migrate` and "
        "`incentives db grant` (PostgreSQL); DATABASE_URL when unset",
    )
    catalog_dir: Path = Field(default=REPO_ROOT / "policy_catalog")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(default=1, ge=1, le=64)
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        default="info", description="the least severe log lines written"
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`text` for a person at a terminal; `json`, one object a line, for a "
        "log collector (README, 'Operations')",
    )
    public_rate_limit_per_minute: int = Field(
        default=120,
        ge=1,
        description="calls of the open calculator per client address and minute, all workers together",
    )
    trusted_proxies: Annotated[
        tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], NoDecode
    ] = Field(
        default=(),
        description="reverse proxies whose X-Forwarded-For names the client: addresses or "
        "CIDR networks, comma-separated; empty (the default) trusts no header",
    )
    page_size_max: int = Field(default=200, ge=1)
    max_body_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        description="largest request body of an ordinary (JSON) route; past it a 413",
    )
    max_import_bytes: int = Field(
        default=50 * 1024 * 1024,
        ge=1024,
        description="largest import: the body of POST /v1/imports and the file of `incentives import`",
    )
    max_import_rows: int = Field(
        default=500_000,
        ge=1,
        description="most rows below the header an import file may have (empty rows count too)",
    )
    import_job_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=0,
        description="an import file larger than this is a job: POST /v1/imports answers 202 "
        "and GET /v1/imports/{id} gives the report once a worker has written it",
    )
    console_secret: str | None = Field(
        default=None,
        min_length=32,
        description="signs the browser console's session cookies; every worker must share it. "
        "Unset, `incentives serve` draws one at start, so a restart signs everyone out",
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        """``INFO`` as well as ``info``, as operators write it."""
        return value.strip().lower() if isinstance(value, str) else value

    runs_per_tenant: int = Field(
        default=2,
        ge=1,
        description="matching runs and simulations one tenant (a portal's place, or every "
        "enterprise) may have queued or running at once; past it a 429",
    )
    run_shard_size: int = Field(
        default=5_000,
        ge=1,
        description="enterprises per shard of a run: one job each, taken by any worker. Up to "
        "5,000 a shard is read, evaluated and stored in turn on one database session; larger "
        "shards overlap the three on two sessions, faster on dedicated hosts but heavier on a "
        "host the API shares",
    )
    jobs_in_process: bool | None = Field(
        default=None,
        description="execute jobs in a thread of the service as well as in `incentives worker` "
        "processes; unset: yes on SQLite (the embedded default), no on PostgreSQL",
    )
    gc_freeze: bool = Field(
        default=True,
        description="once the service or a worker has started, take what start-up made (the "
        "catalog, its compiled plans) out of the garbage collector's full passes (gc.freeze): "
        "pauses of 100 ms and more every few hundred requests go",
    )
    worker_nice: int = Field(
        default=19,
        ge=0,
        le=19,
        description="how much lower the worker's CPU priority is than the API's (os.nice)",
    )
    worker_heartbeat_seconds: float = Field(
        default=10.0, gt=0, description="how often a worker says it is alive"
    )
    worker_stalled_seconds: float = Field(
        default=30.0,
        gt=0,
        description="a worker silent this long is dead: its jobs are given to another",
    )
    idempotency_purge_cron: str = Field(
        default="17 * * * *", description="when the queue purges expired idempotency records"
    )
    audit_checkpoint_cron: str = Field(
        default="5 2 * * *", description="when the queue appends an audit checkpoint"
    )
    audit_checkpoint_file: Path | None = Field(
        default=None,
        description="the file (JSON lines) scheduled audit checkpoints are appended to, after "
        "checking the log against those already there; unset: none are scheduled",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        """``10.0.0.0/8, 192.0.2.1`` (as the environment gives it) or a list, into networks."""
        items = value.split(",") if isinstance(value, str) else value
        networks = []
        for item in items or ():
            text = str(item).strip()
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                raise ValueError(
                    f"TRUSTED_PROXIES: `{text}` is not an IP address or CIDR network "
                    "(write e.g. `10.0.0.0/8, 192.0.2.1`)"
                ) from None
        return tuple(networks)

    @property
    def runs_jobs_in_process(self) -> bool:
        """Whether the service itself executes jobs (by default on SQLite only)."""
        if self.jobs_in_process is not None:
            return self.jobs_in_process
        return not self.on_postgres

    @property
    def on_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def owner_database_url(self) -> str:
        """Where schema changes and grants are made: the owner's URL if one is set."""
        return self.migrate_database_url or self.database_url


@lru_cache
def get_settings() -> Settings:
    return Settings()
