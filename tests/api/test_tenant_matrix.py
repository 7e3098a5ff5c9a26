"""Every route with an id, for every tenant, on every tenant's objects.

Tenants: the city portals of Nanjing and Wuhan, a district portal of each (Jiangning,
Hongshan), an enterprise key of a Jiangning enterprise and one of a Hongshan
enterprise, and an auditor. Objects: each city's enterprise, award (on public notice,
paid by its city), budget, and the matching runs, simulations and (large) imports
each portal started.

For each cell the expected answer is written out below, not derived from the code:
an object the tenant may not see is a 404 indistinguishable from a missing one, a
role that may not do something is a 403, and a read the tenant may make answers 200
with that very object in the body. Writes inside a tenant's scope change the ledger
and are tested elsewhere; here every refused write must leave the audit log as it
was. The routes come from the app's route table: a route with a path parameter the
matrix does not cover fails the test, so a new route cannot be forgotten.

The catalog is the real one plus a Wuhan copy of the public-platform policy, so that
Wuhan has an award of its own (the real catalog pays only Nanjing and Jiangsu).
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from app.db.session import migrate
from app.main import create_app
from tests.api.conftest import CATALOG_DIR, issue_token, make_settings
from tests.api.support import store_as_before
from tests.conftest import _empty_database
from tests.helpers import random_uscc
from tests.imports.support import csv_bytes, table

YEAR = 2024
RUN_YEAR = 2025
NOTICE = {"notice_start": "2024-01-02", "notice_end": "2024-01-12"}
HOME_POLICY = {"NJ": "nj-public-platform", "WH": "wh-public-platform", "MIX": "nj-public-platform"}
LOCATION = {
    "NJ": {"province": "jiangsu", "city": "nanjing", "district": "jiangning"},
    "WH": {"province": "hubei", "city": "wuhan", "district": "hongshan"},
    # Stored before locations were checked: Nanjing as the city, a Wuhan district.
    "MIX": {"city": "nanjing", "district": "hongshan"},
}
HOMES = ("NJ", "WH", "MIX")
PORTALS = ("nanjing", "jiangning", "wuhan", "hongshan")
TENANTS = (*PORTALS, "enterprise_nj", "enterprise_wh", "auditor")

# ---------------------------------------------------------------- what each tenant may see
# Written out by hand: the Jiangning enterprise and its award are Nanjing's and
# Jiangning's; the misfiled one ("MIX") is no portal's; a run started by Nanjing covers
# the whole city, so Jiangning may not read it, while Nanjing may read its district's.
SEES: dict[str, set[str]] = {
    "nanjing": {"NJ", "run:nanjing", "run:jiangning"},
    "jiangning": {"NJ", "run:jiangning"},
    "wuhan": {"WH", "run:wuhan", "run:hongshan"},
    "hongshan": {"WH", "run:hongshan"},
    "enterprise_nj": {"NJ"},
    "enterprise_wh": {"WH"},
    "auditor": {"NJ", "WH", "MIX", "run:nanjing", "run:jiangning", "run:wuhan", "run:hongshan"},
}
#: Who may spend from each city's budget (approve, disburse, revoke its awards).
SPENDS = {"NJ": {"nanjing"}, "WH": {"wuhan"}, "MIX": {"nanjing"}}
WRITERS = set(PORTALS)  # of the tenants; admin aside
MONEY = ("approve", "disburse", "revoke")


# ---------------------------------------------------------------- the world


def _wuhan_policy(catalog: Path) -> None:
    """policies/wuhan/wh-public-platform.yaml: Nanjing's public-platform policy for Wuhan."""
    source = catalog / "policies" / "nanjing" / "nj-public-platform.yaml"
    policy = yaml.safe_load(source.read_text(encoding="utf-8"))
    policy.update(id="wh-public-platform", jurisdiction="wuhan")
    policy["payer"]["jurisdiction"] = "wuhan"
    for clause in policy["versions"][0]["eligibility"]["all"]:
        if clause.get("fact") == "location.city":
            clause.update(id="in-wuhan", value="wuhan")
        elif "performance" in str(clause.get("fact")):
            clause["fact"] = "years.{fy}.performance.wh-public-platform"
    case = policy["cases"][0]
    case["profile"]["location"] = LOCATION["WH"]
    case["profile"]["years"] = {"2024": {"performance": {"wh-public-platform": 88}}}
    policy["cases"] = [case]
    target = catalog / "policies" / "wuhan" / "wh-public-platform.yaml"
    target.parent.mkdir()
    target.write_text(yaml.safe_dump(policy, allow_unicode=True, sort_keys=False), "utf-8")


def _platform(home: str) -> dict[str, Any]:
    return {
        "uscc": random_uscc(),
        "name": f"{home}示例智能计算中心有限公司",
        "kind": "platform",
        "location": LOCATION[home],
        "compliance": {"serious_dishonesty": False},
        "recognitions": [
            {"kind": "ai_computing_center", "level": "municipal", "granted_on": "2022-07-01"}
        ],
        # Rated for the award's year and the next, which the matching runs look at
        # (the award already taken for 2024 makes that year ineligible for the run).
        "years": {str(y): {"performance": {HOME_POLICY[home]: 88}} for y in (YEAR, RUN_YEAR)},
    }


@dataclass
class World:
    client: TestClient
    admin: dict[str, str]
    tokens: dict[str, dict[str, str]]
    #: object name ("enterprise:NJ", "run:jiangning", …) -> id
    ids: dict[str, str] = field(default_factory=dict)
    #: enterprise home -> the profile it was registered with
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)

    def call(self, tenant: str, method: str, path: str, body: Any = None) -> Any:
        headers = self.tokens[tenant] if tenant != "admin" else self.admin
        return self.client.request(method, path, json=body, headers=headers)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> dict[str, Any]:
        answer = self.call("admin", method, path, body)
        assert answer.status_code == status, answer.text
        result: dict[str, Any] = answer.json()
        return result


def _finished(world: World, path: str) -> dict[str, Any]:
    for _ in range(1200):  # bounded: a few enterprises take well under a second
        run = world.ok("GET", path)
        if run["status"] in ("done", "failed"):
            assert run["status"] == "done", run
            return run
        time.sleep(0.05)
    raise AssertionError(f"{path} did not finish")


@pytest.fixture(scope="module")
def world(
    db_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("matrix")
    catalog = tmp / "catalog"
    shutil.copytree(CATALOG_DIR, catalog)
    _wuhan_policy(catalog)
    with _empty_database(db_backend, request, tmp) as url:
        migrate(url)
        # Every import file is a job, so that each portal has an import to read.
        app = create_app(make_settings(url, catalog_dir=catalog, import_job_bytes=0))
        with TestClient(app) as client:
            admin = {"Authorization": f"Bearer {issue_token(app)}"}
            tokens = {
                j: {"Authorization": f"Bearer {issue_token(app, 'portal', jurisdiction=j)}"}
                for j in PORTALS
            }
            tokens["auditor"] = {"Authorization": f"Bearer {issue_token(app, 'auditor')}"}
            w = World(client, admin, tokens)
            _populate(w, app)
            yield w


def _populate(w: World, app: Any) -> None:
    for home in HOMES:
        profile = _platform(home)
        w.profiles[home] = profile
        if home == "MIX":
            w.ids[f"enterprise:{home}"] = store_as_before(app, profile).id
        else:
            enterprise = w.ok("POST", "/v1/enterprises", profile, 201)
            w.ids[f"enterprise:{home}"] = enterprise["id"]
            token = issue_token(app, "enterprise", enterprise_id=enterprise["id"])
            w.tokens[f"enterprise_{home.lower()}"] = {"Authorization": f"Bearer {token}"}
        enterprise = {"id": w.ids[f"enterprise:{home}"]}
        award = w.ok(
            "POST",
            "/v1/awards",
            {
                "enterprise_id": enterprise["id"],
                "policy_id": HOME_POLICY[home],
                "fiscal_year": YEAR,
                "amount": "10000.00",
            },
            201,
        )
        w.ok("POST", f"/v1/awards/{award['id']}/notice", NOTICE)
        w.ids[f"award:{home}"] = award["id"]
        if home == "MIX":
            continue  # paid from Nanjing's budget, made for NJ below
        budget = w.ok(
            "POST",
            "/v1/budgets",
            {
                "policy_id": HOME_POLICY[home],
                "fiscal_year": YEAR,
                "payer_level": "city",
                "payer_jurisdiction": LOCATION[home]["city"],
                "amount": "1000000.00",
            },
            201,
        )
        w.ids[f"budget:{home}"] = budget["id"]
    for portal in PORTALS:
        run = w.call(portal, "POST", "/v1/matching/runs", {"fiscal_year": RUN_YEAR})
        assert run.status_code == 202, run.text
        w.ids[f"run:{portal}"] = run.json()["id"]
        change = [{"policy_id": "nj-public-platform", "enabled": False}]
        sim = w.call(
            portal, "POST", "/v1/simulations", {"fiscal_year": RUN_YEAR, "changes": change}
        )
        assert sim.status_code == 202, sim.text
        w.ids[f"simulation:{portal}"] = sim.json()["id"]
        queued = w.client.post(
            "/v1/imports",
            files={"file": ("m.csv", csv_bytes(table([])), "text/csv")},
            headers=w.tokens[portal],
        )
        assert queued.status_code == 202, queued.text
        w.ids[f"import:{portal}"] = queued.json()["id"]
    for portal in PORTALS:
        _finished(w, f"/v1/imports/{w.ids[f'import:{portal}']}")
        _finished(w, f"/v1/matching/runs/{w.ids[f'run:{portal}']}")
        _finished(w, f"/v1/simulations/{w.ids[f'simulation:{portal}']}")


# ---------------------------------------------------------------- the routes


@dataclass(frozen=True)
class Object:
    name: str  # "enterprise:NJ", "run:jiangning", "policy:NJ" …
    home: str  # what SEES speaks of: "NJ", "WH", "MIX", "run:<portal>"; "" if public


@dataclass(frozen=True)
class Route:
    """How the matrix exercises one route: the objects to put in the path, the body
    of a write, and what a 200 must contain."""

    kind: str  # enterprise | award | budget | run | simulation | import | policy
    write: str | None = None  # None for a read; else how refusals are ordered (below)
    body: Callable[[World, Object], Any] | None = None
    query: str = ""
    # A read's proof that the body is the object asked for.
    shows: Callable[[World, Object, Any], bool] | None = None


def _own_id(key: str) -> Callable[[World, Object, Any], bool]:
    return lambda w, o, answer: answer.json()[key] == w.ids[o.name]


def _results_of_home(w: World, o: Object, answer: Any) -> bool:
    ids = {item["enterprise_id"] for item in answer.json()["items"]}
    return bool(ids) and ids == {w.ids[f"enterprise:{_run_home(o)}"]}


def _csv_of_home(w: World, o: Object, answer: Any) -> bool:
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    return bool(rows) and {r["enterprise_id"] for r in rows} == {
        w.ids[f"enterprise:{_run_home(o)}"]
    }


def _shows(route: Route, w: World, obj: Object, answer: Any) -> bool:
    assert route.shows is not None
    try:
        return route.shows(w, obj, answer)
    except (KeyError, ValueError, TypeError):  # not the shape asked for: not its object
        return False


def _run_home(o: Object) -> str:
    return "NJ" if o.home in ("run:nanjing", "run:jiangning") else "WH"


def _profile_of(w: World, o: Object) -> dict[str, Any]:
    return w.profiles[o.home]


# Writes: "object first" means an unseen object is a 404 before the role is looked at
# (PUT of an enterprise); "role first" means a role that may not write is a 403 whatever
# the object (award actions, a run's awards); "admin" means only an admin may write.
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/v1/policies/{policy_id}"): Route(
        "policy", shows=lambda w, o, a: a.json()["id"] == HOME_POLICY[o.name.split(":")[1]]
    ),
    ("GET", "/v1/enterprises/{enterprise_id}"): Route("enterprise", shows=_own_id("id")),
    ("PUT", "/v1/enterprises/{enterprise_id}"): Route(
        "enterprise", write="object first", body=_profile_of
    ),
    ("GET", "/v1/enterprises/{enterprise_id}/versions"): Route(
        "enterprise", shows=_own_id("enterprise_id")
    ),
    ("GET", "/v1/enterprises/{enterprise_id}/entitlements"): Route(
        "enterprise", query=f"?fiscal_year={YEAR}", shows=_own_id("enterprise_id")
    ),
    ("GET", "/v1/enterprises/{enterprise_id}/gaps"): Route(
        "enterprise", query=f"?fiscal_year={YEAR}", shows=_own_id("enterprise_id")
    ),
    ("GET", "/v1/enterprises/{enterprise_id}/findings"): Route(
        "enterprise", shows=_own_id("enterprise_id")
    ),
    # Enterprises and auditors never record findings (403 whatever the enterprise).
    ("POST", "/v1/enterprises/{enterprise_id}/findings"): Route(
        "enterprise",
        write="role first",
        body=lambda w, o: {"fiscal_year": YEAR, "key": "matrix", "met": True},
    ),
    ("GET", "/v1/awards/{award_id}"): Route("award", shows=_own_id("id")),
    ("GET", "/v1/awards/{award_id}/events"): Route("award", shows=_own_id("award_id")),
    ("GET", "/v1/awards/{award_id}/replay"): Route("award", shows=_own_id("award_id")),
    ("POST", "/v1/awards/{award_id}/notice"): Route(
        "award", write="role first", body=lambda w, o: NOTICE
    ),
    ("POST", "/v1/awards/{award_id}/approve"): Route(
        "award", write="role first", body=lambda w, o: {}
    ),
    ("POST", "/v1/awards/{award_id}/disburse"): Route(
        "award", write="role first", body=lambda w, o: {}
    ),
    ("POST", "/v1/awards/{award_id}/reject"): Route(
        "award", write="role first", body=lambda w, o: {"reason": "matrix"}
    ),
    ("POST", "/v1/awards/{award_id}/revoke"): Route(
        "award", write="role first", body=lambda w, o: {"reason": "matrix"}
    ),
    ("POST", "/v1/awards/{award_id}/objections"): Route(
        "award", write="role first", body=lambda w, o: {"text": "matrix"}
    ),
    ("POST", "/v1/awards/{award_id}/recompute"): Route(
        "award", write="role first", body=lambda w, o: {"amount": "1.00"}
    ),
    ("PUT", "/v1/budgets/{budget_id}"): Route(
        "budget", write="admin", body=lambda w, o: {"amount": "1.00", "reason": "matrix"}
    ),
    ("GET", "/v1/matching/runs/{run_id}"): Route("run", shows=_own_id("id")),
    ("GET", "/v1/matching/runs/{run_id}/results"): Route("run", shows=_results_of_home),
    ("GET", "/v1/matching/runs/{run_id}/results.csv"): Route("run", shows=_csv_of_home),
    ("POST", "/v1/matching/runs/{run_id}/awards"): Route(
        "run", write="role first", body=lambda w, o: {"policy_id": HOME_POLICY[_run_home(o)]}
    ),
    ("GET", "/v1/simulations/{run_id}"): Route("simulation", shows=_own_id("id")),
    ("POST", "/v1/matching/runs/{run_id}/cancel"): Route(
        "run", write="role first", body=lambda w, o: {}
    ),
    ("POST", "/v1/simulations/{run_id}/cancel"): Route(
        "simulation", write="role first", body=lambda w, o: {}
    ),
    ("GET", "/v1/imports/{import_id}"): Route("import", shows=_own_id("id")),
    # Auditors read imports but stop none (403 whatever the import).
    ("POST", "/v1/imports/{import_id}/cancel"): Route(
        "import", write="role first", body=lambda w, o: {}
    ),
}

# The browser console's pages with an id (app/console/), tried with each tenant's own
# session cookie: the same answers as the API's routes, as pages. The award steps are
# one route; the matrix sends the two that differ in who may take them.
CONSOLE_ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/console/enterprises/{enterprise_id}"): Route(
        "enterprise", query=f"?fiscal_year={YEAR}"
    ),
    ("POST", "/console/enterprises/{enterprise_id}/awards"): Route(
        "enterprise",
        write="role first",
        body=lambda w, o: {"policy_id": HOME_POLICY[o.home], "fiscal_year": str(YEAR)},
    ),
    ("GET", "/console/awards/{award_id}"): Route("award"),
    ("GET", "/console/awards/{award_id}/replay"): Route("award"),
    ("POST", "/console/awards/{award_id}/{step}"): Route(
        "award", write="role first", body=lambda w, o: {"reason": "matrix"}
    ),
    ("GET", "/console/runs/{run_id}"): Route("run"),
    ("GET", "/console/what-if/{run_id}"): Route("simulation"),
    ("POST", "/console/runs/{run_id}/awards"): Route(
        "run", write="role first", body=lambda w, o: {"policy_id": HOME_POLICY[_run_home(o)]}
    ),
    ("GET", "/console/imports/{import_id}"): Route("import"),
    ("POST", "/console/imports/{import_id}/cancel"): Route(
        "import", write="role first", body=lambda w, o: {}
    ),
}
CONSOLE_STEPS = ("approve", "reject")

OBJECTS = {
    "policy": [Object("policy:NJ", ""), Object("policy:WH", "")],
    "enterprise": [Object(f"enterprise:{h}", h) for h in HOMES],
    "award": [Object(f"award:{h}", h) for h in HOMES],
    "budget": [Object("budget:NJ", "NJ"), Object("budget:WH", "WH")],
    "run": [Object(f"run:{p}", f"run:{p}") for p in PORTALS],
    "simulation": [Object(f"simulation:{p}", f"run:{p}") for p in PORTALS],
    # A portal's import is read where its runs are: in its area and above it.
    "import": [Object(f"import:{p}", f"run:{p}") for p in PORTALS],
}


def expected(method: str, path: str, route: Route, tenant: str, obj: Object) -> int | None:
    """The status a tenant must get, or None for a write inside its scope (not sent)."""
    if route.kind == "policy":
        return 200
    sees = obj.home in SEES[tenant]
    if route.kind in ("run", "simulation", "import") and tenant.startswith("enterprise"):
        return 403  # population work and bulk imports are not for enterprise keys at all
    if route.write is None:
        return 200 if sees else 404
    if route.write == "admin":
        return 403
    if route.write == "role first" and tenant not in WRITERS:
        return 403
    if not sees:
        return 404
    if tenant not in WRITERS:
        return 403
    action = path.rsplit("/", 1)[-1]
    if route.kind == "award" and action in MONEY and tenant not in SPENDS[obj.home]:
        return 403  # sees the award, may not spend its city's money
    return None


def _path(template: str, route: Route, w: World, obj: Object) -> str:
    policy = route.kind == "policy"
    value = HOME_POLICY[obj.name.split(":")[1]] if policy else w.ids[obj.name]
    return template.replace(template[template.index("{") : template.index("}") + 1], value)


def _id_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route with a path parameter, from the app's route table.

    Included routers stay nested in FastAPI's table (0.16x), so they are walked; the
    walk must find every operation of the OpenAPI schema, or it is not trusted."""
    served: set[tuple[str, str]] = set()
    for route in app.routes:
        nested = getattr(route, "effective_route_contexts", None)
        contexts = list(nested()) if nested is not None else [route]
        for context in contexts:
            for method in getattr(context, "methods", None) or ():
                served.add((method, context.path))
    documented = {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    }
    assert documented <= served, f"the route table walk missed {documented - served}"
    return {(method, path) for method, path in served if "{" in path and method != "HEAD"}


# ---------------------------------------------------------------- the tests


def test_every_route_with_an_id_is_in_the_matrix(world: World) -> None:
    served = _id_routes(world.client.app)
    covered = set(ROUTES) | set(CONSOLE_ROUTES)
    missing = sorted(served - covered)
    stale = sorted(covered - served)
    assert not missing, f"routes with an id that the tenant matrix does not cover: {missing}"
    assert not stale, f"the matrix names routes the app does not serve: {stale}"


def test_each_tenant_reaches_its_own_objects_and_nothing_else(world: World) -> None:
    w = world
    head = w.ok("GET", "/v1/audit/checkpoint")["seq"]
    wrong: list[str] = []
    for (method, template), route in ROUTES.items():
        for obj in OBJECTS[route.kind]:
            path = _path(template, route, w, obj) + route.query
            for tenant in TENANTS:
                want = expected(method, template, route, tenant, obj)
                if want is None:
                    continue
                body = route.body(w, obj) if route.body else None
                answer = w.call(tenant, method, path, body)
                cell = f"{tenant:>13} {method:<4} {template} on {obj.name}"
                if answer.status_code != want:
                    wrong.append(f"{cell}: {answer.status_code}, want {want}: {answer.text[:160]}")
                    continue
                if want == 200 and route.shows and not _shows(route, w, obj, answer):
                    wrong.append(f"{cell}: 200 without its own object: {answer.text[:160]}")
                if want == 404:
                    # Indistinguishable from an id that exists nowhere (but for the id).
                    real, ghost = w.ids[obj.name], str(uuid.uuid4())
                    other = w.call(tenant, method, path.replace(real, ghost), body).json()
                    mine = answer.json()
                    if [mine[k] for k in ("type", "title", "status")] != [
                        other[k] for k in ("type", "title", "status")
                    ] or mine["detail"].replace(real, "X") != other["detail"].replace(ghost, "X"):
                        wrong.append(f"{cell}: its 404 differs from a missing object's")
    assert not wrong, f"{len(wrong)} cell(s) wrong:\n" + "\n".join(wrong)
    # Every refused write left the ledger and the audit log as they were.
    assert w.ok("GET", "/v1/audit/checkpoint")["seq"] == head
    for home in HOMES:
        award = w.ok("GET", f"/v1/awards/{w.ids[f'award:{home}']}")
        assert award["status"] == "public_notice" and award["amount"] == "10000.00"
        assert w.ok("GET", f"/v1/enterprises/{w.ids[f'enterprise:{home}']}")["version"] == 1


def test_lists_hold_only_what_the_tenant_may_see(world: World) -> None:
    w = world
    for tenant in TENANTS:
        sees = SEES[tenant]
        enterprises = w.call(tenant, "GET", "/v1/enterprises?limit=200").json()["items"]
        want = {w.ids[f"enterprise:{h}"] for h in HOMES if h in sees}
        assert {e["id"] for e in enterprises} == want, tenant
        awards = w.call(tenant, "GET", "/v1/awards?limit=200").json()["items"]
        want = {w.ids[f"award:{h}"] for h in HOMES if h in sees}
        assert {a["id"] for a in awards} == want, tenant
        # Asking for another tenant's objects by filter finds nothing either.
        for home in HOMES:
            if home in sees:
                continue
            eid = w.ids[f"enterprise:{home}"]
            filtered = w.call(tenant, "GET", f"/v1/awards?enterprise_id={eid}").json()
            assert filtered["items"] == [], tenant
            city = LOCATION[home]["city"]
            by_city = w.call(tenant, "GET", f"/v1/enterprises?city={city}").json()["items"]
            assert eid not in {e["id"] for e in by_city}, tenant
    for tenant in (*PORTALS, "auditor"):
        budgets = w.call(tenant, "GET", "/v1/budgets").json()["items"]
        want = {
            w.ids[f"budget:{h}"] for h in ("NJ", "WH") if tenant == "auditor" or tenant in SPENDS[h]
        }
        assert {b["id"] for b in budgets} == want, tenant


def test_writes_by_id_in_the_body_keep_to_the_tenants_area(world: World) -> None:
    """POST /v1/awards names its enterprise in the body, POST /v1/enterprises its place:
    outside the tenant's scope they are refused too (inside, they are tested elsewhere)."""
    w = world
    head = w.ok("GET", "/v1/audit/checkpoint")["seq"]
    for tenant in TENANTS:
        for home in HOMES:
            if tenant in WRITERS and home in SEES[tenant]:
                continue
            want = 403 if tenant not in WRITERS else 404
            body = {
                "enterprise_id": w.ids[f"enterprise:{home}"],
                "policy_id": HOME_POLICY[home],
                "fiscal_year": YEAR,
                "amount": "1.00",
            }
            answer = w.call(tenant, "POST", "/v1/awards", body)
            assert answer.status_code == want, (tenant, home, answer.text)
            registered = w.call(tenant, "POST", "/v1/enterprises", _platform(home))
            # A misfiled place is refused as such (422) before anyone's area is asked.
            want = 422 if home == "MIX" and tenant in WRITERS else 403
            assert registered.status_code == want, (tenant, home, registered.text)
    assert w.ok("GET", "/v1/audit/checkpoint")["seq"] == head


@dataclass
class ConsoleSession:
    """A tenant signed in to the console: a browser of its own (cookies) and its token."""

    client: TestClient
    csrf: str

    def send(self, method: str, path: str, body: dict[str, str] | None) -> Any:
        if method == "GET":
            return self.client.get(path)
        return self.client.post(path, data={**(body or {}), "csrf": self.csrf})


def _signed_in(w: World, tenant: str) -> ConsoleSession:
    client = TestClient(w.client.app, follow_redirects=False)
    form = client.get("/console/sign-in").text
    token = w.tokens[tenant]["Authorization"].removeprefix("Bearer ")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    signed = client.post("/console/sign-in", data={"api_key": token, "csrf": csrf[1]})
    assert signed.status_code == 303, signed.text
    home = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/").text)
    assert home is not None
    return ConsoleSession(client, home[1])


def test_console_pages_keep_to_the_tenants_scope(world: World) -> None:
    """Each console page with an id, for each tenant signed in with its own key: the
    object's page if the API would show it, else the API's 403 or a 404 page that
    reads as one for an id that exists nowhere; refused steps change nothing."""
    w = world
    head = w.ok("GET", "/v1/audit/checkpoint")["seq"]
    sessions = {tenant: _signed_in(w, tenant) for tenant in TENANTS}
    wrong: list[str] = []
    for (method, template), route in CONSOLE_ROUTES.items():
        steps = CONSOLE_STEPS if "{step}" in template else ("",)
        for step in steps:
            concrete = template.replace("{step}", step)
            for obj in OBJECTS[route.kind]:
                path = _path(concrete, route, w, obj) + route.query
                for tenant in TENANTS:
                    want = expected(method, concrete, route, tenant, obj)
                    if want is None:
                        continue
                    body = route.body(w, obj) if route.body else None
                    answer = sessions[tenant].send(method, path, body)
                    cell = f"{tenant:>13} {method:<4} {concrete} on {obj.name}"
                    if answer.status_code != want:
                        wrong.append(f"{cell}: {answer.status_code}, want {want}")
                        continue
                    real = w.ids[obj.name]
                    if want == 200 and real not in answer.text:
                        wrong.append(f"{cell}: 200 without its own object")
                    if want == 404:
                        ghost = str(uuid.uuid4())
                        other = sessions[tenant].send(method, path.replace(real, ghost), body)
                        if answer.text.replace(real, "X") != other.text.replace(ghost, "X"):
                            wrong.append(f"{cell}: its 404 differs from a missing object's")
    assert not wrong, f"{len(wrong)} cell(s) wrong:\n" + "\n".join(wrong)
    assert w.ok("GET", "/v1/audit/checkpoint")["seq"] == head
    for home in HOMES:
        award = w.ok("GET", f"/v1/awards/{w.ids[f'award:{home}']}")
        assert award["status"] == "public_notice"


def test_console_lists_hold_only_what_the_tenant_may_see(world: World) -> None:
    w = world
    for tenant in TENANTS:
        page = _signed_in(w, tenant).client.get("/console/enterprises").text
        for home in HOMES:
            shown = w.ids[f"enterprise:{home}"] in page
            assert shown == (home in SEES[tenant]), (tenant, home)
