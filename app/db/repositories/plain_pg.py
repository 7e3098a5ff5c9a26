"""The hottest reads of the ledger's writes as plain psycopg statements (PostgreSQL only).

Why this exists: an approval over the API is the ledger's busiest write, and on
PostgreSQL most of its cost was the client's, not the database's. Loading the locked
award through the ORM (33 columns, the whole trace parsed from JSON) cost about
160 µs of CPU where psycopg alone takes about 65 µs, and the key's lookup through
SQLAlchemy Core about twice what psycopg takes; under load every approval queued
behind its budget's row lock also waits for that CPU. So the API key's lookup and
an award's lock for a transition run here straight on the session's own driver
connection (same transaction as everything else), reading only the columns the
transition and its answer need: the trace's caps, not the trace. Nothing here writes.

SQLite keeps the generic statements (``access.live_key_by_prefix``,
``awards.lock_award_for_transition``); the callers choose by dialect, and the tests
(tests/ledger/test_plain_pg.py) hold both paths to the same answers and stored rows.
The values are shaped as the mapped types shape them (``Money``, ``UtcDateTime``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from app.db.repositories.audit import driver_errors
from app.db.repositories.awards import EnterpriseLocation
from app.db.types import CENT


def _fetchone(session: Session, sql: str, params: tuple[Any, ...]) -> Any:
    """The first row of a plain query (a tuple), or ``None``; psycopg prepares it on the
    server from its fifth run on this connection, as it does SQLAlchemy's statements."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver_errors(), driver.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


class LiveKey(NamedTuple):
    """An unrevoked API key as the request's actor needs it (``ApiKey``'s column names)."""

    id: str
    prefix: str
    secret_hash: str
    role: str
    enterprise_id: str | None
    jurisdiction: str | None
    label: str


_LIVE_KEY_SQL = (
    "SELECT id, prefix, secret_hash, role, enterprise_id, jurisdiction, label"
    " FROM api_keys WHERE prefix = %s AND revoked_at IS NULL"
)


def live_key_by_prefix(session: Session, prefix: str) -> LiveKey | None:
    row = _fetchone(session, _LIVE_KEY_SQL, (prefix,))
    return None if row is None else LiveKey(*row)


@dataclass(frozen=True, slots=True)
class LockedAward:
    """An award locked for a transition, with what the transition and the API's answer
    read (``app.services.awards.award_json``): its columns but the trace, of which only
    the caps applied are kept."""

    id: str
    enterprise_id: str
    policy_id: str
    policy_version: str
    fiscal_year: int
    status: str
    amount: Decimal
    uncapped_amount: Decimal | None
    amount_basis: str
    caps_applied: Any
    payer_level: str
    payer_jurisdiction: str | None
    budget_id: str | None
    catalog_hash: str
    profile_version: int
    revision: int
    supersedes_id: str | None
    notice_start: date | None
    notice_end: date | None
    created_by: str
    created_at: datetime
    updated_at: datetime

    def moved(
        self,
        *,
        status: str,
        budget_id: str | None,
        notice_start: date | None,
        notice_end: date | None,
        updated_at: datetime,
    ) -> LockedAward:
        """The award as its transition left it (``awards.change_status`` wrote it)."""
        return replace(
            self,
            status=status,
            budget_id=budget_id,
            notice_start=notice_start,
            notice_end=notice_end,
            updated_at=updated_at,
        )


# As ``awards._LOCK_FOR_TRANSITION``: FOR NO KEY UPDATE OF the award only (the rows
# that merely reference it are not held up), its enterprise's place, and the id of the
# budget that pays it if one exists yet. ``trace -> 'caps_applied'`` is SQL NULL only
# when the key is absent, which the answer shows as no caps.
_LOCK_AWARD_SQL = """\
SELECT a.id, a.enterprise_id, a.policy_id, a.policy_version, a.fiscal_year, a.status,
       a.amount, a.uncapped_amount, a.amount_basis,
       coalesce(a.trace -> 'caps_applied', '[]'::jsonb),
       a.payer_level, a.payer_jurisdiction, a.budget_id, a.catalog_hash,
       a.profile_version, a.revision, a.supersedes_id, a.notice_start, a.notice_end,
       a.created_by, a.created_at, a.updated_at,
       e.province, e.city, e.district, e.park, b.id
FROM awards a
JOIN enterprises e ON e.id = a.enterprise_id
LEFT JOIN budgets b ON b.policy_id = a.policy_id AND b.fiscal_year = a.fiscal_year
    AND b.payer_jurisdiction = a.payer_jurisdiction
WHERE a.id = %s
FOR NO KEY UPDATE OF a"""


def lock_award_for_transition(
    session: Session, award_id: str
) -> tuple[LockedAward, EnterpriseLocation, str | None] | None:
    """Lock the award's row; the award, its enterprise's place and its budget's id."""
    row = _fetchone(session, _LOCK_AWARD_SQL, (award_id,))
    if row is None:
        return None
    values = list(row[:22])
    # Shaped as Money and UtcDateTime shape them: two places; UTC whatever the server's zone.
    values[6:8] = [None if v is None else v.quantize(CENT) for v in row[6:8]]
    values[20:22] = [v.astimezone(UTC) for v in row[20:22]]
    return LockedAward(*values), EnterpriseLocation(row[1], *row[22:26]), row[26]
