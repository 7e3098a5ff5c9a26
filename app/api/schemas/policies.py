"""The catalog as clients see it."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from app.api.schemas.eligibility import BilingualText


class SourceOut(BaseModel):
    seed: str | None
    document: str
    document_number: str | None
    section: str
    quote: str


class PolicySummary(BaseModel):
    id: str
    title: BilingualText
    summary: BilingualText
    kind: str
    jurisdiction: str
    payer: dict[str, str | None] | None
    current_version: str | None = Field(description="the version in force today")
    effective_from: date | None
    effective_to: date | None
    source: SourceOut


class PolicyDetail(PolicySummary):
    versions: list[dict[str, Any]] = Field(
        description="each version: effective dates, parameters with their basis, rules, formula, caps, budget"
    )
    cases: list[dict[str, Any]] = Field(description="the policy's own worked cases")


class PolicyList(BaseModel):
    catalog_hash: str
    items: list[PolicySummary]
