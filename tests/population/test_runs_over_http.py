"""Matching runs as a portal reaches them: over HTTP and through the command line.

One small, known population on a database of its own (both backends): a matching run
started by Nanjing's portal, its results paged and exported, and the step that turns
its eligible results into awards, with every reason that step can skip an enterprise
made to happen once. The ``match``, ``simulate`` and ``idempotency purge`` commands run
as a person runs them, as processes on the same database.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from app.db.models import Enterprise, IdempotencyRecord
from app.db.session import make_engine, migrate
from app.main import create_app
from tests.api.conftest import CATALOG_DIR, issue_token, make_settings
from tests.conftest import _empty_database
from tests.helpers import random_uscc

RENT = "nj-startup-rent-subsidy"
FY = 2024
INCENTIVES = Path(sys.executable).with_name("incentives")

# The tests share one world and build on the run it starts: one worker runs them, in order.
pytestmark = pytest.mark.xdist_group("runs-over-http")

# The rent subsidy's first worked case (policy_catalog/.../nj-startup-rent-subsidy.yaml):
# eligible for 480,000.00, paid by the enterprise's district.
START_UP: dict[str, Any] = {
    "name": "南京示例智能科技有限公司",
    "kind": "enterprise",
    "registered_on": "2023-05-10",
    "location": {"province": "jiangsu", "city": "nanjing", "district": "jiangning"},
    "compliance": {"serious_dishonesty": False},
    "recognitions": [
        {"kind": "tech_sme", "level": "national", "granted_on": "2024-04-30"},
    ],
    "lease": {"area_m2": "500", "start_on": "2023-06-01"},
    "years": {"2024": {"rent_paid": "480000.00"}},
}


def start_up(district: str, **changes: Any) -> dict[str, Any]:
    profile = copy.deepcopy(START_UP) | {"uscc": random_uscc()}
    profile["location"]["district"] = district
    return profile | changes


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    url: URL
    client: TestClient
    admin: str
    nanjing: str
    wuhan: str
    ids: dict[str, str]
    profiles: dict[str, dict[str, Any]]
    run: dict[str, Any]

    def call(self, method: str, path: str, token: str, **kwargs: Any) -> Any:
        response = self.client.request(method, path, headers=auth(token), **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json()

    def wait(self, path: str, token: str) -> dict[str, Any]:
        for _ in range(600):
            run: dict[str, Any] = self.call("GET", path, token)
            if run["status"] in ("done", "failed"):
                assert run["status"] == "done", run["error"]
                return run
            time.sleep(0.1)
        pytest.fail(f"{path} did not finish")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "DATABASE_URL": self.url.render_as_string(hide_password=False),
            "CATALOG_DIR": str(CATALOG_DIR),
        }
        return subprocess.run(
            [str(INCENTIVES), *args], env=env, capture_output=True, text=True, timeout=300
        )


@pytest.fixture(scope="module")
def world(
    db_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with _empty_database(db_backend, request, tmp_path_factory.mktemp("runs")) as url:
        migrate(url)
        with TestClient(create_app(make_settings(url))) as client:
            app: Any = client.app
            world = World(
                url,
                client,
                admin=issue_token(app),
                nanjing=issue_token(app, "portal", jurisdiction="nanjing"),
                wuhan=issue_token(app, "portal", jurisdiction="wuhan"),
                ids={},
                profiles={},
                run={},
            )
            places = {
                "awarded": "jiangning",
                "moved_away": "gulou",
                "lost_district": "jiangning",
                "lost_credential": "jiangning",
                "awarded_directly": "jiangning",
                "over_budget": "lishui",
            }
            for name, district in places.items():
                body = world.profiles[name] = start_up(district)
                world.ids[name] = world.call("POST", "/v1/enterprises", world.admin, json=body)[
                    "id"
                ]
            # Nanjing's matching run for the fiscal year, over these six and no others.
            started = world.call(
                "POST", "/v1/matching/runs", world.nanjing, json={"fiscal_year": FY}
            )
            assert started["kind"] == "matching"
            world.run = world.wait(f"/v1/matching/runs/{started['id']}", world.nanjing)
            yield world


@pytest.fixture
def run(world: World) -> dict[str, Any]:
    return world.run


def test_the_run_finds_every_start_up(world: World, run: dict[str, Any]) -> None:
    rent = run["result"]["policies"][RENT]
    assert rent["eligible"] == len(world.ids)
    assert rent["amount"] == f"{480000 * len(world.ids)}.00"


def test_results_page_by_cursor_and_export_as_csv(world: World, run: dict[str, Any]) -> None:
    path = f"/v1/matching/runs/{run['id']}/results"
    seen: list[dict[str, Any]] = []
    cursor = "0"
    while cursor is not None:
        page = world.call(
            "GET", path, world.nanjing, params={"policy_id": RENT, "limit": 4, "cursor": cursor}
        )
        seen.extend(page["items"])
        cursor = page["next_cursor"]
    assert sorted(r["enterprise_id"] for r in seen) == sorted(world.ids.values())
    assert {(r["status"], r["amount"]) for r in seen} == {("eligible", "480000.00")}

    response = world.client.get(f"{path}.csv", headers=auth(world.nanjing))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # a BOM, so spreadsheets read UTF-8
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    rent_rows = [r for r in rows if r["policy_id"] == RENT]
    assert sorted(r["enterprise_id"] for r in rent_rows) == sorted(world.ids.values())
    assert {r["amount"] for r in rent_rows} == {"480000.00"}
    everything = world.call("GET", path, world.nanjing, params={"limit": 500})["items"]
    assert len(rows) == len(everything)

    # Wuhan's portal cannot see Nanjing's run, nor its results.
    for suffix in ("", "/results", "/results.csv"):
        url = f"/v1/matching/runs/{run['id']}{suffix}"
        assert world.client.get(url, headers=auth(world.wuhan)).status_code == 404


def test_awards_from_the_run_skip_each_enterprise_for_its_reason(
    world: World, run: dict[str, Any]
) -> None:
    ids = world.ids
    # After the run, the world moves on:
    # one enterprise moves to Wuhan, out of Nanjing's portal's area;
    moved = copy.deepcopy(world.profiles["moved_away"])
    moved["location"] = {"province": "hubei", "city": "wuhan", "district": "hongshan"}
    world.call("PUT", f"/v1/enterprises/{ids['moved_away']}", world.admin, json=moved)
    # one is no longer registered in a district, so no district can pay it;
    lost = copy.deepcopy(world.profiles["lost_district"])
    del lost["location"]["district"]
    world.call("PUT", f"/v1/enterprises/{ids['lost_district']}", world.admin, json=lost)
    # one no longer holds the credential the subsidy asks for;
    world.call(
        "PUT",
        f"/v1/enterprises/{ids['lost_credential']}",
        world.admin,
        json=world.profiles["lost_credential"] | {"recognitions": []},
    )
    # one was awarded directly, outside the run;
    world.call(
        "POST",
        "/v1/awards",
        world.nanjing,
        json={"enterprise_id": ids["awarded_directly"], "policy_id": RENT, "fiscal_year": FY},
    )
    # and Lishui's budget for the subsidy is smaller than one award.
    world.call(
        "POST",
        "/v1/budgets",
        world.admin,
        json={
            "policy_id": RENT,
            "fiscal_year": FY,
            "payer_level": "district",
            "payer_jurisdiction": "lishui",
            "amount": "100000.00",
        },
    )

    report = world.call(
        "POST", f"/v1/matching/runs/{run['id']}/awards", world.nanjing, json={"policy_id": RENT}
    )
    assert report["created"] == 1
    assert report["skipped"] == {
        "outside_your_area": 1,
        "no_payer": 1,
        "no_longer_eligible": 1,
        "already_awarded": 1,
        "over_budget": 1,
    }
    (award_id,) = report["award_ids"]
    award = world.call("GET", f"/v1/awards/{award_id}", world.nanjing)
    assert (award["enterprise_id"], award["amount"]) == (ids["awarded"], "480000.00")

    again = world.call(
        "POST", f"/v1/matching/runs/{run['id']}/awards", world.nanjing, json={"policy_id": RENT}
    )
    assert again["created"] == 0
    assert again["skipped"]["already_awarded"] == 2


def test_a_city_portal_reaches_its_districts_budgets(world: World) -> None:
    enterprise = world.call("POST", "/v1/enterprises", world.nanjing, json=start_up("xuanwu"))
    award = world.call(
        "POST",
        "/v1/awards",
        world.nanjing,
        json={"enterprise_id": enterprise["id"], "policy_id": RENT, "fiscal_year": FY},
    )
    assert award["payer"] == {"level": "district", "jurisdiction": "xuanwu"}

    def xuanwu(token: str) -> list[dict[str, Any]]:
        budgets = world.call(
            "GET", "/v1/budgets", token, params={"policy_id": RENT, "fiscal_year": FY}
        )["items"]
        return [b for b in budgets if b["payer"]["jurisdiction"] == "xuanwu"]

    # The city's portal approves an award its district pays, from that district's budget
    # (made from the catalog's planning figure when first needed) ...
    world.call(
        "POST",
        f"/v1/awards/{award['id']}/notice",
        world.nanjing,
        json={"notice_start": "2024-06-03", "notice_end": "2024-06-14"},
    )
    approved = world.call("POST", f"/v1/awards/{award['id']}/approve", world.nanjing, json={})
    assert approved["status"] == "approved"
    # ... and sees that budget; Wuhan's portal does not.
    (budget,) = xuanwu(world.nanjing)
    assert budget["committed"] == "480000.00"
    assert budget["payer"]["level"] == "district"
    assert xuanwu(world.wuhan) == []
    # Wuhan's portal can neither see that award nor act on it.
    for action in ("disburse", "revoke"):
        refused = world.client.post(
            f"/v1/awards/{award['id']}/{action}",
            headers=auth(world.wuhan),
            json={"reason": "not ours"},
        )
        assert refused.status_code == 404, refused.text


def test_match_and_simulate_commands(world: World, run: dict[str, Any]) -> None:
    matched = world.cli("match", "--fiscal-year", str(FY))
    assert matched.returncode == 0, matched.stderr
    answer = json.loads(matched.stdout)
    assert answer["status"] == "done" and answer["kind"] == "matching"
    assert "enterprises evaluated" in matched.stderr  # the progress line
    # The admin's run sees every enterprise: the database is the module's own.
    engine = make_engine(world.url)
    with Session(engine) as session:
        assert answer["total"] == session.scalar(select(func.count()).select_from(Enterprise))
    engine.dispose()

    scenario = Path(os.environ.get("TMPDIR", "/tmp")) / f"changes-{os.getpid()}.json"
    scenario.write_text(json.dumps([{"policy_id": RENT, "enabled": False}]), encoding="utf-8")
    try:
        simulated = world.cli("simulate", "--fiscal-year", str(FY), "--changes", str(scenario))
    finally:
        scenario.unlink()
    assert simulated.returncode == 0, simulated.stderr
    outcome = json.loads(simulated.stdout)
    assert outcome["kind"] == "simulation" and outcome["status"] == "done"
    rent = outcome["result"]["comparison"][RENT]
    assert rent["switched_off"] is True
    assert rent["beneficiaries"]["scenario"] == 0
    assert rent["beneficiaries"]["baseline"] > 0

    bad = world.cli("simulate", "--fiscal-year", str(FY), "--changes", "/nonexistent.json")
    assert bad.returncode == 2 and "nonexistent.json" in bad.stderr


def test_idempotency_purge_command_forgets_only_old_answers(world: World) -> None:
    first, second = (
        world.call(
            "POST",
            "/v1/enterprises",
            world.admin,
            json=start_up("qixia", name=f"南京清理测试{n}有限公司"),
        )["id"]
        for n in (1, 2)
    )
    for key, enterprise_id in (("purge-old", first), ("purge-new", second)):
        response = world.client.post(
            "/v1/awards",
            headers=auth(world.admin) | {"Idempotency-Key": key},
            json={"enterprise_id": enterprise_id, "policy_id": RENT, "fiscal_year": FY},
        )
        assert response.status_code == 201, response.text
    engine = make_engine(world.url)
    with Session(engine) as session, session.begin():
        (old,) = session.scalars(
            select(IdempotencyRecord).where(IdempotencyRecord.key == "purge-old")
        )
        old.created_at = old.created_at - timedelta(days=2)

    purged = world.cli("idempotency", "purge")
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.startswith("removed 1 ")
    with Session(engine) as session:
        left = set(
            session.scalars(
                select(IdempotencyRecord.key).where(IdempotencyRecord.key.like("purge-%"))
            )
        )
    engine.dispose()
    assert left == {"purge-new"}
