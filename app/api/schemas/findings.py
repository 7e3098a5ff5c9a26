"""Findings: a reviewer's answer to a criterion no data settles, recorded on an enterprise."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field, Strict, StringConstraints

from app.api.schemas.bounded import NO_NUL, MapsTo
from app.api.schemas.text import HumanProse
from app.api.schemas.types import FiscalYear, StrictModel
from app.db import bounds

# Any word is taken here; the service answers an unknown one with the catalog's keys.
FindingKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=bounds.FINDING_KEY),
    NO_NUL,
    MapsTo("enterprise_findings.key"),
]
FindingNote = Annotated[
    HumanProse,
    StringConstraints(max_length=bounds.FINDING_NOTE),
    NO_NUL,
    MapsTo("enterprise_findings.note"),
]


class FindingRequest(StrictModel):
    fiscal_year: Annotated[FiscalYear, MapsTo("enterprise_findings.fiscal_year")] = Field(
        description="the fiscal year whose evaluations the finding settles"
    )
    key: FindingKey = Field(
        description="which criterion: a key of the catalog's findings (GET /v1/vocabulary)"
    )
    met: Annotated[bool, Strict()] = Field(description="whether the criterion is met")
    note: FindingNote | None = Field(
        default=None, description="what the reviewer based the finding on"
    )


class FindingOut(BaseModel):
    id: str
    enterprise_id: str
    fiscal_year: int
    key: str
    zh: str = Field(description="what the finding decides, in Chinese")
    en: str = Field(description="what the finding decides, in English")
    met: bool
    note: str | None
    reviewer: str = Field(description="who recorded it (an enterprise key sees only the role)")
    recorded_at: datetime
    recorded_on: date = Field(description="the day evaluations name with the reviewer")
    current: bool = Field(
        description="the latest record for its fiscal year and key: the one evaluations use"
    )


class FindingList(BaseModel):
    enterprise_id: str
    items: list[FindingOut] = Field(description="newest first")
