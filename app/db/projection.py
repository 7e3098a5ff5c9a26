"""The projection: each enterprise's current facts as typed columns, beside its profile.

Written in the same transaction as every profile version (``write_projection``, called
by the repository functions that add versions), so it always says what the current
profile says. Matching runs read it in bulk instead of decoding every profile
document (``app.db.repositories.projected``). Four tables, their columns derived from
the fact vocabulary (``app.db.fact_columns``):

* ``enterprise_facts``: one row per enterprise, a column per fact of the profile itself,
  ``exact`` (false: read this enterprise from its profile document) and
  ``recognitions_listed`` (the profile gives a recognitions list, maybe empty);
* ``enterprise_fact_years``: one row per enterprise and fiscal year, a column per year fact;
* ``enterprise_fact_year_scores``: the year facts keyed by a word (performance scores);
* ``enterprise_recognitions``: one row per recognition held.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from app.db.bulk_load import loading
from app.db.fact_columns import NUMBER_TYPES, SCALAR, WORD, YEARLY, Fact, project


def _type(fact: Fact) -> TypeEngine[Any]:
    if fact.type in NUMBER_TYPES:
        return BigInteger()
    if fact.type == "boolean":
        return Boolean()
    return Date() if fact.type == "date" else String(WORD)


def _owner(referenced: bool) -> Column[Any]:
    keys = [ForeignKey("enterprises.id")] if referenced else []
    return Column("enterprise_id", String(36), *keys, primary_key=True, nullable=False)


def define(metadata: MetaData, *, referenced: bool = False) -> tuple[Table, Table, Table, Table]:
    """The four tables on ``metadata`` (the models' and the migrations').

    No foreign keys (migration 0011): PostgreSQL checked one per projection row, a
    trigger, a lookup and a lock on the enterprise's row each, three quarters of an
    import's checks and about a fifth of its write; the rows are written from the
    enterprises written beside them, which the service may not delete. ``referenced``:
    with the key on ``enterprise_id``, as migration 0005 made the tables."""
    facts = Table(
        "enterprise_facts",
        metadata,
        _owner(referenced),
        Column("exact", Boolean(), nullable=False),
        Column("recognitions_listed", Boolean(), nullable=False),
        *(Column(f.column, _type(f)) for f in SCALAR),
    )
    years = Table(
        "enterprise_fact_years",
        metadata,
        _owner(referenced),
        Column("year", Integer(), primary_key=True, nullable=False, autoincrement=False),
        *(Column(f.column, _type(f)) for f in YEARLY),
    )
    scores = Table(
        "enterprise_fact_year_scores",
        metadata,
        _owner(referenced),
        Column("year", Integer(), primary_key=True, nullable=False, autoincrement=False),
        Column("name", String(64), primary_key=True, nullable=False),
        Column("key", String(WORD), primary_key=True, nullable=False),
        Column("value", BigInteger(), nullable=False),
    )
    recognitions = Table(
        "enterprise_recognitions",
        metadata,
        _owner(referenced),
        Column("position", Integer(), primary_key=True, nullable=False, autoincrement=False),
        Column("kind", String(WORD), nullable=False),
        Column("level", String(WORD)),
        Column("granted_on", Date()),
        Column("expires_on", Date()),
    )
    return facts, years, scores, recognitions


#: The four tables as ``define`` makes them (the models' have the same names, columns and
#: types): statements and column orders from them need no import of the models.
PROJECTION = define(MetaData())
_FACTS_TABLE, _YEARS_TABLE, _SCORES_TABLE, _RECOGNITIONS_TABLE = PROJECTION


def columns_of(table: Table) -> list[str]:
    return [c.name for c in table.columns]


_FACT_VALUES = itemgetter(*columns_of(_FACTS_TABLE)[1:])
_YEAR_VALUES = itemgetter(*columns_of(_YEARS_TABLE)[1:])
_SCORE_VALUES = itemgetter(*columns_of(_SCORES_TABLE)[1:])
_RECOGNITION_VALUES = itemgetter(*columns_of(_RECOGNITIONS_TABLE)[1:])


#: One profile's projection rows, table by table, without the enterprise id: the facts
#: row, then lists of the years', the scores' and the recognitions' rows.
Projected = tuple[
    tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]
]


def projected(profile: Mapping[str, Any]) -> Projected:
    """The projection rows of one profile, without its enterprise's id."""
    found = project(profile)
    facts = _FACT_VALUES(found.facts)
    if not found.facts["exact"]:
        return facts, [], [], []  # read from the profile document: no other rows
    return (
        facts,
        [_YEAR_VALUES(r) for r in found.years],
        [_SCORE_VALUES(r) for r in found.scores],
        [_RECOGNITION_VALUES(r) for r in found.recognitions],
    )


def owned_tuples(
    items: Iterable[tuple[str, Projected]],
) -> tuple[
    list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]
]:
    """The rows of ``(enterprise_id, projected)`` pairs, table by table, as tuples in the
    order of each table's columns (the enterprise id first)."""
    facts: list[tuple[Any, ...]] = []
    years: list[tuple[Any, ...]] = []
    scores: list[tuple[Any, ...]] = []
    recognitions: list[tuple[Any, ...]] = []
    for enterprise_id, (fact_row, year_rows, score_rows, recognition_rows) in items:
        facts.append((enterprise_id, *fact_row))
        if year_rows:
            years.extend([(enterprise_id, *r) for r in year_rows])
        if score_rows:
            scores.extend([(enterprise_id, *r) for r in score_rows])
        if recognition_rows:
            recognitions.extend([(enterprise_id, *r) for r in recognition_rows])
    return facts, years, scores, recognitions


def tuples_of(
    items: Iterable[tuple[str, Any]],
) -> tuple[
    list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]
]:
    """The projection rows of ``(enterprise_id, profile)`` pairs, table by table, as
    tuples in the order of each table's columns."""
    return owned_tuples((enterprise_id, projected(profile)) for enterprise_id, profile in items)


def rows_of(
    items: Iterable[tuple[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The projection rows of ``(enterprise_id, profile)`` pairs, table by table."""
    tables = (_FACTS_TABLE, _YEARS_TABLE, _SCORES_TABLE, _RECOGNITIONS_TABLE)
    return tuple(  # type: ignore[return-value]
        [dict(zip(columns_of(table), row, strict=True)) for row in rows]
        for table, rows in zip(tables, tuples_of(items), strict=True)
    )


def delete_projection(session: Session, enterprise_ids: Sequence[str]) -> None:
    """Remove the projection of these enterprises (before their new profiles' is written)."""
    for table in PROJECTION:
        for start in range(0, len(enterprise_ids), 5000):
            owners = enterprise_ids[start : start + 5000]
            session.execute(delete(table).where(table.c.enterprise_id.in_(owners)))


def write_projection(
    session: Session, items: Sequence[tuple[str, Any]], *, new: bool = False
) -> None:
    """Replace the projection of these enterprises by their profiles' facts.

    Called in the transaction that adds the profile versions, with the new current
    profile of each enterprise. ``new``: the enterprises are new (first versions), so
    there is nothing to replace."""
    if not items:
        return
    last = dict(items)  # the same enterprise twice: its last profile is current
    if not new:
        delete_projection(session, list(last))
    load_projection(session.connection(), tuples_of(list(last.items())))


#: Rows per part of a load: the database stores a part while the next one is made.
LOAD_PART = 5000


def load_projection(connection: Connection, rows: Sequence[Sequence[Sequence[Any]]]) -> None:
    """Insert projection rows as ``tuples_of`` gives them, table by table.

    On SQLite a column null in every row is left out of the load (it is null all the
    same: no column of the projection has a default). Most facts are in no file, and
    each value bound costs SQLite about as much as storing it: an import's loads of the
    facts and the years took well under half the time so. (PostgreSQL's ``COPY`` sends a null as two bytes:
    looking for the columns there cost more than it saved.)"""
    for table, table_rows in zip(PROJECTION, rows, strict=True):
        if not table_rows:
            continue
        names = columns_of(table)
        if connection.dialect.name == "sqlite":
            table_rows, names = _without_null_columns(table_rows, names)
        with loading(connection, table, names) as write:
            for start in range(0, len(table_rows), LOAD_PART):
                write(table_rows[start : start + LOAD_PART])


def _without_null_columns(
    rows: Sequence[Sequence[Any]], names: list[str]
) -> tuple[Sequence[Sequence[Any]], list[str]]:
    """The rows and column names without the columns that are null in every row."""
    values = list(zip(*rows, strict=True))
    kept = [n for n, column in enumerate(values) if column.count(None) < len(column)]
    if len(kept) == len(names):
        return rows, names
    return list(zip(*(values[n] for n in kept), strict=True)), [names[n] for n in kept]


def bulk_insert(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows given as mappings (each with the same keys, one per column to set)
    in one load (``app.db.bulk_load``)."""
    if not rows:
        return
    columns = list(rows[0])
    with loading(connection, table, columns) as write:
        write([[row[c] for c in columns] for row in rows])


#: Tables a bulk load fills: their statistics are refreshed after it (PostgreSQL).
LOADED = (
    "enterprises",
    "profile_versions",
    "enterprise_facts",
    "enterprise_fact_years",
    "enterprise_fact_year_scores",
    "enterprise_recognitions",
)


#: The columns of the projection's tables that queries filter, join or order on: the
#: owner and the rest of the key, and whether a row is exact. Refreshing the statistics
#: of the others after a load (the facts' sixty-odd columns above all) cost three
#: quarters of those tables' ANALYZE and served no plan.
QUERIED_COLUMNS = {
    table.name: [c.name for c in table.primary_key] + (["exact"] if table is _FACTS_TABLE else [])
    for table in PROJECTION
}


def analyze(
    session: Session, tables: Sequence[str], columns: Mapping[str, Sequence[str]] | None = None
) -> None:
    """Fresh planner statistics after a bulk load: without them PostgreSQL plans paging
    and joins for empty tables (autovacuum may be off or late). ``columns``: of some
    tables, the columns whose statistics are refreshed (the others' stay as they were;
    the table's size is counted again all the same)."""
    if session.get_bind().dialect.name == "postgresql":
        for table in tables:
            only = (columns or {}).get(table)
            session.execute(text(f"ANALYZE {table}" + (f" ({', '.join(only)})" if only else "")))


def analyze_all(session: Session) -> None:
    analyze(session, LOADED)
