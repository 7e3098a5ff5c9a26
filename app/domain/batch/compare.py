"""Exact comparisons of population numbers, as the per-profile engine compares them.

``compare_const`` turns ``value op constant`` into one integer comparison per row;
``compare`` cross-multiplies quotients (exact, and provably in agreement with the
engine's 28-digit ``Decimal`` quotients) and trusts floats only outside their error
bound, marking the rest ``unsure``.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np

from app.domain.batch.build import scaled
from app.domain.batch.columns import Bools
from app.domain.batch.numbers import (
    Approx,
    Array,
    Fixed,
    Num,
    Op,
    Ratio,
    Unsupported,
    approx,
    both,
    either,
    multiply,
    rescale,
    times,
)


def compare_const(v: Array | int, k: int, op: Op, c: Decimal) -> Bools:
    """``v / 10**k  op  c`` exactly, for integer ``v``, by an integer threshold."""
    exact = scaled(c)
    if exact is None:
        raise Unsupported(f"constant {c} needs more decimals than a column keeps")
    cv, ck = exact
    if ck <= k:
        t_num, t_den = cv * 10 ** (k - ck), 1
    else:
        t_num, t_den = cv, 10 ** (ck - k)
    floor, ceil = t_num // t_den, -((-t_num) // t_den)
    arr = np.asarray(v)
    if op == "ge":
        return np.asarray(arr >= ceil)
    if op == "gt":
        return np.asarray(arr > floor)
    if op == "le":
        return np.asarray(arr <= floor)
    if op == "lt":
        return np.asarray(arr < ceil)
    equal = np.asarray(arr == floor) if floor == ceil else np.zeros(arr.shape, dtype=bool)
    return equal if op == "eq" else ~equal


def compare(left: Num, right: Num, op: Op) -> tuple[Bools, Bools | None]:
    """The verdict of ``left op right`` on every row, and the rows it cannot vouch for.

    Exact for ``Fixed`` and ``Ratio``: ``nL/dL op nR/dR`` becomes ``nL*dR op nR*dL``
    (flipped where the denominators' signs differ). That also agrees with the engine's
    rounded quotients: if the two sides differ, they differ by at least
    ``10**-s / |dL*dR|`` while the rounding moves them by at most
    ``5e-28 * (|L| + |R|)``; with both cross products below 2**63 at scale ``s`` the
    first is always the larger. Floats are trusted only outside their error bound.
    """
    if isinstance(left, Approx) or isinstance(right, Approx):
        a, b = approx(left), approx(right)
        diff = np.asarray(a.x - b.x)
        doubtful = np.abs(diff) <= (np.asarray(a.err) + b.err) * 1e3 + 1e-300
        known = both(a.known, b.known)
        if known is not None:
            doubtful = doubtful & known  # an unknown side settles nothing: no doubt
        return _verdict(diff > 0, diff < 0, op), either(
            either(a.unsure, b.unsure), np.asarray(doubtful)
        )
    if isinstance(right, Fixed) and isinstance(right.v, int) and isinstance(left, Fixed):
        return np.asarray(compare_const(left.v, left.k, op, _value(right))), left.unsure
    nl, dl = (left.n, left.d) if isinstance(left, Ratio) else (left, None)
    nr, dr = (right.n, right.d) if isinstance(right, Ratio) else (right, None)
    assert isinstance(nl, Fixed) and isinstance(nr, Fixed)
    if dr is None and dl is not None and isinstance(nr.v, int):
        # n/d op c: n * 10**a op d * c * 10**b, both factors divided by their gcd (for
        # 5 % that leaves n * 20 op d: one multiplication, not two).
        k = max(nl.k, dl.k + nr.k)
        lf, rf = 10 ** (k - nl.k), nr.v * 10 ** (k - dl.k - nr.k)
        g = math.gcd(lf, rf) or 1
        p1, p2 = times(nl, lf // g, k), times(dl, rf // g, k)
    else:
        p1 = nl if dr is None else multiply(nl, dr)
        p2 = nr if dl is None else multiply(nr, dl)
        k = max(p1.k, p2.k)
        p1, p2 = rescale(p1, k), rescale(p2, k)
    verdict = _apply(p1.v, op, p2.v)
    negative: Any = None
    for d in (dl, dr):
        if d is not None and not d.nonneg:
            below = np.asarray(d.v) < 0
            negative = below if negative is None else negative ^ below
    if negative is not None and np.any(negative):
        # A negative denominator turns the inequality around.
        verdict = np.where(negative, _apply(p1.v, _FLIPPED[op], p2.v), verdict)
    unsure = either(either(p1.unsure, p2.unsure), either(left.unsure, right.unsure))
    return np.asarray(verdict, dtype=bool), unsure


_FLIPPED: dict[Op, Op] = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge", "eq": "eq", "ne": "ne"}


def _apply(a: Any, op: Op, b: Any) -> Bools:
    out = {
        "gt": np.greater,
        "ge": np.greater_equal,
        "lt": np.less,
        "le": np.less_equal,
        "eq": np.equal,
        "ne": np.not_equal,
    }[op](a, b)
    return np.asarray(out)


def _value(a: Fixed) -> Decimal:
    assert isinstance(a.v, int)
    return Decimal(a.v).scaleb(-a.k)


def _verdict(greater: Any, less: Any, op: Op) -> Bools:
    out = {
        "gt": lambda: greater,
        "lt": lambda: less,
        "ge": lambda: ~less,
        "le": lambda: ~greater,
        "eq": lambda: ~greater & ~less,
        "ne": lambda: greater | less,
    }[op]()
    return np.asarray(out, dtype=bool)
