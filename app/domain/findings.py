"""Findings: criteria no data settles, which only an official can make.

A product's market position "较为靠前", whether IP supports the main products, a pilot
status: the catalog marks such clauses ``finding: <key>``. A reviewer records a finding
on an enterprise for a fiscal year; the engine reads it as the clause's truth and puts
the reviewer and the date in the reasons, so the trace says who decided and when.
Until one is recorded the clause is unknown and the answer lists it as a finding
required. A profile can never carry a finding: enterprises do not find for themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class RecordedFinding:
    key: str
    met: bool
    reviewer: str
    recorded_on: date
    note: str | None = None

    def as_trace(self) -> dict[str, Any]:
        return {
            "met": self.met,
            "reviewer": self.reviewer,
            "recorded_on": self.recorded_on.isoformat(),
            "note": self.note,
        }

    @staticmethod
    def from_trace(key: str, value: Mapping[str, Any]) -> RecordedFinding:
        return RecordedFinding(
            key,
            bool(value["met"]),
            str(value["reviewer"]),
            date.fromisoformat(str(value["recorded_on"])),
            value.get("note"),
        )


Findings = Mapping[str, RecordedFinding]
NO_FINDINGS: Findings = {}
