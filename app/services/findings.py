"""Findings only an official can make: recorded on an enterprise, read by its evaluations.

A reviewer (an admin, or a portal within its area) records whether a criterion no
data settles is met (facts.yaml ``findings``: a market position "较为靠前", a pilot
status) for an enterprise and a fiscal year. Records are never changed: a correction
is a new record, and the latest per enterprise, fiscal year and key is the current
one. Every evaluation of a stored enterprise for that fiscal year reads the current
findings, and names the reviewer and the day in its reasons and trace. Enterprises
never record findings; they, and auditors, may read them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Protocol

from sqlalchemy.orm import Session

from app.catalog.loader import Catalog
from app.db import repositories as repo
from app.db.models import EnterpriseFinding
from app.domain.findings import Findings, RecordedFinding
from app.services import audit
from app.services.access import check_enterprise, require_reader, require_writer, shown_actor
from app.services.actors import Actor
from app.services.errors import Invalid, NotFound

#: The day a finding is dated by is Beijing's (UTC+8, no daylight saving).
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
#: Two records of one enterprise are never recorded at the same instant (see ``_next_instant``).
TICK = timedelta(microseconds=1)


class NewFinding(Protocol):
    """What a reviewer records (the API's ``FindingRequest`` is one)."""

    @property
    def fiscal_year(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def met(self) -> bool: ...
    @property
    def note(self) -> str | None: ...


def recorded_on(instant: datetime) -> date:
    return instant.astimezone(BEIJING).date()


def known_findings(catalog: Catalog) -> dict[str, Any]:
    """The catalog's findings by key."""
    return {f.key: f for f in catalog.vocabulary.findings}


_known = known_findings


def findings_json(
    catalog: Catalog, keys: Iterable[str], known: Mapping[str, Any] | None = None
) -> list[dict[str, str]]:
    """Each finding with what it asks in both languages (the key itself if unknown);
    ``known`` is ``known_findings(catalog)`` when the caller already has it."""
    if known is None:
        known = known_findings(catalog)
    return [
        {"key": k, "zh": known[k].zh, "en": known[k].en}
        if k in known
        else {"key": k, "zh": k, "en": k}
        for k in keys
    ]


def _check_key(catalog: Catalog, key: str) -> None:
    known = _known(catalog)
    if key in known:
        return
    listed = ", ".join(sorted(known)) or "none: the catalog marks no criterion as a finding"
    raise Invalid(
        f"`{key}` is not a finding of the catalog: use one of its keys (GET /v1/vocabulary)",
        errors=[{"pointer": "/key", "detail": f"known keys: {listed}"}],
    )


def _next_instant(session: Session, enterprise_id: str) -> datetime:
    """Now, or just after the enterprise's latest record if the clock has not moved on:
    under the enterprise's lock this makes "the latest record" a total order."""
    now = datetime.now(UTC)
    last = repo.last_finding_at(session, enterprise_id)
    return now if last is None or now > last else last + TICK


def record_finding(
    session: Session, catalog: Catalog, actor: Actor, enterprise_id: str, body: NewFinding
) -> EnterpriseFinding:
    """Record a finding (admin, or a portal on an enterprise of its area)."""
    require_writer(actor)
    check_enterprise(actor, catalog, repo.get_enterprise(session, enterprise_id), enterprise_id)
    _check_key(catalog, body.key)
    audit.serialize(session)
    if repo.lock_enterprise(session, enterprise_id) is None:
        raise NotFound(f"no enterprise {enterprise_id}")
    finding = repo.add_finding(
        session,
        EnterpriseFinding(
            enterprise_id=enterprise_id,
            fiscal_year=body.fiscal_year,
            key=body.key,
            met=body.met,
            note=body.note,
            reviewer=actor.label,
            recorded_at=_next_instant(session, enterprise_id),
        ),
    )
    audit.record(
        session,
        actor=actor.label,
        action="finding.recorded",
        object_type="enterprise",
        object_id=enterprise_id,
        payload={
            "finding_id": finding.id,
            "fiscal_year": finding.fiscal_year,
            "key": finding.key,
            "met": finding.met,
            "note": finding.note,
        },
    )
    return finding


def _current_ids(records: Iterable[EnterpriseFinding]) -> set[str]:
    """The ids of the latest record per fiscal year and key (``records`` newest first)."""
    seen: set[tuple[int, str]] = set()
    current = set()
    for record in records:
        if (record.fiscal_year, record.key) not in seen:
            seen.add((record.fiscal_year, record.key))
            current.add(record.id)
    return current


def as_findings(records: Sequence[EnterpriseFinding], viewer: Actor | None = None) -> Findings:
    """The current findings among ``records`` (one fiscal year, newest first), as the
    engine reads them. For an enterprise viewer the reviewer is only a role."""
    found: dict[str, RecordedFinding] = {}
    for record in records:
        if record.key in found:
            continue
        reviewer = record.reviewer if viewer is None else shown_actor(viewer, record.reviewer)
        found[record.key] = RecordedFinding(
            record.key, record.met, reviewer, recorded_on(record.recorded_at), record.note
        )
    return found


def current_findings(
    session: Session, enterprise_id: str, fiscal_year: int, viewer: Actor | None = None
) -> Findings:
    """The enterprise's current findings for the fiscal year (empty if none)."""
    return as_findings(repo.list_findings(session, enterprise_id, fiscal_year), viewer)


def findings_of(
    session: Session, enterprise_ids: Sequence[str], fiscal_year: int
) -> dict[str, Findings]:
    """The current findings of many enterprises for one fiscal year (only those with some)."""
    return {
        enterprise_id: as_findings(records)
        for enterprise_id, records in repo.findings_of(session, enterprise_ids, fiscal_year).items()
    }


def finding_json(
    catalog: Catalog, record: EnterpriseFinding, viewer: Actor, current: bool
) -> dict[str, Any]:
    return {
        "id": record.id,
        "enterprise_id": record.enterprise_id,
        "fiscal_year": record.fiscal_year,
        **findings_json(catalog, [record.key])[0],
        "met": record.met,
        "note": record.note,
        "reviewer": shown_actor(viewer, record.reviewer),
        "recorded_at": record.recorded_at,
        "recorded_on": recorded_on(record.recorded_at),
        "current": current,
    }


def list_findings(
    session: Session,
    catalog: Catalog,
    actor: Actor,
    enterprise_id: str,
    fiscal_year: int | None = None,
) -> dict[str, Any]:
    """Every finding recorded on the enterprise (of one fiscal year, or all), newest
    first, each saying whether it is the current one. Admins, auditors, a portal within
    its area and the enterprise itself."""
    require_reader(actor, "auditor", "portal", "enterprise")
    check_enterprise(actor, catalog, repo.get_enterprise(session, enterprise_id), enterprise_id)
    records = repo.list_findings(session, enterprise_id, fiscal_year)
    current = _current_ids(records)
    return {
        "enterprise_id": enterprise_id,
        "items": [finding_json(catalog, r, actor, r.id in current) for r in records],
    }


def trace_findings(findings: Findings) -> dict[str, Any]:
    """Findings as an award's trace keeps them (and replay reads them back)."""
    return {key: f.as_trace() for key, f in sorted(findings.items())}


def from_trace(stored: Mapping[str, Any] | None) -> Findings:
    return {key: RecordedFinding.from_trace(key, value) for key, value in (stored or {}).items()}
