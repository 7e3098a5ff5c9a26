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


def test_undoing_0007_writes_the_codes_back_as_names(fresh_db_url: URL) -> None:
    """Results stored as codes keep their names through a downgrade to 0005."""
    import json

    import numpy as np

    from app.db import repositories as repo
    from app.db.models import MatchingRun
    from app.db.repositories.result_rows import ResultRows
    from app.db.session import make_sessionmaker

    migrate(fresh_db_url)
    engine = make_engine(fresh_db_url)
    paths = ["years.2024.revenue", "finding:novel", "employees"]
    try:
        with make_sessionmaker(engine).begin() as session:
            run = repo.add_matching_run(
                session, MatchingRun(fiscal_year=2024, status="done", parameters={}, started_by="t")
            )
            run_id = run.id
            rows = ResultRows(
                ["e1", "e2"],
                ["p1"],
                enterprise=np.array([0, 1, 1], dtype=np.intp),
                policy=np.zeros(3, dtype=np.intp),
                status=np.array([2, 2, 1], dtype=np.int8),
                fen=np.array([-1, -1, 12345], dtype=np.int64),
                code=np.array([0b111, 0, 0], dtype=np.int64),
                coded=np.array([True, False, False]),
                names={1: {"paths": ["revenue"]}},
                paths={"p1": paths},
            )
            repo.add_matching_result_rows(session, run, [rows])
        with make_sessionmaker(engine)() as session:
            before = [
                (r.enterprise_id, r.status, r.amount, r.missing_facts)
                for r in repo.list_matching_results(session, run_id)
            ]
        assert [m for *_, m in before] == [
            {"paths": ["employees", "years.2024.revenue"], "findings": ["novel"]},
            {"paths": ["revenue"]},
            None,
        ]
        downgrade(fresh_db_url, "0006_run_shards_and_job_queue")
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT missing_facts FROM matching_results ORDER BY id")
            ).scalars()
            names = [json.loads(m) if isinstance(m, str) else m for m in stored]
        assert names == [m for *_, m in before]
        migrate(fresh_db_url)
        with make_sessionmaker(engine)() as session:
            after = [
                (r.enterprise_id, r.status, r.amount, r.missing_facts)
                for r in repo.list_matching_results(session, run_id)
            ]
        assert after == before
    finally:
        engine.dispose()


def test_the_call_counters_skip_the_write_ahead_log(fresh_db_url: URL) -> None:
    """0009: on PostgreSQL the open calculator's counters are unlogged, and undoing it
    logs them again; SQLite's table is as it was."""
    migrate(fresh_db_url)
    engine = make_engine(fresh_db_url)
    persistence = text("SELECT relpersistence FROM pg_class WHERE relname = 'rate_limit_counters'")
    try:
        if engine.dialect.name != "postgresql":
            downgrade(fresh_db_url, "0008_import_jobs")
            assert "rate_limit_counters" in inspect(engine).get_table_names()
            return
        with engine.connect() as connection:
            assert connection.execute(persistence).scalar_one() == "u"
        downgrade(fresh_db_url, "0008_import_jobs")
        with engine.connect() as connection:
            assert connection.execute(persistence).scalar_one() == "p"
    finally:
        engine.dispose()


def test_the_projection_keeps_enterprise_ids_without_foreign_keys(fresh_db_url: URL) -> None:
    """0011 drops the projection's foreign keys on both backends, with the rows kept;
    undoing it puts them back, checked against the rows."""
    from datetime import UTC, datetime

    from app.db.models import Enterprise
    from app.db.projection import PROJECTION

    NOW = datetime(2026, 11, 30, tzinfo=UTC)

    names = [table.name for table in PROJECTION]
    migrate(fresh_db_url)
    engine = make_engine(fresh_db_url)

    def keys() -> dict[str, list[str]]:
        # New connections: SQLite answers a PRAGMA from the schema a connection last
        # read, and the migrations changed it through connections of their own.
        engine.dispose()
        found = inspect(engine)
        return {n: [k["referred_table"] for k in found.get_foreign_keys(n)] for n in names}

    try:
        assert keys() == {n: [] for n in names}
        with engine.begin() as connection:
            connection.execute(
                Enterprise.__table__.insert(),
                {"id": "e-1", "name": "甲", "created_at": NOW, "updated_at": NOW},
            )
            connection.execute(
                text(
                    "INSERT INTO enterprise_recognitions (enterprise_id, position, kind) "
                    "VALUES ('e-1', 0, 'high_tech_enterprise')"
                )
            )
        downgrade(fresh_db_url, "0010_run_numbers")
        assert keys() == {n: ["enterprises"] for n in names}
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT enterprise_id FROM enterprise_recognitions"))
            assert kept.scalars().all() == ["e-1"]
        migrate(fresh_db_url)
        assert keys() == {n: [] for n in names}
    finally:
        engine.dispose()
