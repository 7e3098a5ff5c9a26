"""A shard's totals as JSON, kept on its row until the run's last shard adds them up.

Counts are integers and amounts decimal strings, so the sum over shards is exactly
the sum one worker would have made over the whole population; the simulation's named
gainers and losers are joined in shard order, which is enterprise order, and cut
where one pass would have stopped listing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.domain.money import ZERO
from app.services.matching_columns import Tally


@dataclass
class Totals:
    """What a shard (or the whole run) adds up: tallies per policy, and for a
    simulation the scenario's tallies, the movers named and the movers counted."""

    tallies: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    scenario: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    movers: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"gain": [], "lose": []}
    )
    counts: dict[str, int] = field(default_factory=lambda: {"gain": 0, "lose": 0})

    def json(self) -> dict[str, Any]:
        return {
            "tallies": _tallies_json(self.tallies),
            "scenario": _tallies_json(self.scenario),
            "movers": self.movers,
            "counts": self.counts,
        }


def _tallies_json(tallies: Mapping[str, Tally]) -> dict[str, Any]:
    return {
        pid: {
            "eligible": t.eligible,
            "undetermined": t.undetermined,
            "amount": str(t.amount),
            "by_payer": {payer: str(amount) for payer, amount in t.by_payer.items()},
        }
        for pid, t in tallies.items()
    }


def _add_tallies(into: dict[str, Tally], found: Mapping[str, Any]) -> None:
    for pid, t in found.items():
        tally = into[pid]
        tally.add_counts(t["eligible"], t["undetermined"])
        tally.amount += Decimal(t["amount"])
        for payer, amount in t["by_payer"].items():
            tally.by_payer[payer] = tally.by_payer.get(payer, ZERO) + Decimal(amount)


def combine(partials: Sequence[Mapping[str, Any]], listed: int) -> Totals:
    """The run's totals from its shards' (in shard order), naming at most ``listed``
    gainers and losers each."""
    totals = Totals()
    for partial in partials:
        _add_tallies(totals.tallies, partial.get("tallies", {}))
        _add_tallies(totals.scenario, partial.get("scenario", {}))
        for side in ("gain", "lose"):
            totals.counts[side] += partial.get("counts", {}).get(side, 0)
            room = listed - len(totals.movers[side])
            totals.movers[side] += partial.get("movers", {}).get(side, [])[: max(room, 0)]
    return totals
