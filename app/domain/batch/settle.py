"""From uncapped amounts to fen, and exclusivity groups, over whole columns.

``settle_amounts`` is ``engine.evaluate``'s tail for rows without award history: a
negative amount becomes zero, the ceilings apply (per award; per enterprise and year,
whose room is the whole limit when nothing was awarded yet), a ceiling that leaves
nothing makes the policy ineligible, and the amount is rounded to the fen half-up,
once. ``settle_groups`` is ``exclusivity.apply_exclusivity`` without prior awards.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from app.domain.batch.columns import Bools
from app.domain.batch.numbers import (
    Approx,
    Fixed,
    Num,
    approx,
    constant,
    either,
    minimum,
    times,
)

Fen = npt.NDArray[np.int64]
NO_AMOUNT = -1
INELIGIBLE, ELIGIBLE, UNDETERMINED = 0, 1, 2


def settle_amounts(
    amount: Num, ceilings: Sequence[Decimal], n: int
) -> tuple[Fen, Bools, Bools | None]:
    """Per row: the amount in fen, whether the ceilings left nothing, unsure rows."""
    if isinstance(amount, Fixed):
        return _settle_exact(amount, ceilings, n)
    return _settle_float(approx(amount), ceilings, n)


def _settle_exact(
    amount: Fixed, ceilings: Sequence[Decimal], n: int
) -> tuple[Fen, Bools, Bools | None]:
    uncapped = Fixed(None, None, amount.unsure, np.maximum(amount.v, 0), amount.k, amount.bound)
    after: Fixed = uncapped
    for ceiling in ceilings:
        capped = minimum(after, constant(ceiling))
        assert isinstance(capped, Fixed)
        after = capped
    positive = np.asarray(uncapped.v) > 0
    exhausted = np.broadcast_to(np.asarray(after.v) <= 0, (n,)) & positive
    if after.k <= 2:
        fen_fixed = times(after, 10 ** (2 - after.k), 2)
        fen = np.asarray(fen_fixed.v, dtype=np.int64)
        unsure = fen_fixed.unsure
    else:
        unit = 10 ** (after.k - 2)
        v = np.asarray(after.v, dtype=np.int64)
        fen = np.sign(v) * ((np.abs(v) + unit // 2) // unit)
        unsure = after.unsure
    return np.broadcast_to(fen, (n,)).astype(np.int64), np.asarray(exhausted), unsure


def _settle_float(
    amount: Approx, ceilings: Sequence[Decimal], n: int
) -> tuple[Fen, Bools, Bools | None]:
    x = np.maximum(np.broadcast_to(amount.x, (n,)), 0.0)
    # ``err`` bounds the float's distance to the exact amount with room to spare (each
    # operation is charged 1e-15 where IEEE rounding costs 1.1e-16); 16 times more is
    # a margin for anything unaccounted, at a cost of one re-evaluated row in ~10**5.
    err = np.broadcast_to(np.asarray(amount.err) * 16, (n,))
    after = x
    for ceiling in ceilings:
        after = np.minimum(after, float(ceiling))
    # Near a ceiling both sides round to the same fen (unless the ceiling sits near half
    # a fen, which the tie test below catches); only the sign of the amount and half-fen
    # ties need the exact value.
    doubtful = ((x > 0) & (x <= err)) | (after < 0)
    exhausted = (after <= 0) & (x > 0)
    cents = after * 100.0
    fen = np.floor(cents + 0.5)
    # Half a fen is where half-up rounding turns: too close to it, the float cannot tell.
    tie = np.abs(cents - np.floor(cents) - 0.5) <= err * 100.0 + np.abs(cents) * 1e-15
    doubtful |= tie | (cents >= 2.0**52)
    fen = np.where(cents >= 2.0**52, 0, fen).astype(np.int64)
    return fen, exhausted, either(amount.unsure, doubtful)


def settle_groups(
    members: Sequence[tuple[str, npt.NDArray[np.int8], Fen]], top_up: bool
) -> list[Bools]:
    """For one group, the rows each member loses to another (in ``members``' order).

    The eligible members with an amount compete; the highest amount wins, ties go to
    the smaller policy id. Under ``top_up`` with nothing paid before, the winner pays
    its whole amount, so a winner of 0.00 is excluded too (nothing to top up).
    """
    order = sorted(range(len(members)), key=lambda i: members[i][0])
    best = np.full(len(members[0][1]), -1, dtype=np.int64)
    for _, status, fen in members:
        competing = (status == ELIGIBLE) & (fen >= 0)
        best = np.where(competing, np.maximum(best, fen), best)
    won = np.zeros(len(best), dtype=bool)
    lost: list[Bools] = [np.zeros(len(best), dtype=bool) for _ in members]
    for i in order:
        _, status, fen = members[i]
        competing = (status == ELIGIBLE) & (fen >= 0)
        winner = competing & (fen == best) & ~won
        won |= winner
        lost[i] = competing & ~winner
        if top_up:
            lost[i] |= winner & (fen == 0)
    return lost
