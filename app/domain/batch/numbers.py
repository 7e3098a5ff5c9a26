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
    #: Known to hold no negative value.
    nonneg: bool = False


@dataclass(frozen=True, eq=False)
class Ratio(Num):
    n: Fixed
    d: Fixed


@dataclass(frozen=True, eq=False)
class Approx(Num):
    x: Array | float
    err: Array | float


def take(value: object, rows: npt.NDArray[np.intp]) -> object | None:
    """A per-row value restricted to some rows; ``None`` if it is not one."""

    def cut(a: Any) -> Any:
        return a[rows] if isinstance(a, np.ndarray) and a.ndim == 1 else a

    if isinstance(value, np.ndarray):
        return value[rows]
    if isinstance(value, Fixed):
        return replace(
            value,
            known=cut(value.known),
            undef=cut(value.undef),
            unsure=cut(value.unsure),
            v=cut(value.v),
        )
    if isinstance(value, Ratio):
        n, d = take(value.n, rows), take(value.d, rows)
        assert isinstance(n, Fixed) and isinstance(d, Fixed)
        return Ratio(cut(value.known), cut(value.undef), cut(value.unsure), n, d)
    if isinstance(value, Approx):
        return Approx(
            cut(value.known), cut(value.undef), cut(value.unsure), cut(value.x), cut(value.err)
        )
    return None


def constant(value: Decimal) -> Fixed:
    exact = scaled(value)
    if exact is None or abs(exact[0]) >= LIMIT:
        raise Unsupported(f"constant {value} has no exact int64 form")
    return Fixed(None, None, None, exact[0], exact[1], abs(exact[0]), exact[0] >= 0)


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
    scaled_v = v * factor if isinstance(v, int) else np.multiply(v, factor, dtype=np.int64)
    return Fixed(a.known, a.undef, unsure, scaled_v, k, bound, a.nonneg and factor >= 0)


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
        out = Fixed(None, None, unsure, np.multiply(av, bv, dtype=np.int64), a.k + b.k, bound)
    nonneg = a.nonneg and b.nonneg
    return replace(
        out, known=known, undef=undef, unsure=either(out.unsure, a.unsure), nonneg=nonneg
    )


def add(parts: list[Fixed]) -> Fixed:
    """An exact sum (as ``sum_years``): known where every part is."""
    k = max(p.k for p in parts)
    aligned = [rescale(p, k) for p in parts]
    if sum(p.bound for p in aligned) >= LIMIT:
        room = LIMIT // len(aligned)
        aligned = [_clip(p, room) for p in aligned]
    total: Any = None
    known: Bools | None = None
    unsure: Bools | None = None
    for p in aligned:
        if total is None:
            total = p.v if isinstance(p.v, int) else p.v.astype(np.int64)  # a copy
        elif isinstance(total, np.ndarray):
            total += p.v  # in place: one array for the whole sum
        else:
            total = total + p.v
        known, unsure = both(known, p.known), either(unsure, p.unsure)
    nonneg = all(p.nonneg for p in aligned)
    return Fixed(known, None, unsure, total, k, sum(p.bound for p in aligned), nonneg)


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
