"""Proactive matching (免申即享) and what-if simulations over every stored enterprise.

A run is split into shards, ranges of enterprise ids, each one job on the queue
(``app/jobs/``): any worker on any host takes a shard, evaluates it in its own read
transaction and writes its results and totals in one short transaction of its own.
The shard that finds every shard done (counted in SQL under the run's lock) adds the
totals up into the run's summary per policy: eligible enterprises and amounts,
undetermined ones, totals against budget. Per-enterprise results are kept for review
and CSV export. A simulation evaluates the baseline and a scenario in the same pass
and changes nothing in the ledger.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
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
from app.services.errors import Conflict, TooManyRequests
from app.services.matching_columns import Tally, answer_rows, result_rows, tally_columns
from app.services.overlap import WriteBehind, read_ahead
from app.services.population import Answer, Row
from app.services.population_chunks import (
    CHUNK,
    evaluate_part,
    evaluate_projected,
    iterate_parts,
)
from app.services.run_partials import Totals, combine
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


def tenant_of(parameters: Mapping[str, Any]) -> str:
    """Whose runs count together against the limit: the place a run covers, or ``all``."""
    area = parameters.get("area") or {}
    return next((f"{level}:{slug}" for level, slug in area.items()), "all")


def start_run(
    session: Session,
    catalog: Catalog,
    actor: Actor,
    fiscal_year: int,
    changes: Sequence[PolicyChange] | None = None,
    *,
    shard_size: int = CHUNK,
    runs_per_tenant: int | None = None,
) -> MatchingRun:
    """Record a run and its shards (ranges of about ``shard_size`` enterprises), queued;
    refused with a 429 when its tenant already has ``runs_per_tenant`` unfinished."""
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
    tenant = tenant_of(parameters)
    if runs_per_tenant is not None:
        repo.lock_tenant(session, tenant)
        if repo.count_active_runs(session, tenant) >= runs_per_tenant:
            raise TooManyRequests(
                f"{runs_per_tenant} run(s) of {tenant} are already queued or running "
                "(RUNS_PER_TENANT): wait for one to finish, or cancel one",
                headers={"Retry-After": "60"},
            )
    ranges = repo.shard_ranges(session, _population_area(catalog, parameters), shard_size)
    run = repo.add_matching_run(
        session,
        MatchingRun(
            fiscal_year=fiscal_year,
            status="queued",
            parameters=parameters,
            started_by=actor.label,
            tenant=tenant,
            shards_total=len(ranges),
        ),
    )
    repo.add_shards(session, run.id, ranges)
    return run


def cancel_run(session: Session, run: MatchingRun) -> MatchingRun:
    """Stop a queued or running run: shards not yet written are skipped (a shard being
    evaluated writes nothing); results already written stay for review."""
    run = repo.lock_matching_run(session, run.id) or run
    if run.status not in ("queued", "running"):
        raise Conflict(f"the run is {run.status}: only a queued or running run can be cancelled")
    run.status, run.finished_at = "cancelled", datetime.now(UTC)
    return run


def execute_run(
    make_session: sessionmaker[Session],
    catalog: Catalog,
    run_id: str,
    phases: dict[str, float] | None = None,
) -> None:
    """Execute every shard of the run not done yet, here and in order (the command line,
    the tests and the benchmarks); a failure is recorded on the run.

    ``phases`` (if given) receives the seconds spent reading, evaluating and writing."""
    with make_session() as session:
        shards = [s for r, s in repo.shards_to_execute(session) if r == run_id]
    for shard in shards:
        try:
            execute_shard(make_session, catalog, run_id, shard, phases=phases)
        except Exception:  # recorded on the run by execute_shard
            return


def execute_shard(
    make_session: sessionmaker[Session],
    catalog: Catalog,
    run_id: str,
    shard: int,
    worker: str = "",
    phases: dict[str, float] | None = None,
) -> None:
    """One shard as one job: evaluate its range, then in one transaction under the run's
    lock write its results and totals and mark it done, unless it is done already (a
    job run twice writes once) or the run was cancelled or failed meanwhile. The shard
    that finds every shard done finishes the run. A failure is recorded on the run and
    raised again, so the queue counts it."""
    try:
        _execute_shard(
            make_session, catalog, run_id, shard, worker, {} if phases is None else phases
        )
    except Exception as exc:
        log.exception("matching run %s shard %d failed", run_id, shard)
        with make_session.begin() as session:
            run = repo.lock_matching_run(session, run_id)
            if run is not None and run.status in ("queued", "running"):
                run.status, run.error, run.finished_at = (
                    "failed",
                    f"shard {shard}: {exc}"[:2000],
                    datetime.now(UTC),
                )
        raise


#: On PostgreSQL a shard is read, evaluated and stored in pieces of this many
#: enterprises: each piece's results are streamed into the shard's one transaction
#: (``_ShardStore``) while the next piece is evaluated and the one after is read. The
#: database's work of storing is spread over the shard instead of arriving in one
#: burst at its end (what the calculator's latency feels on a shared host), and
#: reading, evaluating and storing overlap.
PIECE = 5_000


@dataclass(frozen=True)
class RunRef:
    """A run's keys, kept past the session that read them."""

    id: str
    number: int


class _ShardStore:
    """Where a shard's results go as its pieces are evaluated.

    On PostgreSQL each piece is copied into the shard's own transaction in a
    background thread (one copy pending at most) while the next piece is evaluated;
    nothing is visible until the shard commits, with its mark of done, so a shard
    executed twice (a worker presumed dead, a retry) still writes once: the second
    to finish finds the shard done and rolls its rows back. The paths the rows' codes
    stand for are committed at once in transactions of their own, so a shard never
    waits on another's uncommitted paths. Elsewhere (SQLite, one file with one
    writer) the rows are kept and written with the shard's mark of done."""

    def __init__(self, make_session: sessionmaker[Session], writer: Session, run: RunRef) -> None:
        self.make_session, self.writer, self.run = make_session, writer, run
        self.streaming = writer.get_bind().dialect.name == "postgresql"
        self.kept: list[ResultRows] = []
        self.behind = WriteBehind(self.streaming)

    def add(self, rows: list[ResultRows]) -> None:
        if not rows:
            return
        if not self.streaming:
            self.kept += rows
            return
        self.behind.submit(lambda: self._copy(rows))

    def _copy(self, rows: list[ResultRows]) -> None:
        if any(part.paths for part in rows):
            with self.make_session.begin() as session:
                repo.add_run_paths(session, self.run.id, rows)
        repo.add_result_rows_only(self.writer, self.run.number, rows)

    def finish(self) -> None:
        """Wait for the last copy, or write the kept rows (under the run's lock)."""
        self.behind.wait()
        if self.kept:
            repo.add_matching_result_rows(self.writer, self.run, self.kept)

    def __enter__(self) -> _ShardStore:
        self.behind.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.behind.__exit__(*exc)


def _execute_shard(
    make_session: sessionmaker[Session],
    catalog: Catalog,
    run_id: str,
    shard_no: int,
    worker: str,
    phases: dict[str, float],
) -> None:
    with make_session.begin() as session:
        run = repo.get_matching_run(session, run_id)
        shard = repo.get_shard(session, run_id, shard_no)
        if run is None or shard is None or shard.status == "done":
            return
        if run.status not in ("queued", "running"):
            return
        if run.status == "queued":
            run.status = "running"
        repo.stamp(session, shard, worker, datetime.now(UTC))
        fiscal_year, parameters = run.fiscal_year, dict(run.parameters)
        after, until = shard.after_id, shard.last_id
        keys = RunRef(run.id, run.number)
    simulation = parameters.get("kind") == "simulation"
    with make_session() as writer, _ShardStore(make_session, writer, keys) as store:
        totals, done = _evaluate_range(
            make_session, catalog, fiscal_year, parameters, (after, until), store, phases
        )
        started = time.perf_counter()
        store.finish()
        run = repo.lock_matching_run(writer, run_id)
        shard = repo.get_shard(writer, run_id, shard_no)
        assert run is not None and shard is not None
        if shard.status == "done" or run.status != "running":
            writer.rollback()  # see _ShardStore: what this execution streamed goes
            return
        shard.status, shard.enterprises, shard.finished_at = "done", done, datetime.now(UTC)
        shard.partial = totals.json()
        writer.flush()
        run.shards_done, run.progress = repo.count_finished_shards(writer, run_id)
        if run.shards_done == run.shards_total:
            _finish(writer, catalog, run, parameters, simulation)
        writer.commit()
        phases["write"] += time.perf_counter() - started


def _evaluate_range(
    make_session: sessionmaker[Session],
    catalog: Catalog,
    fiscal_year: int,
    parameters: Mapping[str, Any],
    bounds: tuple[str, str | None],
    store: _ShardStore,
    phases: dict[str, float],
) -> tuple[Totals, int]:
    """The shard's totals and how many enterprises it evaluated; the results to keep
    (columns, one part a chunk's path) go to ``store`` a piece at a time."""
    area = _population_area(catalog, parameters)
    baseline = list(catalog)
    changes = [PolicyChange.model_validate(c) for c in parameters.get("changes", [])]
    simulation = parameters.get("kind") == "simulation"
    scenario = (
        list(apply_changes(catalog.policies, changes, fiscal_year).values()) if simulation else []
    )
    totals = Totals()
    done = 0
    for name in ("read", "evaluate", "write"):
        phases.setdefault(name, 0.0)
    after, until = bounds
    # The next piece is read in a thread of its own while this one is evaluated
    # (PostgreSQL: an SQLite database is one file that a second connection would wait on).
    overlap, size = store.streaming, PIECE if store.streaming else CHUNK
    with (
        make_session() as reader,
        closing(
            read_ahead(
                iterate_parts(reader, fiscal_year, area, size, after=after, until=until), overlap
            )
        ) as chunks,
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
                    tally_columns(totals.tallies, baseline, projected, part.chunk.places)
                    columns.append(result_rows(baseline, projected, part.chunk.ids))
                    done += part.n
                    continue
                enterprises = {e.id: e for e in part.places}
                answers = evaluate_part(baseline, part, fiscal_year)
                _tally(totals.tallies, baseline, part.rows, answers, enterprises)
                done += part.n
                if simulation:
                    changed = evaluate_part(scenario, part, fiscal_year)
                    _tally(totals.scenario, scenario, part.rows, changed, enterprises)
                    _movers(totals.movers, totals.counts, part.rows, answers, changed)
                    continue
                ids = [row.enterprise_id for row in part.rows]
                results.append(answer_rows(baseline, fiscal_year, ids, answers))
            phases["evaluate"] += time.perf_counter() - started
            started = time.perf_counter()
            store.add(results + columns)  # waits for the piece before's copy, if pending
            phases["write"] += time.perf_counter() - started
    return totals, done


def _finish(
    session: Session,
    catalog: Catalog,
    run: MatchingRun,
    parameters: Mapping[str, Any],
    simulation: bool,
) -> None:
    """The last shard's epilogue: the run's summary from every shard's totals."""
    fiscal_year, done = run.fiscal_year, run.progress
    changes = [PolicyChange.model_validate(c) for c in parameters.get("changes", [])]
    baseline = list(catalog)
    totals = combine(repo.shard_partials(session, run.id), LISTED)
    budgets = budget_overrides(changes)
    summary = _summary(catalog, baseline, totals.tallies, fiscal_year, {})
    result: dict[str, Any] = {"enterprises": done, "policies": summary}
    if simulation:
        scenario = list(apply_changes(catalog.policies, changes, fiscal_year).values())
        changed = _summary(catalog, scenario, totals.scenario, fiscal_year, budgets)
        result = {
            "enterprises": done,
            "baseline": summary,
            "scenario": changed,
            "comparison": _compare(summary, changed),
            "gainers": {"count": totals.counts["gain"], "listed": totals.movers["gain"]},
            "losers": {"count": totals.counts["lose"], "listed": totals.movers["lose"]},
        }
    run.status, run.total = "done", done
    analyze(session, ["matching_results"])  # paging a run's results plans with real counts
    run.result, run.finished_at = result, datetime.now(UTC)


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
        "shards": {"done": run.shards_done, "total": run.shards_total},
        "started_by": run.started_by,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "error": run.error,
        "parameters": run.parameters,
        "result": run.result,
    }
