"""Proactive matching and what-if simulation agree with per-enterprise recomputation."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from app.catalog.loader import Catalog
from app.db import repositories as repo
from app.domain.engine import evaluate, evaluate_catalog
from app.services import matching_runs as runs
from app.services.actors import SYSTEM, Actor
from app.services.matching import check_eligibility
from app.services.matching_awards import awards_from_run
from app.services.scenarios import PolicyChange, apply_changes

Population = tuple[sessionmaker[Session], Catalog, list[str]]


def _run(
    make_session: sessionmaker[Session],
    catalog: Catalog,
    changes: list[PolicyChange] | None = None,
    actor: Actor = SYSTEM,
) -> dict:  # type: ignore[type-arg]
    with make_session.begin() as session:
        run_id = runs.start_run(session, catalog, actor, 2024, changes).id
    runs.execute_run(make_session, catalog, run_id)
    with make_session() as session:
        run = repo.get_matching_run(session, run_id)
        assert run is not None and run.status == "done", run.error if run else None
        return runs.run_json(run)


def _entitlements(
    make_session: sessionmaker[Session], catalog: Catalog, ids: list[str]
) -> dict[str, tuple[int, Decimal]]:
    totals: dict[str, list] = defaultdict(lambda: [0, Decimal("0.00")])  # type: ignore[type-arg]
    with make_session() as session:
        for enterprise_id in ids:
            enterprise = repo.get_enterprise(session, enterprise_id)
            assert enterprise is not None
            profile = repo.get_profile_version(session, enterprise_id, enterprise.current_version)
            assert profile is not None
            answer = check_eligibility(catalog, profile.profile, 2024)
            for result in answer["results"]:
                if result["status"] == "eligible":
                    totals[result["policy_id"]][0] += 1
                    if result["amount_basis"] == "computed" and result["amount"] is not None:
                        totals[result["policy_id"]][1] += result["amount"]
    return {k: (v[0], v[1]) for k, v in totals.items()}


def test_matching_totals_equal_the_sum_of_entitlements(population: Population) -> None:
    make_session, catalog, ids = population
    run = _run(make_session, catalog)
    assert run["result"]["enterprises"] == len(ids) == run["progress"]
    expected = _entitlements(make_session, catalog, ids)
    assert expected, "the population should qualify for something"
    for policy_id, summary in run["result"]["policies"].items():
        count, amount = expected.get(policy_id, (0, Decimal("0.00")))
        assert summary["eligible"] == count, policy_id
        assert Decimal(summary["amount"]) == amount, policy_id
    with make_session() as session:
        stored = repo.list_matching_results(
            session, run["id"], policy_id="nj-green-manufacturing", status="eligible", limit=200
        )
        assert len(stored) == expected.get("nj-green-manufacturing", (0, 0))[0]


def test_undetermined_results_say_what_is_missing(population: Population) -> None:
    make_session, catalog, _ = population
    run = _run(make_session, catalog)
    with make_session() as session:
        undetermined = repo.list_matching_results(
            session, run["id"], status="undetermined", limit=50
        )
    assert undetermined
    # Each names the facts, or the findings a reviewer must record, that would settle it.
    assert all(
        r.missing_facts and (r.missing_facts["paths"] or r.missing_facts.get("findings"))
        for r in undetermined
    )
    waiting = [r for r in undetermined if r.missing_facts and r.missing_facts.get("findings")]
    for r in waiting:
        with make_session() as session:
            enterprise = repo.get_enterprise(session, r.enterprise_id)
            assert enterprise is not None
            profile = repo.get_profile_version(session, r.enterprise_id, enterprise.current_version)
            assert profile is not None
        answer = evaluate(catalog.policies[r.policy_id], profile.profile, 2024)
        assert list(answer.findings_required) == r.missing_facts["findings"], r.policy_id


def test_what_if_lower_cap_is_confirmed_by_recomputation(population: Population) -> None:
    make_session, catalog, ids = population
    change = PolicyChange(
        policy_id="nj-green-manufacturing", parameters={"max_award": Decimal("300000")}
    )
    run = _run(make_session, catalog, [change])
    comparison = run["result"]["comparison"]["nj-green-manufacturing"]
    scenario = list(apply_changes(catalog.policies, [change], 2024).values())
    direct_count, direct_total = 0, Decimal("0.00")
    with make_session() as session:
        for enterprise_id in ids:
            enterprise = repo.get_enterprise(session, enterprise_id)
            assert enterprise is not None
            profile = repo.get_profile_version(session, enterprise_id, enterprise.current_version)
            assert profile is not None
            for ev in evaluate_catalog(scenario, profile.profile, 2024):
                if ev.policy_id == "nj-green-manufacturing" and ev.status == "eligible":
                    direct_count += 1
                    direct_total += ev.amount or 0
    assert comparison["beneficiaries"]["scenario"] == direct_count
    assert Decimal(comparison["amount"]["scenario"]) == direct_total
    assert Decimal(comparison["amount"]["change"]) < 0
    assert run["result"]["losers"]["count"] == comparison["beneficiaries"]["baseline"]
    # Nothing in the ledger changed.
    with make_session() as session:
        assert repo.list_awards(session, limit=1).items == []


def test_switching_a_policy_off_removes_its_beneficiaries(population: Population) -> None:
    make_session, catalog, _ = population
    run = _run(
        make_session, catalog, [PolicyChange(policy_id="nj-service-manufacturing", enabled=False)]
    )
    comparison = run["result"]["comparison"]["nj-service-manufacturing"]
    assert comparison["switched_off"] is True
    assert comparison["beneficiaries"]["scenario"] == 0


def test_eligible_results_become_awards_within_budget(population: Population) -> None:
    make_session, catalog, _ = population
    run = _run(make_session, catalog)
    eligible = run["result"]["policies"]["nj-green-manufacturing"]["eligible"]
    with make_session.begin() as session:
        stored = repo.get_matching_run(session, run["id"])
        assert stored is not None
        report = awards_from_run(session, catalog, SYSTEM, stored, "nj-green-manufacturing")
    assert report["created"] + sum(report["skipped"].values()) == eligible
    assert report["created"] > 0
    with make_session.begin() as session:
        stored = repo.get_matching_run(session, run["id"])
        assert stored is not None
        again = awards_from_run(session, catalog, SYSTEM, stored, "nj-green-manufacturing")
    assert again["created"] == 0 and again["skipped"].get("already_awarded") == report["created"]


def test_population_path_answers_as_the_per_profile_engine(population: Population) -> None:
    """The batch engine behind matching runs gives the per-profile engine's answers, history included."""
    import random

    from app.domain.results import PriorAward
    from app.services.population import Row, evaluate_rows, evaluate_rows_one_by_one
    from tests.population.conftest import random_profile

    _, catalog, _ = population
    rng = random.Random(7)
    rows = [
        Row(
            f"e{i}",
            random_profile(rng),
            [PriorAward("nj-green-manufacturing", 2023, Decimal("500000.00"))]
            if i % 9 == 0
            else [],
        )
        for i in range(300)
    ]
    policies = list(catalog)
    assert evaluate_rows(policies, rows, 2024) == evaluate_rows_one_by_one(policies, rows, 2024)


def test_stored_results_are_every_answer_but_the_ineligible(population: Population) -> None:
    """The results written from the engine's arrays are the per-enterprise answers."""
    make_session, catalog, ids = population
    run = _run(make_session, catalog)
    want = []
    with make_session() as session:
        for enterprise_id in sorted(ids):
            enterprise = repo.get_enterprise(session, enterprise_id)
            assert enterprise is not None
            profile = repo.get_profile_version(session, enterprise_id, enterprise.current_version)
            assert profile is not None
            for ev in evaluate_catalog(list(catalog), profile.profile, 2024):
                if ev.status == "ineligible":
                    continue
                missing = None
                if ev.missing_facts or ev.findings_required:
                    missing = {"paths": list(ev.missing_facts)}
                    if ev.findings_required:
                        missing["findings"] = list(ev.findings_required)
                want.append((enterprise_id, ev.policy_id, ev.status, ev.amount, missing))
        stored = repo.list_matching_results(session, run["id"], limit=100_000)
        got = [(r.enterprise_id, r.policy_id, r.status, r.amount, r.missing_facts) for r in stored]
    assert got == want


def test_missing_facts_are_stored_as_codes_and_read_as_names(population: Population) -> None:
    """The batch path stores codes, not names, and the paths they stand for once per
    run and policy; reading them gives the per-enterprise engine's names (above)."""
    from sqlalchemy import select

    from app.db.models import MatchingResult, MatchingRunPaths
    from app.db.repositories.matching import run_number_of

    make_session, catalog, _ = population
    run = _run(make_session, catalog)
    r = MatchingResult
    with make_session() as session:
        names = session.scalars(
            select(r.missing_facts).where(
                r.run_number == run_number_of(run["id"]),
                r.status == "undetermined",
                r.missing_code.is_not(None),
            )
        ).all()
        paths = session.scalars(
            select(MatchingRunPaths.policy_id).where(MatchingRunPaths.run_id == run["id"])
        ).all()
        undetermined = repo.list_matching_results(
            session, run["id"], status="undetermined", limit=100_000
        )
    assert len(names) == len(undetermined) > 0
    assert not any(names)  # (JSON null on SQLite, as before)
    assert {r.policy_id for r in undetermined} <= set(paths)
