"""Errors: every 4xx/5xx is RFC 9457 problem+json; validation names each field by pointer.

Money inputs follow the contract: a string or an integer; more than two places, NaN,
Infinity or a negative amount where none makes sense is a 422.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from app.api.schemas.types import USCC_ALPHABET
from app.main import create_app
from tests.api.conftest import make_settings
from tests.api.support import (
    PROBLEM,
    assert_problem,
    create_enterprise,
    nanjing,
    pointers,
    profile,
)
from tests.helpers import random_uscc

REVENUE = "/profile/years/2024/revenue"


def _with_revenue(value: Any, field: str = "revenue") -> dict[str, Any]:
    return {
        "profile": profile(location=nanjing(), years={"2024": {field: value}}),
        "fiscal_year": 2024,
    }


def _wrong_check_character(uscc: str) -> str:
    wrong = next(ch for ch in USCC_ALPHABET if ch != uscc[-1])
    return uscc[:-1] + wrong


# ------------------------------------------------------------------------ problem shape


def test_validation_error_is_a_problem_with_pointers(client: TestClient) -> None:
    response = client.post("/v1/eligibility", json=_with_revenue("12.345"))
    problem = assert_problem(response, 422)
    assert problem["errors"], problem
    assert REVENUE in pointers(problem)
    for error in problem["errors"]:
        assert error["detail"]


def test_several_bad_fields_each_get_a_pointer(client: TestClient) -> None:
    body = {
        "profile": profile(employees=-1, years={"2024": {"revenue": "x", "rd_expense": "-1"}}),
        "fiscal_year": 1999,
    }
    problem = assert_problem(client.post("/v1/eligibility", json=body), 422)
    assert set(pointers(problem)) >= {
        "/profile/employees",
        "/profile/years/2024/revenue",
        "/profile/years/2024/rd_expense",
        "/fiscal_year",
    }


def test_missing_required_fields_are_named(client: TestClient) -> None:
    problem = assert_problem(client.post("/v1/eligibility", json={"profile": {}}), 422)
    assert set(pointers(problem)) >= {"/profile/name", "/fiscal_year"}


def test_query_parameter_errors_name_the_parameter(client: TestClient) -> None:
    problem = assert_problem(client.get("/v1/enterprises", params={"limit": 0}), 422)
    assert [e.get("parameter") for e in problem["errors"]] == ["limit"]
    problem = assert_problem(client.get("/v1/awards", params={"fiscal_year": "soon"}), 422)
    assert [e.get("parameter") for e in problem["errors"]] == ["fiscal_year"]


# ------------------------------------------------------------------------ money inputs


@pytest.mark.parametrize(
    "value",
    [
        "12.345",
        12.345,
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "-5",
        -5,
        "1e3",
        "",
        "twelve",
        True,
        None,
        [],
        {"amount": "1"},
        "100000000000000.00",
    ],
    ids=repr,
)
def test_bad_revenue_is_refused(client: TestClient, value: Any) -> None:
    if value is None:
        # null means "not given" for an optional fact; it is not an error
        assert client.post("/v1/eligibility", json=_with_revenue(value)).status_code == 200
        return
    problem = assert_problem(client.post("/v1/eligibility", json=_with_revenue(value)), 422)
    assert pointers(problem) == [REVENUE], problem


@pytest.mark.parametrize(
    ("value", "stored"),
    [(1000, "1000.00"), ("1000.5", "1000.50"), ("1000", "1000.00"), ("0", "0.00"), (0, "0.00")],
    ids=repr,
)
def test_good_revenue_is_accepted_and_stored_as_a_string(
    client: TestClient, value: Any, stored: str
) -> None:
    body = _with_revenue(value)
    assert client.post("/v1/eligibility", json=body).status_code == 200
    created = create_enterprise(client, body["profile"])
    assert created["profile"]["years"]["2024"]["revenue"] == stored


def test_taxable_income_may_be_negative_but_not_a_fraction_of_a_fen(client: TestClient) -> None:
    created = create_enterprise(client, _with_revenue("-5", "taxable_income")["profile"])
    assert created["profile"]["years"]["2024"]["taxable_income"] == "-5.00"
    problem = assert_problem(
        client.post("/v1/eligibility", json=_with_revenue("-5.001", "taxable_income")), 422
    )
    assert pointers(problem) == ["/profile/years/2024/taxable_income"]


def test_award_amount_is_money_too(client: TestClient) -> None:
    for amount in ("1.234", 1.234, "NaN", "-1", True):
        body = {
            "enterprise_id": "x",
            "policy_id": "nj-public-platform",
            "fiscal_year": 2024,
            "amount": amount,
        }
        problem = assert_problem(client.post("/v1/awards", json=body), 422)
        assert pointers(problem) == ["/amount"], (amount, problem)


# ------------------------------------------------------------------------ USCC


def test_uscc_with_a_wrong_check_character_is_refused(client: TestClient) -> None:
    body = profile()
    body["uscc"] = _wrong_check_character(body["uscc"])
    problem = assert_problem(client.post("/v1/enterprises", json=body), 422)
    assert pointers(problem) == ["/uscc"]
    assert "check character" in problem["errors"][0]["detail"]


@pytest.mark.parametrize("uscc", ["91320115MA1W9KXT4", "91320115MA1W9KXT4I9", "9132011SMA1W9KXT4"])
def test_malformed_uscc_is_refused(client: TestClient, uscc: str) -> None:
    problem = assert_problem(client.post("/v1/enterprises", json=profile(uscc=uscc)), 422)
    assert pointers(problem) == ["/uscc"]


def test_valid_uscc_is_accepted(client: TestClient) -> None:
    uscc = random_uscc()
    created = create_enterprise(client, profile(uscc=uscc))
    assert created["uscc"] == uscc
    # the contract's own example is a valid code
    assert (
        client.post(
            "/v1/eligibility",
            json={"profile": {"uscc": "91320115MA1W9KXT49", "name": "x"}, "fiscal_year": 2024},
        ).status_code
        == 200
    )


# ------------------------------------------------------------------------ vocabulary


def test_unknown_industry_lists_the_known_words(client: TestClient) -> None:
    body = {"profile": profile(industry="space_mining"), "fiscal_year": 2024}
    problem = assert_problem(client.post("/v1/eligibility", json=body), 422)
    [error] = problem["errors"]
    assert error["pointer"] == "/profile/industry"
    assert "space_mining" in error["detail"]
    for known in ("software_information", "manufacturing", "agriculture"):
        assert known in error["detail"]
    # the same check guards stored profiles
    problem = assert_problem(client.post("/v1/enterprises", json=body["profile"]), 422)
    assert pointers(problem) == ["/industry"]


def test_unknown_maker_china_word_of_a_year_lists_the_known_words(client: TestClient) -> None:
    body = {"profile": profile(years={"2024": {"maker_china": "top_1000"}}), "fiscal_year": 2024}
    problem = assert_problem(client.post("/v1/eligibility", json=body), 422)
    [error] = problem["errors"]
    assert error["pointer"] == "/profile/years/2024/maker_china"
    for known in ("none", "national_top500", "national_top50"):
        assert known in error["detail"]


def test_unknown_recognition_kind_lists_the_known_words(client: TestClient) -> None:
    body = {
        "profile": profile(recognitions=[{"kind": "gold_star", "level": "national"}]),
        "fiscal_year": 2024,
    }
    problem = assert_problem(client.post("/v1/eligibility", json=body), 422)
    [error] = problem["errors"]
    assert error["pointer"] == "/profile/recognitions/0/kind"
    for known in ("green_factory", "high_tech_enterprise", "consortium_leader"):
        assert known in error["detail"]


def test_unknown_place_and_level_are_refused(client: TestClient) -> None:
    body = {
        "profile": profile(
            location={"province": "jiangsu", "city": "atlantis"},
            recognitions=[{"kind": "green_factory", "level": "galactic"}],
        ),
        "fiscal_year": 2024,
    }
    problem = assert_problem(client.post("/v1/eligibility", json=body), 422)
    assert set(pointers(problem)) == {"/profile/location/city", "/profile/recognitions/0/level"}


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (
            {"profile": {"name": "x", "favourite_colour": "red"}, "fiscal_year": 2024},
            "/profile/favourite_colour",
        ),
        ({"profile": {"name": "x"}, "fiscal_year": 2024, "extra": 1}, "/extra"),
        (
            {"profile": {"name": "x", "years": {"2024": {"revenu": "1"}}}, "fiscal_year": 2024},
            "/profile/years/2024/revenu",
        ),
        (
            {"profile": {"name": "x", "location": {"town": "nanjing"}}, "fiscal_year": 2024},
            "/profile/location/town",
        ),
    ],
)
def test_unknown_fields_are_refused(client: TestClient, body: dict[str, Any], pointer: str) -> None:
    problem = assert_problem(client.post("/v1/eligibility", json=body), 422)
    assert pointers(problem) == [pointer]


def test_bad_year_key_is_refused(client: TestClient) -> None:
    body = {"profile": {"name": "x", "years": {"last year": {}}}, "fiscal_year": 2024}
    problem = assert_problem(client.post("/v1/eligibility", json=body), 422)
    assert pointers(problem) and all(p.startswith("/profile/years") for p in pointers(problem))


def test_fiscal_year_must_be_an_integer(client: TestClient) -> None:
    for fiscal_year in ("2024", 2024.5, 1999, 2101, None):
        body = {"profile": {"name": "x"}, "fiscal_year": fiscal_year}
        problem = assert_problem(client.post("/v1/eligibility", json=body), 422)
        assert pointers(problem) == ["/fiscal_year"], fiscal_year


def test_unknown_policy_id_in_eligibility_is_refused(client: TestClient) -> None:
    body = {"profile": {"name": "x"}, "fiscal_year": 2024, "policy_ids": ["xx-nothing"]}
    problem = assert_problem(client.post("/v1/eligibility", json=body), 422)
    assert pointers(problem) == ["/policy_ids"]


# ------------------------------------------------------------------------ protocol errors


@pytest.mark.parametrize(
    "raw",
    [b"{bad", b"", b'{"profile": ', b"[1, 2", b"\xff\xfe", b"\x80\x81 not utf-8", b"\x1a\x02\xe9"],
)
def test_malformed_json_is_a_422_problem(client: TestClient, raw: bytes) -> None:
    response = client.post(
        "/v1/eligibility", content=raw, headers={"content-type": "application/json"}
    )
    problem = assert_problem(response, 422)
    assert problem["errors"]


def test_malformed_json_points_at_the_whole_document(client: TestClient) -> None:
    response = client.post(
        "/v1/eligibility", content=b"{bad", headers={"content-type": "application/json"}
    )
    problem = assert_problem(response, 422)
    # the position of the syntax error is a character offset, not a member of the body
    assert pointers(problem) == [""]
    assert "JSON" in problem["errors"][0]["detail"]


def test_body_of_the_wrong_json_type_is_a_422_problem(client: TestClient) -> None:
    bodies: list[Any] = [[], "profile", 1, None]
    for body in bodies:
        assert_problem(client.post("/v1/eligibility", json=body), 422)


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    for path in ("/v1/nothing-here", "/nothing", "/v2/policies"):
        problem = assert_problem(client.get(path), 404)
        assert problem["instance"] == path


def test_unknown_policy_is_a_404_problem(client: TestClient) -> None:
    problem = assert_problem(client.get("/v1/policies/xx-nothing"), 404)
    assert "xx-nothing" in problem["detail"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/eligibility", {"POST"}),
        ("GET", "/v1/eligibility", {"POST"}),
        ("PATCH", "/v1/awards", {"GET", "POST"}),
        ("DELETE", "/v1/enterprises", {"GET", "POST"}),
        ("POST", "/v1/enterprises/some-id", {"GET", "PUT"}),
        ("PUT", "/v1/policies", {"GET"}),
    ],
)
def test_wrong_method_is_a_405_problem(
    client: TestClient, method: str, path: str, allowed: set[str]
) -> None:
    response = client.request(method, path)
    assert_problem(response, 405)
    # every method the path serves, not only those of the first route that matched it
    assert set(response.headers["allow"].split(", ")) == allowed


def test_unexpected_error_is_a_500_problem_without_internals(db_url: URL) -> None:
    app = create_app(make_settings(db_url))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/boom")
    problem = assert_problem(response, 500)
    assert problem["title"] == "Internal error"
    assert "secret" not in response.text
    assert response.headers["content-type"].startswith(PROBLEM)


def test_a_database_that_refuses_is_a_503_to_retry_not_a_500(db_url: URL) -> None:
    from sqlalchemy.exc import OperationalError

    app = create_app(make_settings(db_url))

    @app.get("/refused")
    def refused() -> None:
        raise OperationalError(
            "SELECT 1", {}, Exception("FATAL:  sorry, too many clients already\nDETAIL: x")
        )

    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/refused")
    problem = assert_problem(response, 503)
    assert problem["title"] == "Service unavailable"
    assert response.headers["retry-after"] == "5"
    assert "too many clients" not in response.text  # the server's words stay in the log
    assert response.headers.get("x-request-id")


def test_missing_or_unknown_api_key_is_a_401_problem(client: TestClient) -> None:
    anonymous = TestClient(client.app)  # the running app, without the admin key
    response = anonymous.get("/v1/enterprises")
    assert_problem(response, 401)
    assert response.headers.get("www-authenticate", "").startswith("Bearer")
    response = anonymous.get("/v1/enterprises", headers={"Authorization": "Bearer pik_nope_nope"})
    assert_problem(response, 401)


def test_rate_limited_calculator_is_a_429_problem(db_url: URL) -> None:
    app = create_app(make_settings(db_url, public_rate_limit_per_minute=2))
    body = {"profile": {"name": "x"}, "fiscal_year": 2024}
    # An address of its own: the count is kept in the database the session shares.
    with TestClient(app, client=("192.0.2.129", 40000)) as limited:
        assert limited.post("/v1/eligibility", json=body).status_code == 200
        assert limited.post("/v1/eligibility", json=body).status_code == 200
        response = limited.post("/v1/eligibility", json=body)
    assert_problem(response, 429)
    assert int(response.headers["retry-after"]) > 0


#: Write routes and a body each would refuse (wrong shape, or not JSON at all).
_WRITES_WITH_BAD_BODIES = [
    ("/v1/awards/00000000-0000-4000-8000-000000000000/approve", {"reason": 7}),
    ("/v1/awards/00000000-0000-4000-8000-000000000000/notice", b"{not json"),
    ("/v1/enterprises", {"uscc": "\x00"}),
    ("/v1/budgets", []),
]


@pytest.mark.parametrize(("path", "body"), _WRITES_WITH_BAD_BODIES)
@pytest.mark.parametrize("authorization", [None, "Bearer pik_000000000000_nope", "Basic eDp5"])
def test_a_caller_without_a_live_key_learns_nothing_of_the_body(
    client: TestClient, path: str, body: Any, authorization: str | None
) -> None:
    # Without a live key the answer is 401 whatever the body: a 422 would tell a caller
    # who may not use the route what it expects.
    anonymous = TestClient(client.app)
    headers = {"Authorization": authorization} if authorization else {}
    if isinstance(body, bytes):
        headers["Content-Type"] = "application/json"
        response = anonymous.post(path, content=body, headers=headers)
    else:
        response = anonymous.post(path, json=body, headers=headers)
    assert_problem(response, 401)
    assert response.headers.get("www-authenticate", "").startswith("Bearer")


@pytest.mark.parametrize(("path", "body"), _WRITES_WITH_BAD_BODIES)
def test_a_live_key_still_hears_what_to_correct(client: TestClient, path: str, body: Any) -> None:
    if isinstance(body, bytes):
        response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    else:
        response = client.post(path, json=body)
    problem = assert_problem(response, 422)
    assert problem["errors"]
