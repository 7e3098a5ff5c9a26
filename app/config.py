"""Settings, read once at the edge (environment or ``.env``) and passed down as values.

The names are the environment variables that ``docker-compose.yml`` sets; a test keeps
the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{REPO_ROOT / 'var' / 'incentives.db'}",
        description="SQLAlchemy URL: an SQLite file by default, PostgreSQL in production",
    )
    catalog_dir: Path = Field(default=REPO_ROOT / "policy_catalog")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(default=1, ge=1, le=64)
    log_level: str = "info"
    public_rate_limit_per_minute: int = Field(
        default=120, ge=1, description="calls of the open calculator per client address"
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


@lru_cache
def get_settings() -> Settings:
    return Settings()
