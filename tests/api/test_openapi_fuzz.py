"""Property-based tests of the API from its own OpenAPI schema (schemathesis 4).

Every operation gets generated requests, valid and invalid (schemathesis' positive and
negative modes), sent to the app on a PostgreSQL database of its own, each one once for
every kind of caller: anonymous, an enterprise's key, a portal's, an auditor's and an
admin's. PostgreSQL, not SQLite, because it is the stricter of the two (a NUL byte, a
number past its column or a string too long for one is an error there, silently kept by
SQLite) and the one production runs. The database holds a registered enterprise and an
award, so list answers have items whose schema is checked too. Half the requests carry
one hostile value in a query or path parameter (random text seldom holds a NUL byte).

The checks: no 5xx, only documented status codes, documented content types and headers
(`Allow` on a 405 included), and every body, problem+json errors included, matches its
response schema. A second test sends schemathesis' boundary cases (its coverage phase)
as the admin. Examples are bounded (8 per operation, derandomized, so a run is
repeatable) to keep the whole file near a minute; `FUZZ_EXAMPLES=100` runs a deeper
search by hand.

Also here: the schema documents a problem+json response for the 4xx of every operation
(the contract's "the OpenAPI schema documents these responses").
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from app.db.session import migrate, normalize_url
from app.main import create_app
from tests.api.conftest import issue_token, make_settings
from tests.api.support import assert_problem, create_enterprise, nanjing, post_award, profile
from tests.conftest import DEFAULT_TEST_POSTGRES_URL

PROBLEM = "application/problem+json"
METHODS = {"get", "put", "post", "delete", "patch"}
ROLES = ("anonymous", "enterprise", "portal", "auditor", "admin")

# schemathesis builds one test per operation at collection time, from the schema; the
# schema needs no database, so the app is built here on the name of a database that
# the fixture below creates and migrates before the first request starts the app.
# (`schemathesis.pytest.from_fixture` would defer all this, but it does not run under
# pytest 9: it reads `request.node._nodeid`, which pytest 9 removed.)
_SERVER = normalize_url(os.environ.get("TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL))
_DB_URL = _SERVER.set(database=f"incentives_fuzz_{uuid.uuid4().hex[:12]}")
app = create_app(make_settings(_DB_URL))
schema = schemathesis.openapi.from_dict(app.openapi())
schema.app = app
# HTTP services ignore query parameters they do not know, and OpenAPI cannot say they
# are forbidden; do not count "an unknown parameter was accepted" as a failure.
schema.config.generation.update(allow_extra_parameters=False)
# An XLSX upload is sent as the bytes generated for it, like any other binary body.
schemathesis.serializer.alias(
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/octet-stream"
)
# Hostile input is normal input: values only a database refuses (a NUL byte, a number
# past BIGINT, an instant past year 9999 once in UTC, a string longer than any column).
HOSTILE = (
    "\x00",
    "a\x00b",
    str(2**63),
    str(-(2**63) - 1),
    "9999-12-31T23:59:59-14:00",
    "x" * 3000,
)


@schema.hook
def flatmap_case(context: Any, case: Any) -> st.SearchStrategy[Any]:
    """Half the generated requests get one query or path parameter replaced by a
    hostile value: random text seldom holds one, and a few examples would miss them."""
    slots = [("query", name) for name in case.query or {}]
    slots += [("path_parameters", name) for name in case.path_parameters or {}]
    if not slots:
        return st.just(case)

    def hostile(choice: tuple[tuple[str, str], str]) -> Any:
        (where, name), value = choice
        setattr(case, where, {**getattr(case, where), name: value})
        return case

    return st.one_of(
        st.just(case), st.tuples(st.sampled_from(slots), st.sampled_from(HOSTILE)).map(hostile)
    )


# The coverage phase (every boundary case of every field, whatever `max_examples` says)
# runs in the test of its own below; here the examples and fuzzing phases stay bounded.
schema.config.phases.coverage.enabled = False


def _takes_a_profile(ctx: Any) -> bool:
    """A body that is a whole enterprise profile (register, update, calculate, gaps)."""
    body = json.dumps(ctx.operation.definition.raw.get("requestBody", {}))
    return "EnterpriseProfile" in body or "EligibilityRequest" in body


# The boundary cases, deterministic: each parameter and field at and past its documented
# bounds, missing, of the wrong type; a method the path does not serve. Not for the
# operations whose body is a whole profile: hundreds of cases each, three quarters of
# the cost; their fields have the same bounded types, which tests/api/test_bounds.py
# holds to their columns.
boundaries = schemathesis.openapi.from_dict(app.openapi()).exclude(func=_takes_a_profile)
boundaries.app = app
boundaries.config.generation.update(allow_extra_parameters=False)
for _phase in (boundaries.config.phases.examples, boundaries.config.phases.fuzzing):
    _phase.enabled = False
boundaries.config.phases.stateful.enabled = False


def _seed(client: TestClient) -> dict[str, str]:
    """An enterprise with an award, and a key for every role; returns role -> token."""
    admin = issue_token(client.app)  # type: ignore[arg-type]
    client.headers["Authorization"] = f"Bearer {admin}"
    green = [{"kind": "green_factory", "level": "national", "granted_on": "2024-03-01"}]
    enterprise = create_enterprise(
        client,
        profile(
            kind="enterprise",
            location=nanjing(),
            recognitions=green,
            compliance={"serious_dishonesty": False},
        ),
    )
    award = post_award(client, enterprise["id"], "nj-green-manufacturing", 2024)
    assert award.status_code == 201, award.text
    return {
        "admin": admin,
        "auditor": issue_token(client.app, "auditor"),  # type: ignore[arg-type]
        "portal": issue_token(client.app, "portal", jurisdiction="nanjing"),  # type: ignore[arg-type]
        "enterprise": issue_token(
            client.app,  # type: ignore[arg-type]
            "enterprise",
            enterprise_id=enterprise["id"],
        ),
    }


@pytest.fixture(scope="module")
def tokens(postgres_admin_url: URL) -> Iterator[dict[str, str]]:
    """Create, migrate and seed the fuzz database; drop it afterwards."""
    server = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    name = _DB_URL.database
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        migrate(_DB_URL)
        with TestClient(app) as client:  # start-up once, to seed and issue the keys
            yield _seed(client)
    finally:
        schemathesis.python.asgi.shutdown_lifespans()
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


EXCLUDED_CHECKS = [
    # A schema-valid request may still be refused by a rule the schema cannot state (a
    # word not in the catalog's vocabulary, an ineligible enterprise, a role without the
    # right): a 4xx there is documented and right.
    schemathesis.checks.positive_data_acceptance,
    # Invalid requests are still sent (negative mode) and must get a documented answer,
    # never a 5xx; but lenient parsing (a repeated query parameter, an epoch number for
    # a date-time filter) is not counted as a failure.
    schemathesis.checks.negative_data_rejection,
]


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "8")),
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema_for_every_role(case: Any, tokens: dict[str, str]) -> None:
    """Each generated request is sent once per caller: generating it is the costly part,
    and the same input then goes through every role's checks of rights and scopes."""
    for role in ROLES:
        headers = {} if role == "anonymous" else {"Authorization": f"Bearer {tokens[role]}"}
        try:
            case.call_and_validate(headers=headers, excluded_checks=EXCLUDED_CHECKS)
        except Exception as failure:
            failure.add_note(f"sent as: {role}")
            raise


@boundaries.parametrize()
@settings(
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema_at_its_boundaries(case: Any, tokens: dict[str, str]) -> None:
    """As the admin, whose requests get past every check of rights to the database."""
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    case.call_and_validate(headers=headers, excluded_checks=EXCLUDED_CHECKS)


# ------------------------------------------------------------------------ documented errors


@pytest.mark.parametrize("method", ["OPTIONS", "POST", "DELETE"])
def test_a_literal_path_allows_what_the_schema_documents_for_it(
    client: TestClient, method: str
) -> None:
    """`/v1/budgets/utilisation` is also the shape of `/v1/budgets/{budget_id}`; its
    `Allow` names the methods of the resource it is, as the schema documents them."""
    response = client.request(method, "/v1/budgets/utilisation")
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET"


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return app.openapi()


def _operations(openapi: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _resolve(openapi: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = openapi["components"]["schemas"][name]
    return node


def test_problem_schema_is_in_the_components(openapi: dict[str, Any]) -> None:
    problem = openapi["components"]["schemas"]["Problem"]
    assert set(problem["required"]) >= {"type", "title", "status", "detail"}
    assert "errors" in problem["properties"]
    assert "FieldError" in openapi["components"]["schemas"]


def test_every_operation_documents_its_4xx_as_problem_json(openapi: dict[str, Any]) -> None:
    missing = []
    for path, method, operation in _operations(openapi):
        codes = [c for c in operation["responses"] if c[:1] in ("4", "5") or c == "default"]
        takes_input = operation.get("parameters") or operation.get("requestBody")
        if not any(c.startswith("4") for c in codes) and (takes_input or operation.get("security")):
            missing.append(f"{method.upper()} {path}: no 4xx documented")
        if operation.get("security") and "401" not in codes:
            missing.append(f"{method.upper()} {path}: needs a key but documents no 401")
        for code in codes:
            content = operation["responses"][code].get("content", {})
            if PROBLEM not in content:
                missing.append(f"{method.upper()} {path} {code}: not problem+json")
                continue
            schema_node = _resolve(openapi, content[PROBLEM]["schema"])
            if "detail" not in schema_node.get("properties", {}):
                missing.append(f"{method.upper()} {path} {code}: not the Problem schema")
            if "application/json" in content:
                missing.append(f"{method.upper()} {path} {code}: also documented as plain JSON")
    assert not missing, "\n".join(missing)


def test_every_operation_with_input_documents_422(openapi: dict[str, Any]) -> None:
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in _operations(openapi)
        if (operation.get("parameters") or operation.get("requestBody"))
        and "422" not in operation["responses"]
    ]
    assert not missing, missing


def test_every_operation_documents_500_as_problem_json(openapi: dict[str, Any]) -> None:
    for path, method, operation in _operations(openapi):
        response = operation["responses"].get("500")
        assert response is not None, f"{method.upper()} {path}"
        assert PROBLEM in response.get("content", {}), f"{method.upper()} {path}"
