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
from typing import Any, ClassVar, Final

from app.domain.findings import NO_FINDINGS, Findings, RecordedFinding
from app.domain.money import as_decimal


class _Missing:
    _instance: ClassVar[_Missing | None] = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

UNSEEN: Final = object()

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


class FactCache:
    """The facts of one profile for one fiscal year, each looked up once.

    Shared by every policy evaluated for the profile (``evaluate_catalog``): many read
    the same facts (the city, the revenue…). Keyed by concrete paths.
    """

    __slots__ = ("numbers", "profile", "recognitions", "shared", "values")

    def __init__(self, profile: Mapping[str, Any]) -> None:
        self.profile = profile
        self.values: dict[str, Any] = {}
        self.numbers: dict[str, Decimal | _Missing] = {}
        self.recognitions: Any = UNSEEN
        #: Outcomes of clauses several policies share (``app.domain.shared_clauses``).
        self.shared: dict[int, Any] = {}


def lookup(profile: Mapping[str, Any], path: str) -> Any:
    node: Any = profile
    for part in path.split("."):
        # (``type(...) is dict`` first: a profile is plain dicts, and the ABC's check
        # cost more than the rest of a lookup.)
        if (type(node) is dict or isinstance(node, Mapping)) and part in node:
            node = node[part]
        else:
            return MISSING
    return MISSING if node is None else node


class Facts:
    """The profile seen from one fiscal year, recording each fact it hands out.

    One per policy evaluated (its ``read`` is that policy's trace); the values come from
    a ``FactCache`` that may be shared between policies.
    """

    __slots__ = ("cache", "findings", "findings_used", "fiscal_year", "profile", "read")

    def __init__(
        self,
        profile: Mapping[str, Any],
        fiscal_year: int,
        findings: Findings = NO_FINDINGS,
        cache: FactCache | None = None,
    ) -> None:
        self.profile = profile
        self.fiscal_year = fiscal_year
        self.findings = findings
        #: The reviewers' findings the rules used, for the trace.
        self.findings_used: dict[str, RecordedFinding] = {}
        self.read: dict[str, Any] = {}
        self.cache = cache if cache is not None else FactCache(profile)

    def path(self, template: str) -> str:
        return year_path(template, self.fiscal_year)

    def at(self, path: str) -> Any:
        """The value at a concrete path, or ``MISSING`` (``None`` in the profile too)."""
        values = self.cache.values
        value = values.get(path, UNSEEN)
        if value is UNSEEN:
            value = values[path] = lookup(self.profile, path)
        self.read[path] = None if value is MISSING else value
        return value

    def number_at(self, path: str) -> Decimal | _Missing:
        value = self.at(path)  # (read for this policy's trace even when cached)
        numbers = self.cache.numbers
        number = numbers.get(path)
        if number is None:
            parsed = as_decimal(value)
            number = numbers[path] = MISSING if parsed is None else parsed
        return number

    def day_at(self, path: str) -> date | _Missing:
        day = as_day(self.at(path))
        return MISSING if day is None else day

    def get(self, template: str) -> Any:
        """The value at the path, or ``MISSING``. ``None`` in the profile is missing too."""
        return self.at(year_path(template, self.fiscal_year))

    def number(self, template: str) -> Decimal | _Missing:
        return self.number_at(year_path(template, self.fiscal_year))

    def day(self, template: str) -> date | _Missing:
        return self.day_at(year_path(template, self.fiscal_year))

    def finding(self, key: str) -> RecordedFinding | None:
        found = self.findings.get(key)
        if found is not None:
            self.findings_used[key] = found
        return found

    def recognitions(self) -> list[Mapping[str, Any]] | _Missing:
        value = self.at("recognitions")
        cache = self.cache
        if cache.recognitions is UNSEEN:
            cache.recognitions = (
                [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else MISSING
            )
        result: list[Mapping[str, Any]] | _Missing = cache.recognitions
        return result
