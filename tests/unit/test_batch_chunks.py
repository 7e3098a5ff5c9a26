"""A table evaluated a slice at a time, or fed as chunks, answers as when evaluated whole.

Slices are cut small here (tens of rows) so that every path crosses slice boundaries:
award histories and findings in several slices, exclusivity groups, rows the
per-profile engine settles for one policy, amounts that need exact arithmetic.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.catalog.loader import load_catalog
from app.catalog.schema import PolicyFile
from app.domain.batch import (
    Chunk,
    PopulationResult,
    evaluate_chunks,
    evaluate_population,
    required_columns,
    table_from_profiles,
)
from app.domain.findings import RecordedFinding

from .test_batch_equivalence import Generator, _compared, _history, _inline_policies

CATALOG_DIR = Path(__file__).resolve().parents[2] / "policy_catalog"
FY = 2024
ROWS = 500


@pytest.fixture(scope="module", params=["catalog", "columns", "inline"])
def population(request: pytest.FixtureRequest) -> tuple[list[PolicyFile], Any, dict[int, Any]]:
    if request.param == "inline":
        policies = _inline_policies()
    else:
        policies = _compared(list(load_catalog(CATALOG_DIR)), FY)
    gen = Generator(seed=11, fiscal_year=FY)
    profiles = [gen.profile() for _ in range(ROWS)]
    histories = {row: _history(gen.r, policies, FY) for row in range(ROWS) if gen.maybe(0.03)}
    table = table_from_profiles(profiles, required_columns(policies, FY))
    if request.param == "columns":
        # Without the dicts, a row for the per-profile engine is rebuilt from the
        # columns: from a slice's views and its share of the recognition items.
        table.profiles = None
    return policies, table, histories


FINDINGS = {
    7: {
        "market_position": RecordedFinding("market_position", True, "portal:审核", date(2026, 6, 1))
    }
}


def _answers(result: PopulationResult, rows: range) -> list[Any]:
    return [
        (
            pid,
            row,
            result.status_of(pid, row),
            result.amount(pid, row),
            result.basis(pid, row),
            result.missing_facts(pid, row),
            result.findings_required(pid, row),
        )
        for pid in result.columns
        for row in rows
    ]


@pytest.mark.parametrize(("chunk_rows", "workers"), [(37, 1), (64, 2), (ROWS - 1, 2)])
def test_slices_answer_as_the_whole_table(
    population: tuple[list[PolicyFile], Any, dict[int, Any]], chunk_rows: int, workers: int
) -> None:
    policies, table, histories = population
    whole = evaluate_population(
        policies, table, FY, histories, workers=1, findings=FINDINGS, chunk_rows=ROWS
    )
    sliced = evaluate_population(
        policies, table, FY, histories, workers=workers, findings=FINDINGS, chunk_rows=chunk_rows
    )
    assert _answers(sliced, range(ROWS)) == _answers(whole, range(ROWS))
    for pid in whole.columns:
        assert np.array_equal(sliced.status(pid), whole.status(pid))
        assert np.array_equal(sliced.columns[pid].basis, whole.columns[pid].basis)
        assert np.array_equal(sliced.amount_fen(pid), whole.amount_fen(pid))
    assert sliced.full_rows == whole.full_rows
    assert sliced.unsupported == whole.unsupported
    assert sliced.fallback_counts() == whole.fallback_counts()
    assert sliced.totals() == whole.totals()


def test_chunks_answer_as_the_whole_table(
    population: tuple[list[PolicyFile], Any, dict[int, Any]],
) -> None:
    policies, table, histories = population
    whole = evaluate_population(policies, table, FY, histories, findings=FINDINGS)
    bounds = [(0, 150), (150, 151), (151, 400), (400, ROWS)]

    def chunks() -> Any:
        for start, stop in bounds:
            local = {r - start: h for r, h in histories.items() if start <= r < stop}
            found = {r - start: f for r, f in FINDINGS.items() if start <= r < stop}
            yield Chunk(table.rows_between(start, stop), local, found)

    results = list(evaluate_chunks(policies, chunks(), FY, chunk_rows=64))
    for (start, stop), result in zip(bounds, results, strict=True):
        assert result.table.n == stop - start
        want = [(p, r - start, *rest) for p, r, *rest in _answers(whole, range(start, stop))]
        assert _answers(result, range(stop - start)) == want
        assert [e.status for e in result.explain(0)] == [e.status for e in whole.explain(start)]


def test_a_table_is_accepted_as_a_chunk(
    population: tuple[list[PolicyFile], Any, dict[int, Any]],
) -> None:
    policies, table, _ = population
    (result,) = evaluate_chunks(policies, [table.rows_between(10, 20)], FY)
    whole = evaluate_population(policies, table, FY)
    want = [(p, r - 10, *rest) for p, r, *rest in _answers(whole, range(10, 20))]
    assert _answers(result, range(10)) == want


def test_a_slice_rebuilds_the_rows_of_the_whole(
    population: tuple[list[PolicyFile], Any, dict[int, Any]],
) -> None:
    _, table, _ = population
    part = table.rows_between(120, 180)
    assert part.n == 60
    assert [part.profile(i) for i in range(60)] == [table.profile(120 + i) for i in range(60)]
    assert table.rows_between(ROWS - 5, ROWS + 50).n == 5
    assert table.rows_between(ROWS + 1, ROWS + 9).n == 0


def test_missing_masks_name_the_missing_facts(
    population: tuple[list[PolicyFile], Any, dict[int, Any]],
) -> None:
    """Column-wise missing facts, as codes over the policy's paths, name what
    ``missing_facts`` names, rows settled by the per-profile engine included."""
    policies, table, histories = population
    result = evaluate_population(policies, table, FY, histories, findings=FINDINGS, chunk_rows=64)
    for pid, col in result.columns.items():
        masks = col.missing_masks()
        if masks is None:
            assert col.index is None
            continue
        assert col.index is not None
        rows, bits = masks
        assert np.all(np.diff(rows) > 0)
        coded = {int(r): col.index.names(int(b)) for r, b in zip(rows, bits, strict=True)}
        named = {r: m for r in range(ROWS) if (m := result.missing_facts(pid, r))}
        assert coded == named
