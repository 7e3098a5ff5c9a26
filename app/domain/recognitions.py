"""The clauses a profile's recognitions and a reviewer's findings settle, compiled.

Each kind is written once, with its two emitters: ``explain`` answers one profile
with its reasons, ``_truth`` answers every row of a column table
(``app.domain.batch``) from the same resolved kind, levels and dates; the compiled
clause is itself its column node (see ``app.domain.leaves`` for what compiling a
leaf means).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import numpy as np

from app.catalog.schema import FindingRule, RecognitionRule
from app.domain.batch.columns import Spec, day_number
from app.domain.batch.context import Context, Truth
from app.domain.batch.leaves import FINDING, Unknowable
from app.domain.batch.leaves import Leaf as ColumnLeaf
from app.domain.batch.nodes import RuleNode
from app.domain.facts import MISSING, Facts, as_day
from app.domain.leaves import Leaf, window_text
from app.domain.results import Bilingual, Tri
from app.domain.rules import Kept, RuleOutcome
from app.domain.text import LEVEL_ZH, show

#: A column's mark for a date the row does not give.
_NO_DAY = np.iinfo(np.int32).min


class Recognition(Leaf, ColumnLeaf):
    """Holds a recognition of a kind (and level), granted within a window, still valid.

    Held but undated, while the clause has a window, is unknown too: over columns its
    verdict, not the column, says when ``recognitions`` is missing.
    """

    __slots__ = ("absent", "earliest", "kind", "latest", "levels", "valid_from")
    columns_when_not_false = False
    columns_when_not_true = False

    def __init__(self, node: RecognitionRule, clause: str, fy: int) -> None:
        test = node.recognition
        levels = "/".join(test.levels) if test.levels else "any level"
        levels_zh = "/".join(LEVEL_ZH.get(lv, lv) for lv in test.levels) if test.levels else ""
        fallback = Bilingual(
            f"持有{levels_zh}{test.kind}认定", f"holds a {levels} {test.kind} recognition"
        )
        super().__init__(node, clause, fallback, ["recognitions"])
        self.kind, self.levels = test.kind, test.levels
        self.earliest = (
            date(fy + test.granted_from, 1, 1) if test.granted_from is not None else None
        )
        self.latest = date(fy + test.granted_to, 12, 31) if test.granted_to is not None else None
        self.valid_from = date(fy, 1, 1) if test.valid_in_year else None
        window = window_text(self.earliest, self.latest)
        self.absent = Kept(
            *self.settled(Tri.FALSE, f"(未持有{window.zh})", f" (not held{window.en})")
        )
        self.own = ("recognitions",)
        self.key = (
            "recognition",
            self.kind,
            tuple(self.levels or ()),
            (self.earliest, self.latest),
            self.valid_from,
        )

    reads_only = True

    def touch(self, facts: Facts) -> None:
        facts.at("recognitions")  # (what ``facts.recognitions`` reads)

    def explain(self, facts: Facts) -> RuleOutcome:
        held = facts.recognitions()
        if held is MISSING:
            return self.unknown
        assert isinstance(held, list)
        earliest, latest, valid_from = self.earliest, self.latest, self.valid_from
        undated = False
        for item in held:
            if item.get("kind") != self.kind or (
                self.levels and item.get("level") not in self.levels
            ):
                continue
            granted = as_day(item.get("granted_on"))
            expires = as_day(item.get("expires_on"))
            if (earliest or latest) and granted is None:
                undated = True
                continue
            if granted and ((earliest and granted < earliest) or (latest and granted > latest)):
                continue
            if valid_from is not None and expires is not None and expires < valid_from:
                continue
            shown = show(granted)
            return self.settled(Tri.TRUE, f"(认定日期:{shown})", f" (granted {shown})")
        # Held but undated: the window cannot be checked without the grant date.
        return self.unknown if undated else self.absent

    def column(self) -> RuleNode:
        return self

    def specs(self) -> Iterator[Spec]:
        yield ("recognitions", "rec")

    def _truth(self, ctx: Context) -> Truth:
        rec = ctx.table.recognition_column()
        items = rec.of_kind(self.kind)
        held = np.ones(items.stop - items.start, dtype=bool)
        if self.levels:
            codes = [rec.levels.index(lv) for lv in self.levels if lv in rec.levels]
            held &= np.isin(rec.level[items], codes)
        undated = np.zeros_like(held)
        if self.earliest is not None or self.latest is not None:
            granted = rec.granted[items]
            undated = held & (granted == _NO_DAY)
            held &= ~undated
            if self.earliest is not None:
                held &= granted >= day_number(self.earliest)
            if self.latest is not None:
                held &= granted <= day_number(self.latest)
        if self.valid_from is not None:
            expires = rec.expires[items]
            held &= (expires == _NO_DAY) | (expires >= day_number(self.valid_from))
        owners = rec.row[items]
        t = np.zeros(ctx.n, dtype=bool)
        t[owners[held]] = True
        maybe = np.zeros(ctx.n, dtype=bool)
        maybe[owners[undated]] = True
        t &= rec.known
        f = rec.known & ~t & ~maybe
        return Truth(t, f)


class Finding(Leaf):
    """A criterion a reviewer settles; unknown until a finding is recorded."""

    __slots__ = ("finding",)

    def __init__(self, node: FindingRule, clause: str) -> None:
        fallback = Bilingual(
            f"主管部门认定:{node.finding}", f"an official's finding: {node.finding}"
        )
        super().__init__(node, clause, fallback, [])
        self.finding = node.finding
        awaits = self.settled(Tri.UNKNOWN, "(待主管部门认定)", " (awaits an official's finding)")
        self.unknown = Kept(*awaits._replace(findings=(node.finding,)))

    def column(self) -> RuleNode:
        # Rows with recorded findings are answered whole by the per-profile engine; on
        # the others a finding is unknown and names its key.
        return Unknowable(FINDING + self.finding, "cat")

    reads_only = True

    def touch(self, facts: Facts) -> None:
        facts.finding(self.finding)  # (used, for the trace)

    def explain(self, facts: Facts) -> RuleOutcome:
        found = facts.finding(self.finding)
        if found is None:
            return self.unknown
        verdict = Bilingual("符合", "met") if found.met else Bilingual("不符合", "not met")
        return self.settled(
            Tri.of(found.met),
            f"({found.reviewer} 于 {found.recorded_on} 认定:{verdict.zh})",
            f" ({verdict.en}: found by {found.reviewer} on {found.recorded_on})",
        )
