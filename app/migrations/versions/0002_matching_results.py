"""Matching results: per run, enterprise and policy, the eligible and undetermined answers.

Revision ID: 0002_matching_results
Revises: 0001_initial
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_matching_results"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(18, 2).with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "matching_results",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("enterprise_id", sa.String(36), nullable=False),
        sa.Column("policy_id", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("amount", MONEY, nullable=True),
        sa.Column("missing_facts", JSON_DOC, nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["matching_runs.id"], name=op.f("fk_matching_results_run_id_matching_runs")),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_matching_results_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matching_results")),
    )
    op.create_index(
        op.f("ix_matching_results_run_id_policy_id_status"),
        "matching_results",
        ["run_id", "policy_id", "status"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_matching_results_run_id_policy_id_status"), table_name="matching_results")
    op.drop_table("matching_results")
