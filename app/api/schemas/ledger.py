"""Budgets and the audit log as clients see them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from app.api.schemas.bounded import NO_NUL, MapsTo, PayerJurisdiction, PayerLevel, PolicyId
from app.api.schemas.text import HumanProse
from app.api.schemas.types import FiscalYear, MoneyIn, MoneyOut, StrictModel

BudgetAmount = Annotated[MoneyIn, MapsTo("budgets.amount")]


class BudgetOut(BaseModel):
    id: str
    policy_id: str
    fiscal_year: int
    payer: dict[str, str | None]
    amount: MoneyOut
    committed: MoneyOut = Field(description="approved, not yet paid")
    disbursed: MoneyOut
    released: MoneyOut = Field(description="returned by revocations")
    remaining: MoneyOut
    updated_at: datetime


class BudgetList(BaseModel):
    items: list[BudgetOut]


class BudgetCreate(StrictModel):
    policy_id: PolicyId
    fiscal_year: FiscalYear
    payer_level: PayerLevel
    payer_jurisdiction: PayerJurisdiction
    amount: BudgetAmount


class BudgetAdjust(StrictModel):
    amount: BudgetAmount
    # Kept in the audit log's payload.
    reason: Annotated[HumanProse, StringConstraints(min_length=1, max_length=2000), NO_NUL]


class Utilisation(BaseModel):
    policy_id: str
    payer_jurisdiction: str
    fiscal_year: int
    amount: MoneyOut
    committed: MoneyOut
    disbursed: MoneyOut
    remaining: MoneyOut
    utilisation: str = Field(description="(committed + disbursed) / amount, four places")


class UtilisationList(BaseModel):
    items: list[Utilisation]


class AuditEventOut(BaseModel):
    seq: int
    occurred_at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class AuditEventList(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None


class Checkpoint(BaseModel):
    seq: int
    hash: str
    taken_at: datetime


class VerifyOut(BaseModel):
    ok: bool
    records: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None
