"""The fact projection's rows keep their enterprise's id without a foreign key.

An import of 100,000 new enterprises writes about 300,000 projection rows beside their
profile versions, and PostgreSQL checked each row's key on its own after the load: a
trigger, an index lookup and a lock on the enterprise's row. Without those checks
the write took about 0.78 of the time (its server's CPU 0.73), on a 2-core machine
with the import benchmark's file. The rows are written from the enterprises written
in the same transaction, and the service's role may not delete enterprises
(app/db/privileges.py), so an id cannot come to name no enterprise; migration 0005
made the same choice for a run's results. Undoing the migration puts the keys back
(and checks the rows against them).

Revision ID: 0011_projection_unkeyed
Revises: 0010_run_numbers
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db.models import NAMING_CONVENTION
from app.db.projection import define

revision: str = "0011_projection_unkeyed"
down_revision: str | None = "0010_run_numbers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tables(referenced: bool) -> tuple[sa.Table, ...]:
    """The four tables as they stand before the change (SQLite's batch mode rebuilds a
    table from this rather than from its reflection, which loses constraint names)."""
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    sa.Table("enterprises", metadata, sa.Column("id", sa.String(36), primary_key=True))
    return define(metadata, referenced=referenced)


def _key(table: sa.Table) -> str:
    return f"fk_{table.name}_enterprise_id_enterprises"


def upgrade() -> None:
    for table in _tables(referenced=True):
        with op.batch_alter_table(table.name, copy_from=table) as batch:
            batch.drop_constraint(_key(table), type_="foreignkey")


def downgrade() -> None:
    for table in _tables(referenced=False):
        with op.batch_alter_table(table.name, copy_from=table) as batch:
            batch.create_foreign_key(_key(table), "enterprises", ["enterprise_id"], ["id"])
