"""Findings only an official can make, over HTTP, end to end.

The catalog is the real one, copied, with one finding added to facts.yaml
(``test_market_position``) and a clause reading it added to nj-green-manufacturing
(a fixed 500,000.00 from the city of Nanjing for a national green factory): without a
finding the policy is undetermined and names what a reviewer must confirm; a portal
records the finding; entitlements, gap analysis, awards (and their replay) and
matching runs then use it, with the reviewer and the day.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from app.db.session import migrate
from app.main import create_app
from tests.api.conftest import CATALOG_DIR, issue_token, make_settings
from tests.api.support import assert_problem, pointers, profile, result_for
from tests.conftest import _empty_database

KEY = "test_market_position"
POLICY = "nj-green-manufacturing"
FY = 2024
BEIJING = timezone(timedelta(hours=8))


def _catalog(root: Path) -> None:
    facts = root / "facts.yaml"
    vocabulary = yaml.safe_load(facts.read_text(encoding="utf-8"))
    vocabulary["findings"] = [
        *(vocabulary.get("findings") or []),
        {
            "key": KEY,
            "zh": "主导产品市场地位较为靠前(测试)",
            "en": "a leading market position (test)",
        },
    ]
    facts.write_text(yaml.safe_dump(vocabulary, allow_unicode=True, sort_keys=False), "utf-8")
    path = root / "policies" / "nanjing" / f"{POLICY}.yaml"
    policy = yaml.safe_load(path.read_text(encoding="utf-8"))
    for version in policy["versions"]:
        version["eligibility"]["all"].append(
            {
                "id": "market-position",
                "text": {"zh": "市场地位较为靠前", "en": "a leading market position"},
                "finding": KEY,
            }
        )
    # The policy's own cases knew nothing of the finding: without one they wait for it.
    policy["cases"] = [
        {**case, "expect": {"status": "undetermined", "findings_required": [KEY]}}
        for case in policy["cases"]
        if case["expect"]["status"] == "eligible"
    ]
    path.write_text(yaml.safe_dump(policy, allow_unicode=True, sort_keys=False), "utf-8")


@dataclass
class World:
    client: TestClient
    keys: dict[str, dict[str, str]]
    labels: dict[str, str]

    def call(self, who: str, method: str, path: str, **kw: Any) -> httpx.Response:
        response: httpx.Response = self.client.request(method, path, headers=self.keys[who], **kw)
        return response

    def enterprise(self, district: str = "liuhe", who: str = "admin") -> str:
        body = profile(
            "南京示例汽车零部件有限公司",
            kind="enterprise",
            location={"province": "jiangsu", "city": "nanjing", "district": district},
            compliance={"serious_dishonesty": False},
            recognitions=[
                {"kind": "green_factory", "level": "national", "granted_on": "2024-01-05"}
            ],
        )
        created = self.call(who, "POST", "/v1/enterprises", json=body)
        assert created.status_code == 201, created.text
        enterprise_id: str = created.json()["id"]
        return enterprise_id

    def enterprise_key(self, enterprise_id: str) -> str:
        name = f"enterprise:{enterprise_id}"
        token = issue_token(self.client.app, "enterprise", enterprise_id=enterprise_id)  # type: ignore[arg-type]
        self.keys[name] = {"Authorization": f"Bearer {token}"}
        return name

    def record(
        self, who: str, enterprise_id: str, met: bool = True, **extra: Any
    ) -> httpx.Response:
        body = {"fiscal_year": FY, "key": KEY, "met": met, **extra}
        return self.call(who, "POST", f"/v1/enterprises/{enterprise_id}/findings", json=body)

    def answer(self, who: str, enterprise_id: str, year: int = FY) -> dict[str, Any]:
        response = self.call(
            who, "GET", f"/v1/enterprises/{enterprise_id}/entitlements?fiscal_year={year}"
        )
        assert response.status_code == 200, response.text
        return result_for(response.json(), POLICY)

    def findings(self, who: str, enterprise_id: str, query: str = "") -> list[dict[str, Any]]:
        response = self.call(who, "GET", f"/v1/enterprises/{enterprise_id}/findings{query}")
        assert response.status_code == 200, response.text
        assert response.json()["enterprise_id"] == enterprise_id
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@pytest.fixture(scope="module")
def world(
    db_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("findings")
    catalog = tmp / "catalog"
    shutil.copytree(CATALOG_DIR, catalog)
    _catalog(catalog)
    with _empty_database(db_backend, request, tmp) as url:
        migrate(url)
        app = create_app(make_settings(url, catalog_dir=catalog))
        with TestClient(app) as client:
            keys, labels = {}, {}
            for who, role, scope in (
                ("admin", "admin", {}),
                ("nanjing", "portal", {"jurisdiction": "nanjing"}),
                ("liuhe", "portal", {"jurisdiction": "liuhe"}),
                ("jiangning", "portal", {"jurisdiction": "jiangning"}),
                ("wuhan", "portal", {"jurisdiction": "wuhan"}),
                ("auditor", "auditor", {}),
            ):
                keys[who] = {"Authorization": f"Bearer {issue_token(app, role, **scope)}"}
                labels[who] = f"{role}:api-tests-{role}#"
            yield World(client, keys, labels)


def _reasons(answer: dict[str, Any]) -> str:
    return " ".join(r["text"]["en"] + r["text"]["zh"] for r in answer["reasons"])


# ---------------------------------------------------------------- the contract


def test_an_undetermined_answer_lists_the_findings_a_reviewer_must_record(world: World) -> None:
    enterprise_id = world.enterprise()
    answer = world.answer("admin", enterprise_id)
    assert answer["status"] == "undetermined"
    assert answer["missing_facts"] == []
    assert answer["findings_required"] == [
        {
            "key": KEY,
            "zh": "主导产品市场地位较为靠前(测试)",
            "en": "a leading market position (test)",
        }
    ]
    assert answer["findings_used"] == []
    assert "awaits an official's finding" in _reasons(answer)
    # An award cannot be computed yet, and the problem says what it waits for.
    refused = world.call(
        "nanjing",
        "POST",
        "/v1/awards",
        json={"enterprise_id": enterprise_id, "policy_id": POLICY, "fiscal_year": FY},
    )
    problem = assert_problem(refused, 422)
    assert problem["findings_required"] == [KEY]
    assert KEY in problem["detail"] and "finding" in problem["detail"]


def test_a_portal_records_a_finding_and_the_next_answer_uses_it(world: World) -> None:
    enterprise_id = world.enterprise()
    before = datetime.now(UTC)
    response = world.record("nanjing", enterprise_id, note="市场占有率全国前三(行业协会证明)")
    assert response.status_code == 201, response.text
    recorded = response.json()
    assert recorded["enterprise_id"] == enterprise_id
    assert (recorded["fiscal_year"], recorded["key"], recorded["met"]) == (FY, KEY, True)
    assert recorded["note"] == "市场占有率全国前三(行业协会证明)"
    assert recorded["reviewer"].startswith(world.labels["nanjing"])
    assert recorded["current"] is True
    assert recorded["en"] == "a leading market position (test)"
    at = datetime.fromisoformat(recorded["recorded_at"])
    assert before <= at <= datetime.now(UTC)
    day = at.astimezone(BEIJING).date().isoformat()  # the day in Beijing
    assert recorded["recorded_on"] == day

    answer = world.answer("nanjing", enterprise_id)
    assert answer["status"] == "eligible", answer
    assert answer["amount"] == "500000.00"
    assert answer["findings_required"] == []
    assert answer["findings_used"] == [
        {
            "key": KEY,
            "met": True,
            "reviewer": recorded["reviewer"],
            "recorded_on": day,
            "note": recorded["note"],
        }
    ]
    assert recorded["reviewer"] in _reasons(answer) and day in _reasons(answer)
    # The audit log has the record.
    events = world.call(
        "auditor", "GET", f"/v1/audit/events?action=finding.recorded&object_id={enterprise_id}"
    ).json()["items"]
    assert [e["payload"]["finding_id"] for e in events] == [recorded["id"]]


def test_another_fiscal_year_does_not_see_the_finding(world: World) -> None:
    enterprise_id = world.enterprise()
    assert world.record("admin", enterprise_id).status_code == 201
    assert world.answer("admin", enterprise_id, FY)["status"] == "eligible"
    assert world.answer("admin", enterprise_id, FY + 1)["findings_required"][0]["key"] == KEY


def test_a_later_finding_supersedes_the_earlier_and_both_stay_listed(world: World) -> None:
    enterprise_id = world.enterprise()
    first = world.record("nanjing", enterprise_id, met=True).json()
    second = world.record("liuhe", enterprise_id, met=False, note="复核:证明材料过期").json()
    items = world.findings("auditor", enterprise_id)
    assert [i["id"] for i in items] == [second["id"], first["id"]]  # newest first
    assert [i["current"] for i in items] == [True, False]
    assert items[0]["recorded_at"] > items[1]["recorded_at"]
    answer = world.answer("admin", enterprise_id)
    assert answer["status"] == "ineligible"
    assert [(f["met"], f["reviewer"]) for f in answer["findings_used"]] == [
        (False, second["reviewer"])
    ]
    # Another year's finding is listed too, and is current for its own year.
    other = world.record("admin", enterprise_id, fiscal_year=FY + 1).json()
    items = world.findings("nanjing", enterprise_id)
    assert [(i["id"], i["current"]) for i in items] == [
        (other["id"], True),
        (second["id"], True),
        (first["id"], False),
    ]
    only = world.findings("nanjing", enterprise_id, f"?fiscal_year={FY}")
    assert [i["id"] for i in only] == [second["id"], first["id"]]


# ---------------------------------------------------------------- who may


def test_an_enterprise_never_records_a_finding_but_reads_its_own(world: World) -> None:
    enterprise_id = world.enterprise()
    own = world.enterprise_key(enterprise_id)
    problem = assert_problem(world.record(own, enterprise_id), 403)
    assert "enterprise" in problem["detail"]
    assert_problem(world.record("auditor", enterprise_id), 403)
    assert world.findings(own, enterprise_id) == []
    recorded = world.record("nanjing", enterprise_id, note="核实").json()
    # The enterprise sees the role that found, never the key's label or prefix.
    (item,) = world.findings(own, enterprise_id)
    assert item["id"] == recorded["id"] and item["reviewer"] == "portal"
    answer = world.answer(own, enterprise_id)
    assert answer["status"] == "eligible"
    assert answer["findings_used"][0]["reviewer"] == "portal"
    assert world.labels["nanjing"] not in _reasons(answer)
    assert "portal" in _reasons(answer)
    # Another enterprise's findings are as missing as an unknown enterprise's.
    other = world.enterprise()
    assert_problem(world.call(own, "GET", f"/v1/enterprises/{other}/findings"), 404)


def test_a_portal_outside_the_area_can_neither_record_nor_read(world: World) -> None:
    enterprise_id = world.enterprise("liuhe")
    for outsider in ("wuhan", "jiangning"):
        problem = assert_problem(world.record(outsider, enterprise_id), 404)
        assert problem["detail"] == f"no enterprise {enterprise_id}"
        read = world.call(outsider, "GET", f"/v1/enterprises/{enterprise_id}/findings")
        assert_problem(read, 404)
    assert world.findings("admin", enterprise_id) == []
    # Within the area: the district and its city.
    assert world.record("liuhe", enterprise_id).status_code == 201
    assert world.record("nanjing", enterprise_id).status_code == 201
    assert len(world.findings("liuhe", enterprise_id)) == 2


def test_an_unknown_enterprise_is_a_404(world: World) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert_problem(world.record("admin", missing), 404)
    assert_problem(world.call("admin", "GET", f"/v1/enterprises/{missing}/findings"), 404)


# ---------------------------------------------------------------- refused input


def test_an_unknown_key_is_a_422_that_lists_the_known_keys(world: World) -> None:
    enterprise_id = world.enterprise()
    problem = assert_problem(world.record("nanjing", enterprise_id, key="market_rank"), 422)
    assert pointers(problem) == ["/key"]
    assert KEY in problem["errors"][0]["detail"]
    assert "market_rank" in problem["detail"]
    assert world.findings("admin", enterprise_id) == []
    # The keys are the vocabulary's.
    vocabulary = world.client.get("/v1/vocabulary").json()
    assert KEY in {f["key"] for f in vocabulary["findings"]}


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"key": "test_market\x00position"}, "/key"),
        ({"key": "k" * 65}, "/key"),
        ({"note": "证明\x00材料"}, "/note"),
        ({"note": "长" * 2001}, "/note"),
        ({"note": "x" * 200_000}, "/note"),
        ({"note": "   "}, "/note"),
        ({"note": "a\x1b[31mred"}, "/note"),
        ({"fiscal_year": 1999}, "/fiscal_year"),
        ({"fiscal_year": 2101}, "/fiscal_year"),
        ({"fiscal_year": 2**63}, "/fiscal_year"),
        ({"fiscal_year": "2024"}, "/fiscal_year"),
        ({"met": "yes"}, "/met"),
        ({"met": None}, "/met"),
        ({"reviewer": "someone else"}, "/reviewer"),
    ],
)
def test_hostile_input_is_a_422_never_a_500(
    world: World, change: dict[str, Any], pointer: str
) -> None:
    enterprise_id = world.enterprise()
    problem = assert_problem(world.record("nanjing", enterprise_id, **change), 422)
    assert pointer in pointers(problem)


def test_hostile_query_and_path_values_are_4xx(world: World) -> None:
    enterprise_id = world.enterprise()
    for query in ("?fiscal_year=1999", "?fiscal_year=99999999999999999999", "?fiscal_year=x"):
        response = world.call("admin", "GET", f"/v1/enterprises/{enterprise_id}/findings{query}")
        assert_problem(response, 422)
    for bad in ("%00", "x" * 37):
        assert_problem(world.record("admin", bad), 422)
        assert_problem(world.call("admin", "GET", f"/v1/enterprises/{bad}/findings"), 422)


def test_idempotency_key_replays_the_record(world: World) -> None:
    enterprise_id = world.enterprise()
    path = f"/v1/enterprises/{enterprise_id}/findings"
    body = {"fiscal_year": FY, "key": KEY, "met": True}
    headers = {**world.keys["nanjing"], "Idempotency-Key": f"finding-{enterprise_id}"}
    first = world.client.post(path, json=body, headers=headers)
    again = world.client.post(path, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert len(world.findings("admin", enterprise_id)) == 1
    other = world.client.post(path, json={**body, "met": False}, headers=headers)
    assert_problem(other, 422)


def test_the_open_calculator_never_takes_findings(world: World) -> None:
    body = profile(
        "南京示例汽车零部件有限公司",
        kind="enterprise",
        location={"province": "jiangsu", "city": "nanjing", "district": "liuhe"},
        compliance={"serious_dishonesty": False},
        recognitions=[{"kind": "green_factory", "level": "national", "granted_on": "2024-01-05"}],
    )
    sent = {"profile": body, "fiscal_year": FY}
    answer = world.client.post("/v1/eligibility", json=sent)
    assert answer.status_code == 200, answer.text
    assert result_for(answer.json(), POLICY)["status"] == "undetermined"
    for smuggled in (
        {**sent, "findings": {KEY: {"met": True}}},
        {**sent, "profile": {**body, "findings": {KEY: True}}},
    ):
        assert_problem(world.client.post("/v1/eligibility", json=smuggled), 422)


# ---------------------------------------------------------------- every evaluation uses them


def test_an_award_carries_its_finding_in_the_trace_and_replays(world: World) -> None:
    enterprise_id = world.enterprise()
    recorded = world.record("nanjing", enterprise_id, note="专家评审通过").json()
    created = world.call(
        "nanjing",
        "POST",
        "/v1/awards",
        json={"enterprise_id": enterprise_id, "policy_id": POLICY, "fiscal_year": FY},
    )
    assert created.status_code == 201, created.text
    award = created.json()
    assert award["amount"] == "500000.00"
    used = award["trace"]["findings_used"][KEY]
    assert used == {
        "met": True,
        "reviewer": recorded["reviewer"],
        "recorded_on": recorded["recorded_on"],
        "note": "专家评审通过",
    }
    clause = next(c for c in award["trace"]["clauses"] if c["clause"].endswith("market-position"))
    assert clause["met"] is True and recorded["reviewer"] in clause["text"]["en"]

    replay = world.call("auditor", "GET", f"/v1/awards/{award['id']}/replay").json()
    assert replay["match"] is True, replay["differences"]
    assert replay["recomputed"]["findings_used"][KEY]["reviewer"] == recorded["reviewer"]
    # A later finding changes the next answer, never the stored award's replay.
    assert world.record("nanjing", enterprise_id, met=False).status_code == 201
    assert world.answer("admin", enterprise_id)["status"] == "ineligible"
    replay = world.call("auditor", "GET", f"/v1/awards/{award['id']}/replay").json()
    assert replay["match"] is True, replay["differences"]
    # The enterprise sees its award's trace and replay with the reviewer's role only.
    own = world.enterprise_key(enterprise_id)
    for path in (f"/v1/awards/{award['id']}", f"/v1/awards/{award['id']}/replay"):
        shown = world.call(own, "GET", path)
        assert shown.status_code == 200, shown.text
        assert world.labels["nanjing"] not in shown.text
    shown_trace = world.call(own, "GET", f"/v1/awards/{award['id']}").json()["trace"]
    assert shown_trace["findings_used"][KEY]["reviewer"] == "portal"


def test_gap_analysis_of_a_stored_enterprise_uses_its_findings(world: World) -> None:
    enterprise_id = world.enterprise()

    def open_policies() -> set[str]:
        response = world.call(
            "admin", "GET", f"/v1/enterprises/{enterprise_id}/gaps?fiscal_year={FY}"
        )
        assert response.status_code == 200, response.text
        return {p["policy_id"] for p in response.json()["to_settle"]}

    assert POLICY in open_policies()
    assert world.record("admin", enterprise_id).status_code == 201
    assert POLICY not in open_policies()


def _run(world: World, who: str, year: int) -> list[dict[str, Any]]:
    started = world.call(who, "POST", "/v1/matching/runs", json={"fiscal_year": year})
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    for _ in range(1200):  # a background job: polled a bounded number of times
        run = world.call(who, "GET", f"/v1/matching/runs/{run_id}").json()
        if run["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert run["status"] == "done", run
    items: list[dict[str, Any]] = []
    query = f"?policy_id={POLICY}&limit=200"
    while True:
        page = world.call(who, "GET", f"/v1/matching/runs/{run_id}/results{query}").json()
        items += page["items"]
        if not page.get("next_cursor"):
            return items
        query = f"?policy_id={POLICY}&limit=200&cursor={page['next_cursor']}"


def test_a_matching_run_uses_the_findings_of_its_fiscal_year(world: World) -> None:
    found, open_, refused = world.enterprise(), world.enterprise(), world.enterprise()
    assert world.record("liuhe", found).status_code == 201
    assert world.record("liuhe", refused, met=False).status_code == 201
    statuses = {r["enterprise_id"]: r for r in _run(world, "liuhe", FY)}
    assert statuses[found]["status"] == "eligible"
    assert statuses[found]["amount"] == "500000.00"
    assert statuses[open_]["status"] == "undetermined"
    assert refused not in statuses  # ineligible answers are not kept
    # The next year has no findings: all three wait for one.
    later = {r["enterprise_id"]: r["status"] for r in _run(world, "liuhe", FY + 1)}
    assert [later.get(e) for e in (found, open_, refused)] == ["undetermined"] * 3
