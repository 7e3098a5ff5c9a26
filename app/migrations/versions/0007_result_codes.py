"""Matching results keep their missing facts as the batch engine's codes.

Revision ID: 0007_result_codes
Revises: 0006_run_shards_and_job_queue
Create Date: 2026-11-30

``matching_results.missing_code``: what an undetermined answer waits for, as a bitmask
over its policy's paths, which ``matching_run_paths`` keeps per run and policy
(``app.db.missing_codes``): PostgreSQL stores a number for a fraction of what parsing
a JSON document per result cost. Also on PostgreSQL, the index a run's pages are
filtered by no longer deduplicates its few keys per run as results are written. Results
stored before keep their names; undoing the migration writes every code back as names.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.db.missing_codes import missing_json, names_of

revision: str = "0007_result_codes"
down_revision: str | None = "0006_run_shards_and_job_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_BATCH = 5000
_FILTERS = "ix_matching_results_run_id_policy_id_status"


def upgrade() -> None:
    op.create_table(
        "matching_run_paths",
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("policy_id", sa.String(100), nullable=False),
        sa.Column("paths", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "policy_id", name=op.f("pk_matching_run_paths")),
    )
    op.add_column("matching_results", sa.Column("missing_code", sa.BigInteger(), nullable=True))
    if op.get_context().dialect.name == "postgresql":
        # A few dozen keys per run: deduplicating them page after page as results are
        # written cost about a fifth of storing them, more than the space it saves.
        op.execute(f"ALTER INDEX {_FILTERS} SET (deduplicate_items = off)")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"ALTER INDEX {_FILTERS} RESET (deduplicate_items)")
    if not op.get_context().as_sql:
        _codes_to_names()
    with op.batch_alter_table("matching_results") as batch:
        batch.drop_column("missing_code")
    op.drop_table("matching_run_paths")


def _codes_to_names() -> None:
    """Every coded result's names written into ``missing_facts``, as before 0007."""
    bind = op.get_bind()
    results = sa.table(
        "matching_results",
        sa.column("id", sa.BigInteger()),
        sa.column("run_id", sa.String()),
        sa.column("policy_id", sa.String()),
        sa.column("missing_code", sa.BigInteger()),
        sa.column("missing_facts", JSON_DOC),
    )
    runs = sa.table(
        "matching_run_paths",
        sa.column("run_id", sa.String()),
        sa.column("policy_id", sa.String()),
        sa.column("paths", JSON_DOC),
    )
    paths = {(r, p): tuple(found) for r, p, found in bind.execute(sa.select(runs))}
    after = 0
    while True:
        batch = bind.execute(
            sa.select(results.c.id, results.c.run_id, results.c.policy_id, results.c.missing_code)
            .where(results.c.id > after, results.c.missing_code.is_not(None))
            .order_by(results.c.id)
            .limit(_BATCH)
        ).all()
        if not batch:
            return
        named = [
            (rid, missing_json(*names_of(code, paths.get((run, pid), ()))))
            for rid, run, pid, code in batch
        ]
        updates = [{"key": rid, "names": names} for rid, names in named if names is not None]
        if updates:  # (a code naming nothing stays NULL, as it was stored before)
            bind.execute(
                results.update()
                .where(results.c.id == sa.bindparam("key"))
                .values(missing_facts=sa.bindparam("names")),
                updates,
            )
        after = batch[-1][0]
