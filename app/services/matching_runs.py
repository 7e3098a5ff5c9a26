"""Proactive matching (免申即享) and what-if simulations over every stored enterprise.

A run is a job: started by a request, executed in chunks in the background with its
own short transactions (so the API keeps answering, on SQLite too), its progress
stored, its per-enterprise results kept for review and CSV export, and a summary per
policy: eligible enterprises and amounts, undetermined ones, totals against budget.
A simulation evaluates the baseline and a scenario in the same pass and changes
nothing in the ledger.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from contextlib import closing
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.catalog.loader import Catalog
from app.catalog.places import Area
from app.catalog.schema import PolicyFile
from app.db import repositories as repo
from app.db.models import MatchingRun
from app.db.projection import analyze
from app.db.repositories.matching import PopulationRow
from app.db.repositories.result_rows import ResultRows
from app.domain.money import ZERO
from app.services.access import scope_of
from app.services.actors import Actor
from app.services.awards import payer_of
from app.services.budgets import catalog_amount
from app.services.matching_columns import Tally, answer_rows, result_rows, tally_columns
from app.services.overlap import WriteBehind, read_ahead
from app.services.population import Answer, Row
from app.services.population_chunks import evaluate_part, evaluate_projected, iterate_parts
from app.services.scenarios import PolicyChange, apply_changes, budget_overrides

log = logging.getLogger("incentives")
#: How many gainers and losers a simulation lists by name (all are counted).
LISTED = 1000


def _area(actor: Actor, catalog: Catalog) -> dict[str, str]:
    """The place a portal's run covers, as {level: slug}; {} for every enterprise."""
    if actor.role != "portal":
        return {}
    area = scope_of(actor, catalog).area
    assert area is not None  # scope_of refuses a portal key without a place
    return {area.place.level: area.place.slug}


def _population_area(catalog: Catalog, parameters: Mapping[str, Any]) -> Area | None:
    """The area a queued run reads (None: every enterprise). A place the catalog no
    longer knows fails the run rather than widening it to everyone."""
    place = next(iter((parameters.get("area") or {}).values()), None)
    if place is None:
        return None
    area = catalog.places.area(place)
    if area is None:
        raise ValueError(f"the run's area `{place}` is not a place of the catalog")
    return area


def start_run(
    session: Session,
    catalog: Catalog,
    actor: Actor,
    fiscal_year: int,
    changes: Sequence[PolicyChange] | None = None,
) -> MatchingRun:
    kind = "matching" if changes is None else "simulation"
    if changes is not None:
        apply_changes(
            catalog.policies, changes, fiscal_year
        )  # refuse a bad scenario now, not later
    parameters: dict[str, Any] = {
        "kind": kind,
        "catalog_hash": catalog.hash,
        "area": _area(actor, catalog),
        "changes": [c.model_dump(mode="json") for c in changes or []],
    }
    return repo.add_matching_run(
        session,
        MatchingRun(
            fiscal_year=fiscal_year, status="queued", parameters=parameters, started_by=actor.label
        ),
    )


def execute_run(
    make_session: sessionmaker[Session],
    catalog: Catalog,
    run_id: str,
    phases: dict[str, float] | None = None,
) -> None:
    """Run the job to the end, a chunk per transaction; a failure is recorded on the run.

    ``phases`` (if given) receives the seconds spent reading, evaluating and writing."""
    try:
        _execute(make_session, catalog, run_id, {} if phases is None else phases)
    except Exception as exc:  # the job's own record is where the failure is reported
        log.exception("matching run %s failed", run_id)
        with make_session.begin() as session:
            run = repo.get_matching_run(session, run_id)
            if run is not None:
                run.status, run.error, run.finished_at = (
                    "failed",
                    str(exc)[:2000],
                    datetime.now(UTC),
                )


def _execute(
    make_session: sessionmaker[Session], catalog: Catalog, run_id: str, phases: dict[str, float]
) -> None:
    with make_session.begin() as session:
        run = repo.get_matching_run(session, run_id)
        assert run is not None
        run.status = "running"
        fiscal_year, parameters = run.fiscal_year, dict(run.parameters)
    area = _population_area(catalog, parameters)
    baseline = list(catalog)
    changes = [PolicyChange.model_validate(c) for c in parameters.get("changes", [])]
    simulation = parameters.get("kind") == "simulation"
    scenario = (
        list(apply_changes(catalog.policies, changes, fiscal_year).values()) if simulation else []
    )
    tallies: dict[str, Tally] = defaultdict(Tally)
    scenario_tallies: dict[str, Tally] = defaultdict(Tally)
    movers: dict[str, list[dict[str, Any]]] = {"gain": [], "lose": []}
    counts = {"gain": 0, "lose": 0}
    done = 0
    for name in ("read", "evaluate", "write"):
        phases.setdefault(name, 0.0)
    # Chunks read ahead and written behind in threads of their own (PostgreSQL: an
    # SQLite database is one file that a second connection would wait on).
    overlap = make_session.kw["bind"].dialect.name == "postgresql"
    with (
        make_session() as reader,
        WriteBehind(overlap) as writes,
        closing(read_ahead(iterate_parts(reader, fiscal_year, area), overlap)) as chunks,
    ):
        while True:
            started = time.perf_counter()
            parts = next(chunks, None)
            phases["read"] += time.perf_counter() - started
            if parts is None:
                break
            started = time.perf_counter()
            # The per-row path's results are stored before the projected part's, as
            # they always were (a run's results are paged in the order stored).
            results: list[ResultRows] = []
            columns: list[ResultRows] = []
            for part in parts:
                projected = None if simulation else evaluate_projected(baseline, part, fiscal_year)
                if projected is not None and part.chunk is not None:
                    tally_columns(tallies, baseline, projected, part.chunk.places)
                    columns.append(result_rows(baseline, projected, part.chunk.ids))
                    done += part.n
                    continue
                enterprises = {e.id: e for e in part.places}
                answers = evaluate_part(baseline, part, fiscal_year)
                _tally(tallies, baseline, part.rows, answers, enterprises)
                done += part.n
                if simulation:
                    changed = evaluate_part(scenario, part, fiscal_year)
                    _tally(scenario_tallies, scenario, part.rows, changed, enterprises)
                    _movers(movers, counts, part.rows, answers, changed)
                    continue
                ids = [row.enterprise_id for row in part.rows]
                results.append(answer_rows(baseline, fiscal_year, ids, answers))
            phases["evaluate"] += time.perf_counter() - started
            started = time.perf_counter()
            writes.submit(partial(_store, make_session, run_id, results + columns, done))
            phases["write"] += time.perf_counter() - started
        started = time.perf_counter()
        writes.wait()
        phases["write"] += time.perf_counter() - started
    budgets = budget_overrides(changes)
    summary = _summary(catalog, baseline, tallies, fiscal_year, {})
    result: dict[str, Any] = {"enterprises": done, "policies": summary}
    if simulation:
        result = {
            "enterprises": done,
            "baseline": summary,
            "scenario": _summary(catalog, scenario, scenario_tallies, fiscal_year, budgets),
            "comparison": _compare(
                summary, _summary(catalog, scenario, scenario_tallies, fiscal_year, budgets)
            ),
            "gainers": {"count": counts["gain"], "listed": movers["gain"]},
            "losers": {"count": counts["lose"], "listed": movers["lose"]},
        }
    with make_session.begin() as session:
        run = repo.get_matching_run(session, run_id)
        assert run is not None
        run.status, run.total, run.progress = "done", done, done
        analyze(session, ["matching_results"])  # paging a run's results plans with real counts
        run.result, run.finished_at = result, datetime.now(UTC)


def _store(
    make_session: sessionmaker[Session], run_id: str, results: list[ResultRows], done: int
) -> None:
    """A chunk's results and the run's progress, in one transaction."""
    with make_session.begin() as writer:
        repo.add_matching_result_rows(writer, run_id, results)
        run = repo.get_matching_run(writer, run_id)
        assert run is not None
        run.progress = done


def _tally(
    tallies: dict[str, Tally],
    policies: Sequence[PolicyFile],
    rows: Sequence[Row],
    answers: Sequence[Sequence[Answer]],
    enterprises: Mapping[str, PopulationRow],
) -> None:
    by_id = {p.id: p for p in policies}
    for row, row_answers in zip(rows, answers, strict=True):
        for answer in row_answers:
            _, payer = payer_of(by_id[answer.policy_id], enterprises[row.enterprise_id])
            tallies[answer.policy_id].add(answer, payer)


def _movers(
    movers: dict[str, list[dict[str, Any]]],
    counts: dict[str, int],
    rows: Sequence[Row],
    before: Sequence[Sequence[Answer]],
    after: Sequence[Sequence[Answer]],
) -> None:
    for row, old_answers, new_answers in zip(rows, before, after, strict=True):
        new = {a.policy_id: a for a in new_answers}
        for old in old_answers:
            now = new.get(old.policy_id)
            old_amount = old.amount if old.status == "eligible" and old.amount is not None else ZERO
            new_amount = (
                now.amount if now and now.status == "eligible" and now.amount is not None else ZERO
            )
            old_in, new_in = old.status == "eligible", bool(now and now.status == "eligible")
            if old_amount == new_amount and old_in == new_in:
                continue
            side = "gain" if (new_amount, new_in) > (old_amount, old_in) else "lose"
            counts[side] += 1
            if len(movers[side]) < LISTED:
                movers[side].append(
                    {
                        "enterprise_id": row.enterprise_id,
                        "policy_id": old.policy_id,
                        "before": {"status": old.status, "amount": _money(old.amount)},
                        "after": {
                            "status": now.status if now else "switched_off",
                            "amount": _money(now.amount if now else None),
                        },
                    }
                )


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _summary(
    catalog: Catalog,
    policies: Sequence[PolicyFile],
    tallies: Mapping[str, Tally],
    fiscal_year: int,
    budgets: Mapping[str, Decimal],
) -> dict[str, Any]:
    return {
        p.id: tallies[p.id].json(budgets.get(p.id, catalog_amount(catalog, p.id, fiscal_year)))
        for p in policies
    }


def _compare(baseline: Mapping[str, Any], scenario: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for policy_id, base in baseline.items():
        new = scenario.get(policy_id, {"eligible": 0, "amount": "0.00", "budget_gap": "0.00"})
        out[policy_id] = {
            "beneficiaries": {
                "baseline": base["eligible"],
                "scenario": new["eligible"],
                "change": new["eligible"] - base["eligible"],
            },
            "amount": {
                "baseline": base["amount"],
                "scenario": new["amount"],
                "change": f"{Decimal(new['amount']) - Decimal(base['amount']):.2f}",
            },
            "budget_gap": {"baseline": base["budget_gap"], "scenario": new["budget_gap"]},
            "switched_off": policy_id not in scenario,
        }
    return out


def run_json(run: MatchingRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.parameters.get("kind", "matching"),
        "fiscal_year": run.fiscal_year,
        "status": run.status,
        "progress": run.progress,
        "total": run.total,
        "started_by": run.started_by,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "error": run.error,
        "parameters": run.parameters,
        "result": run.result,
    }
