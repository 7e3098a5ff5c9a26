"""The migrations build exactly the schema the models describe, and can be undone."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL

from app.db.models import Base
from app.db.session import alembic_config, downgrade, make_engine, migrate, ours

REPO_ROOT = Path(__file__).resolve().parents[2]


def schema_drift(engine: Engine) -> list[object]:
    """What `alembic revision --autogenerate` would write: nothing of ours is ignored
    (only the job queue's own schema, checked below), and types and server defaults
    are compared as well as tables, columns and indexes."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "compare_server_default": True, "include_name": ours},
        )
        return list(compare_metadata(context, Base.metadata))


def test_only_the_job_queue_is_left_out_of_the_comparison() -> None:
    assert not ours("procrastinate_jobs", "table", {})
    assert all(ours(table, "table", {}) for table in Base.metadata.tables)


def test_the_job_queue_schema_is_procrastinate_s_own(db_engine: Engine, db_backend: str) -> None:
    """On PostgreSQL the migrations install the installed procrastinate's schema whole:
    its tables, and every function its queries call (SQLite has no queue)."""
    shipped = resources.files("procrastinate.sql").joinpath("schema.sql").read_text("utf-8")
    functions = set(re.findall(r"CREATE FUNCTION (\w+)\(", shipped))
    with db_engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        if db_backend == "sqlite":
            assert not {t for t in tables if t.startswith("procrastinate_")}
            return
        found = set(
            connection.execute(
                text("SELECT proname FROM pg_proc WHERE proname LIKE 'procrastinate%'")
            ).scalars()
        )
    assert {"procrastinate_jobs", "procrastinate_workers", "procrastinate_events"} <= tables
    assert functions and functions <= found


def test_models_match_the_migrated_schema(db_engine: Engine) -> None:
    assert schema_drift(db_engine) == []


def test_one_linear_history_from_alembic_ini() -> None:
    script = ScriptDirectory.from_config(Config(str(REPO_ROOT / "alembic.ini")))
    assert len(script.get_heads()) == 1, "one head: migrations form a single line"
    assert [r.revision for r in script.walk_revisions()][-1] == "0001_initial"
    assert script.dir == str(REPO_ROOT / "app" / "migrations")


def test_live_award_index_is_unique_and_partial(db_engine: Engine) -> None:
    indexes = {ix["name"]: ix for ix in inspect(db_engine).get_indexes("awards")}
    live = indexes["uq_awards_live_enterprise_policy_year"]
    assert live["unique"]
    assert live["column_names"] == ["enterprise_id", "policy_id", "fiscal_year"]
    # postgresql_where or sqlite_where, as the database itself reports it.
    (where,) = [value for key, value in live["dialect_options"].items() if key.endswith("_where")]
    assert all(status in str(where) for status in ("rejected", "revoked", "superseded"))


def triggers(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            query = "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass"
            query += " AND NOT tgisinternal"
        else:
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        return set(connection.execute(text(query)).scalars())


def test_audit_log_triggers_are_installed(db_engine: Engine, db_backend: str) -> None:
    expected = {
        "postgres": {"audit_log_no_update_delete", "audit_log_no_truncate"},
        "sqlite": {"audit_log_no_update", "audit_log_no_delete"},
    }[db_backend]
    assert triggers(db_engine) == expected


def test_downgrade_to_base_and_back(fresh_db_url: URL) -> None:
    migrate(fresh_db_url)
    downgrade(fresh_db_url)
    engine = make_engine(fresh_db_url)
    try:
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                leftover = connection.execute(
                    text(
                        "SELECT count(*) FROM pg_proc WHERE proname = 'audit_log_append_only' "
                        "OR proname LIKE 'procrastinate%'"
                    )
                ).scalar_one()
            assert leftover == 0
        migrate(fresh_db_url)  # and the upgrade still works on the emptied database
        assert schema_drift(engine) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://postgres@localhost/x", "CREATE TRIGGER audit_log_no_truncate"),
        ("sqlite:///unused.db", "CREATE TRIGGER audit_log_no_update"),
    ],
)
def test_offline_sql_script(url: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    command.upgrade(alembic_config(url), "head", sql=True)
    assert expected in capsys.readouterr().out
