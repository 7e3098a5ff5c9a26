"""Request values bounded by the columns they reach, with the sizes of ``app.db.bounds``.

Every string a request carries (in the body, the query, the path or a header) ends up
in PostgreSQL, stored or compared in a ``WHERE``. PostgreSQL refuses a NUL byte in
text, a number past its column and a string longer than its column; these types refuse
them first, so the client gets a 422 that names the field instead of a 500.

``MapsTo`` names the columns a value is stored in or compared with; it changes nothing
at run time and is read by ``tests/api/test_bounds.py``, which holds each such bound
equal to its columns'. Query, path and header values use these types directly; body
fields may too, or a type of ``app.profile.types`` that carries a ``MapsTo``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from app.db import bounds
from app.profile.text import HumanText


class MapsTo:
    """The ``table.column`` names a request value is stored in or compared with."""

    def __init__(self, *columns: str) -> None:
        self.columns = columns

    def __repr__(self) -> str:
        return f"MapsTo{self.columns!r}"


NUL = "\x00"


def refuse_nul(value: str) -> str:
    if NUL in value:
        raise ValueError("contains a NUL character (\\u0000), which text cannot hold: remove it")
    return value


def _in_utc(value: datetime) -> datetime:
    """An instant with a time zone, that a timestamp column can hold once in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("give a time zone: Z for UTC or +08:00 for Beijing time")
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not bounds.TIMESTAMP_MIN <= in_utc <= bounds.TIMESTAMP_MAX:
        raise ValueError(
            f"out of range: in UTC it must fall between {bounds.TIMESTAMP_MIN:%Y-%m-%d} "
            f"and {bounds.TIMESTAMP_MAX:%Y-%m-%d}"
        )
    return in_utc


NO_NUL = AfterValidator(refuse_nul)


def slug_pattern(length: int) -> str:
    """A lower-case word of the catalog's vocabulary, at most ``length`` characters."""
    return rf"^[a-z][a-z0-9_-]{{0,{length - 1}}}$"


# ---------------------------------------------------------------- identifiers

EnterpriseId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=bounds.ID),
    NO_NUL,
    MapsTo("enterprises.id", "awards.enterprise_id", "profile_versions.enterprise_id"),
]
AwardId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=bounds.ID),
    NO_NUL,
    MapsTo("awards.id", "award_events.award_id"),
]
BudgetId = Annotated[
    str, StringConstraints(min_length=1, max_length=bounds.ID), NO_NUL, MapsTo("budgets.id")
]
RunId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=bounds.ID),
    NO_NUL,
    MapsTo("matching_runs.id"),
]
ImportId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=bounds.ID),
    NO_NUL,
    MapsTo("import_jobs.id"),
]
PolicyId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=bounds.POLICY_ID),
    NO_NUL,
    MapsTo(
        "awards.policy_id",
        "budgets.policy_id",
        "matching_results.policy_id",
        "policy_versions.policy_id",
    ),
]

# ---------------------------------------------------------------- words of the ledger

Province = Annotated[
    str,
    StringConstraints(max_length=bounds.PLACE, pattern=slug_pattern(bounds.PLACE)),
    MapsTo("enterprises.province"),
]
City = Annotated[
    str,
    StringConstraints(max_length=bounds.PLACE, pattern=slug_pattern(bounds.PLACE)),
    MapsTo("enterprises.city"),
]
District = Annotated[
    str,
    StringConstraints(max_length=bounds.PLACE, pattern=slug_pattern(bounds.PLACE)),
    MapsTo("enterprises.district"),
]
Park = Annotated[
    str,
    StringConstraints(max_length=bounds.PARK, pattern=slug_pattern(bounds.PARK)),
    MapsTo("enterprises.park"),
]
PayerLevel = Annotated[
    str,
    StringConstraints(max_length=bounds.PAYER_LEVEL, pattern=slug_pattern(bounds.PAYER_LEVEL)),
    MapsTo("budgets.payer_level", "awards.payer_level"),
]
PayerJurisdiction = Annotated[
    str,
    StringConstraints(max_length=bounds.PLACE, pattern=slug_pattern(bounds.PLACE)),
    MapsTo("budgets.payer_jurisdiction", "awards.payer_jurisdiction"),
]
AwardStatus = Annotated[
    Literal[
        "computed", "public_notice", "approved", "disbursed", "rejected", "revoked", "superseded"
    ],
    MapsTo("awards.status"),
]
ResultStatus = Annotated[Literal["eligible", "undetermined"], MapsTo("matching_results.status")]
EnterpriseName = Annotated[
    HumanText,  # shown back in exports and terminals: no control or formatting characters
    StringConstraints(min_length=1, max_length=bounds.ENTERPRISE_NAME),
    NO_NUL,
    MapsTo("enterprises.name"),
]

# ---------------------------------------------------------------- filters
# A filter is compared with its column, never stored: it is not held to the
# vocabulary's pattern (an unknown word finds nothing), only to what the column holds.

PlaceFilter = Annotated[
    str,
    StringConstraints(max_length=bounds.PLACE),
    NO_NUL,
    MapsTo("enterprises.city", "enterprises.district"),
]
PayerFilter = Annotated[
    str,
    StringConstraints(max_length=bounds.PLACE),
    NO_NUL,
    MapsTo("budgets.payer_jurisdiction", "awards.payer_jurisdiction"),
]
KindFilter = Annotated[
    str, StringConstraints(max_length=bounds.ENTERPRISE_KIND), NO_NUL, MapsTo("enterprises.kind")
]
AuditAction = Annotated[
    str, StringConstraints(max_length=bounds.AUDIT_ACTION), NO_NUL, MapsTo("audit_log.action")
]
AuditObjectType = Annotated[
    str,
    StringConstraints(max_length=bounds.AUDIT_OBJECT_TYPE),
    NO_NUL,
    MapsTo("audit_log.object_type"),
]
AuditObjectId = Annotated[
    str,
    StringConstraints(max_length=bounds.AUDIT_OBJECT_ID),
    NO_NUL,
    MapsTo("audit_log.object_id"),
]
AuditActor = Annotated[
    str, StringConstraints(max_length=bounds.ACTOR), NO_NUL, MapsTo("audit_log.actor")
]
ChainHash = Annotated[
    str,
    StringConstraints(max_length=bounds.HASH, pattern=rf"^[0-9a-f]{{{bounds.HASH}}}$"),
    MapsTo("audit_log.hash"),
]
# Opaque to clients (``next_cursor``); what it decodes to is checked where it is read.
PageCursor = Annotated[str, StringConstraints(max_length=512), NO_NUL]
IdempotencyKeyText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=bounds.IDEMPOTENCY_KEY),
    NO_NUL,
    MapsTo("idempotency_records.key"),
]

# ---------------------------------------------------------------- numbers and instants

AuditSeq = Annotated[int, Field(ge=0, le=bounds.BIGINT.high), MapsTo("audit_log.seq")]
ResultCursor = Annotated[int, Field(ge=0, le=bounds.BIGINT.high), MapsTo("matching_results.id")]
ProfileVersionNumber = Annotated[
    int,
    Field(ge=1, le=1_000_000),
    MapsTo("profile_versions.version", "enterprises.current_version"),
]
AwardCreatedAt = Annotated[datetime, AfterValidator(_in_utc), MapsTo("awards.created_at")]
AuditOccurredAt = Annotated[datetime, AfterValidator(_in_utc), MapsTo("audit_log.occurred_at")]
