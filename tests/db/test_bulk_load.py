"""Bulk loads' helpers: SQLite's page cache during a load, bind processing by column."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from app.db import bulk_load
from app.db.bulk_load import roomy_cache


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
