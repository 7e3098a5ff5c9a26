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
from datetime import date
from typing import Any

from sqlalchemy import (
    JSON,
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

from app.db.fact_columns import NUMBER_TYPES, SCALAR, WORD, YEARLY, Fact, project


def _type(fact: Fact) -> TypeEngine[Any]:
    if fact.type in NUMBER_TYPES:
        return BigInteger()
    if fact.type == "boolean":
        return Boolean()
    return Date() if fact.type == "date" else String(WORD)


def _owner() -> Column[Any]:
    return Column(
        "enterprise_id", String(36), ForeignKey("enterprises.id"), primary_key=True, nullable=False
    )


def define(metadata: MetaData) -> tuple[Table, Table, Table, Table]:
    """The four tables on ``metadata`` (the models' and the migration's)."""
    facts = Table(
        "enterprise_facts",
        metadata,
        _owner(),
        Column("exact", Boolean(), nullable=False),
        Column("recognitions_listed", Boolean(), nullable=False),
        *(Column(f.column, _type(f)) for f in SCALAR),
    )
    years = Table(
        "enterprise_fact_years",
        metadata,
        _owner(),
        Column("year", Integer(), primary_key=True, nullable=False, autoincrement=False),
        *(Column(f.column, _type(f)) for f in YEARLY),
    )
    scores = Table(
        "enterprise_fact_year_scores",
        metadata,
        _owner(),
        Column("year", Integer(), primary_key=True, nullable=False, autoincrement=False),
        Column("name", String(64), primary_key=True, nullable=False),
        Column("key", String(WORD), primary_key=True, nullable=False),
        Column("value", BigInteger(), nullable=False),
    )
    recognitions = Table(
        "enterprise_recognitions",
        metadata,
        _owner(),
        Column("position", Integer(), primary_key=True, nullable=False, autoincrement=False),
        Column("kind", String(WORD), nullable=False),
        Column("level", String(WORD)),
        Column("granted_on", Date()),
        Column("expires_on", Date()),
    )
    return facts, years, scores, recognitions


def rows_of(
    items: Iterable[tuple[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The projection rows of ``(enterprise_id, profile)`` pairs, table by table."""
    facts: list[dict[str, Any]] = []
    years: list[dict[str, Any]] = []
    scores: list[dict[str, Any]] = []
    recognitions: list[dict[str, Any]] = []
    for enterprise_id, profile in items:
        found = project(profile)
        parts = (found.years, found.scores, found.recognitions)
        if not found.facts["exact"]:
            found = project({})
            found.facts["exact"], parts = False, ([], [], [])
        facts.append({"enterprise_id": enterprise_id, **found.facts})
        for rows, part in zip((years, scores, recognitions), parts, strict=True):
            rows.extend({"enterprise_id": enterprise_id, **r} for r in part)
    return facts, years, scores, recognitions


def write_projection(
    session: Session, items: Sequence[tuple[str, Any]], *, new: bool = False
) -> None:
    """Replace the projection of these enterprises by their profiles' facts.

    Called in the transaction that adds the profile versions, with the new current
    profile of each enterprise. ``new``: the enterprises are new (first versions), so
    there is nothing to replace."""
    if not items:
        return
    from app.db.models import PROJECTION_TABLES

    last = dict(items)  # the same enterprise twice: its last profile is current
    if not new:
        ids = list(last)
        for table in PROJECTION_TABLES:
            for start in range(0, len(ids), 5000):
                owners = ids[start : start + 5000]
                session.execute(delete(table).where(table.c.enterprise_id.in_(owners)))
    for table, rows in zip(PROJECTION_TABLES, rows_of(list(last.items())), strict=True):
        if rows:
            bulk_insert(session.connection(), table, rows)


def bulk_insert(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """``COPY`` on PostgreSQL (one round trip for any number of rows), INSERTs elsewhere.

    The COPY text is built here, a join per row: psycopg's ``write_row`` adapts each
    value on its own, which cost more than the projection itself on a bulk import."""
    if connection.dialect.name != "postgresql":
        executemany(connection, table, rows)
        return
    columns = [c.name for c in table.columns]
    text_of = _copy_text
    buffer = "".join("\t".join([text_of(row[c]) for c in columns]) + "\n" for row in rows)
    raw = connection.connection.driver_connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        copy.write(buffer.encode())


def executemany(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """One prepared INSERT run by the driver over tuples (SQLite).

    Each value goes through its column type's own bind processor, so what is stored is
    what ``insert(table)`` stores; SQLAlchemy's per-row parameter building cost more than
    the insert itself on a bulk import. Every row carries every column to be set
    (defaults are not applied, as with COPY)."""
    if not rows:
        return
    dialect = connection.dialect
    names = list(rows[0])
    quote = dialect.identifier_preparer.quote
    processors = []
    for i, name in enumerate(names):
        kind = table.c[name].type
        process = kind.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            # A null stays null (skipped) except in a JSON column, which may store 'null'.
            processors.append((i, process, isinstance(kind, JSON)))
    params: list[Any] = []
    for row in rows:
        values = [row[name] for name in names]
        for i, process, always in processors:
            if always or values[i] is not None:
                values[i] = process(values[i])
        params.append(values)
    statement = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"VALUES ({', '.join('?' for _ in names)})"
    )
    raw = connection.connection.driver_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.executemany(statement, params)
    finally:
        cursor.close()


def _copy_text(value: Any) -> str:
    """A value in COPY's text format (``\\N`` for null, special characters escaped)."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        text: str = value
        if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
            text = text.replace("\\", "\\\\").replace("\t", "\\t")
            text = text.replace("\n", "\\n").replace("\r", "\\r")
        return text
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


#: Tables a bulk load fills: their statistics are refreshed after it (PostgreSQL).
LOADED = (
    "enterprises",
    "profile_versions",
    "enterprise_facts",
    "enterprise_fact_years",
    "enterprise_fact_year_scores",
    "enterprise_recognitions",
)


def analyze(session: Session, tables: Sequence[str]) -> None:
    """Fresh planner statistics after a bulk load: without them PostgreSQL plans paging
    and joins for empty tables (autovacuum may be off or late)."""
    if session.get_bind().dialect.name == "postgresql":
        for table in tables:
            session.execute(text(f"ANALYZE {table}"))


def analyze_all(session: Session) -> None:
    analyze(session, LOADED)
