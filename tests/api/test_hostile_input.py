"""Hostile input is normal input: a NUL byte, a number past its column, a date that
overflows, a string longer than its column. Each is a 422 problem that names the
parameter or points at the field, on both databases; never a 500, never half-written.

PostgreSQL refuses all of these itself (text cannot hold NUL; BIGINT stops at 2**63 - 1;
a timestamp must convert to UTC), so before these checks they reached it and failed
there as 500s. The first tests walk every parameter of every operation in the OpenAPI
schema, so a parameter added later is held to the same rule.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.support import (
    assert_problem,
    create_enterprise,
    nanjing,
    pointers,
    post_award,
    profile,
)

NUL_TEXT = "ab\x00c"
TOO_BIG = str(10**20)  # past BIGINT (9223372036854775807), let alone INTEGER
OVERFLOWING_INSTANTS = (
    "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
    "0001-01-01T00:00:00+14:00",  # year 0 in UTC
)


def _green_factory() -> dict[str, Any]:
    """A profile eligible for nj-green-manufacturing in 2024."""
    return profile(
        kind="enterprise",
        location=nanjing(),
        industry="manufacturing",
        compliance={"serious_dishonesty": False, "major_incident_last_year": False},
        recognitions=[{"kind": "green_factory", "level": "national", "granted_on": "2024-01-05"}],
    )


def _award(client: TestClient) -> dict[str, Any]:
    enterprise = create_enterprise(client, _green_factory())
    response = post_award(client, enterprise["id"], "nj-green-manufacturing", 2024)
    assert response.status_code == 201, response.text
    award: dict[str, Any] = response.json()
    return award


METHODS = ("get", "post", "put", "delete", "patch")


def _schema_types(schema: dict[str, Any]) -> set[tuple[str, str | None]]:
    """The (type, format) a parameter takes: each option of an `anyOf`, at any depth,
    but null."""
    if "anyOf" in schema:
        return {kind for option in schema["anyOf"] for kind in _schema_types(option)}
    if schema.get("type") in (None, "null"):
        return set()
    return {(schema["type"], schema.get("format"))}


def _parameters(openapi: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, parameter) for every query and path parameter of every operation."""
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("query", "path"):
                    yield method, path, parameter


def _request(client: TestClient, method: str, path: str, name: str, value: str) -> dict[str, Any]:
    """Send ``value`` as the parameter ``name``; every other path parameter is a fresh id
    and every required query parameter a valid value. Returns the problem."""
    operation = OPENAPI["paths"][path][method]
    query: dict[str, str] = {}
    url = path
    for parameter in operation.get("parameters", []):
        given = value if parameter["name"] == name else None
        if parameter["in"] == "path":
            segment = given.replace("\x00", "%00") if given else str(uuid.uuid4())
            url = url.replace("{" + parameter["name"] + "}", segment)
        elif given is not None:
            query[name] = given
        elif parameter["in"] == "query" and parameter.get("required"):
            query[parameter["name"]] = "2024"  # the only required ones are fiscal years
    response = client.request(method.upper(), url, params=query)
    problem = assert_problem(response, 422)
    named = [e.get("parameter") for e in problem.get("errors") or []]
    assert name in named, (method, path, problem)
    return problem


def _cases(openapi: dict[str, Any], kinds: set[tuple[str, str | None]]) -> list[Any]:
    return [
        pytest.param(method, path, p["name"], id=f"{method.upper()} {path} {p['name']}")
        for method, path, p in _parameters(openapi)
        if _schema_types(p["schema"]) & kinds
    ]


def _openapi() -> dict[str, Any]:
    from app.main import create_app
    from tests.api.conftest import make_settings

    return create_app(make_settings("sqlite://")).openapi()


OPENAPI = _openapi()
TEXT_PARAMETERS = _cases(OPENAPI, {("string", None)})
NUMBER_PARAMETERS = _cases(OPENAPI, {("integer", None), ("number", None)})
INSTANT_PARAMETERS = _cases(OPENAPI, {("string", "date-time")})


def test_the_walk_finds_the_parameters_it_is_about() -> None:
    """A guard on the walk itself: the parameters of the findings are among its cases."""
    ids = {p.id for p in TEXT_PARAMETERS + NUMBER_PARAMETERS + INSTANT_PARAMETERS}
    assert {
        "GET /v1/audit/awards.csv status",
        "GET /v1/budgets payer",
        "GET /v1/awards/{award_id} award_id",
        "GET /v1/audit/events after_seq",
        "GET /v1/matching/runs/{run_id}/results cursor",
        "GET /v1/audit/events occurred_from",
        "GET /v1/awards created_to",
        "GET /v1/awards amount_min",
    } <= ids, sorted(ids)


@pytest.mark.parametrize(("method", "path", "name"), TEXT_PARAMETERS)
def test_a_nul_byte_in_any_text_parameter_is_a_422_naming_it(
    client: TestClient, method: str, path: str, name: str
) -> None:
    _request(client, method, path, name, NUL_TEXT)


@pytest.mark.parametrize(("method", "path", "name"), NUMBER_PARAMETERS)
def test_a_number_past_its_column_is_a_422_naming_it(
    client: TestClient, method: str, path: str, name: str
) -> None:
    _request(client, method, path, name, TOO_BIG)
    _request(client, method, path, name, "-" + TOO_BIG)


@pytest.mark.parametrize(("method", "path", "name"), INSTANT_PARAMETERS)
def test_an_instant_that_overflows_in_utc_is_a_422_naming_it(
    client: TestClient, method: str, path: str, name: str
) -> None:
    for value in OVERFLOWING_INSTANTS:
        problem = _request(client, method, path, name, value)
        assert "range" in json.dumps(problem["errors"]), problem


@pytest.mark.parametrize(("method", "path", "name"), INSTANT_PARAMETERS)
def test_an_instant_without_a_time_zone_is_a_422_asking_for_one(
    client: TestClient, method: str, path: str, name: str
) -> None:
    problem = _request(client, method, path, name, "2024-06-01T00:00:00")
    assert "time zone" in json.dumps(problem["errors"]), problem


# ------------------------------------------------------------------------ exports


def test_a_csv_export_with_a_bad_filter_is_a_problem_not_a_broken_download(
    client: TestClient,
) -> None:
    """The export streams its rows; a bad parameter must be refused before the 200."""
    for params in ({"status": "\x00"}, {"district": "\x00"}, {"status": "paid"}):
        response = client.get("/v1/audit/awards.csv", params=params)
        problem = assert_problem(response, 422)
        assert [e.get("parameter") for e in problem["errors"]] == list(params), problem


def test_a_csv_export_still_streams_its_rows(client: TestClient) -> None:
    award = _award(client)
    response = client.get("/v1/audit/awards.csv", params={"enterprise_id": award["enterprise_id"]})
    assert response.status_code == 200, response.text
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("id,enterprise_id,uscc,enterprise_name")
    assert len(lines) == 2 and lines[1].startswith(award["id"])


# ------------------------------------------------------------------------ page cursors


def _cursor(created_at: str, row_id: str) -> str:
    raw = json.dumps([created_at, row_id]).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor("2024-06-01T00:00:00+00:00", "\x00"),
        _cursor("9999-12-31T23:59:59-14:00", str(uuid.uuid4())),
    ],
    ids=["nul-id", "overflowing-instant"],
)
@pytest.mark.parametrize("path", ["/v1/awards", "/v1/enterprises"])
def test_a_forged_page_cursor_is_a_422_naming_it(
    client: TestClient, path: str, cursor: str
) -> None:
    problem = assert_problem(client.get(path, params={"cursor": cursor}), 422)
    assert [e.get("parameter") for e in problem["errors"]] == ["cursor"]


# ------------------------------------------------------------------------ request bodies


def test_a_nul_byte_in_a_name_is_a_422_and_nothing_is_stored(client: TestClient) -> None:
    body = profile(name="南京\x00科技有限公司", location=nanjing())
    problem = assert_problem(client.post("/v1/enterprises", json=body), 422)
    assert pointers(problem) == ["/name"]
    listed = client.get("/v1/enterprises", params={"limit": 200}).json()["items"]
    assert body["uscc"] not in {e["uscc"] for e in listed}


def test_a_nul_byte_in_the_calculator_profile_is_a_422(client: TestClient) -> None:
    body = {"fiscal_year": 2024, "profile": {"name": "x\x00", "location": nanjing()}}
    assert pointers(assert_problem(client.post("/v1/eligibility", json=body), 422)) == [
        "/profile/name"
    ]


def test_a_name_as_long_as_its_column_is_kept_and_one_longer_is_a_422(
    client: TestClient,
) -> None:
    from app.db import bounds

    longest = "南" * bounds.ENTERPRISE_NAME
    created = create_enterprise(client, profile(name=longest, location=nanjing()))
    assert client.get(f"/v1/enterprises/{created['id']}").json()["name"] == longest
    problem = assert_problem(client.post("/v1/enterprises", json=profile(name=longest + "南")), 422)
    assert pointers(problem) == ["/name"]


def test_a_payer_level_longer_than_its_column_is_a_422(client: TestClient) -> None:
    body = {
        "policy_id": "nj-green-manufacturing",
        "fiscal_year": 2031,
        "payer_level": "a" * 33,
        "payer_jurisdiction": "nanjing",
        "amount": "1000.00",
    }
    problem = assert_problem(client.post("/v1/budgets", json=body), 422)
    assert pointers(problem) == ["/payer_level"]
    assert "32" in problem["errors"][0]["detail"]


@pytest.mark.parametrize(
    ("action", "body", "pointer"),
    [
        ("reject", {"reason": "no\x00"}, "/reason"),
        ("objections", {"text": "late\x00"}, "/text"),
        ("objections", {"text": "late", "by": "\x00"}, "/by"),
        ("notice", {"notice_start": "2024-06-03", "notice_end": "9999-12-31"}, "/notice_end"),
    ],
)
def test_bad_text_in_an_award_action_is_a_422_and_the_award_is_unchanged(
    client: TestClient, action: str, body: dict[str, Any], pointer: str
) -> None:
    award = _award(client)
    problem = assert_problem(client.post(f"/v1/awards/{award['id']}/{action}", json=body), 422)
    assert pointers(problem) == [pointer]
    after = client.get(f"/v1/awards/{award['id']}").json()
    assert (after["status"], after["updated_at"]) == (award["status"], award["updated_at"])
    events = client.get(f"/v1/awards/{award['id']}/events").json()["items"]
    assert len(events) == 1  # only its creation


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"enterprise_id": "\x00", "policy_id": "nj-green-manufacturing"}, "/enterprise_id"),
        ({"enterprise_id": "x", "policy_id": "nj\x00"}, "/policy_id"),
    ],
)
def test_a_nul_byte_in_an_award_request_is_a_422(
    client: TestClient, body: dict[str, Any], pointer: str
) -> None:
    problem = assert_problem(client.post("/v1/awards", json={**body, "fiscal_year": 2024}), 422)
    assert pointers(problem) == [pointer]


def test_a_nul_byte_in_a_simulation_is_a_422(client: TestClient) -> None:
    body = {
        "fiscal_year": 2024,
        "changes": [{"policy_id": "nj-green-manufacturing", "parameters": {"cap\x00": "1"}}],
    }
    problem = assert_problem(client.post("/v1/simulations", json=body), 422)
    assert pointers(problem) == ["/changes/0/parameters/cap\x00"]


def test_a_nul_byte_in_an_idempotency_key_is_a_422_naming_the_header(client: TestClient) -> None:
    # A real HTTP server refuses a NUL in a header line; an ASGI client can still send one.
    response = client.post(
        "/v1/awards",
        json={"enterprise_id": "x", "policy_id": "nj-green-manufacturing", "fiscal_year": 2024},
        headers={"Idempotency-Key": "k\x00"},
    )
    problem = assert_problem(response, 422)
    assert [e.get("parameter") for e in problem["errors"]] == ["Idempotency-Key"]


def test_a_nul_byte_in_an_api_key_is_a_401(client: TestClient) -> None:
    response = client.get("/v1/awards", headers={"Authorization": "Bearer pik_\x00_secret"})
    assert_problem(response, 401)
