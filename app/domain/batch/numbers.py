"""Numbers over the population, settled exactly as the per-profile engine settles them.

The per-profile engine computes in ``Decimal``: sums and products of facts are exact
there, a quotient is rounded to 28 digits. Three representations follow from that:

* ``Fixed``: an exact number ``v / 10**k`` with ``v`` an int64 array (or an int for a
  constant). Sums and products stay exact; a row whose integers would pass ``LIMIT``
  is marked ``unsure`` instead of overflowing.
* ``Ratio``: an exact quotient ``n / d`` of two ``Fixed``. Comparing it by
  cross-multiplication is exact, and cannot disagree with the rounded ``Decimal``
  quotient: when the cross products fit in int64, two unequal sides differ by far more
  than the 28-digit rounding (see ``compare``).
* ``Approx``: a float with an error bound, for what has no exact integer form (average
  growth, quotients inside products). A comparison or a rounding that falls within the
  bound is ``unsure``: that row goes to the per-profile engine, so answers stay exact.

Every number also says per row whether it is known (the engine has a ``Decimal``) and
whether it is undefined (a share of a zero total), as ``expressions.Value`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from app.domain.batch.build import scaled
from app.domain.batch.columns import LIMIT, Bools

Array = npt.NDArray[Any]
Op = Literal["eq", "ne", "gt", "ge", "lt", "le"]
#: Relative error allowed to a float computation before its verdict is trusted.
TOLERANCE = 1e-12


class Unsupported(Exception):
    """A catalog construct the vectorised engine does not compile (the policy falls back)."""


def both(a: Bools | None, b: Bools | None) -> Bools | None:
    """AND of masks where ``None`` means every row."""
    if a is None:
        return b
    return a if b is None else a & b


def either(a: Bools | None, b: Bools | None) -> Bools | None:
    """OR of masks where ``None`` means no row."""
    if a is None:
        return b
    return a if b is None else a | b


@dataclass(frozen=True, eq=False)
class Num:
    known: Bools | None  # None: every row
    undef: Bools | None  # None: no row
    unsure: Bools | None  # None: no row


@dataclass(frozen=True, eq=False)
class Fixed(Num):
    v: Array | int
    k: int
    bound: int


@dataclass(frozen=True, eq=False)
class Ratio(Num):
    n: Fixed
    d: Fixed


@dataclass(frozen=True, eq=False)
class Approx(Num):
    x: Array | float
    err: Array | float


def constant(value: Decimal) -> Fixed:
    exact = scaled(value)
    if exact is None or abs(exact[0]) >= LIMIT:
        raise Unsupported(f"constant {value} has no exact int64 form")
    return Fixed(None, None, None, exact[0], exact[1], abs(exact[0]))


ONE = constant(Decimal(1))


def times(a: Fixed, factor: int, k: int) -> Fixed:
    """``a.v * factor`` at scale ``k``; rows that would pass ``LIMIT`` become unsure."""
    bound, v, unsure = a.bound * abs(factor), a.v, a.unsure
    if factor == 1:
        return replace(a, k=k)
    if bound >= LIMIT:
        if isinstance(v, int):
            raise Unsupported("constant beyond int64")
        room = LIMIT // abs(factor)
        over = np.abs(v) >= room
        v, unsure, bound = np.where(over, 0, v), either(unsure, over), (room - 1) * abs(factor)
    scaled_v = v * factor if isinstance(v, int) else v.astype(np.int64) * factor
    return Fixed(a.known, a.undef, unsure, scaled_v, k, bound)


def rescale(a: Fixed, k: int) -> Fixed:
    return a if k == a.k else times(a, 10 ** (k - a.k), k)


def multiply(a: Fixed, b: Fixed) -> Fixed:
    known, undef = both(a.known, b.known), either(a.undef, b.undef)
    if isinstance(b.v, int):
        out = times(a, b.v, a.k + b.k)
    elif isinstance(a.v, int):
        out = times(b, a.v, a.k + b.k)
    else:
        unsure, av, bv, bound = either(a.unsure, b.unsure), a.v, b.v, a.bound * b.bound
        if bound >= LIMIT:
            over = np.abs(av).astype(np.float64) * np.abs(bv) >= LIMIT / 2
            av, unsure, bound = np.where(over, 0, av), either(unsure, over), LIMIT // 2
        out = Fixed(None, None, unsure, av.astype(np.int64) * bv, a.k + b.k, bound)
    return replace(out, known=known, undef=undef, unsure=either(out.unsure, a.unsure))


def add(parts: list[Fixed]) -> Fixed:
    """An exact sum (as ``sum_years``): known where every part is."""
    k = max(p.k for p in parts)
    aligned = [rescale(p, k) for p in parts]
    if sum(p.bound for p in aligned) >= LIMIT:
        room = LIMIT // len(aligned)
        aligned = [_clip(p, room) for p in aligned]
    total: Array | int = np.int64(0) if any(not isinstance(p.v, int) for p in aligned) else 0
    known: Bools | None = None
    unsure: Bools | None = None
    for p in aligned:
        total = total + p.v
        known, unsure = both(known, p.known), either(unsure, p.unsure)
    return Fixed(known, None, unsure, total, k, sum(p.bound for p in aligned))


def _clip(a: Fixed, room: int) -> Fixed:
    if a.bound < room:
        return a
    if isinstance(a.v, int):
        raise Unsupported("constant beyond int64")
    over = np.abs(a.v) >= room
    return replace(a, v=np.where(over, 0, a.v), unsure=either(a.unsure, over), bound=room - 1)


def ratio(n: Num, d: Num) -> Num:
    """``n / d`` as the engine's ``_ratio``: undefined where both are known and d is 0."""
    both_known = both(n.known, d.known)
    inner_undef = either(n.undef, d.undef)
    if isinstance(n, Fixed) and isinstance(d, Fixed):
        if isinstance(d.v, int):
            if d.v == 0:
                raise Unsupported("a ratio over the constant zero")
            return Ratio(n.known, n.undef, n.unsure, n, d)
        zero = d.v == 0
        undef = either(_where(both_known, zero), inner_undef)
        known = _and_not(both_known, zero)
        return Ratio(known, undef, either(n.unsure, d.unsure), n, d)
    a, b = approx(n), approx(d)
    # A float denominator within its error of zero: is the exact one zero? Unsure.
    doubtful = np.abs(b.x) <= b.err
    if np.ndim(doubtful) == 0:
        if doubtful:
            raise Unsupported("a ratio over a constant zero")
        doubtful = np.zeros(np.shape(a.x), dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(doubtful, 0.0, np.divide(a.x, np.where(doubtful, 1.0, b.x)))
        err = (a.err + np.abs(x) * b.err) / np.maximum(np.abs(b.x) - b.err, 1e-300)
    unsure = either(either(a.unsure, b.unsure), _where(both_known, doubtful))
    return Approx(both_known, inner_undef, unsure, x, err + np.abs(x) * 1e-15)


def _where(mask: Bools | None, values: Any) -> Bools:
    return np.asarray(values if mask is None else mask & values, dtype=bool)


def _and_not(mask: Bools | None, values: Any) -> Bools:
    return np.asarray(~values if mask is None else mask & ~values, dtype=bool)


def approx(a: Num) -> Approx:
    """A float view of any number, with a bound on its distance to the exact one."""
    if isinstance(a, Approx):
        return a
    if isinstance(a, Fixed):
        x = a.v / 10.0**a.k if not isinstance(a.v, int) else float(Decimal(a.v).scaleb(-a.k))
        return Approx(a.known, a.undef, a.unsure, x, np.abs(x) * 1e-15)
    assert isinstance(a, Ratio)
    n, d = approx(a.n), approx(a.d)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(np.asarray(d.x) != 0, np.divide(n.x, np.where(d.x == 0, 1.0, d.x)), 0.0)
    return Approx(a.known, a.undef, a.unsure, x, np.abs(x) * 1e-15)


def approx_multiply(parts: list[Num]) -> Approx:
    out = approx(parts[0])
    for part in parts[1:]:
        b = approx(part)
        x = out.x * b.x
        err = np.abs(out.x) * b.err + np.abs(b.x) * out.err + out.err * b.err + np.abs(x) * 1e-15
        out = Approx(
            both(out.known, b.known),
            either(out.undef, b.undef),
            either(out.unsure, b.unsure),
            x,
            err,
        )
    return out


def minimum(a: Num, b: Num) -> Num:
    """``b if a > b else a`` (a cap), exact when both are ``Fixed``."""
    if isinstance(a, Fixed) and isinstance(b, Fixed):
        k = max(a.k, b.k)
        a2, b2 = rescale(a, k), rescale(b, k)
        v = np.minimum(a2.v, b2.v)
        return Fixed(
            both(a.known, b.known),
            either(a.undef, b.undef),
            either(a2.unsure, b2.unsure),
            v,
            k,
            max(a2.bound, b2.bound),
        )
    x, y = approx(a), approx(b)
    return Approx(
        both(x.known, y.known),
        either(x.undef, y.undef),
        either(x.unsure, y.unsure),
        np.minimum(x.x, y.x),
        np.maximum(x.err, y.err),
    )


def compare_const(v: Array | int, k: int, op: Op, c: Decimal) -> Bools:
    """``v / 10**k  op  c`` exactly, for integer ``v``, by an integer threshold."""
    exact = scaled(c)
    if exact is None:
        raise Unsupported(f"constant {c} needs more than six decimals")
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
        return _verdict(diff > 0, diff < 0, op), either(
            either(a.unsure, b.unsure), np.asarray(doubtful)
        )
    if isinstance(right, Fixed) and isinstance(right.v, int) and isinstance(left, Fixed):
        return np.asarray(compare_const(left.v, left.k, op, _value(right))), left.unsure
    nl, dl = (left.n, left.d) if isinstance(left, Ratio) else (left, None)
    nr, dr = (right.n, right.d) if isinstance(right, Ratio) else (right, None)
    assert isinstance(nl, Fixed) and isinstance(nr, Fixed)
    p1 = nl if dr is None else multiply(nl, dr)
    p2 = nr if dl is None else multiply(nr, dl)
    k = max(p1.k, p2.k)
    p1, p2 = rescale(p1, k), rescale(p2, k)
    greater, less = np.asarray(p1.v > p2.v), np.asarray(p1.v < p2.v)
    flip: Any = False
    for d in (dl, dr):
        if d is not None:
            flip = flip ^ (np.asarray(d.v) < 0)
    if flip is not False:
        greater, less = np.where(flip, less, greater), np.where(flip, greater, less)
    unsure = either(either(p1.unsure, p2.unsure), either(left.unsure, right.unsure))
    return _verdict(greater, less, op), unsure


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
