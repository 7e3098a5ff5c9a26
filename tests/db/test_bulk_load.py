"""Bulk loads' helpers: SQLite's page cache during a load, bind processing by column,
PostgreSQL's binary ``COPY`` storing what its text ``COPY`` stores."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, Text, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.engine import Connection

from app.db import bulk_load
from app.db.bulk_load import loading, roomy_cache
from app.db.models import Enterprise, ProfileVersion
from app.db.projection import PROJECTION, columns_of, tuples_of
from app.db.repositories.enterprises import ENTERPRISE_COLUMNS, VERSION_COLUMNS


def test_a_large_load_gets_a_page_cache_for_its_rows_and_gives_it_back(
    db_engine: Engine,
) -> None:
    with db_engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            with roomy_cache(connection, 100_000):
                pass  # nothing to size on PostgreSQL
            return
        before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
        with roomy_cache(connection, 100_000):
            during = connection.exec_driver_sql("PRAGMA cache_size").scalar()
            assert during == -100_000 * bulk_load.SQLITE_CACHE_KIB_PER_ROW
        assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == before
        with roomy_cache(connection, 10):  # a small load: the cache it has is enough
            assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == before
        with roomy_cache(connection, 10**9):
            held = connection.exec_driver_sql("PRAGMA cache_size").scalar()
            assert held == -bulk_load.SQLITE_CACHE_KIB_MAX
        assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == before


def test_a_column_is_processed_once_per_run_of_one_value_and_nulls_stay_null() -> None:
    calls: list[object] = []

    def process(value: object) -> str:
        calls.append(value)
        return f"<{value}>"

    day, other = date(2024, 1, 1), date(2024, 1, 2)
    values = [day, day, None, other, other, day]
    assert bulk_load._processed(values, process, False) == [
        "<2024-01-01>",
        "<2024-01-01>",
        None,
        "<2024-01-02>",
        "<2024-01-02>",
        "<2024-01-01>",
    ]
    assert calls == [day, other, day]
    assert bulk_load._processed([None], process, True) == ["<None>"]  # JSON's null


#: A profile whose facts fill every table of the projection, with text that text
#: ``COPY`` escapes (tab, newline, backslash) and JSON's own escapes.
PROFILE: dict[str, Any] = {
    "name": '南京\t示例\\科技\n有限公司 "引号" \u00e9',
    "kind": "enterprise",
    "registered_on": "2021-03-15",
    "employees": 12,
    "own_brand": True,
    "location": {"city": "nanjing"},
    "ip": {"class_i": 3},
    "recognitions": [{"kind": "tech_sme", "granted_on": "2024-05-01"}],
    "years": {
        "2023": {"revenue": "100.00", "rd_expense": "7.00"},
        "2024": {"revenue": "120.50", "performance": {"nj-innovation": "80.5"}},
    },
    "notes": [1.5e3, -0.0, 10**20, None, "\u2028", {}],
}


def _load_and_read(connection: Connection) -> list[list[tuple[Any, ...]]]:
    """Load two enterprises, their profile versions and projection through
    ``bulk_load.loading``, then read every loaded row back (the documents as stored
    text too), and roll the load back."""
    at = datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=8)))
    enterprises = [
        ("e-1", "91320115MA1W9KXT49", PROFILE["name"], "enterprise", None, "nanjing", None, None,
         1, at, datetime(2001, 1, 1, tzinfo=UTC)),
        ("e-2", None, "b", None, "jiangsu", None, "xuanwu", "park\\x", 2147483647, at, at),
    ]  # fmt: skip
    versions = [
        ("v-1", "e-1", 1, json.dumps(PROFILE, ensure_ascii=False), "h" * 64, at, "admin:\tx"),
        ("v-2", "e-2", 7, json.dumps({"name": "b"}), "0" * 64, at, "portal:\\n"),
    ]
    tables = [cast(Table, Enterprise.__table__), cast(Table, ProfileVersion.__table__)]
    transaction = connection.begin_nested()
    try:
        with loading(connection, tables[0], ENTERPRISE_COLUMNS) as write:
            write(enterprises)
        with loading(connection, tables[1], VERSION_COLUMNS, as_stored=("profile",)) as write:
            write(versions[:1])
            write(versions[1:])
        for table, rows in zip(PROJECTION, tuples_of([("e-1", PROFILE)]), strict=True):
            assert rows, table.name  # the profile fills every table
            with loading(connection, table, columns_of(table)) as write:
                write(rows)
        read = []
        for table in (*tables, *PROJECTION):
            extra = [sql_cast(table.c.profile, Text)] if table is tables[1] else []
            key = list(table.primary_key)
            # Only this test's rows: the database is shared with the session's other tests.
            owner = table.c.id if table is tables[0] else table.c.enterprise_id
            mine = select(table, *extra).where(owner.in_(["e-1", "e-2"])).order_by(*key)
            read.append([tuple(r) for r in connection.execute(mine)])
        return read
    finally:
        transaction.rollback()


def test_binary_copy_stores_what_text_copy_stores(
    db_connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db_connection.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    raw = db_connection.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:  # every table's columns go in binary
        for table in (Enterprise.__table__, ProfileVersion.__table__, *PROJECTION):
            names = [c.name for c in table.columns]
            assert bulk_load._binary_types(cursor, table.name, names) is not None
    binary = _load_and_read(db_connection)
    monkeypatch.setattr(bulk_load, "_binary_types", lambda *args: None)  # as text
    text = _load_and_read(db_connection)
    assert binary == text
    assert [len(rows) for rows in binary] == [2, 2, 1, 2, 1, 1]
