"""Who may see and change what, through the real server.

- an enterprise key sees its own enterprise and awards only; another enterprise's
  object answers 404 exactly as a missing one does (no leak), on every route with an id;
- an auditor key reads everything and writes nothing (403 on every write, no effect);
- a district portal acts for its district only: another district's enterprises are
  404, and approving from another district's or the city's budget is 403;
- no key, an unknown key or a revoked key: 401 problem with ``WWW-Authenticate``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.services.actors import SYSTEM
from app.services.keys import revoke_key
from tests.ledger.server import LedgerServer
from tests.ledger.support import (
    NOTICE,
    PLATFORM,
    RENT,
    act,
    assert_problem,
    budget,
    compute,
    create_budget,
    location,
    ok,
    platform_profile,
    register,
    rent_profile,
)

YEAR = 2033  # this module's platform awards and budget (the rent subsidy is for 2024)


@dataclass(frozen=True)
class World:
    """Two enterprises with an award each, an enterprise key for the first, an auditor."""

    own: dict[str, Any]
    own_award: dict[str, Any]
    other: dict[str, Any]
    other_award: dict[str, Any]
    enterprise_token: str
    auditor_token: str
    budget_id: str


@pytest.fixture(scope="module")
def world(server: LedgerServer, admin: httpx.Client) -> World:
    own = register(admin, platform_profile("jiangning"))
    other = register(admin, platform_profile("jianye"))
    own_award = ok(compute(admin, own["id"], fiscal_year=YEAR, amount="20000.00"), 201)
    other_award = ok(compute(admin, other["id"], fiscal_year=YEAR, amount="20000.00"), 201)
    budget_id = create_budget(admin, PLATFORM, "5000000.00", fiscal_year=YEAR)["id"]
    return World(
        own=own,
        own_award=own_award,
        other=other,
        other_award=other_award,
        enterprise_token=server.issue("enterprise", enterprise_id=own["id"]),
        auditor_token=server.issue("auditor"),
        budget_id=budget_id,
    )


def _id_routes(enterprise_id: str, award_id: str) -> list[str]:
    return [
        f"/v1/enterprises/{enterprise_id}",
        f"/v1/enterprises/{enterprise_id}?version=1",
        f"/v1/enterprises/{enterprise_id}/versions",
        f"/v1/enterprises/{enterprise_id}/entitlements?fiscal_year={YEAR}",
        f"/v1/awards/{award_id}",
        f"/v1/awards/{award_id}/events",
        f"/v1/awards/{award_id}/replay",
    ]


def assert_reads_the_object(
    response: httpx.Response, path: str, enterprise: Any, award: Any
) -> None:
    """A 200 whose body is the object the path names, not just any answer."""
    body = ok(response)
    if path.startswith("/v1/awards/"):
        named = body.get("award_id", body.get("id"))
        assert named == award["id"], path
        if "enterprise_id" in body:
            assert body["enterprise_id"] == enterprise["id"], path
    elif "/versions" in path:
        assert body["enterprise_id"] == enterprise["id"], path
        assert [v["profile"]["uscc"] for v in body["items"]] == [enterprise["uscc"]] * len(
            body["items"]
        )
    elif "/entitlements" in path:
        # The answer is for that enterprise's current profile: its version, and the
        # award the enterprise already holds shows as held.
        assert body["profile_version"] == enterprise["version"], path
        assert body["results"], path
    else:
        assert (body["id"], body["uscc"]) == (enterprise["id"], enterprise["uscc"]), path
        if "version=" in path:
            assert body["version"] == 1, path


# ---------------------------------------------------------------- enterprise keys


def test_enterprise_key_reads_its_own(server: LedgerServer, world: World) -> None:
    with server.client(world.enterprise_token) as client:
        for path in _id_routes(world.own["id"], world.own_award["id"]):
            assert_reads_the_object(client.get(path), path, world.own, world.own_award)


def test_enterprise_key_gets_404_for_another_enterprise_like_for_nothing(
    server: LedgerServer, world: World
) -> None:
    missing_enterprise, missing_award = str(uuid.uuid4()), str(uuid.uuid4())
    with server.client(world.enterprise_token) as client:
        theirs = _id_routes(world.other["id"], world.other_award["id"])
        nothing = _id_routes(missing_enterprise, missing_award)
        for path, absent in zip(theirs, nothing, strict=True):
            seen, unseen = client.get(path), client.get(absent)
            body = assert_problem(seen, 404)
            ghost = assert_problem(unseen, 404)
            # Indistinguishable from an id that does not exist (but for the id itself).
            for key in ("type", "title", "status"):
                assert body[key] == ghost[key], path
            assert body["detail"].replace(world.other["id"], "X").replace(
                world.other_award["id"], "X"
            ) == ghost["detail"].replace(missing_enterprise, "X").replace(missing_award, "X")
        # Writing to it is no better: the enterprise is invisible (404), award actions
        # are not for enterprise keys at all (403).
        put = client.put(f"/v1/enterprises/{world.other['id']}", json=platform_profile("jianye"))
        assert_problem(put, 404)
        assert_problem(compute(client, world.other["id"], amount="1.00"), 403)
        assert_problem(act(client, world.other_award["id"], "notice", **NOTICE), 403)


def test_enterprise_key_lists_only_its_own(server: LedgerServer, world: World) -> None:
    with server.client(world.enterprise_token) as client:
        enterprises = ok(client.get("/v1/enterprises", params={"limit": 200}))["items"]
        assert [e["id"] for e in enterprises] == [world.own["id"]]
        assert ok(client.get("/v1/enterprises", params={"district": "jianye"}))["items"] in (
            [],
            [enterprises[0]],
        )
        awards = ok(client.get("/v1/awards", params={"limit": 200}))["items"]
        assert [a["id"] for a in awards] == [world.own_award["id"]]
        theirs = ok(client.get("/v1/awards", params={"enterprise_id": world.other["id"]}))
        assert theirs["items"] == []
        # Budgets and the audit log are not for enterprise keys.
        assert_problem(client.get("/v1/budgets"), 403)
        assert_problem(client.get("/v1/audit/events"), 403)


# ---------------------------------------------------------------- auditor keys


def test_auditor_reads_everything_and_writes_nothing(
    server: LedgerServer, admin: httpx.Client, world: World
) -> None:
    eid, aid = world.other["id"], world.other_award["id"]
    head_before = ok(admin.get("/v1/audit/checkpoint"))
    with server.client(world.auditor_token) as auditor:
        for path in _id_routes(eid, aid):
            assert_reads_the_object(auditor.get(path), path, world.other, world.other_award)
        # The lists are everyone's: they hold the other enterprise's award and budgets.
        awards = ok(auditor.get("/v1/awards", params={"enterprise_id": eid}))["items"]
        assert [a["id"] for a in awards] == [aid]
        assert ok(auditor.get("/v1/budgets"))["items"]
        assert ok(auditor.get("/v1/audit/events"))["items"]
        assert ok(auditor.get("/v1/audit/verify"))["records"] > 0

        writes: list[tuple[str, str, dict[str, Any]]] = [
            ("POST", "/v1/enterprises", platform_profile()),
            (
                "PUT",
                f"/v1/enterprises/{eid}",
                {**platform_profile("jianye"), "uscc": world.other["uscc"]},
            ),
            (
                "POST",
                "/v1/awards",
                {
                    "enterprise_id": eid,
                    "policy_id": PLATFORM,
                    "fiscal_year": YEAR + 1,
                    "amount": "1.00",
                },
            ),
            ("POST", f"/v1/awards/{aid}/notice", NOTICE),
            ("POST", f"/v1/awards/{aid}/approve", {}),
            ("POST", f"/v1/awards/{aid}/disburse", {}),
            ("POST", f"/v1/awards/{aid}/reject", {"reason": "auditor says no"}),
            ("POST", f"/v1/awards/{aid}/revoke", {"reason": "auditor says no"}),
            ("POST", f"/v1/awards/{aid}/objections", {"text": "objection", "by": "auditor"}),
            ("POST", f"/v1/awards/{aid}/recompute", {"amount": "1.00"}),
            (
                "POST",
                "/v1/budgets",
                {
                    "policy_id": PLATFORM,
                    "fiscal_year": YEAR + 1,
                    "payer_level": "city",
                    "payer_jurisdiction": "nanjing",
                    "amount": "1.00",
                },
            ),
            ("PUT", f"/v1/budgets/{world.budget_id}", {"amount": "1.00", "reason": "auditor"}),
        ]
        for method, path, body in writes:
            response = auditor.request(method, path, json=body)
            assert_problem(response, 403)
            assert "auditor" in response.json()["detail"], (method, path, response.text)

    # Nothing happened: no audit record, the award and the budget as they were.
    assert ok(admin.get("/v1/audit/checkpoint"))["seq"] == head_before["seq"]
    assert ok(admin.get(f"/v1/awards/{aid}"))["status"] == "computed"
    assert ok(admin.get(f"/v1/enterprises/{eid}"))["version"] == 1
    assert budget(admin, PLATFORM, YEAR)["amount"] == "5000000.00"  # type: ignore[index]


# ---------------------------------------------------------------- district portals


@dataclass(frozen=True)
class Districts:
    portal: str  # jiangning
    city_portal: str  # nanjing
    home: dict[str, Any]  # a jiangning enterprise
    home_rent: dict[str, Any]  # its rent subsidy, paid by jiangning, noticed
    home_platform: dict[str, Any]  # its platform award, paid by the city, noticed
    away: dict[str, Any]  # a jianye enterprise
    away_award: dict[str, Any]
    moved_award: dict[str, Any]  # paid by jianye; the enterprise then moved to jiangning


@pytest.fixture(scope="module")
def districts(server: LedgerServer, admin: httpx.Client, world: World) -> Districts:
    home = register(admin, {**rent_profile("jiangning"), **_platform_facts()})
    home_rent = ok(compute(admin, home["id"], RENT), 201)
    home_platform = ok(compute(admin, home["id"], PLATFORM, YEAR, amount="20000.00"), 201)
    away = register(admin, platform_profile("jianye"))
    away_award = ok(compute(admin, away["id"], fiscal_year=YEAR, amount="20000.00"), 201)

    # Computed while in jianye, so jianye pays; then the enterprise moves to jiangning.
    mover_profile = rent_profile("jianye")
    mover = register(admin, mover_profile)
    moved_award = ok(compute(admin, mover["id"], RENT), 201)
    assert moved_award["payer"] == {"level": "district", "jurisdiction": "jianye"}
    moved = ok(
        admin.put(
            f"/v1/enterprises/{mover['id']}",
            json={**mover_profile, "location": location("jiangning")},
        )
    )
    assert moved["version"] == 2 and moved["location"]["district"] == "jiangning"

    for award in (home_rent, home_platform, away_award, moved_award):
        ok(act(admin, award["id"], "notice", **NOTICE))
    return Districts(
        portal=server.issue("portal", jurisdiction="jiangning"),
        city_portal=server.issue("portal", jurisdiction="nanjing"),
        home=home,
        home_rent=home_rent,
        home_platform=home_platform,
        away=away,
        away_award=away_award,
        moved_award=moved_award,
    )


def _platform_facts() -> dict[str, Any]:
    facts = platform_profile()
    years = {**facts["years"]}
    years["2024"] = {**years["2024"], "rent_paid": "480000.00"}
    return {
        "years": years,
        "recognitions": [*facts["recognitions"], *rent_profile()["recognitions"]],
    }


def test_district_portal_cannot_reach_another_district(
    server: LedgerServer, admin: httpx.Client, districts: Districts
) -> None:
    away, away_award = districts.away, districts.away_award
    with server.client(districts.portal) as portal:
        for path in _id_routes(away["id"], away_award["id"]):
            assert_problem(portal.get(path), 404)
        assert_problem(
            portal.put(f"/v1/enterprises/{away['id']}", json=platform_profile("jianye")), 404
        )
        assert_problem(compute(portal, away["id"], fiscal_year=YEAR + 1, amount="1.00"), 404)
        for action, body in (
            ("approve", {}),
            ("reject", {"reason": "x"}),
            ("objections", {"text": "x"}),
        ):
            assert_problem(act(portal, away_award["id"], action, **body), 404)
        # Nor register an enterprise outside its district.
        assert_problem(portal.post("/v1/enterprises", json=platform_profile("jianye")), 403)

        listed = ok(portal.get("/v1/enterprises", params={"limit": 200}))["items"]
        assert listed and {e["location"]["district"] for e in listed} == {"jiangning"}
        assert away["id"] not in {e["id"] for e in listed}
        assert ok(portal.get("/v1/enterprises", params={"district": "jianye"}))["items"] == []
        theirs = ok(portal.get("/v1/awards", params={"enterprise_id": away["id"]}))["items"]
        assert theirs == []
        mine = ok(portal.get("/v1/awards", params={"enterprise_id": districts.home["id"]}))["items"]
        assert {a["id"] for a in mine} == {districts.home_rent["id"], districts.home_platform["id"]}

        # Its own district: reads and updates.
        home = ok(portal.get(f"/v1/enterprises/{districts.home['id']}"))
        assert (home["id"], home["location"]["district"]) == (districts.home["id"], "jiangning")
    assert ok(admin.get(f"/v1/awards/{away_award['id']}"))["status"] == "public_notice"


def test_district_portal_spends_only_its_own_budget(
    server: LedgerServer, admin: httpx.Client, districts: Districts
) -> None:
    with server.client(districts.portal) as portal:
        # The city pays the platform award: not this portal's money.
        city = act(portal, districts.home_platform["id"], "approve")
        assert "nanjing" in assert_problem(city, 403)["detail"]
        # The moved enterprise is in this district now, but jianye pays its award.
        jianye = act(portal, districts.moved_award["id"], "approve")
        assert "jianye" in assert_problem(jianye, 403)["detail"]
        for award in (districts.home_platform, districts.moved_award):
            assert ok(portal.get(f"/v1/awards/{award['id']}"))["status"] == "public_notice"
        assert budget(admin, RENT, payer="jianye") is None

        # Its own district's award: approved from the jiangning budget (from the catalog).
        approved = ok(act(portal, districts.home_rent["id"], "approve"))
        assert approved["status"] == "approved"
        assert approved["payer"] == {"level": "district", "jurisdiction": "jiangning"}
        visible = ok(portal.get("/v1/budgets"))["items"]
        assert visible and {b["payer"]["jurisdiction"] for b in visible} == {"jiangning"}
        [rent_budget] = [b for b in visible if (b["policy_id"], b["fiscal_year"]) == (RENT, 2024)]
        assert rent_budget["committed"] == approved["amount"] == "480000.00"

    # The city portal reaches the city's budget (and its districts').
    with server.client(districts.city_portal) as city_portal:
        assert (
            ok(act(city_portal, districts.home_platform["id"], "approve"))["status"] == "approved"
        )
        assert ok(act(city_portal, districts.moved_award["id"], "approve"))["status"] == "approved"


# ---------------------------------------------------------------- authentication


PROTECTED = [
    ("GET", "/v1/enterprises"),
    ("GET", "/v1/awards"),
    ("POST", "/v1/awards"),
    ("GET", "/v1/budgets"),
    ("GET", "/v1/audit/verify"),
]


def _assert_unauthorized(response: httpx.Response) -> None:
    assert_problem(response, 401)
    assert response.headers.get("WWW-Authenticate") == "Bearer", response.headers


def test_no_key_or_a_bad_key_is_401(server: LedgerServer) -> None:
    with server.client() as anonymous:
        for method, path in PROTECTED:
            _assert_unauthorized(anonymous.request(method, path, json={}))
            for token in ("pik_nothing_here", "not-a-key", "pik_" + "0" * 12 + "_" + "x" * 43):
                _assert_unauthorized(
                    anonymous.request(
                        method, path, headers={"Authorization": f"Bearer {token}"}, json={}
                    )
                )
        _assert_unauthorized(anonymous.get("/v1/awards", headers={"Authorization": "Basic YTpi"}))


def test_a_revoked_key_is_401(server: LedgerServer) -> None:
    token = server.issue("auditor", label="soon-revoked")
    prefix = token.split("_")[1]
    with server.client(token) as client:
        assert client.get("/v1/audit/verify").status_code == 200
        with server.session() as session:
            revoke_key(session, prefix, SYSTEM)
        for method, path in PROTECTED:
            _assert_unauthorized(client.request(method, path, json={}))
    # A secret that does not match the prefix's hash is refused too.
    with server.client(server.admin_token[:-4] + "AAAA") as forged:
        _assert_unauthorized(forged.get("/v1/awards"))
