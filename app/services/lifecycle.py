"""An award's life: computed → public notice → approved → disbursed; or rejected;
approved or disbursed awards can be revoked (clawback). Each step records who, when
and why, moves budget money, and is audited. Recomputing after a profile change makes
a new award version that points to the one it supersedes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from app.catalog.loader import Catalog
from app.db import repositories as repo
from app.db.models import Award, AwardEvent
from app.db.repositories import plain_pg
from app.db.types import utcnow
from app.services import audit
from app.services.access import can_use_budget, check_award
from app.services.actors import Actor
from app.services.awards import compute_award
from app.services.budgets import ensure_budget
from app.services.errors import Conflict, Forbidden, Invalid

#: What a caller makes of a moved award (``transition_last_write``).
R = TypeVar("R")

#: 公示 lasts at least seven working days.
NOTICE_WORKING_DAYS = 7


@dataclass(frozen=True)
class Transition:
    source: tuple[str, ...]
    target: str
    needs_reason: bool = False


TRANSITIONS = {
    "notice": Transition(("computed",), "public_notice"),
    "approve": Transition(("public_notice",), "approved"),
    "disburse": Transition(("approved",), "disbursed"),
    "reject": Transition(("computed", "public_notice"), "rejected", needs_reason=True),
    "revoke": Transition(("approved", "disbursed"), "revoked", needs_reason=True),
}


def working_days_between(start: date, end: date) -> int:
    """Monday-to-Friday days from start to end, both included (public holidays aside)."""
    days, current = 0, start
    while current <= end:
        days += current.weekday() < 5
        current += timedelta(days=1)
    return days


#: The steps that move the payer's money: only a key that may spend its budget takes them.
MONEY_ACTIONS = ("approve", "disburse", "revoke")


def _locked(
    session: Session, catalog: Catalog, actor: Actor, award_id: str
) -> tuple[Award, str | None]:
    """The award, locked, and the id of its budget if one exists (one round trip).

    No audit lock here: the audit chain is appended at commit (app.services.audit), so
    the award's and the budget's row locks always come before it, in every writer.
    """
    found = repo.lock_award_for_transition(session, award_id)
    award, enterprise, budget_id = found if found else (None, None, None)
    return check_award(actor, catalog, award, enterprise, award_id), budget_id


class AwardState(Protocol):
    """What a transition reads of the award it moves: an ``Award`` loaded into the
    session, or the row ``plain_pg`` reads on PostgreSQL."""

    @property
    def id(self) -> str: ...
    @property
    def policy_id(self) -> str: ...
    @property
    def fiscal_year(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def payer_level(self) -> str: ...
    @property
    def payer_jurisdiction(self) -> str | None: ...
    @property
    def budget_id(self) -> str | None: ...
    @property
    def notice_start(self) -> date | None: ...
    @property
    def notice_end(self) -> date | None: ...


def _check_spender(catalog: Catalog, actor: Actor, award: AwardState, action: str) -> None:
    """403 for a key that may see the award but not spend from its payer's budget,
    whatever the award's status (which such a key has no business probing)."""
    if action in MONEY_ACTIONS and not can_use_budget(actor, catalog, award.payer_jurisdiction):
        raise Forbidden(f"this key cannot spend from the budget of {award.payer_jurisdiction}")


def _budget_for(
    session: Session, catalog: Catalog, actor: Actor, award: AwardState, known: str | None
) -> str:
    """The id of the budget an approval draws on, made from the catalog if need be."""
    if award.payer_jurisdiction is None:
        raise Conflict("the award has no payer jurisdiction; it cannot be approved")
    if known is not None:
        return known
    return ensure_budget(
        session,
        catalog,
        policy_id=award.policy_id,
        fiscal_year=award.fiscal_year,
        payer_level=award.payer_level,
        payer_jurisdiction=award.payer_jurisdiction,
        actor=actor,
    ).id


def _money_moves(session: Session, award: AwardState, before: str, action: str) -> None:
    """Move a disbursed or revoked award's money in its budget (one conditional UPDATE,
    after the award's own writes: the budget's row lock is then held to commit for as
    short a time as possible). An approval's reservation is written with the award
    (``repo.change_status``)."""
    amount = award.amount
    assert award.budget_id is not None
    if action == "disburse":
        moved = repo.move_budget(
            session, award.budget_id, amount, source="committed", target="disbursed"
        )
        assert moved, "an approved award's amount is committed"
    elif action == "revoke":
        source = "committed" if before == "approved" else "disbursed"
        moved = repo.move_budget(session, award.budget_id, amount, source=source, target="released")
        assert moved, "a revoked award's money was committed or disbursed"


def _refuse_approval(session: Session, award: AwardState, budget_id: str) -> None:
    """409: the budget cannot take the award. Nothing was written, so the transaction
    stays whole for a caller that goes on with it (the API rolls it back anyway); an
    approval that committed with its own message committed nothing."""
    remaining = repo.budget_room(session, budget_id)
    raise Conflict(
        f"the budget {budget_id} cannot take {award.amount:.2f}: {remaining:.2f} remains",
        budget_id=budget_id,
    )


def transition(
    session: Session,
    catalog: Catalog,
    actor: Actor,
    award_id: str,
    action: str,
    *,
    reason: str | None = None,
    notice_start: date | None = None,
    notice_end: date | None = None,
    today: date | None = None,
    last_write: bool = False,
) -> Award:
    """Move the award by ``action``. ``last_write``: the caller writes nothing else in
    the transaction before committing it (one award's change over the API), which lets
    an approval take the audit chain's lock with its own statement (see
    ``repo.change_status``)."""
    award, budget_id = _locked(session, catalog, actor, award_id)
    _move(
        session,
        catalog,
        actor,
        award,
        budget_id,
        action,
        reason=reason,
        notice_start=notice_start,
        notice_end=notice_end,
        today=today,
        last_write=last_write,
    )
    # change_status has shown the change on the award loaded into the session.
    return award


def transition_last_write(
    session: Session,
    catalog: Catalog,
    actor: Actor,
    award_id: str,
    action: str,
    *,
    reason: str | None = None,
    notice_start: date | None = None,
    notice_end: date | None = None,
    commits: bool = False,
    answer: Callable[[Award | plain_pg.LockedAward], R],
) -> R:
    """``transition`` as the transaction's last write (one award's change over the API),
    for an answer rather than further work with the award: ``answer`` of the moved award
    is returned. On PostgreSQL the award is locked and read as a plain row
    (``plain_pg``), not loaded into the session, which costs half the CPU; the same
    rules, writes and answer either way.

    The answer is made before anything commits: were making it to fail, nothing would
    have been written.

    ``commits``: the transaction has written nothing before (no Idempotency-Key was
    claimed), so on PostgreSQL an approval whose budget exists commits it with its own
    statement and its audit record, in one message (``repo.run_append_and_commit``): its
    budget's row lock is then held for no round trip to the client. A refused approval
    has then committed nothing, and the refusal is read after it."""
    if session.get_bind().dialect.name != "postgresql":
        return answer(
            transition(
                session,
                catalog,
                actor,
                award_id,
                action,
                reason=reason,
                notice_start=notice_start,
                notice_end=notice_end,
                last_write=True,
            )
        )
    found = plain_pg.lock_award_for_transition(session, award_id)
    award, enterprise, budget_id = found if found else (None, None, None)
    locked = check_award(actor, catalog, award, enterprise, award_id)
    answered: list[R] = []

    def answer_change(change: repo.StatusChange) -> None:
        moved = locked.moved(
            status=change.to_status,
            budget_id=change.budget_id,
            notice_start=change.notice_start,
            notice_end=change.notice_end,
            updated_at=change.at,
        )
        answered.append(answer(moved))

    change = _move(
        session,
        catalog,
        actor,
        locked,
        budget_id,
        action,
        reason=reason,
        notice_start=notice_start,
        notice_end=notice_end,
        last_write=True,
        commits=commits,
        before_commit=answer_change,
    )
    if not answered:  # nothing committed yet: the caller's transaction commits later
        answer_change(change)
    return answered[0]


def _move(
    session: Session,
    catalog: Catalog,
    actor: Actor,
    award: AwardState,
    budget_id: str | None,
    action: str,
    *,
    reason: str | None,
    notice_start: date | None,
    notice_end: date | None,
    today: date | None = None,
    last_write: bool,
    commits: bool = False,
    before_commit: Callable[[repo.StatusChange], None] | None = None,
) -> repo.StatusChange:
    """The rules of ``action`` on the locked ``award`` (``budget_id``: its budget's, if
    one exists), then its writes and its audit record; the change written. ``commits``:
    see ``transition_last_write``; an approval that commits with its own message calls
    ``before_commit`` with the change just before sending it."""
    step = TRANSITIONS[action]
    _check_spender(catalog, actor, award, action)
    if award.status not in step.source:
        raise Conflict(
            f"cannot {action} an award that is {award.status} "
            f"(only from: {', '.join(step.source)})",
            status_now=award.status,
        )
    if step.needs_reason and not (reason and reason.strip()):
        raise Invalid(
            f"{action} needs a reason", errors=[{"pointer": "/reason", "detail": "required"}]
        )
    today = today or date.today()
    if action == "notice":
        _check_notice(notice_start, notice_end)
    if action == "approve" and award.notice_end is not None and today <= award.notice_end:
        raise Conflict(f"the public notice runs until {award.notice_end}; approve after it ends")
    before = award.status
    pays_from = award.budget_id
    if action == "approve":
        pays_from = _budget_for(session, catalog, actor, award, budget_id)
    details = {
        "amount": f"{award.amount:.2f}",
        "budget_id": pays_from,
        "notice_start": str(notice_start) if notice_start else None,
        "notice_end": str(notice_end) if notice_end else None,
    }
    change = repo.StatusChange(
        award_id=award.id,
        from_status=before,
        to_status=step.target,
        budget_id=pays_from,
        notice_start=notice_start if action == "notice" else award.notice_start,
        notice_end=notice_end if action == "notice" else award.notice_end,
        actor=actor.label,
        reason=reason,
        details=details,
        at=utcnow(),
    )
    record: dict[str, Any] = {
        "actor": actor.label,
        "action": f"award.{step.target}",
        "object_type": "award",
        "object_id": award.id,
        "payload": {"from": before, "to": step.target, "reason": reason, **details},
    }
    # Written with Core statements, not the ORM's unit of work: the award loaded above
    # shows the change (repo.change_status), and nothing is left to flush.
    if action == "approve":
        assert pays_from is not None
        # Nothing else written (no key claimed, the budget not made now, no record
        # pending): the approval, its record and the COMMIT go as one message.
        alone = commits and budget_id is not None and not audit.has_pending(session)
        commit_with = audit.chained_in_database(**record) if alone else None
        if alone and before_commit is not None:
            before_commit(change)
        if not repo.change_status(
            session, change, reserve=award.amount, lock_audit=last_write, commit_with=commit_with
        ):
            _refuse_approval(session, award, pays_from)
        if alone:
            return change
    else:
        repo.change_status(session, change)
        if action in MONEY_ACTIONS:
            _money_moves(session, award, before, action)
    audit.record(session, **record)
    return change


def _check_notice(start: date | None, end: date | None) -> None:
    if start is None or end is None:
        raise Invalid(
            "a public notice needs notice_start and notice_end",
            errors=[
                {
                    "pointer": "/notice_start" if start is None else "/notice_end",
                    "detail": "required",
                }
            ],
        )
    if working_days_between(start, end) < NOTICE_WORKING_DAYS:
        raise Invalid(
            f"a public notice lasts at least {NOTICE_WORKING_DAYS} working days",
            errors=[{"pointer": "/notice_end", "detail": "too early"}],
        )


def record_objection(
    session: Session, catalog: Catalog, actor: Actor, award_id: str, text: str, by: str | None
) -> Award:
    """An objection raised during the public notice; the reviewer weighs it before approving."""
    award, _ = _locked(session, catalog, actor, award_id)
    if award.status != "public_notice":
        raise Conflict(
            f"objections are recorded during the public notice; the award is {award.status}"
        )
    repo.add_award_event(
        session,
        AwardEvent(
            award_id=award.id,
            from_status=award.status,
            to_status=award.status,
            actor=actor.label,
            reason=text,
            details={"objection_by": by},
        ),
    )
    audit.record(
        session,
        actor=actor.label,
        action="award.objection",
        object_type="award",
        object_id=award.id,
        payload={"text": text, "by": by},
    )
    return award


def recompute(
    session: Session, catalog: Catalog, actor: Actor, award_id: str, amount: Decimal | None = None
) -> Award:
    """A new award version from the enterprise's current profile; the old one is superseded."""
    old, _ = _locked(session, catalog, actor, award_id)
    if old.status not in ("computed", "public_notice"):
        raise Conflict(
            f"an award that is {old.status} is not recomputed; revoke it first if it was wrong"
        )
    before = old.status
    old.status = "superseded"
    session.flush()
    new = compute_award(
        session,
        catalog,
        enterprise_id=old.enterprise_id,
        policy_id=old.policy_id,
        fiscal_year=old.fiscal_year,
        amount=amount,
        actor=actor,
        supersedes=old,
    )
    repo.add_award_event(
        session,
        AwardEvent(
            award_id=old.id,
            from_status=before,
            to_status="superseded",
            actor=actor.label,
            reason=f"recomputed as {new.id}",
            details={"superseded_by": new.id},
        ),
    )
    audit.record(
        session,
        actor=actor.label,
        action="award.superseded",
        object_type="award",
        object_id=old.id,
        payload={"superseded_by": new.id},
    )
    return new
