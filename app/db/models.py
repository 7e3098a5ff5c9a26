"""The ORM models: every table of the service, typed with SQLAlchemy 2 ``Mapped``.

The schema itself only changes through Alembic (``app/migrations/``); a drift test checks
that ``alembic upgrade head`` builds exactly what these models describe.

Invariants the database enforces on its own, as a backstop behind the services:
- at most one *live* award per (enterprise, policy, fiscal year) — a partial unique
  index, so a retried request or a race cannot pay twice;
- a budget can never be overspent (``committed + disbursed <= amount``);
- ``audit_log`` is append-only (triggers created by the migration) and its ``seq`` is
  assigned by the application as head + 1, so two appends racing from the same head
  collide on the primary key instead of forking the hash chain.

Models carry no relationships on purpose: every query is explicit and lives in
``app.db.repositories``, so nothing is lazily loaded behind a service's back.
"""

from __future__ import annotations

import os
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.db import bounds
from app.db.types import JsonDoc, Money, UtcDateTime, utcnow

# Deterministic constraint names, so migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

AWARD_STATUSES = (
    "computed",
    "public_notice",
    "approved",
    "disbursed",
    "rejected",
    "revoked",
    "superseded",
)
# An award in one of these states no longer counts: it neither blocks a new award for
# the same enterprise, policy and year nor takes part in caps and exclusivity.
DEAD_AWARD_STATUSES = ("rejected", "revoked", "superseded")
API_KEY_ROLES = ("admin", "portal", "enterprise", "auditor")


def new_id() -> str:
    """A fresh UUID version 7 (RFC 9562) as the 36-character string used for every
    primary key: the time it was made (to the millisecond), then 74 random bits."""
    return new_ids(1)[0]


def new_ids(count: int) -> list[str]:
    """``count`` fresh ids as ``new_id`` gives them, made together and in ascending order.

    Time first: ids made later sort later, so each table's rows lie in its primary
    key's order and every index on an id is appended to. A matching run reads its
    shards as ranges of enterprise ids, which now lie on neighbouring pages (with
    random UUID4 ids a run over 100,000 enterprises took 5.24 s against 4.70 s). Ids
    made together share their millisecond, so PostgreSQL misjudges how many fall in a
    range of them: no read may join two tables by such a range (see
    ``app.db.repositories.projected``). The ids say when a row was made, to the
    millisecond, which the rows' own timestamps say anyway."""
    raw = bytearray(os.urandom(16 * count))
    stamp = (time.time_ns() // 1_000_000).to_bytes(6, "big")
    for at in range(6):  # the 48-bit Unix time in milliseconds, the same for all
        raw[at::16] = stamp[at : at + 1] * count
    raw[6::16] = bytes(b & 0x0F | 0x70 for b in raw[6::16])  # version 7
    raw[8::16] = bytes(b & 0x3F | 0x80 for b in raw[8::16])  # RFC 9562 variant
    text = raw.hex()
    return sorted(
        f"{text[i : i + 8]}-{text[i + 8 : i + 12]}-{text[i + 12 : i + 16]}-"
        f"{text[i + 16 : i + 20]}-{text[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    )


def _in(column: str, values: tuple[str, ...], operator: str = "IN") -> str:
    return f"{column} {operator} ({', '.join(repr(v) for v in values)})"


# The WHERE of the partial unique index (the same text on PostgreSQL and SQLite).
_LIVE_AWARD = text(_in("status", DEAD_AWARD_STATUSES, "NOT IN"))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        date: Date(),
        Decimal: Money(),
        dict[str, Any]: JsonDoc,
    }


class _Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _id() -> Mapped[str]:
    return mapped_column(String(bounds.ID), primary_key=True, default=new_id)


class Enterprise(_Timestamps, Base):
    __tablename__ = "enterprises"
    __table_args__ = (
        Index(None, "created_at", "id"),
        Index(None, "district"),
        Index(None, "city"),
    )

    id: Mapped[str] = _id()
    # Nullable: the contract makes every profile field but `name` optional; where a
    # USCC is given it identifies the enterprise (NULLs never collide in UNIQUE).
    uscc: Mapped[str | None] = mapped_column(String(bounds.USCC), unique=True)
    name: Mapped[str] = mapped_column(String(bounds.ENTERPRISE_NAME))
    kind: Mapped[str | None] = mapped_column(String(bounds.ENTERPRISE_KIND))
    province: Mapped[str | None] = mapped_column(String(bounds.PLACE))
    city: Mapped[str | None] = mapped_column(String(bounds.PLACE))
    district: Mapped[str | None] = mapped_column(String(bounds.PLACE))
    park: Mapped[str | None] = mapped_column(String(bounds.PARK))
    current_version: Mapped[int] = mapped_column(default=1, server_default=text("1"))


class ProfileVersion(Base):
    __tablename__ = "profile_versions"
    __table_args__ = (UniqueConstraint("enterprise_id", "version"),)

    id: Mapped[str] = _id()
    enterprise_id: Mapped[str] = mapped_column(ForeignKey("enterprises.id"))
    version: Mapped[int]
    profile: Mapped[dict[str, Any]]
    profile_hash: Mapped[str] = mapped_column(String(bounds.HASH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(bounds.ACTOR))


class EnterpriseFinding(Base):
    """A reviewer's finding on an enterprise for a fiscal year: a criterion no data
    settles (facts.yaml ``findings``). Append-only: a correction is a new record, and
    the latest per enterprise, fiscal year and key is the one evaluations use.
    ``recorded_at`` rises strictly per enterprise (``app.services.findings``), so
    "the latest" is never a tie."""

    __tablename__ = "enterprise_findings"
    __table_args__ = (Index(None, "enterprise_id", "fiscal_year", "recorded_at"),)

    id: Mapped[str] = _id()
    enterprise_id: Mapped[str] = mapped_column(ForeignKey("enterprises.id"))
    fiscal_year: Mapped[int]
    key: Mapped[str] = mapped_column(String(bounds.FINDING_KEY))
    met: Mapped[bool]
    note: Mapped[str | None] = mapped_column(String(bounds.FINDING_NOTE))
    reviewer: Mapped[str] = mapped_column(String(bounds.ACTOR))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class PolicyVersion(Base):
    """A policy version exactly as validated, kept so an award can be replayed later."""

    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("policy_id", "version", "content_hash"),)

    id: Mapped[str] = _id()
    policy_id: Mapped[str] = mapped_column(String(bounds.POLICY_ID))
    version: Mapped[str] = mapped_column(String(bounds.POLICY_VERSION))
    content_hash: Mapped[str] = mapped_column(String(bounds.HASH))
    document: Mapped[dict[str, Any]]
    first_loaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogLoad(Base):
    __tablename__ = "catalog_loads"
    __table_args__ = (Index(None, "loaded_at"),)

    id: Mapped[str] = _id()
    catalog_hash: Mapped[str] = mapped_column(String(bounds.HASH))
    policy_count: Mapped[int]
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    loaded_by: Mapped[str] = mapped_column(String(bounds.ACTOR))


class Budget(_Timestamps, Base):
    __tablename__ = "budgets"
    __table_args__ = (
        UniqueConstraint("policy_id", "fiscal_year", "payer_jurisdiction"),
        CheckConstraint("amount >= 0", name="amount_nonneg"),
        CheckConstraint("committed >= 0", name="committed_nonneg"),
        CheckConstraint("disbursed >= 0", name="disbursed_nonneg"),
        CheckConstraint("released >= 0", name="released_nonneg"),
        CheckConstraint("committed + disbursed <= amount", name="not_overspent"),
    )

    id: Mapped[str] = _id()
    policy_id: Mapped[str] = mapped_column(String(bounds.POLICY_ID))
    fiscal_year: Mapped[int]
    payer_level: Mapped[str] = mapped_column(String(bounds.PAYER_LEVEL))
    payer_jurisdiction: Mapped[str] = mapped_column(String(bounds.PLACE))
    amount: Mapped[Decimal]
    committed: Mapped[Decimal] = mapped_column(default=Decimal("0.00"), server_default="0")
    disbursed: Mapped[Decimal] = mapped_column(default=Decimal("0.00"), server_default="0")
    released: Mapped[Decimal] = mapped_column(default=Decimal("0.00"), server_default="0")


class Award(_Timestamps, Base):
    __tablename__ = "awards"
    __table_args__ = (
        Index(
            "uq_awards_live_enterprise_policy_year",
            "enterprise_id",
            "policy_id",
            "fiscal_year",
            unique=True,
            sqlite_where=_LIVE_AWARD,
            postgresql_where=_LIVE_AWARD,
        ),
        CheckConstraint(_in("status", AWARD_STATUSES), name="status_known"),
        CheckConstraint("amount >= 0", name="amount_nonneg"),
        CheckConstraint("revision >= 1", name="revision_positive"),
        # The auditor filters of GET /awards, and (created_at, id) for the cursor.
        Index(None, "created_at", "id"),
        Index(None, "enterprise_id"),
        Index(None, "policy_id"),
        Index(None, "fiscal_year"),
        Index(None, "status"),
        Index(None, "payer_jurisdiction"),
    )

    id: Mapped[str] = _id()
    enterprise_id: Mapped[str] = mapped_column(ForeignKey("enterprises.id"))
    policy_id: Mapped[str] = mapped_column(String(bounds.POLICY_ID))
    policy_version_id: Mapped[str] = mapped_column(ForeignKey("policy_versions.id"))
    policy_version: Mapped[str] = mapped_column(String(bounds.POLICY_VERSION))
    fiscal_year: Mapped[int]
    status: Mapped[str] = mapped_column(String(bounds.STATUS))
    amount: Mapped[Decimal]
    uncapped_amount: Mapped[Decimal | None]
    amount_basis: Mapped[str] = mapped_column(String(bounds.AMOUNT_BASIS))
    payer_level: Mapped[str] = mapped_column(String(bounds.PAYER_LEVEL))
    payer_jurisdiction: Mapped[str | None] = mapped_column(String(bounds.PLACE))
    budget_id: Mapped[str | None] = mapped_column(ForeignKey("budgets.id"))
    catalog_hash: Mapped[str] = mapped_column(String(bounds.HASH))
    profile_version_id: Mapped[str] = mapped_column(ForeignKey("profile_versions.id"))
    profile_version: Mapped[int]
    trace: Mapped[dict[str, Any]]
    recognition_key: Mapped[str | None] = mapped_column(String(bounds.RECOGNITION_KEY))
    exclusivity_group: Mapped[str | None] = mapped_column(String(bounds.EXCLUSIVITY_GROUP))
    supersedes_id: Mapped[str | None] = mapped_column(ForeignKey("awards.id"))
    revision: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    notice_start: Mapped[date | None]
    notice_end: Mapped[date | None]
    created_by: Mapped[str] = mapped_column(String(bounds.ACTOR))

    @property
    def caps_applied(self) -> Any:
        """The caps the amount went through, as the trace keeps them (the API shows them)."""
        return self.trace.get("caps_applied", [])


class AwardEvent(Base):
    __tablename__ = "award_events"
    __table_args__ = (Index(None, "award_id", "at"),)

    id: Mapped[str] = _id()
    award_id: Mapped[str] = mapped_column(ForeignKey("awards.id"))
    from_status: Mapped[str | None] = mapped_column(String(bounds.STATUS))
    to_status: Mapped[str] = mapped_column(String(bounds.STATUS))
    actor: Mapped[str] = mapped_column(String(bounds.ACTOR))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(_in("role", API_KEY_ROLES), name="role_known"),)

    id: Mapped[str] = _id()
    prefix: Mapped[str] = mapped_column(String(bounds.KEY_PREFIX), unique=True)
    # sha256 hex of the secret part; the secret itself is shown once and never stored.
    secret_hash: Mapped[str] = mapped_column(String(bounds.HASH))
    role: Mapped[str] = mapped_column(String(bounds.KEY_ROLE))
    enterprise_id: Mapped[str | None] = mapped_column(ForeignKey("enterprises.id"))
    jurisdiction: Mapped[str | None] = mapped_column(String(bounds.PLACE))
    label: Mapped[str] = mapped_column(String(bounds.ACTOR))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("api_key_id", "key"),)

    id: Mapped[str] = _id()
    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    key: Mapped[str] = mapped_column(String(bounds.IDEMPOTENCY_KEY))
    method: Mapped[str] = mapped_column(String(bounds.HTTP_METHOD))
    path: Mapped[str] = mapped_column(String(bounds.REQUEST_PATH))
    request_hash: Mapped[str] = mapped_column(String(bounds.HASH))
    status_code: Mapped[int | None]  # NULL while the first request is still in flight
    response_body: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "object_type", "object_id"), Index(None, "occurred_at"))

    # Assigned as head + 1 by the application, never by a sequence: see module doc.
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(bounds.ACTOR))
    action: Mapped[str] = mapped_column(String(bounds.AUDIT_ACTION))
    object_type: Mapped[str] = mapped_column(String(bounds.AUDIT_OBJECT_TYPE))
    object_id: Mapped[str] = mapped_column(String(bounds.AUDIT_OBJECT_ID))
    payload: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(bounds.HASH))
    hash: Mapped[str] = mapped_column(String(bounds.HASH))


class MatchingRun(Base):
    __tablename__ = "matching_runs"

    id: Mapped[str] = _id()
    fiscal_year: Mapped[int]
    status: Mapped[str] = mapped_column(String(bounds.STATUS))
    progress: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    total: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    parameters: Mapped[dict[str, Any]]
    result: Mapped[dict[str, Any] | None]
    started_by: Mapped[str] = mapped_column(String(bounds.ACTOR))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    #: Whose runs count together against RUNS_PER_TENANT: the place a portal's run
    #: covers (``city:nanjing``), or ``all`` for a run over every enterprise.
    tenant: Mapped[str] = mapped_column(
        String(bounds.TENANT), default="all", server_default=text("'all'")
    )
    shards_total: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    shards_done: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    #: The run's small number, given when it is added (``add_matching_run``): its
    #: results carry it instead of the id's 36 characters, because a run stores
    #: hundreds of thousands of them and their indexes compare it on every insert.
    number: Mapped[int] = mapped_column(Integer, unique=True)


class MatchingRunShard(Base):
    """A range of enterprise ids of a run, executed as one job by whichever worker takes
    it; its totals are kept here until the last shard combines them into the run's."""

    __tablename__ = "matching_run_shards"

    run_id: Mapped[str] = mapped_column(String(bounds.ID), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: The range: ids after ``after_id`` up to ``last_id`` (none: to the end).
    after_id: Mapped[str] = mapped_column(String(bounds.ID))
    last_id: Mapped[str | None] = mapped_column(String(bounds.ID))
    status: Mapped[str] = mapped_column(String(bounds.STATUS))
    #: The worker that last took it (host and process), and when.
    taken_by: Mapped[str | None] = mapped_column(String(bounds.ACTOR))
    taken_at: Mapped[datetime | None]
    enterprises: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    partial: Mapped[dict[str, Any] | None]
    finished_at: Mapped[datetime | None]


class MatchingResult(Base):
    """One enterprise's answer for one policy in a matching run (eligible or undetermined
    only: the ineligible are the silent majority and are not kept)."""

    __tablename__ = "matching_results"
    # Keyed by (run_number, id): a run's results are paged by id, with or without
    # filters, through the primary key itself (no second index of the same keys).
    __table_args__ = (Index(None, "run_number", "policy_id", "status"),)

    #: The run's ``MatchingRun.number``. No foreign keys: checked row by row they cost
    #: most of storing a run's results; the run and the enterprises a result names
    #: cannot be deleted by the service.
    run_number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: Ascending within a run in the order results were stored: from a sequence on
    #: PostgreSQL, the run's next ids on SQLite (``add_result_rows_only``).
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    enterprise_id: Mapped[str] = mapped_column(String(bounds.ID))
    policy_id: Mapped[str] = mapped_column(String(bounds.POLICY_ID))
    status: Mapped[str] = mapped_column(String(bounds.RESULT_STATUS))
    amount: Mapped[Decimal | None]
    #: What an undetermined answer waits for, as the batch engine's bitmask over the
    #: policy's paths for the run (``MatchingRunPaths``): facts, and findings as
    #: ``finding:<key>``. Names are resolved on read (``app.db.repositories.matching``).
    missing_code: Mapped[int | None] = mapped_column(BigInteger)
    #: The names themselves, only for an answer no code can name (a fact outside the
    #: policy's paths, or a policy the batch engine does not compile).
    missing_facts: Mapped[dict[str, Any] | None]


class MatchingRunPaths(Base):
    """Per run and policy, the paths its results' ``missing_code`` bits stand for (bit
    ``i`` is ``paths[i]``): the batch engine's index for the catalog and fiscal year of
    the run, kept with the run so a later catalog cannot change what a code means."""

    __tablename__ = "matching_run_paths"

    run_id: Mapped[str] = mapped_column(String(bounds.ID), primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(bounds.POLICY_ID), primary_key=True)
    paths: Mapped[list[str]] = mapped_column(JsonDoc)


class ImportJob(Base):
    """A bulk import too large to answer within its request: the uploaded file, who
    sent it, and (once a worker has executed it) the import's report or its problem.

    The file's bytes are dropped when the import finishes; the report stays."""

    __tablename__ = "import_jobs"

    id: Mapped[str] = _id()
    #: queued, running (taken by a worker), done or failed
    status: Mapped[str] = mapped_column(String(bounds.STATUS))
    #: The submitting key, as ``Actor`` has it: the import acts with its role and scope.
    actor_name: Mapped[str] = mapped_column(String(bounds.ACTOR))
    actor_role: Mapped[str] = mapped_column(String(bounds.KEY_ROLE))
    actor_jurisdiction: Mapped[str | None] = mapped_column(String(bounds.PLACE))
    api_key_id: Mapped[str | None] = mapped_column(String(bounds.ID))
    file_name: Mapped[str] = mapped_column(String(bounds.FILE_NAME))
    file_format: Mapped[str] = mapped_column(String(bounds.FILE_FORMAT))
    file_bytes: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    dry_run: Mapped[bool]
    #: Times a worker took it (more than one: a worker died, or the job was retried).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    report: Mapped[dict[str, Any] | None]
    #: Why the file could not be imported at all: the problem the request would have got.
    problem: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class RateLimitCounter(Base):
    """Calls of the open calculator per client address in its current one-minute window.

    One row per address, counted by one atomic upsert (``app.db.repositories.rate_limits``),
    so every worker process shares one count. Rows of windows that have ended are
    purged; nothing else reads them.
    """

    __tablename__ = "rate_limit_counters"
    __table_args__ = (Index(None, "window_start"),)

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: When the window began, in milliseconds since the Unix epoch.
    window_start: Mapped[int] = mapped_column(BigInteger)
    hits: Mapped[int] = mapped_column(Integer)


# The projection of each enterprise's current facts (see app.db.projection).
from app.db.projection import define  # noqa: E402

PROJECTION_TABLES = define(Base.metadata)
EnterpriseFacts, EnterpriseFactYears, EnterpriseFactYearScores, EnterpriseRecognitions = (
    PROJECTION_TABLES
)
