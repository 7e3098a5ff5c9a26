"""Exclusivity groups: no double award for the same item.

Two modes, both named in the catalog: ``highest_only`` (从高从优不重复: only the policy
that pays most is paid, and never a second one of the group in the same fiscal year)
and ``top_up`` (就高补差: a later or lower award pays only the difference up to the
highest of the group).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from app.domain.money import ZERO, to_fen, yuan
from app.domain.results import Bilingual, CapApplied, ClauseResult, Evaluation, PriorAward, Tri


def apply_exclusivity(
    evaluations: list[Evaluation],
    modes: Mapping[str, str],
    history: Sequence[PriorAward],
) -> list[Evaluation]:
    """Settle each group; ``modes`` maps a group to its mode."""
    members: dict[str, list[int]] = defaultdict(list)
    for i, ev in enumerate(evaluations):
        if ev.exclusivity_group and ev.status == "eligible" and ev.amount is not None:
            members[ev.exclusivity_group].append(i)
    result = list(evaluations)
    for group, indices in members.items():
        fiscal_year = evaluations[indices[0]].fiscal_year
        prior = [
            a
            for a in history
            if a.exclusivity_group == group
            and a.fiscal_year == fiscal_year
            and a.policy_id not in {evaluations[i].policy_id for i in indices}
        ]
        ranked = sorted(
            indices, key=lambda i: (-(evaluations[i].amount or ZERO), evaluations[i].policy_id)
        )
        if modes.get(group) == "top_up":
            _top_up(result, group, ranked, prior)
        else:
            _highest_only(result, group, ranked, prior)
    return result


def _exclude(ev: Evaluation, text: Bilingual) -> Evaluation:
    clause = ClauseResult(f"exclusivity.{ev.exclusivity_group}", Tri.FALSE, text)
    return replace(
        ev, status="ineligible", amount=None, reasons=(*ev.reasons, clause), missing_facts=()
    )


def _highest_only(
    result: list[Evaluation], group: str, ranked: list[int], prior: list[PriorAward]
) -> None:
    if prior:
        paid = prior[0]
        for i in ranked:
            result[i] = _exclude(
                result[i],
                Bilingual(
                    f"同组({group})已于本年度获 {paid.policy_id} 奖励,从高从优不重复享受",
                    f"already awarded {paid.policy_id} in group {group} this year: highest only, not twice",
                ),
            )
        return
    winner = result[ranked[0]]
    for i in ranked[1:]:
        result[i] = _exclude(
            result[i],
            Bilingual(
                f"与 {winner.policy_id} 同属 {group},从高从优不重复享受",
                f"same group {group} as {winner.policy_id}, which pays more: highest only, not twice",
            ),
        )


def _top_up(
    result: list[Evaluation], group: str, ranked: list[int], prior: list[PriorAward]
) -> None:
    paid = max((a.amount for a in prior), default=ZERO)
    for position, i in enumerate(ranked):
        ev = result[i]
        assert ev.amount is not None
        due = to_fen(max(ev.amount - paid, ZERO)) if position == 0 else Decimal("0.00")
        if due == 0:
            result[i] = _exclude(
                ev,
                Bilingual(
                    f"同组({group})已获或应获更高奖励 {yuan(max(paid, result[ranked[0]].amount or ZERO))} 元,就高补差后无差额",
                    f"group {group} already pays as much or more: topping up to the highest leaves nothing",
                ),
            )
            continue
        cap = CapApplied(
            "exclusivity_top_up",
            paid,
            ev.amount,
            due,
            Bilingual(
                f"就高补差:扣除同组已获 {yuan(paid)} 元",
                f"top-up: less {yuan(paid)} yuan already paid in {group}",
            ),
        )
        result[i] = replace(ev, amount=due, caps_applied=(*ev.caps_applied, cap))
