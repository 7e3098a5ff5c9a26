"""The projection of each enterprise's current facts as typed columns.

Revision ID: 0005_fact_projection
Revises: 0004_enterprise_findings
Create Date: 2026-11-30

Four tables (``app.db.projection``), their columns derived from the fact vocabulary
(``app.db.fact_columns``), filled here from every enterprise's current profile; from
then on written with each profile version. Also an index for paging a run's results.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db.models import NAMING_CONVENTION
from app.db.projection import bulk_insert, define, rows_of

revision: str = "0005_fact_projection"
down_revision: str | None = "0004_enterprise_findings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def _results_before() -> sa.Table:
    """``matching_results`` as 0002 made it (SQLite's batch mode copies it, and an SQL
    script cannot reflect it)."""
    from sqlalchemy.dialects import postgresql

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    sa.Table("matching_runs", metadata, sa.Column("id", sa.String(36), primary_key=True))
    sa.Table("enterprises", metadata, sa.Column("id", sa.String(36), primary_key=True))
    return sa.Table(
        "matching_results",
        metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("run_id", sa.String(36), sa.ForeignKey("matching_runs.id"), nullable=False),
        sa.Column("enterprise_id", sa.String(36), sa.ForeignKey("enterprises.id"), nullable=False),
        sa.Column("policy_id", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("amount", sa.Numeric(18, 2).with_variant(sa.Integer(), "sqlite")),
        sa.Column(
            "missing_facts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
        ),
        sa.Index(None, "run_id", "policy_id", "status"),
    )


def upgrade() -> None:
    bind = op.get_bind()
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    sa.Table("enterprises", metadata, sa.Column("id", sa.String(36), primary_key=True))
    tables = define(metadata, referenced=True)
    for table in tables:
        table.create(bind)
    # A run writes hundreds of thousands of results at once, and PostgreSQL checks a
    # foreign key row by row (a trigger, a lookup and a lock on the referenced row per
    # result): 70% of the time to store a run's results. The results are written from
    # the enterprises and the run just read, neither of which the service may delete
    # (app/db/privileges.py), so the references cannot dangle without the checks.
    with op.batch_alter_table("matching_results", copy_from=_results_before()) as batch:
        batch.drop_constraint("fk_matching_results_run_id_matching_runs", type_="foreignkey")
        batch.drop_constraint("fk_matching_results_enterprise_id_enterprises", type_="foreignkey")
    op.create_index(op.f("ix_matching_results_run_id_id"), "matching_results", ["run_id", "id"])
    if op.get_context().as_sql:
        return  # an SQL script: no rows to read (run `incentives migrate` to fill)
    current = sa.text(
        "SELECT e.id, p.profile FROM enterprises e JOIN profile_versions p"
        " ON p.enterprise_id = e.id AND p.version = e.current_version"
        " WHERE e.id > :after ORDER BY e.id LIMIT :batch"
    ).columns(sa.column("id", sa.String()), sa.column("profile", sa.JSON()))
    after = ""
    while True:
        batch = [(r[0], r[1]) for r in bind.execute(current, {"after": after, "batch": _BATCH})]
        if not batch:
            break
        for table, rows in zip(tables, rows_of(batch), strict=True):
            if rows:
                bulk_insert(bind, table, rows)
        after = batch[-1][0]
    if bind.dialect.name == "postgresql":
        for table in tables:
            op.execute(f"ANALYZE {table.name}")


def downgrade() -> None:
    with op.batch_alter_table("matching_results") as batch:
        batch.create_foreign_key(
            "fk_matching_results_run_id_matching_runs", "matching_runs", ["run_id"], ["id"]
        )
        batch.create_foreign_key(
            "fk_matching_results_enterprise_id_enterprises", "enterprises", ["enterprise_id"], ["id"]
        )
    op.drop_index(op.f("ix_matching_results_run_id_id"), table_name="matching_results")
    for name in (
        "enterprise_recognitions",
        "enterprise_fact_year_scores",
        "enterprise_fact_years",
        "enterprise_facts",
    ):
        op.drop_table(name)
