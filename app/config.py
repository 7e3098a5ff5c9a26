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
    migrate_database_url: str | None = Field(
        default=None,
        description="the URL of the role that owns the schema, for `incentives migrate` and "
        "`incentives db grant` (PostgreSQL); DATABASE_URL when unset",
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

    @property
    def owner_database_url(self) -> str:
        """Where schema changes and grants are made: the owner's URL if one is set."""
        return self.migrate_database_url or self.database_url


@lru_cache
def get_settings() -> Settings:
    return Settings()
