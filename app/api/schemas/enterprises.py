"""Stored enterprises and their profile versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class EnterpriseOut(BaseModel):
    id: str
    uscc: str | None
    name: str
    kind: str | None
    location: dict[str, str | None]
    version: int = Field(description="the current profile version")
    profile: dict[str, Any] = Field(
        description="the profile of that version, as sent (money as strings)"
    )
    created_at: datetime
    updated_at: datetime


class EnterpriseList(BaseModel):
    items: list[EnterpriseOut]
    next_cursor: str | None


class ProfileVersionOut(BaseModel):
    version: int
    profile_hash: str
    created_at: datetime
    created_by: str
    profile: dict[str, Any]


class ProfileVersionList(BaseModel):
    enterprise_id: str
    items: list[ProfileVersionOut]
