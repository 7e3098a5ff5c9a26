"""Which facts the projection keeps as typed columns, and how a profile maps onto them.

The facts are ``policy_catalog/facts.yaml``'s (a test holds ``FACTS`` equal to it, so
adding a fact there fails until it is added here, with a migration adding its column).
Every reading follows ``app.domain.facts.Facts`` and the batch builder: ``null`` is
missing, numbers through ``as_decimal``, dates through ``as_day``. A value the columns
cannot hold exactly (a word where a number belongs, a date not written in ISO form,
more decimals than the column keeps) makes the whole row *inexact*: matching runs then
evaluate that enterprise from its profile document, so no answer ever changes.

Numbers are kept as integers scaled by ``10**scale`` (``SCALES``): exact on SQLite as
on PostgreSQL, and read straight into the batch engine's int64 columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.domain.facts import as_day
from app.domain.money import as_decimal

#: ``(path, type)`` of every fact of ``policy_catalog/facts.yaml``, in its order.
FACTS: tuple[tuple[str, str], ...] = (
    *(("kind", "enum"), ("registered_on", "date"), ("application_date", "date")),
    *(("location.province", "enum"), ("location.city", "enum"), ("location.district", "enum")),
    *(("location.park", "enum"), ("industry", "enum"), ("industry_chain", "enum")),
    *(("hte_field", "enum"), ("employees", "integer"), ("tech_staff", "integer")),
    *(("rd_staff", "integer"), ("recognitions", "list"), ("recognitions.*.kind", "enum")),
    *(("recognitions.*.level", "enum"), ("recognitions.*.granted_on", "date")),
    *(("recognitions.*.expires_on", "date"), ("ip.class_i", "integer")),
    *(("ip.class_ii", "integer"), ("own_rd_institution", "boolean")),
    *(("innovation_score", "score"), ("tech_sme_score", "score")),
    *(("specialized_sme_score", "score"), ("niche_years", "integer")),
    *(("national_market_share", "share"), ("own_brand", "boolean")),
    *(("compliance.serious_dishonesty", "boolean"), ("compliance.major_incident_last_year", "boolean")),
    *(("tax.book_based", "boolean"), ("lease.area_m2", "decimal"), ("lease.start_on", "date")),
    *(("years.*.revenue", "money"), ("years.*.main_business_revenue", "money")),
    *(("years.*.high_tech_revenue", "money"), ("years.*.operating_income", "money")),
    *(("years.*.rd_expense", "money"), ("years.*.rd_expense_domestic", "money")),
    *(("years.*.taxable_income", "money"), ("years.*.total_assets", "money")),
    *(("years.*.total_liabilities", "money"), ("years.*.equity_raised", "money")),
    *(("years.*.rent_paid", "money"), ("years.*.performance.*", "score")),
    *(("years.*.incubated_high_tech_enterprises", "integer"), ("years.*.incubated_tech_smes", "integer")),
    *(("years.*.rd_expense_q4", "money"), ("years.*.ic_rd_list", "boolean")),
    *(("years.*.machine_tool_rd_list", "boolean"), ("years.*.gross_income", "money")),
    *(("years.*.non_taxable_income", "money"), ("years.*.national_science_award_top3", "boolean")),
    *(("years.*.national_science_award_rank", "integer"), ("years.*.provincial_science_award_rank", "integer")),
    *(("years.*.maker_china", "enum"), ("years.*.provincial_rd_institution", "boolean")),
    *(("years.*.standard_lead_top5", "boolean"), ("years.*.research_misconduct", "boolean")),
    *(("restricted_products", "boolean"), ("innovative_sme_score.innovation", "score")),
    *(("innovative_sme_score.growth", "score"), ("innovative_sme_score.specialization", "score")),
    *(("specialized_development_score", "score"), ("years.*.major_incident", "boolean")),
    *(("years.*.tax_evasion", "boolean"), ("foreign_invested", "boolean")),
    *(("overseas_rd_institution", "boolean"), ("innovation_center_bid", "boolean")),
    *(("years.*.loan_interest_paid", "money"),),
)  # fmt: skip

NUMBER_TYPES = frozenset({"integer", "money", "decimal", "score", "share"})
SCALES = {"integer": 0, "money": 2, "decimal": 6, "score": 6, "share": 6}
#: Bound of a stored scaled number (the batch engine's ``LIMIT``).
LIMIT = 2**62
_YEARS = "years.*."


@dataclass(frozen=True)
class Fact:
    """A fact kept as a column: its path (relative to a year for year facts)."""

    path: str
    type: str
    column: str = field(init=False)
    scale: int = field(init=False)
    parts: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column", self.path.replace(".", "__"))
        object.__setattr__(self, "scale", SCALES.get(self.type, 0))
        object.__setattr__(self, "parts", tuple(self.path.split(".")))


#: Facts of the profile itself, one column each in ``enterprise_facts``.
SCALAR = tuple(Fact(p, t) for p, t in FACTS if not p.startswith(("years.", "recognitions")))
#: Facts of a fiscal year, one column each in ``enterprise_fact_years``.
YEARLY = tuple(
    Fact(p[len(_YEARS) :], t) for p, t in FACTS if p.startswith(_YEARS) and not p.endswith(".*")
)
#: Year facts keyed by a word (``years.*.performance.*``): rows of ``enterprise_fact_year_scores``.
KEYED = tuple(
    Fact(p[len(_YEARS) : -2], t) for p, t in FACTS if p.startswith(_YEARS) and p.endswith(".*")
)

_MISSING = object()
_YEAR_FACTS = {f.path: f for f in YEARLY if len(f.parts) == 1}
_YEAR_GROUPS: dict[str, list[Fact]] = {}
for _fact in YEARLY:
    if len(_fact.parts) > 1:
        _YEAR_GROUPS.setdefault(_fact.parts[0], []).append(_fact)
_NO_YEAR_VALUES = {f.column: None for f in YEARLY}
#: Longest word the projection holds (longer: the row is inexact).
WORD = 200
_PLAIN = re.compile(r"-?\d{1,15}(?:\.(\d{1,6}))?\Z")


class Inexact(Exception):
    """The profile holds a value the columns cannot hold exactly."""


@dataclass
class Projection:
    """One profile as the rows of the projection tables (without the enterprise id)."""

    facts: dict[str, Any]
    years: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    recognitions: list[dict[str, Any]] = field(default_factory=list)


def project(profile: Mapping[str, Any]) -> Projection:
    """The profile's facts as column values; ``facts["exact"]`` says whether they are all."""
    try:
        return _project(profile)
    except Inexact:
        out = _blank()
        out.facts["exact"] = False
        return out


def _blank() -> Projection:
    facts: dict[str, Any] = {f.column: None for f in SCALAR}
    facts["recognitions_listed"] = False
    return Projection(facts)


def _project(profile: Mapping[str, Any]) -> Projection:
    out = _blank()
    _walk(out.facts, profile, _TREE)
    out.facts["exact"] = True
    held = profile.get("recognitions")
    if held is not None:
        if not isinstance(held, list):
            raise Inexact
        out.facts["recognitions_listed"] = True
        out.recognitions = [_recognition(i, item) for i, item in enumerate(held)]
    years = profile.get("years")
    if years is None:
        return out
    if not _mapping(years):
        raise Inexact
    for key, entry in years.items():
        if not (isinstance(key, str) and key.isascii() and key.isdigit() and str(int(key)) == key):
            raise Inexact  # a key ``first_time_above`` would read differently from a path
        if not _mapping(entry) or int(key) >= 2**31:
            raise Inexact
        year = int(key)
        values: dict[str, Any] = {"year": year, **_NO_YEAR_VALUES}
        for name, raw in entry.items():
            found = _YEAR_FACTS.get(name)
            if found is not None:
                if raw is not None:
                    values[found.column] = _READ[found.type](found, raw)
            elif name in _YEAR_GROUPS:  # a nested year fact (none today): read by path
                for nested in _YEAR_GROUPS[name]:
                    values[nested.column] = value_of(nested, _get(entry, nested.parts))
        out.years.append(values)
        for fact in KEYED:
            scores = entry.get(fact.path)
            if scores is None:
                continue
            if not _mapping(scores):
                raise Inexact
            for name, raw in scores.items():
                if not isinstance(name, str) or "." in name or len(name) > WORD:
                    raise Inexact
                value = value_of(fact, None if raw is None else raw)
                if value is not None:
                    out.scores.append(
                        {"year": year, "name": fact.path, "key": name, "value": value}
                    )
    return out


def _recognition(position: int, item: Any) -> dict[str, Any]:
    if not isinstance(item, Mapping) or not isinstance(item.get("kind"), str):
        raise Inexact
    level = item.get("level")
    if level is not None and not isinstance(level, str):
        raise Inexact
    if len(item["kind"]) > WORD or (level is not None and len(level) > WORD):
        raise Inexact
    return {
        "position": position,
        "kind": item["kind"],
        "level": level,
        "granted_on": _day(item.get("granted_on", _MISSING)),
        "expires_on": _day(item.get("expires_on", _MISSING)),
    }


def _walk(values: dict[str, Any], node: Mapping[str, Any], tree: Mapping[str, Any]) -> None:
    """The facts at ``tree``'s paths under ``node``, visiting only the keys present."""
    for key, raw in node.items():
        leaf = tree.get(key)
        if leaf is None:
            continue
        if type(leaf) is Fact:
            # value_of, its dispatch inlined: a profile has a few dozen facts
            values[leaf.column] = None if raw is None else _READ[leaf.type](leaf, raw)
        elif _mapping(raw):
            _walk(values, raw, leaf)


def _tree(facts: tuple[Fact, ...]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for fact in facts:
        node = tree
        for part in fact.parts[:-1]:
            node = node.setdefault(part, {})
        node[fact.parts[-1]] = fact
    return tree


def _get(node: Any, parts: tuple[str, ...]) -> Any:
    for part in parts:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return _MISSING
    return _MISSING if node is None else node


def _number(fact: Fact, raw: Any) -> Any:
    # Fast path for what profiles hold: plain decimal strings and small integers.
    if type(raw) is str and (plain := _PLAIN.match(raw)) is not None:
        decimals = len(plain.group(1) or "")
        if decimals <= fact.scale:
            return int(raw.replace(".", "")) * 10 ** (fact.scale - decimals)
    elif type(raw) is int and -(10**15) < raw < 10**15:
        return raw * 10**fact.scale
    number = as_decimal(raw)
    if number is None:
        raise Inexact
    scaled = number.scaleb(fact.scale)
    if scaled != scaled.to_integral_value() or abs(scaled) >= LIMIT:
        raise Inexact
    return int(scaled)


def _boolean(fact: Fact, raw: Any) -> bool:
    if type(raw) is not bool:
        raise Inexact
    return raw


def _word(fact: Fact, raw: Any) -> str:
    if type(raw) is not str or len(raw) > WORD:  # enum, text
        raise Inexact
    return raw


def _mapping(value: Any) -> bool:
    # dict first: the abstract class's check costs more than the walk itself
    return type(value) is dict or isinstance(value, Mapping)


def _day(raw: Any) -> date | None:
    if raw is _MISSING or raw is None:
        return None
    day = as_day(raw)
    if day is None or not isinstance(raw, str) or raw != day.isoformat():
        raise Inexact
    return day


_TREE = _tree(SCALAR)
#: How a raw value becomes a column value, by fact type (one look-up per value).
_READERS: dict[str, Callable[[Fact, Any], Any]] = {
    **dict.fromkeys(NUMBER_TYPES, _number),
    "boolean": _boolean,
    "date": lambda _fact, raw: _day(raw),
}


#: The reader of every fact type, words (enum, text) included.
_READ: dict[str, Callable[[Fact, Any], Any]] = {
    **{f.type: _word for f in (*SCALAR, *YEARLY, *KEYED)},
    **_READERS,
}


def value_of(fact: Fact, raw: Any) -> Any:
    """The column value of a raw profile value (``None``: missing); raises ``Inexact``."""
    if raw is _MISSING or raw is None:
        return None
    reader = _READERS.get(fact.type)
    return _word(fact, raw) if reader is None else reader(fact, raw)  # enum, text: words
