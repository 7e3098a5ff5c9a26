"""Reading facts out of an enterprise profile for one fiscal year.

A profile is nested JSON (see the contract). Paths are dotted; ``{fy}``, ``{fy-1}``…
in a catalog path name fiscal years relative to the one evaluated. Every path read is
remembered, so an award's trace can say exactly which facts it used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

from app.domain.findings import NO_FINDINGS, Findings, RecordedFinding
from app.domain.money import as_decimal


class _Missing:
    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

_UNSEEN = object()

_YEAR_TEMPLATE = re.compile(r"\{fy(?:([+-])(\d+))?\}")


@lru_cache(maxsize=4096)
def year_path(template: str, fiscal_year: int) -> str:
    """``years.{fy-1}.revenue`` for 2024 -> ``years.2023.revenue``."""

    def sub(match: re.Match[str]) -> str:
        sign, offset = match.group(1), match.group(2)
        if not sign:
            return str(fiscal_year)
        delta = int(offset)
        return str(fiscal_year + delta if sign == "+" else fiscal_year - delta)

    return _YEAR_TEMPLATE.sub(sub, template)


def as_day(value: Any) -> date | None:
    """A date fact: a ``date`` or an ISO ``YYYY-MM-DD`` string; anything else is no date.

    The one reading of dates shared by the per-profile and the batch engines."""
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


class Facts:
    """The profile seen from one fiscal year, recording each fact it hands out."""

    def __init__(
        self, profile: Mapping[str, Any], fiscal_year: int, findings: Findings = NO_FINDINGS
    ) -> None:
        self.profile = profile
        self.fiscal_year = fiscal_year
        self.findings = findings
        #: The reviewers' findings the rules used, for the trace.
        self.findings_used: dict[str, RecordedFinding] = {}
        self.read: dict[str, Any] = {}
        # Many policies read the same facts (the city, the revenue…): look each up once.
        self._seen: dict[str, Any] = {}
        self._numbers: dict[str, Decimal | _Missing] = {}

    def path(self, template: str) -> str:
        return year_path(template, self.fiscal_year)

    def get(self, template: str) -> Any:
        """The value at the path, or ``MISSING``. ``None`` in the profile is missing too."""
        seen = self._seen.get(template, _UNSEEN)
        if seen is not _UNSEEN:
            return seen
        value = self._lookup(template)
        self._seen[template] = value
        return value

    def _lookup(self, template: str) -> Any:
        path = self.path(template)
        node: Any = self.profile
        for part in path.split("."):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            else:
                self.read[path] = None
                return MISSING
        if node is None:
            self.read[path] = None
            return MISSING
        self.read[path] = node
        return node

    def number(self, template: str) -> Decimal | _Missing:
        cached = self._numbers.get(template)
        if cached is not None:
            return cached
        number = as_decimal(self.get(template))
        result: Decimal | _Missing = MISSING if number is None else number
        self._numbers[template] = result
        return result

    def day(self, template: str) -> date | _Missing:
        day = as_day(self.get(template))
        return MISSING if day is None else day

    def finding(self, key: str) -> RecordedFinding | None:
        found = self.findings.get(key)
        if found is not None:
            self.findings_used[key] = found
        return found

    def recognitions(self) -> list[Mapping[str, Any]] | _Missing:
        value = self.get("recognitions")
        if value is MISSING or not isinstance(value, list):
            return MISSING
        return [r for r in value if isinstance(r, Mapping)]
