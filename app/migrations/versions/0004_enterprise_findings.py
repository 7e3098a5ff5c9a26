"""Enterprise findings: what a reviewer found on a criterion no data settles.

Revision ID: 0004_enterprise_findings
Revises: 0003_rate_limit_counters
Create Date: 2026-11-30

Append-only by what the service role is granted (SELECT and INSERT, see
app/db/privileges.py): a correction is a new record, the latest per enterprise,
fiscal year and key counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_enterprise_findings"
down_revision: str | None = "0003_rate_limit_counters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "enterprise_findings",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("enterprise_id", sa.String(36), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("met", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(2000), nullable=True),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_enterprise_findings_enterprise_id_enterprises"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise_findings")),
    )
    op.create_index(
        op.f("ix_enterprise_findings_enterprise_id_fiscal_year_recorded_at"),
        "enterprise_findings",
        ["enterprise_id", "fiscal_year", "recorded_at"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_enterprise_findings_enterprise_id_fiscal_year_recorded_at"),
        table_name="enterprise_findings",
    )
    op.drop_table("enterprise_findings")
