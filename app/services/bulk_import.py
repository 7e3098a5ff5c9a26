"""Bulk import of enterprise profiles from CSV and XLSX files.

An import runs in two steps:

1. ``prepare`` reads the file (no database; ``import_csv`` and ``import_xlsx`` stream
   it within the limits of ``import_source``): the header row is bound to profile fields
   (``app.services.import_columns``; an unknown or duplicated header stops the import
   before anything else, naming it and listing the known ones), then every row is
   validated like a ``POST /enterprises`` body and checked against the catalog's
   vocabulary: a chunk of rows at a time, column by column with each profile field's
   own validator (``import_columnwise``), and a row that fails there again as an
   ``EnterpriseProfile``, which words its errors. Each problem is reported as (row
   number as the spreadsheet shows it, column header, reason). Rows without a USCC, and
   later rows repeating an earlier row's USCC, are rejected too.
2. ``apply`` writes every accepted row or none, in the caller's transaction: enterprises
   are looked up by USCC in chunks, new ones are inserted and changed ones get their
   next profile version, each table in one load (``app.db.bulk_load``: one ``COPY``
   stream on PostgreSQL). A row whose profile hash
   equals the stored current version changes nothing (as ``PUT /enterprises/{id}``), so
   importing the same file again writes nothing at all. A row *replaces* the stored
   profile, like ``PUT``: a fact left empty is absent from the new version.

Audit: each import that changes something appends ``import.profile_versions`` records
(one per thousand versions: enterprise id, USCC, version, profile hash, so every
profile version is in the log) and one ``import.applied`` summary (counts, file name
and SHA-256, actor). Per-enterprise records would cost two chained appends per row.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import IO, Any, Literal, ParamSpec, TypeVar

import orjson
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.catalog.loader import Catalog, canonical_json
from app.catalog.places import LEVELS, location_of
from app.db.bulk_load import roomy_cache
from app.db.models import ProfileVersion, new_id
from app.db.models import new_ids as fresh_ids
from app.db.projection import (
    LOADED,
    PROJECTION,
    QUERIED_COLUMNS,
    Projected,
    analyze,
    delete_projection,
    load_projection,
    owned_tuples,
    projected,
)
from app.db.repositories import enterprises as enterprise_repo
from app.db.repositories.enterprises import CurrentProfile
from app.db.types import utcnow
from app.profile import EnterpriseProfile
from app.profile.types import USCC_ALPHABET, uscc_check_character
from app.services import audit
from app.services.access import scope_of
from app.services.actors import Actor
from app.services.errors import Invalid, ServiceError
from app.services.import_columns import (
    CellError,
    Column,
    ColumnMap,
    column_map,
    lookup_pointer,
)
from app.services.import_columnwise import ChunkProjection, ColumnwiseChecker
from app.services.import_csv import csv_table
from app.services.import_source import (
    DEFAULT_LIMITS,
    ImportLimits,
    Table,
    column_letter,
    file_too_large,
)
from app.services.import_xlsx import xlsx_table
from app.services.vocabulary import check_words

FileFormat = Literal["csv", "xlsx"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain", "text/tab-separated-values"})
AUDIT_CHUNK = 1_000
PROGRESS_EVERY = 1_000
#: Rows checked together, column by column (``import_columnwise``).
CHECK_CHUNK = 2_000

#: ``progress(phase, done, total)``: phase "read" (rows) then "write" (accepted rows).
Progress = Callable[[str, int, int | None], None]


class UnsupportedFileType(ServiceError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "reason": self.reason}


@dataclass(frozen=True)
class ImportFile:
    """A file to import: its name (for the audit log), format and bytes (seekable)."""

    name: str
    format: FileFormat
    data: IO[bytes]


@dataclass
class _Accepted:
    row: int
    uscc: str
    facts: dict[str, Any]
    profile_hash: str
    identity: dict[str, Any]
    facts_json: str  # the canonical text hashed, stored as it is on PostgreSQL
    #: The chunk's projection made column by column, and the row's place in the chunk.
    columns: ChunkProjection | None = None
    at: int = 0

    def projected(self) -> Projected:
        """The row's projection rows (without the enterprise's id)."""
        made = None if self.columns is None else self.columns.row(self.at)
        return projected(self.facts) if made is None else made


@dataclass
class Prepared:
    """A read and validated file, ready for ``apply``."""

    file: ImportFile
    file_sha256: str
    rows: int
    accepted: list[_Accepted]
    errors: list[RowError]
    location_field: str
    #: The catalog the rows were checked against (``apply`` decides the portal's area by it).
    catalog: Catalog


@dataclass
class ImportReport:
    file_name: str
    format: str
    file_sha256: str
    rows: int
    accepted: int
    rejected: int
    created: int
    updated: int
    unchanged: int
    errors: list[RowError]
    applied: bool
    dry_run: bool
    import_id: str | None = None

    def as_json(self, max_errors: int = 1_000) -> dict[str, Any]:
        return {
            "file_name": self.file_name,
            "format": self.format,
            "file_sha256": self.file_sha256,
            "rows": self.rows,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [e.as_json() for e in self.errors[:max_errors]],
            "errors_total": len(self.errors),
            "applied": self.applied,
            "dry_run": self.dry_run,
            "import_id": self.import_id,
        }


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _collector_paused(step: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``step`` with Python's cyclic garbage collector paused.

    An import builds a few objects per cell and keeps them all until it is written:
    the collector would scan that growing heap again and again (a fifth of the time
    of reading a large file) to find no cycles. Reference counting still frees
    everything; the collector runs again afterwards (unless something else paused it)."""

    @functools.wraps(step)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return step(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused


def _canonical(facts: dict[str, Any]) -> str:
    """``canonical_json(facts)``, made by orjson: a profile's facts as ``facts()`` gives
    them (text, integers, booleans, lists and objects) encode to the same text."""
    try:
        return orjson.dumps(facts, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError: what orjson cannot encode, json can
        return canonical_json(facts)


# ---------------------------------------------------------------------- file types


def detect_format(file_name: str | None, content_type: str | None, head: bytes) -> FileFormat:
    """The format from the name's extension, else the declared type, else the bytes.

    Names win over types because browsers label a .csv ``application/vnd.ms-excel``.
    """
    name = (file_name or "").lower()
    kind = (content_type or "").split(";")[0].strip().lower()
    if name.endswith(".xls") or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnsupportedFileType(
            "this is an old binary Excel file (.xls): save it as .xlsx or .csv and send that"
        )
    if name.endswith(".xlsx") or (not name and kind == XLSX_TYPE):
        return "xlsx"
    if name.endswith((".csv", ".txt", ".tsv")) or (not name and kind in CSV_TYPES):
        return "csv"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if kind in CSV_TYPES:
        return "csv"
    raise UnsupportedFileType(
        f"send a .csv (text/csv) or .xlsx ({XLSX_TYPE}) file" + (f", not {kind}" if kind else "")
    )


# ---------------------------------------------------------------------- reading


def _open_table(source: ImportFile, limits: ImportLimits) -> Table:
    """The file's header and rows, read as they stream within ``limits``
    (``import_source``: a file past its size is a 413 before anything is parsed)."""
    source.data.seek(0, io.SEEK_END)
    if source.data.tell() > limits.max_bytes:
        raise file_too_large(limits)
    source.data.seek(0)
    if source.format == "xlsx":
        return xlsx_table(source.data, limits)
    return csv_table(source.data, limits)


def file_sha256(stream: IO[bytes]) -> str:
    stream.seek(0)
    digest = hashlib.sha256()
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


# ---------------------------------------------------------------------- validating


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


_USCC_CHARACTERS = frozenset(USCC_ALPHABET)


def _valid_uscc(code: str) -> bool:
    return (
        len(code) == 18
        and _USCC_CHARACTERS.issuperset(code)
        and uscc_check_character(code[:17]) == code[17]
    )


def _reason(error: Mapping[str, Any]) -> str:
    kind = error.get("type")
    if kind == "missing":
        return "required: this column needs a value"
    if kind == "extra_forbidden":
        return "not a profile field"
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def _put(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = doc
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


class _RowChecker:
    """Turns one row's cells into a validated profile, or into its errors."""

    def __init__(self, catalog: Catalog, cmap: ColumnMap, columns: list[Column], actor: Actor):
        self.catalog, self.cmap, self.columns, self.actor = catalog, cmap, columns, actor
        self.scope = scope_of(actor, catalog)
        self.by_path = {c.target.path: c.header for c in columns}
        self.mapped = {c.index for c in columns}
        self.width = max(self.mapped) + 1  # cells past it are looked at one by one
        self.unmapped = [i for i in range(self.width) if i not in self.mapped]
        self.uscc_header = self.by_path[("uscc",)]
        self.location_field = next(
            (
                self.by_path[p]
                for p in (("location", k) for k in ("city", "district", "park"))
                if p in self.by_path
            ),
            "location",
        )
        self.first_row: dict[str, int] = {}
        # Per column: where its value goes and its parser, so a cell costs one call.
        self.cells = [
            (c.index, c.header, c.target.path, cmap.cell_parser(c.target)) for c in columns
        ]
        self.columnwise = ColumnwiseChecker(
            catalog, cmap, columns, actor, self.unmapped, self.width
        )

    def check_chunk(
        self, rows: Sequence[tuple[int, list[Any]]]
    ) -> list[tuple[_Accepted | None, list[RowError]]]:
        """``check`` for each row, in order: the rows the column-wise check takes
        (``import_columnwise``) without a model each, the others with one."""
        columns = None
        if self.columnwise.usable:
            facts_of, columns = self.columnwise.checked([values for _, values in rows])
        else:
            facts_of = [None] * len(rows)
        out: list[tuple[_Accepted | None, list[RowError]]] = []
        for at, ((number, values), facts) in enumerate(zip(rows, facts_of, strict=True)):
            code = None if facts is None else facts.get("uscc")
            # The first row with a USCC claims it, whichever way it is checked.
            if facts is not None and code and self.first_row.setdefault(code, number) == number:
                where: dict[str, Any] = facts.get("location") or {}
                identity: dict[str, Any] = {
                    "uscc": code,
                    "name": facts["name"],
                    "kind": facts.get("kind"),
                }
                identity.update(zip(LEVELS, map(where.get, LEVELS), strict=True))
                accepted = _accepted(number, code, facts, identity)
                accepted.columns, accepted.at = columns, at
                out.append((accepted, []))
            else:
                out.append(self.check(number, values))
        return out

    def field_of(self, loc: Sequence[Any]) -> str:
        return lookup_pointer(self.by_path, loc) or ".".join(str(p) for p in loc) or "row"

    def check(self, number: int, values: list[Any]) -> tuple[_Accepted | None, list[RowError]]:
        errors: list[tuple[str, str]] = []
        doc: dict[str, Any] = {}
        count = len(values)
        for index, header, path, parse in self.cells:
            raw = values[index] if index < count else None
            if raw is None or (type(raw) is str and not raw.strip()):
                continue
            try:
                value = parse(raw)
            except CellError as exc:
                errors.append((header, str(exc)))
                continue
            if len(path) == 1:
                doc[path[0]] = value
            else:
                _put(doc, path, value)
        extra = self.unmapped if len(values) <= self.width else range(len(values))
        for index in extra:
            raw = values[index] if index < len(values) else None
            if index not in self.mapped and not _empty(raw):
                errors.append(
                    (
                        f"column {column_letter(index + 1)}",
                        "a value in a column without a header",
                    )
                )

        code = doc.get("uscc")
        if code is None and not any(h == self.uscc_header for h, _ in errors):
            errors.append((self.uscc_header, "required: the USCC identifies the enterprise"))
        elif isinstance(code, str) and _valid_uscc(code):
            first = self.first_row.setdefault(code, number)
            if first != number:
                errors.append(
                    (
                        self.uscc_header,
                        f"the USCC is also in row {first}; only that row is imported",
                    )
                )

        profile = None
        try:
            profile = EnterpriseProfile.model_validate(doc)
        except ValidationError as exc:
            failed = {h for h, _ in errors}
            for error in exc.errors():
                header = self.field_of(error.get("loc", ()))
                if header not in failed:
                    errors.append((header, _reason(error)))
        if profile is not None and not errors:
            try:
                check_words(profile, self.catalog)
            except Invalid as exc:
                for item in exc.errors or []:
                    loc = [p for p in item.get("pointer", "").split("/") if p]
                    errors.append((self.field_of(loc), item.get("detail", "")))
        if (
            profile is not None
            and not errors
            and self.actor.role == "portal"
            and not self.scope.sees_location(location_of(profile.location))
        ):
            errors.append(
                (
                    self.location_field,
                    f"this portal acts for {self.actor.jurisdiction}; "
                    "the row's location is outside it (give the city or district)",
                )
            )
        if errors or profile is None:
            unique = dict.fromkeys(errors)
            return None, [RowError(number, h, r) for h, r in unique]
        assert profile.uscc is not None
        facts = profile.facts()
        where = profile.location
        identity = {
            "uscc": profile.uscc,
            "name": profile.name,
            "kind": profile.kind,
            "province": where.province if where else None,
            "city": where.city if where else None,
            "district": where.district if where else None,
            "park": where.park if where else None,
        }
        return _accepted(number, profile.uscc, facts, identity), []


def _accepted(number: int, uscc: str, facts: dict[str, Any], identity: dict[str, Any]) -> _Accepted:
    text = _canonical(facts)
    digest = hashlib.sha256(text.encode()).hexdigest()  # as catalog.loader.sha256
    return _Accepted(number, uscc, facts, digest, identity, text)


@_collector_paused
def prepare(
    catalog: Catalog,
    source: ImportFile,
    actor: Actor,
    progress: Progress | None = None,
    limits: ImportLimits = DEFAULT_LIMITS,
) -> Prepared:
    """Read and validate the whole file; nothing touches the database.

    Raises ``Invalid`` (422) when the file cannot be imported at all: unreadable, no
    header row, unknown or duplicated headers, past a content limit (rows, cells); and
    ``FileTooLarge`` (413) past a size limit (``import_source``).
    """
    digest = file_sha256(source.data)
    table = _open_table(source, limits)
    if len(table.header) > limits.max_columns:
        raise Invalid(f"the file has more than {limits.max_columns:,} columns")
    cmap = column_map(catalog)
    columns, unknown, problems = cmap.bind(table.header)
    if unknown or problems:
        detail = "; ".join(
            ([f"unknown column(s): {', '.join(f'`{h}`' for h in unknown)}"] if unknown else [])
            + problems
        )
        raise Invalid(
            f"the header row cannot be imported: {detail}. Nothing was imported; "
            "see known_columns (and policy_catalog/IMPORT.md)",
            errors=[{"pointer": "", "detail": p} for p in problems]
            + [{"pointer": "", "detail": f"unknown column `{h}`"} for h in unknown],
            unknown_columns=unknown,
            known_columns=cmap.known_headers(),
        )
    checker = _RowChecker(catalog, cmap, columns, actor)
    accepted: list[_Accepted] = []
    errors: list[RowError] = []
    rows = 0
    for chunk in _batches(table.rows, CHECK_CHUNK):
        for row, row_errors in checker.check_chunk(chunk):
            if row is not None:
                accepted.append(row)
            errors.extend(row_errors)
        for done in range(rows + 1, rows + len(chunk) + 1):
            if progress is not None and done % PROGRESS_EVERY == 0:
                progress("read", done, table.total)
        rows += len(chunk)
    if progress is not None:
        progress("read", rows, rows)
    return Prepared(source, digest, rows, accepted, errors, checker.location_field, catalog)


def _batches(
    rows: Iterable[tuple[int, list[Any]]], size: int
) -> Iterator[list[tuple[int, list[Any]]]]:
    """The rows that hold something, ``size`` at a time (the readers have counted every
    row against the limit, empty ones too)."""
    batch: list[tuple[int, list[Any]]] = []
    for number, values in rows:
        first = values[0] if values else None
        if not (type(first) is str and first.strip()) and all(_empty(v) for v in values):
            continue  # (a row whose first cell holds text is not empty: most rows)
        batch.append((number, values))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# ---------------------------------------------------------------------- applying


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


#: Rows written by one import past which the tables' statistics are refreshed.
ANALYZE_AFTER = 1000
#: The columns whose statistics are refreshed then, where not all (the others' stay as
#: autovacuum last gathered them): the profile documents' serve no query (none looks
#: into a document) and cost as much to gather as all the other columns of the table;
#: of the projection, the columns its queries use.
ANALYZED_COLUMNS = {
    "profile_versions": [c.name for c in ProfileVersion.__table__.columns if c.name != "profile"],
    **QUERIED_COLUMNS,
}


@_collector_paused
def apply(
    session: Session,
    prepared: Prepared,
    actor: Actor,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    chunk_size: int = enterprise_repo.BULK_CHUNK,
) -> ImportReport:
    """Write every accepted row, or (``dry_run``) only count what would change.

    Never commits: the caller's transaction holds the whole import, so a failure at
    any row leaves the database as it was.
    """
    if not dry_run:
        audit.serialize(session)  # as the enterprises service: one writer at a time
    errors = list(prepared.errors)
    scope = scope_of(actor, prepared.catalog)
    existing = enterprise_repo.current_profiles_by_uscc(
        session, (a.uscc for a in prepared.accepted)
    )
    creates: list[_Accepted] = []
    updates: list[tuple[_Accepted, CurrentProfile]] = []
    unchanged = 0
    for row in prepared.accepted:
        current = existing.get(row.uscc)
        if current is None:
            creates.append(row)
        elif actor.role == "portal" and not scope.sees_location(location_of(current)):
            # Said without the enterprise's id or place: another tenant's stays unknown.
            errors.append(
                RowError(
                    row.row,
                    prepared.location_field,
                    "an enterprise with this USCC is already registered, "
                    "and this portal cannot change it",
                )
            )
        elif current.profile_hash == row.profile_hash:
            unchanged += 1
        else:
            updates.append((row, current))
    accepted = len(creates) + len(updates) + unchanged
    errors.sort(key=lambda e: e.row)
    report = ImportReport(
        file_name=prepared.file.name,
        format=prepared.file.format,
        file_sha256=prepared.file_sha256,
        rows=prepared.rows,
        accepted=accepted,
        rejected=len({e.row for e in errors}),
        created=len(creates),
        updated=len(updates),
        unchanged=unchanged,
        errors=errors,
        applied=not dry_run and accepted > 0,
        dry_run=dry_run,
    )
    if report.applied and (creates or updates):
        with roomy_cache(session.connection(), len(creates) + len(updates)):
            report.import_id, changed = _write(
                session, prepared, report, creates, updates, actor, progress, chunk_size
            )
        if len(creates) + len(updates) >= ANALYZE_AFTER:
            # Fresh statistics for the rows just loaded, of the tables they changed.
            analyze(session, [t for t in LOADED if t in changed], ANALYZED_COLUMNS)
    return report


def _write(
    session: Session,
    prepared: Prepared,
    report: ImportReport,
    creates: list[_Accepted],
    updates: list[tuple[_Accepted, CurrentProfile]],
    actor: Actor,
    progress: Progress | None,
    chunk_size: int,
) -> tuple[str, set[str]]:
    """Enterprises, then their profile versions, then the versions' projection: each
    table one load (``app.db.bulk_load``), its rows made a chunk at a time while the
    database stores the chunk before. Gives the import's id and the tables changed."""
    now = utcnow()
    import_id = new_id()
    label = actor.label
    # Fresh ids handed out in ascending order: every index on them is appended to
    # instead of split at random places.
    new_ids = sorted(fresh_ids(len(creates)))
    identity = itemgetter(*enterprise_repo.IDENTITY)
    with enterprise_repo.loading_enterprises(session) as write:
        for start in range(0, len(creates), chunk_size):
            write(
                [
                    (enterprise_id, *identity(row.identity), 1, now, now)
                    for row, enterprise_id in zip(
                        creates[start : start + chunk_size],
                        new_ids[start : start + chunk_size],
                        strict=True,
                    )
                ]
            )
    for chunk in _chunks(updates, chunk_size):
        enterprise_repo.update_enterprises(
            session,
            [
                {
                    **{k: v for k, v in row.identity.items() if k != "uscc"},
                    "id": current.enterprise_id,
                    "current_version": current.current_version + 1,
                    "updated_at": now,
                }
                for row, current in chunk
            ],
        )
    if updates:
        delete_projection(session, [current.enterprise_id for _, current in updates])

    versions = [
        (row, enterprise_id, 1) for row, enterprise_id in zip(creates, new_ids, strict=True)
    ]
    versions += [
        (row, current.enterprise_id, current.current_version + 1) for row, current in updates
    ]
    projection: tuple[list[Any], ...] = ([], [], [], [])
    version_ids = sorted(fresh_ids(len(versions)))  # ascending, as the enterprises'
    with enterprise_repo.loading_profile_versions(session) as write:
        for done, chunk in enumerate(_chunks(versions, chunk_size), 1):
            ids = version_ids[(done - 1) * chunk_size : done * chunk_size]
            write(
                [
                    (
                        version_id,
                        enterprise_id,
                        version,
                        row.facts_json,
                        row.profile_hash,
                        now,
                        label,
                    )
                    for version_id, (row, enterprise_id, version) in zip(ids, chunk, strict=True)
                ]
            )
            made = owned_tuples((enterprise_id, row.projected()) for row, enterprise_id, _ in chunk)
            for table_rows, chunk_rows in zip(projection, made, strict=True):
                table_rows.extend(chunk_rows)
            if progress is not None:
                progress("write", min(done * chunk_size, len(versions)), len(versions))
    load_projection(session.connection(), projection)
    changed = {"enterprises", "profile_versions"}
    changed.update(
        table.name
        for table, rows in zip(PROJECTION, projection, strict=True)
        if rows or updates  # (an update deletes the enterprise's projection rows first)
    )

    written = [
        {
            "enterprise_id": enterprise_id,
            "uscc": row.uscc,
            "version": version,
            "profile_hash": row.profile_hash,
        }
        for row, enterprise_id, version in versions
    ]
    parts = (len(written) + AUDIT_CHUNK - 1) // AUDIT_CHUNK
    for part, entries in enumerate(_chunks(written, AUDIT_CHUNK), 1):
        audit.record(
            session,
            actor=actor.label,
            action="import.profile_versions",
            object_type="import",
            object_id=import_id,
            payload={"import_id": import_id, "part": part, "parts": parts, "versions": entries},
        )
    audit.record(
        session,
        actor=actor.label,
        action="import.applied",
        object_type="import",
        object_id=import_id,
        payload={
            "file_name": prepared.file.name,
            "file_sha256": prepared.file_sha256,
            "format": prepared.file.format,
            "rows": report.rows,
            "accepted": report.accepted,
            "rejected": report.rejected,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "audit_parts": parts,
        },
    )
    return import_id, changed


def import_file(
    session: Session,
    catalog: Catalog,
    source: ImportFile,
    actor: Actor,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    limits: ImportLimits = DEFAULT_LIMITS,
) -> ImportReport:
    """``prepare`` then ``apply``, in the caller's transaction."""
    prepared = prepare(catalog, source, actor, progress, limits)
    return apply(session, prepared, actor, dry_run=dry_run, progress=progress)
