"""Runs in shards on a job queue: each run's shards and its tenant, and (PostgreSQL)
the tables and functions of procrastinate, the queue the workers take jobs from.

Procrastinate's schema is the one shipped with the installed version (pinned in
pyproject.toml to a minor version): a later version's own migrations, in
``procrastinate/sql/migrations``, come in as revisions after this one. SQLite has no
queue: there a thread of the service executes the same jobs (``app/jobs/in_process.py``).

Revision ID: 0006_run_shards_and_job_queue
Revises: 0005_fact_projection
Create Date: 2026-11-30
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_run_shards_and_job_queue"
down_revision: str | None = "0005_fact_projection"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

PROCRASTINATE_TABLES = (
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_jobs",
    "procrastinate_workers",
)
PROCRASTINATE_TYPES = (
    "procrastinate_job_to_defer_v1",
    "procrastinate_job_event_type",
    "procrastinate_job_status",
)


def _procrastinate_schema() -> str:
    return resources.files("procrastinate.sql").joinpath("schema.sql").read_text("utf-8")


def upgrade() -> None:
    # Plain ADD COLUMN (with a constant default) on both databases, so that the SQL
    # script (`--sql`) needs no live SQLite file to copy the table from.
    op.add_column(
        "matching_runs",
        sa.Column("tenant", sa.String(120), server_default=sa.text("'all'"), nullable=False),
    )
    op.add_column(
        "matching_runs",
        sa.Column("shards_total", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "matching_runs",
        sa.Column("shards_done", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.create_table(
        "matching_run_shards",
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("after_id", sa.String(36), nullable=False),
        sa.Column("last_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("taken_by", sa.String(200), nullable=True),
        sa.Column("taken_at", TIMESTAMP, nullable=True),
        sa.Column("enterprises", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("partial", JSON_DOC, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("run_id", "shard", name=op.f("pk_matching_run_shards")),
    )
    if op.get_context().dialect.name == "postgresql":
        schema = _procrastinate_schema()
        if op.get_context().as_sql:
            op.execute(schema)
        else:  # straight to the driver, without parameters: its `%` are not placeholders
            op.get_bind().connection.driver_connection.execute(schema)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in PROCRASTINATE_TABLES:
            op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
        for function in re.findall(r"CREATE FUNCTION (\w+)\(", _procrastinate_schema()):
            op.execute(f"DROP FUNCTION IF EXISTS {function} CASCADE")
        for type_ in PROCRASTINATE_TYPES:
            op.execute(f"DROP TYPE IF EXISTS {type_} CASCADE")
    op.drop_table("matching_run_shards")
    with op.batch_alter_table("matching_runs") as batch:
        batch.drop_column("shards_done")
        batch.drop_column("shards_total")
        batch.drop_column("tenant")
