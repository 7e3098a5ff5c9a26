"""A matching run's results carry the run's small number instead of its id.

Revision ID: 0010_run_numbers
Revises: 0009_unlogged_rate_limits
Create Date: 2026-11-30

A run stores about eight results per enterprise, and PostgreSQL spent most of storing
them on their indexes: the filters' index (``run_id``, ``policy_id``, ``status``), the
paging index (``run_id``, ``id``) and the primary key (``id``). Each run now has a
``number`` (a sequence on PostgreSQL), its results carry it as ``run_number``, the
primary key (``run_number``, ``id``) serves the pages, and the filters' index keys on
the number; the filters' index deduplicates again (its few keys a run, measured with
integer runs, cost less kept deduplicated). Measured with ``COPY`` of 400,000 results
a run: about 0.6 of the time the three indexes on the id took. Existing runs are
numbered in the order they were made; undoing the migration writes the ids back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.db.models import NAMING_CONVENTION

revision: str = "0010_run_numbers"
down_revision: str | None = "0009_unlogged_rate_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_MONEY = sa.Numeric(18, 2).with_variant(sa.Integer(), "sqlite")
# Numbered in the order the runs were made (a correlated count: runs are few).
_NUMBER_RUNS = (
    "UPDATE matching_runs SET number = (SELECT count(*) FROM matching_runs AS earlier"
    " WHERE earlier.created_at < matching_runs.created_at"
    " OR (earlier.created_at = matching_runs.created_at AND earlier.id <= matching_runs.id))"
)


def _runs(numbered: bool) -> sa.Table:
    """``matching_runs`` as 0009 left it with the new ``number``, either still to be
    filled or numbered (SQLite's batch mode copies the table, and an SQL script cannot
    reflect it)."""
    number: list[sa.SchemaItem] = [sa.Column("number", sa.Integer(), nullable=not numbered)]
    if numbered:
        number.append(sa.UniqueConstraint("number", name="uq_matching_runs_number"))
    return sa.Table(
        "matching_runs",
        sa.MetaData(naming_convention=NAMING_CONVENTION),
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("progress", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("total", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("parameters", _JSON, nullable=False),
        sa.Column("result", _JSON),
        sa.Column("started_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime()),
        sa.Column("error", sa.Text()),
        sa.Column("tenant", sa.String(120), server_default=sa.text("'all'"), nullable=False),
        sa.Column("shards_total", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("shards_done", sa.Integer(), server_default=sa.text("0"), nullable=False),
        *number,
    )


_RESULT_COLUMNS = "id, enterprise_id, policy_id, status, amount, missing_facts, missing_code"


def _results_keyed_by(key: str, name: str) -> None:
    """SQLite only: an empty ``matching_results`` named ``name``, keyed by ``run_id``
    (as 0009 left it) or by ``run_number`` (a key cannot change in place there)."""
    if key == "run_id":
        keys = [
            sa.Column("id", _ID, nullable=False),
            sa.Column("run_id", sa.String(36), nullable=False),
            sa.PrimaryKeyConstraint("id", name="pk_matching_results"),
        ]
    else:
        keys = [
            sa.Column("run_number", sa.Integer(), nullable=False),
            sa.Column("id", _ID, nullable=False),
            sa.PrimaryKeyConstraint("run_number", "id", name="pk_matching_results"),
        ]
    op.create_table(
        name,
        *keys,
        sa.Column("enterprise_id", sa.String(36), nullable=False),
        sa.Column("policy_id", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("amount", _MONEY),
        sa.Column("missing_facts", _JSON),
        sa.Column("missing_code", sa.BigInteger()),
    )


def _number_runs() -> None:
    with op.batch_alter_table("matching_runs", copy_from=_runs(numbered=False)) as batch:
        batch.alter_column("number", existing_type=sa.Integer(), nullable=False)
        batch.create_unique_constraint(op.f("uq_matching_runs_number"), ["number"])


def upgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    op.add_column("matching_runs", sa.Column("number", sa.Integer(), nullable=True))
    op.execute(_NUMBER_RUNS)
    _number_runs()
    if postgres:
        op.execute("CREATE SEQUENCE matching_run_numbers AS integer")
        op.execute(
            "SELECT setval('matching_run_numbers', coalesce(max(number), 0) + 1, false)"
            " FROM matching_runs"
        )
    op.drop_index(op.f("ix_matching_results_run_id_policy_id_status"), "matching_results")
    op.drop_index(op.f("ix_matching_results_run_id_id"), "matching_results")
    number = "(SELECT number FROM matching_runs WHERE matching_runs.id = matching_results.run_id)"
    if postgres:
        # Keyed afresh in place: the table keeps its rows and its id sequence.
        op.add_column("matching_results", sa.Column("run_number", sa.Integer()))
        op.execute(f"UPDATE matching_results SET run_number = {number}")
        op.execute("ALTER TABLE matching_results DROP CONSTRAINT pk_matching_results")
        op.execute("ALTER TABLE matching_results DROP COLUMN run_id")
        op.execute("ALTER TABLE matching_results ALTER COLUMN run_number SET NOT NULL")
        op.execute(
            "ALTER TABLE matching_results ADD CONSTRAINT pk_matching_results"
            " PRIMARY KEY (run_number, id)"
        )
    else:
        _results_keyed_by("run_number", "matching_results_keyed")
        op.execute(
            f"INSERT INTO matching_results_keyed (run_number, {_RESULT_COLUMNS})"
            f" SELECT {number}, {_RESULT_COLUMNS} FROM matching_results"
        )
        op.drop_table("matching_results")
        op.rename_table("matching_results_keyed", "matching_results")
    op.create_index(
        op.f("ix_matching_results_run_number_policy_id_status"),
        "matching_results",
        ["run_number", "policy_id", "status"],
    )


def downgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    op.drop_index(op.f("ix_matching_results_run_number_policy_id_status"), "matching_results")
    run_id = "(SELECT id FROM matching_runs WHERE matching_runs.number = matching_results.run_number)"
    if postgres:
        op.add_column("matching_results", sa.Column("run_id", sa.String(36)))
        op.execute(f"UPDATE matching_results SET run_id = {run_id}")
        op.execute("ALTER TABLE matching_results DROP CONSTRAINT pk_matching_results")
        op.execute("ALTER TABLE matching_results DROP COLUMN run_number")
        op.execute("ALTER TABLE matching_results ALTER COLUMN run_id SET NOT NULL")
        op.execute("ALTER TABLE matching_results ADD CONSTRAINT pk_matching_results PRIMARY KEY (id)")
        op.execute("DROP SEQUENCE matching_run_numbers")
    else:
        _results_keyed_by("run_id", "matching_results_keyed")
        op.execute(
            f"INSERT INTO matching_results_keyed (run_id, {_RESULT_COLUMNS})"
            f" SELECT {run_id}, {_RESULT_COLUMNS} FROM matching_results"
        )
        op.drop_table("matching_results")
        op.rename_table("matching_results_keyed", "matching_results")
    op.create_index(
        op.f("ix_matching_results_run_id_policy_id_status"),
        "matching_results",
        ["run_id", "policy_id", "status"],
        postgresql_with={"deduplicate_items": "off"},
    )
    op.create_index(op.f("ix_matching_results_run_id_id"), "matching_results", ["run_id", "id"])
    with op.batch_alter_table("matching_runs", copy_from=_runs(numbered=True)) as batch:
        batch.drop_constraint(op.f("uq_matching_runs_number"), type_="unique")
        batch.drop_column("number")
