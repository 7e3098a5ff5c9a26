"""The request schemas and the columns agree on every bound, so they cannot drift apart.

The walk starts from both ends: every column of every model, and every value a request
can carry (each query, path and header parameter of every route, each field of every
request body, at any depth). A value is *mapped* to the columns its type names with
``MapsTo`` (``app.api.schemas.bounded``); for each column, every value mapped to it
must be refused where the column would refuse it, and document the same bound:

- text: the same maximum length (``String(n)``), and no NUL byte;
- integers: nothing past ``INTEGER`` or ``BIGINT``;
- money: two places, and nothing the ``NUMERIC(18,2)`` column cannot hold;
- timestamps: a time zone, and an instant that stays a timestamp in UTC.

And every value a request carries, mapped or not, is bounded: no string without a
maximum length or with a NUL byte, no unbounded integer.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import BigInteger, Column, Date, Integer, String, Text

from app.api.schemas.bounded import MapsTo
from app.db import bounds
from app.db.models import Base
from app.db.types import Money, UtcDateTime
from app.main import create_app
from tests.api.conftest import make_settings

COLUMNS: dict[str, Column[Any]] = {
    f"{table.name}.{column.name}": column
    for table in Base.metadata.sorted_tables
    for column in table.columns
}


@dataclass(frozen=True)
class Value:
    """One value a request carries: where it is, and its type with all its metadata."""

    where: str
    annotation: Any

    @property
    def adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.annotation)

    def refuses(self, value: Any) -> bool:
        try:
            self.adapter.validate_python(value)
        except ValidationError:
            return True
        return False


def _with_metadata(annotation: Any, metadata: list[Any]) -> Any:
    return Annotated[annotation, *metadata] if metadata else annotation


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        yield from _models_in(arg)


def _body_values(model: type[BaseModel], where: str) -> Iterator[Value]:
    for name, field in model.model_fields.items():
        annotation = _with_metadata(field.annotation, field.metadata)
        yield Value(f"{where}/{name}", annotation)
        for nested in _models_in(field.annotation):
            yield from _body_values(nested, f"{where}/{name}")


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # FastAPI keeps an included router whole (`original_router`); older ones copied
        # its routes into the parent.
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _api_routes(inner.routes)


def _request_values() -> list[Value]:
    app = create_app(make_settings("sqlite://"))
    found: list[Value] = []
    for route in _api_routes(app.routes):
        label = f"{'/'.join(sorted(route.methods))} {route.path}"
        pending = [route.dependant]
        while pending:
            dependant = pending.pop()
            pending.extend(dependant.dependencies)
            for kind, params in (
                ("query", dependant.query_params),
                ("path", dependant.path_params),
                ("header", dependant.header_params),
            ):
                for param in params:
                    annotation = _with_metadata(
                        param.field_info.annotation, param.field_info.metadata
                    )
                    found.append(Value(f"{label} {kind} {param.alias}", annotation))
            for param in dependant.body_params:
                for model in _models_in(param.field_info.annotation):
                    found.extend(_body_values(model, f"{label} body "))
    return found


VALUES = _request_values()


def _markers(annotation: Any) -> Iterator[MapsTo]:
    """The MapsTo of a value's type, looking through Optional, lists and dicts (not models)."""
    if get_origin(annotation) is Annotated:
        yield from (m for m in annotation.__metadata__ if isinstance(m, MapsTo))
        yield from _markers(get_args(annotation)[0])
        return
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return
    for arg in get_args(annotation):
        yield from _markers(arg)


def _mapped() -> dict[str, list[Value]]:
    mapped: dict[str, list[Value]] = {}
    for value in VALUES:
        for marker in _markers(value.annotation):
            for column in marker.columns:
                mapped.setdefault(column, []).append(value)
    return mapped


MAPPED = _mapped()


def _documented(schema: Any, key: str) -> list[Any]:
    """Every value of ``key`` in a JSON schema, at any depth."""
    if isinstance(schema, dict):
        found = [schema[key]] if key in schema else []
        for child in schema.values():
            found.extend(_documented(child, key))
        return found
    if isinstance(schema, list):
        return [v for child in schema for v in _documented(child, key)]
    return []


# ------------------------------------------------------------------------ the agreements


def _text_disagreements(column: Column[Any], value: Value) -> list[str]:
    length = column.type.length  # type: ignore[attr-defined]
    schema = value.adapter.json_schema()
    problems = []
    enum = [v for e in _documented(schema, "enum") for v in e] + _documented(schema, "const")
    if enum:
        if max(len(str(v)) for v in enum) > length:
            problems.append(f"a word longer than {length}")
    elif length is not None and _documented(schema, "maxLength") != [length]:
        problems.append(f"documents maxLength {_documented(schema, 'maxLength')}, not {length}")
    elif length is None and not _documented(schema, "maxLength"):
        problems.append("documents no maxLength")
    if length is not None and not value.refuses("a" * (length + 1)):
        problems.append(f"accepts {length + 1} characters")
    if not value.refuses("a\x00"):
        problems.append("accepts a NUL byte")
    return problems


def _integer_disagreements(column: Column[Any], value: Value) -> list[str]:
    held = bounds.BIGINT if isinstance(column.type, BigInteger) else bounds.INTEGER
    schema = value.adapter.json_schema()
    problems = []
    for end, outside in (("maximum", held.high + 1), ("minimum", held.low - 1)):
        if not value.refuses(outside):
            problems.append(f"accepts {outside}")
        documented = _documented(schema, end)
        if not documented or not all(d in held for d in documented):
            problems.append(f"documents {end} {documented}, not within {held}")
    return problems


def _money_disagreements(column: Column[Any], value: Value) -> list[str]:
    impl = column.type.impl  # type: ignore[attr-defined]
    assert (impl.precision, impl.scale) == (bounds.MONEY_PRECISION, bounds.MONEY_SCALE)
    problems = []
    for outside in (str(bounds.MONEY_COLUMN_LIMIT), int(bounds.MONEY_COLUMN_LIMIT), "0.001"):
        if not value.refuses(outside):
            problems.append(f"accepts {outside!r}")
    largest = value.adapter.validate_python(str(bounds.MONEY_INPUT_MAX))
    if not (isinstance(largest, Decimal) and largest < bounds.MONEY_COLUMN_LIMIT):
        problems.append(f"reads the largest amount as {largest!r}")
    return problems


def _timestamp_disagreements(column: Column[Any], value: Value) -> list[str]:
    problems = []
    for outside in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2024-06-01T00:00"):
        if not value.refuses(outside):
            problems.append(f"accepts {outside}")
    return problems


def _date_disagreements(column: Column[Any], value: Value) -> list[str]:
    # A DATE column holds any Python date; the API keeps to an era of its own.
    return [] if value.refuses("10000-01-01") else ["accepts a year past 9999"]


def _disagreements(column: Column[Any], value: Value) -> list[str]:
    kind = column.type
    if isinstance(kind, Money):
        return _money_disagreements(column, value)
    if isinstance(kind, UtcDateTime):
        return _timestamp_disagreements(column, value)
    if isinstance(kind, Date):
        return _date_disagreements(column, value)
    if isinstance(kind, String | Text):
        return _text_disagreements(column, value)
    if isinstance(kind, Integer):  # BigInteger is one too
        return _integer_disagreements(column, value)
    return [f"no rule for a {type(kind).__name__} column"]


def test_every_column_and_the_request_values_mapped_to_it_agree() -> None:
    problems = [
        f"{name} ← {value.where}: {problem}"
        for name, column in COLUMNS.items()
        for value in MAPPED.get(name, [])
        for problem in _disagreements(column, value)
    ]
    assert not problems, "\n".join(problems)


def test_every_mapping_names_a_column() -> None:
    unknown = sorted(set(MAPPED) - set(COLUMNS))
    assert not unknown, unknown


def test_the_walk_reaches_the_columns_requests_write_and_filter() -> None:
    """A guard on the walk itself: the columns of the findings have values mapped to them."""
    assert {
        "budgets.payer_level",
        "budgets.amount",
        "awards.amount",
        "enterprises.name",
        "enterprises.park",
        "audit_log.seq",
        "audit_log.occurred_at",
        "matching_results.id",
        "awards.status",
        "idempotency_records.key",
    } <= set(MAPPED), sorted(MAPPED)
    assert len(VALUES) > 100


def test_a_column_bound_is_a_shared_constant() -> None:
    """The sizes the findings were about come from app.db.bounds, not from literals."""
    assert COLUMNS["budgets.payer_level"].type.length == bounds.PAYER_LEVEL  # type: ignore[attr-defined]
    assert COLUMNS["enterprises.name"].type.length == bounds.ENTERPRISE_NAME  # type: ignore[attr-defined]


# ------------------------------------------------------------------------ every value bounded


def _leaves(annotation: Any, metadata: tuple[Any, ...] = ()) -> Iterator[Any]:
    """The scalar types a value is made of (dict keys and values, list items), each with
    the metadata that applies to it; models are walked as values of their own."""
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *more = get_args(annotation)
        yield from _leaves(inner, (*metadata, *more))
    elif origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            if arg is not type(None):
                yield from _leaves(arg, metadata)
    elif origin in (list, dict, set, tuple):
        for arg in get_args(annotation):
            yield from _leaves(arg)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return
    else:
        yield _with_metadata(annotation, list(metadata))


def _unbounded(leaf: Any) -> str | None:
    base = get_args(leaf)[0] if get_origin(leaf) is Annotated else leaf
    value = Value("", leaf)
    if base is str:
        if not value.refuses("a" * 100_000):
            return "a string without a maximum length"
        if not value.refuses("a\x00"):
            return "a string that takes a NUL byte"
    elif base is int:
        if not (value.refuses(10**30) and value.refuses(-(10**30))):
            return "an integer without bounds"
    elif base is Decimal:
        if not value.refuses(10**30):
            return "a number without bounds"
    elif base in (bool, date, datetime) or get_origin(base) is Literal:
        return None
    else:
        return f"a {base!r}, which this test does not know how to bound"
    return None


def test_every_request_value_is_bounded() -> None:
    problems = [
        f"{value.where}: {problem}"
        for value in VALUES
        for leaf in _leaves(value.annotation)
        if (problem := _unbounded(leaf))
    ]
    assert not problems, "\n".join(problems)
