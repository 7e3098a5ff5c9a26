"""Awards: the request that computes one, and the stored award with its trace."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from app.api.schemas.bounded import NO_NUL, EnterpriseId, MapsTo, PolicyId
from app.api.schemas.text import HumanProse, HumanText
from app.api.schemas.types import Day, FiscalYear, MoneyIn, MoneyOut, StrictModel

AwardAmount = Annotated[MoneyIn, MapsTo("awards.amount")]
# Kept in the award's events (a TEXT column) and the audit log: bounded here, not there.
Reason = Annotated[
    HumanProse, StringConstraints(max_length=2000), NO_NUL, MapsTo("award_events.reason")
]


class AwardRequest(StrictModel):
    enterprise_id: EnterpriseId
    policy_id: PolicyId
    fiscal_year: FiscalYear
    amount: AwardAmount | None = Field(
        default=None,
        description="only where the policy's amount is set by the reviewer (within any cap)",
    )


class AwardOut(BaseModel):
    id: str
    enterprise_id: str
    policy_id: str
    policy_version: str
    fiscal_year: int
    status: str
    amount: MoneyOut
    uncapped_amount: MoneyOut | None
    amount_basis: str
    caps_applied: list[dict[str, Any]]
    payer: dict[str, str | None]
    catalog_hash: str
    profile_version: int
    revision: int
    supersedes_id: str | None
    notice_start: date | None
    notice_end: date | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    trace: dict[str, Any] | None = Field(
        default=None,
        description="facts read, clause results, formula steps, caps (detail view only)",
    )


class AwardList(BaseModel):
    items: list[AwardOut]
    next_cursor: str | None


class NoticeRequest(StrictModel):
    notice_start: Annotated[Day, MapsTo("awards.notice_start")]
    notice_end: Annotated[Day, MapsTo("awards.notice_end")] = Field(
        description="at least 7 working days after the start"
    )
    reason: Reason | None = None


class ReasonRequest(StrictModel):
    reason: Reason | None = Field(default=None, description="required to reject or revoke")


class ObjectionRequest(StrictModel):
    text: Annotated[HumanProse, StringConstraints(min_length=1, max_length=4000), NO_NUL]
    by: Annotated[HumanText, StringConstraints(max_length=200), NO_NUL] | None = Field(
        default=None, description="who raised it"
    )


class RecomputeRequest(StrictModel):
    amount: AwardAmount | None = Field(default=None, description="for a reviewer-set policy only")


class AwardEventOut(BaseModel):
    id: str
    from_status: str | None
    to_status: str
    actor: str
    reason: str | None
    details: dict[str, Any]
    at: datetime


class AwardEventList(BaseModel):
    award_id: str
    items: list[AwardEventOut]


class ReplayOut(BaseModel):
    award_id: str
    match: bool
    policy_version: str
    profile_version: int
    stored: dict[str, Any]
    recomputed: dict[str, Any]
    differences: list[dict[str, Any]]
