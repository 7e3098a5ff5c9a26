"""Caps: limits on an award that come after its formula.

Two kinds: limits read from the award history (at most N fiscal years; once per
enterprise or per recognition; one award per policy and fiscal year), which can make
an otherwise eligible enterprise ineligible; and the ceiling on the amount of the one
award a policy pays an enterprise in a fiscal year.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from app.catalog.schema import Caps
from app.domain.expressions import Params, constant
from app.domain.money import yuan
from app.domain.results import Bilingual, CapApplied, ClauseResult, PriorAward, Tri


def recognition_key(
    profile: Mapping[str, Any], kind: str, levels: Collection[str] | None = None
) -> str | None:
    """``kind:granted_on`` of the latest recognition of that kind the profile holds.

    With ``levels``, only grants at those levels count: a later grant at a level the
    policy does not reward must not look like a new recognition to pay again.
    """
    held = profile.get("recognitions")
    if not isinstance(held, list):
        return None
    dates = sorted(
        str(r.get("granted_on") or "")
        for r in held
        if isinstance(r, Mapping)
        and r.get("kind") == kind
        # Compared as the recognition clause compares (equality, not a hash): a level
        # that is a list or a mapping in a hand-made profile is no level, not a crash.
        and (levels is None or any(r.get("level") == level for level in levels))
    )
    return f"{kind}:{dates[-1]}" if dates else None


def award_recognition_key(
    profile: Mapping[str, Any], kinds: str | Sequence[str], rule: Any
) -> str | None:
    """The key of the recognition an award pays: the latest grant among ``kinds``.

    With several kinds (a green factory, then a green supply chain a year later), each
    new listing is a new recognition to pay once; an award keyed by one never blocks
    the next.
    """
    keys = [
        key
        for kind in ([kinds] if isinstance(kinds, str) else kinds)
        if (key := recognition_key(profile, kind, rewarded_levels(rule, kind))) is not None
    ]
    return max(keys, key=lambda k: (k.rsplit(":", 1)[1], k), default=None)


def history_limits(
    caps: Caps,
    params: Params,
    policy_id: str,
    fiscal_year: int,
    own: Sequence[PriorAward],
    key: str | None,
) -> list[ClauseResult]:
    """Clauses that the award history settles; a false one makes the policy ineligible."""
    results: list[ClauseResult] = []
    this_year = [a for a in own if a.fiscal_year == fiscal_year]
    if this_year:
        results.append(
            ClauseResult(
                "caps.one_award_per_year",
                Tri.FALSE,
                Bilingual(
                    f"{fiscal_year} 年度已获该项奖励({yuan(this_year[0].amount)} 元),不重复享受",
                    f"already awarded for {fiscal_year} ({yuan(this_year[0].amount)} yuan): "
                    "one award per policy and fiscal year",
                ),
            )
        )
    if caps.max_years is not None:
        limit = constant(caps.max_years, params)
        years = sorted({a.fiscal_year for a in own if a.fiscal_year != fiscal_year})
        shown = ", ".join(str(y) for y in years) or "—"
        met = Decimal(len(years)) < limit
        results.append(
            ClauseResult(
                "caps.max_years",
                Tri.of(met),
                Bilingual(
                    f"最多享受 {limit:f} 个年度(已享受年度:{shown})",
                    f"at most {limit:f} fiscal years (awarded in: {shown})",
                ),
                actual=Decimal(len(years)),
                required=limit,
                op="lt",
            )
        )
    if caps.once_per == "enterprise":
        earlier = [a for a in own if a.fiscal_year != fiscal_year]
        results.append(
            ClauseResult(
                "caps.once_per_enterprise",
                Tri.of(not earlier),
                Bilingual(
                    "每家企业限享受一次"
                    + (f"(已于 {earlier[0].fiscal_year} 年度享受)" if earlier else ""),
                    "once per enterprise"
                    + (f" (awarded for {earlier[0].fiscal_year})" if earlier else ""),
                ),
            )
        )
    if caps.once_per == "recognition":
        earlier = [a for a in own if key is not None and a.recognition_key == key]
        results.append(
            ClauseResult(
                "caps.once_per_recognition",
                Tri.of(not earlier),
                Bilingual(
                    f"同一认定限奖励一次({key or '—'})" + ("，已奖励" if earlier else ""),
                    f"once per recognition ({key or '—'})"
                    + (": already awarded" if earlier else ""),
                ),
            )
        )
    return results


def apply_ceilings(amount: Decimal, caps: Caps, params: Params) -> tuple[Decimal, list[CapApplied]]:
    """The amount after the per-award ceiling, and the ceiling checked.

    An earlier award of the same policy in the same fiscal year never reaches this
    point: ``history_limits`` has already made the enterprise ineligible for a second
    one, so no ceiling is shared between awards.
    """
    applied: list[CapApplied] = []
    if caps.per_award is not None:
        limit = constant(caps.per_award, params)
        after = min(amount, limit)
        applied.append(
            CapApplied(
                "per_award",
                limit,
                amount,
                after,
                Bilingual(f"单项奖励上限 {yuan(limit)} 元", f"per-award cap {yuan(limit)} yuan"),
            )
        )
        amount = after
    return amount, applied


def in_force(effective_from: date, effective_to: date | None, fiscal_year: int) -> bool:
    """A version applies to a fiscal year it overlaps."""
    return effective_from <= date(fiscal_year, 12, 31) and (
        effective_to is None or effective_to >= date(fiscal_year, 1, 1)
    )


def rewarded_levels(rule: Any, kind: str) -> set[str] | None:
    """The levels of ``kind`` the eligibility rule asks for (None: any level)."""
    levels: set[str] = set()
    any_level = False
    stack = [rule]
    while stack:
        node = stack.pop()
        test = getattr(node, "recognition", None)
        if test is not None and test.kind == kind:
            if test.levels:
                levels.update(test.levels)
            else:
                any_level = True
        for attr in ("all", "any"):
            stack.extend(getattr(node, attr, None) or [])
        if getattr(node, "not_", None) is not None:
            stack.append(node.not_)
    return None if any_level or not levels else levels
