"""Eligibility answers: one per policy, with reasons clause by clause."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.api.schemas.bounded import PolicyId
from app.api.schemas.profile import EnterpriseProfile
from app.api.schemas.types import FiscalYear, MoneyOut, StrictModel


class BilingualText(BaseModel):
    zh: str
    en: str


class Reason(BaseModel):
    clause: str = Field(description="the clause's id in the policy's rules")
    met: bool | None = Field(description="true, false, or null when a fact is missing")
    text: BilingualText
    missing_facts: list[str] = Field(default_factory=list)


class FindingRequired(BaseModel):
    key: str = Field(description="the finding's key (facts.yaml `findings`)")
    zh: str
    en: str


class FindingUsed(BaseModel):
    key: str
    met: bool
    reviewer: str = Field(description="who recorded the finding")
    recorded_on: str = Field(description="the day it was recorded (ISO date)")
    note: str | None = None


class PolicyAnswer(BaseModel):
    policy_id: str
    policy_version: str | None
    title: BilingualText
    kind: str
    status: Literal["eligible", "ineligible", "undetermined"]
    amount: MoneyOut | None = Field(
        description="capped amount; null when set by the reviewer or none"
    )
    amount_basis: Literal["computed", "set_by_reviewer", "estimate", "none"]
    uncapped_amount: MoneyOut | None = None
    reasons: list[Reason]
    missing_facts: list[str]
    findings_required: list[FindingRequired] = Field(
        default_factory=list,
        description=(
            "criteria no data settles that an official must confirm (undetermined answers): "
            "a reviewer records them on the enterprise (POST /v1/enterprises/{id}/findings) "
            "and the next evaluation uses them"
        ),
    )
    findings_used: list[FindingUsed] = Field(
        default_factory=list, description="the recorded findings the answer used"
    )
    payer: dict[str, str | None] | None = None


class Totals(BaseModel):
    eligible: int
    ineligible: int
    undetermined: int
    computed_amount: MoneyOut = Field(description="sum of computed amounts (estimates excluded)")
    estimated_tax_benefit: MoneyOut


class EligibilityRequest(StrictModel):
    profile: EnterpriseProfile
    fiscal_year: FiscalYear
    policy_ids: list[PolicyId] | None = Field(
        default=None, max_length=100, description="only these policies (default: all)"
    )


class EligibilityResponse(BaseModel):
    fiscal_year: int
    catalog_hash: str
    enterprise_id: str | None = Field(
        default=None, description="for a stored enterprise's entitlements: its id"
    )
    profile_version: int | None = None
    totals: Totals
    results: list[PolicyAnswer]
