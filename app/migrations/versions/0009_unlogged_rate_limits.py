"""The open calculator's call counters are unlogged on PostgreSQL: no write-ahead log.

Every open calculator call commits an upsert of its address's counter. Logged, each
one writes to the write-ahead log that a matching run's storing of results fills at
the same moment, so a calculator call waited behind a run's bulk work. Unlogged, the
counters skip the log: a crash of the database server empties the table, which
forgets the last minute's counts, as the counters' relaxed commits already allowed
(app/db/repositories/rate_limits.py), and standbys do not have them (a failover starts
every address's minute afresh). SQLite has no such tables; nothing changes there.

Revision ID: 0009_unlogged_rate_limits
Revises: 0008_import_jobs
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009_unlogged_rate_limits"
down_revision: str | None = "0008_import_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE rate_limit_counters SET UNLOGGED")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE rate_limit_counters SET LOGGED")
