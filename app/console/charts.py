"""Horizontal bar charts drawn by the server as SVG: no chart library, no script.

A chart is geometry only (rectangles and their labels); the template draws it. Each
bar is split into the parts of a whole (a budget's disbursed, committed and
remaining money), so a bar's length is the budget and its colours show how it is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

LABEL_WIDTH = 220  # room for a policy id and payer on the left
BAR_WIDTH = 480
ROW_HEIGHT = 34
BAR_HEIGHT = 20


@dataclass(frozen=True)
class Segment:
    part: str  # the CSS class: disbursed, committed, remaining
    x: float
    width: float
    amount: Decimal


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    segments: tuple[Segment, ...]
    note: str  # at the bar's end: "37.5%" used of a budget, or the bar's total in yuan


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    bar_height: int = BAR_HEIGHT
    label_width: int = LABEL_WIDTH


def _note(parts: Sequence[tuple[str, Decimal]], total: Decimal) -> str:
    """A budget's bar says how much of it is used; any other bar, its total."""
    if not any(part == "remaining" for part, _ in parts):
        return f"{total:,.0f}"
    used = sum((a for p, a in parts if p != "remaining"), Decimal(0))
    return f"{used / total:.1%}" if total else "—"


def stacked_bars(rows: Sequence[tuple[str, Sequence[tuple[str, Decimal]]]]) -> Chart:
    """One bar per row, scaled to the largest row's total; parts drawn left to right."""
    totals = [sum((amount for _, amount in parts), Decimal(0)) for _, parts in rows]
    largest = max(totals, default=Decimal(0)) or Decimal(1)
    bars = []
    for index, ((label, parts), total) in enumerate(zip(rows, totals, strict=True)):
        x = float(LABEL_WIDTH)
        segments = []
        for part, amount in parts:
            width = float(amount / largest) * BAR_WIDTH
            segments.append(Segment(part, round(x, 2), round(width, 2), amount))
            x += width
        bars.append(Bar(label, index * ROW_HEIGHT + 8, tuple(segments), _note(parts, total)))
    height = max(len(rows), 1) * ROW_HEIGHT + 16
    return Chart(LABEL_WIDTH + BAR_WIDTH + 110, height, tuple(bars))
