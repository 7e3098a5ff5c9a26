"""What the engine answers: clause results, formula steps, caps and evaluations.

These are plain frozen dataclasses so that the API, the ledger trace and the batch
engine can all serialise them the same way (``as_json``). The ones made for every
answer (texts, clauses, steps, evaluations) write their fields straight into the
instance's ``__dict__``: a frozen dataclass's own ``__init__`` calls
``object.__setattr__`` per field, four times slower, and an answer makes hundreds.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

Status = Literal["eligible", "ineligible", "undetermined"]
AmountBasis = Literal["computed", "set_by_reviewer", "estimate", "none"]


class Tri(enum.Enum):
    """Three-valued truth: a fact the profile does not give is UNKNOWN, not false."""

    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"

    @property
    def met(self) -> bool | None:
        # Identity tests: this runs for every clause of every answer.
        if self is Tri.TRUE:
            return True
        return False if self is Tri.FALSE else None

    @staticmethod
    def of(value: bool) -> Tri:
        return Tri.TRUE if value else Tri.FALSE


@dataclass(frozen=True)
class Bilingual:
    zh: str
    en: str

    def __init__(self, zh: str, en: str) -> None:
        fields = self.__dict__
        fields["zh"] = zh
        fields["en"] = en

    def __add__(self, other: Bilingual) -> Bilingual:
        return Bilingual(self.zh + other.zh, self.en + other.en)


@dataclass(frozen=True)
class ClauseResult:
    """One leaf clause (or cap) with its verdict and why.

    ``actual`` and ``required`` carry the numbers compared, so a gap analysis can say
    how far an enterprise is from meeting the clause.
    """

    clause: str
    truth: Tri
    text: Bilingual
    missing: tuple[str, ...] = ()
    actual: Decimal | None = None
    required: Decimal | None = None
    op: str | None = None
    #: For an unmet numeric clause: how much ``distance_of`` must rise (or, negative,
    #: fall) to meet it, e.g. the yuan of R&D missing for an R&D share.
    distance: Decimal | None = None
    distance_of: str | None = None

    def __init__(
        self,
        clause: str,
        truth: Tri,
        text: Bilingual,
        missing: tuple[str, ...] = (),
        actual: Decimal | None = None,
        required: Decimal | None = None,
        op: str | None = None,
        distance: Decimal | None = None,
        distance_of: str | None = None,
    ) -> None:
        fields = self.__dict__
        fields["clause"] = clause
        fields["truth"] = truth
        fields["text"] = text
        fields["missing"] = missing
        fields["actual"] = actual
        fields["required"] = required
        fields["op"] = op
        fields["distance"] = distance
        fields["distance_of"] = distance_of

    @property
    def met(self) -> bool | None:
        return self.truth.met


@dataclass(frozen=True)
class Step:
    """One line of an amount's computation, for the trace and for auditors."""

    name: str
    value: Decimal | None
    text: Bilingual

    def __init__(self, name: str, value: Decimal | None, text: Bilingual) -> None:
        fields = self.__dict__
        fields["name"] = name
        fields["value"] = value
        fields["text"] = text


@dataclass(frozen=True)
class CapApplied:
    cap: str
    limit: Decimal
    before: Decimal
    after: Decimal
    text: Bilingual


@dataclass(frozen=True)
class PriorAward:
    """An award already stored for the enterprise, as the caps need to see it."""

    policy_id: str
    fiscal_year: int
    amount: Decimal
    recognition_key: str | None = None
    exclusivity_group: str | None = None


@dataclass(frozen=True)
class Evaluation:
    policy_id: str
    policy_version: str | None
    fiscal_year: int
    status: Status
    amount: Decimal | None
    amount_basis: AmountBasis
    uncapped_amount: Decimal | None
    reasons: tuple[ClauseResult, ...]
    missing_facts: tuple[str, ...]
    steps: tuple[Step, ...] = ()
    caps_applied: tuple[CapApplied, ...] = ()
    facts_read: Mapping[str, Any] = field(default_factory=dict)
    recognition_key: str | None = None
    exclusivity_group: str | None = None
    #: Findings a reviewer must record before the answer can settle (keys, sorted).
    findings_required: tuple[str, ...] = ()
    #: The recorded findings the answer used: who found what, and when.
    findings_used: Mapping[str, Any] = field(default_factory=dict)

    def __init__(
        self,
        policy_id: str,
        policy_version: str | None,
        fiscal_year: int,
        status: Status,
        amount: Decimal | None,
        amount_basis: AmountBasis,
        uncapped_amount: Decimal | None,
        reasons: tuple[ClauseResult, ...],
        missing_facts: tuple[str, ...],
        steps: tuple[Step, ...] = (),
        caps_applied: tuple[CapApplied, ...] = (),
        facts_read: Mapping[str, Any] | None = None,
        recognition_key: str | None = None,
        exclusivity_group: str | None = None,
        findings_required: tuple[str, ...] = (),
        findings_used: Mapping[str, Any] | None = None,
    ) -> None:
        fields = self.__dict__
        fields["policy_id"] = policy_id
        fields["policy_version"] = policy_version
        fields["fiscal_year"] = fiscal_year
        fields["status"] = status
        fields["amount"] = amount
        fields["amount_basis"] = amount_basis
        fields["uncapped_amount"] = uncapped_amount
        fields["reasons"] = reasons
        fields["missing_facts"] = missing_facts
        fields["steps"] = steps
        fields["caps_applied"] = caps_applied
        fields["facts_read"] = {} if facts_read is None else facts_read
        fields["recognition_key"] = recognition_key
        fields["exclusivity_group"] = exclusivity_group
        fields["findings_required"] = findings_required
        fields["findings_used"] = {} if findings_used is None else findings_used


_AS_THEY_ARE = frozenset({str, int, bool, float})


def as_json(value: Any) -> Any:
    """Serialise engine results for JSON: Decimals and dates as strings, enums by value."""
    kind = type(value)
    if kind in _AS_THEY_ARE or value is None:
        return value  # the common leaves first (an import's audit records hold 100,000s)
    if kind is dict:
        # The leaf test inline: most values are plain (an import's audit records hold
        # some 400,000), and a call for each was most of the walk.
        return {
            k if type(k) is str else str(k): v
            if type(v) in _AS_THEY_ARE or v is None
            else as_json(v)
            for k, v in value.items()
        }
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Tri):
        return value.met
    if isinstance(value, Mapping):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: as_json(getattr(value, name)) for name in value.__dataclass_fields__}
    return value
