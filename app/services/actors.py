"""Who is acting: the role and scope an API key grants, passed to every use case."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "portal", "enterprise", "auditor", "system"]


@dataclass(frozen=True)
class Actor:
    name: str
    role: Role
    enterprise_id: str | None = None
    #: For a portal: the city or district slug it acts for.
    jurisdiction: str | None = None
    api_key_id: str | None = None

    @property
    def label(self) -> str:
        """How the actor appears in the audit log and award events."""
        return f"{self.role}:{self.name}"


SYSTEM = Actor(name="service", role="system")
