"""Property-based tests of the API from its own OpenAPI schema (schemathesis 4).

Every operation gets generated requests, valid and invalid (schemathesis' positive
and negative modes), sent to the app on a fresh SQLite file with an admin key. The
checks: no 5xx, only documented status codes, documented content types and headers
(`Allow` on a 405 included), bodies that match the response schemas. Examples are
bounded (12 per operation, about 45 operations, no coverage phase, derandomized) so
the run takes about a minute.

Also here: the schema documents a problem+json response for the 4xx of every
operation (the contract's "the OpenAPI schema documents these responses").
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from app.db.session import migrate
from app.main import create_app
from tests.api.conftest import issue_token, make_settings

PROBLEM = "application/problem+json"
METHODS = {"get", "put", "post", "delete", "patch"}

# schemathesis builds one test per operation at collection time, from the schema; the
# schema needs no database, so the app is built here and its (fresh) SQLite file is
# migrated by the fixture below, before the first request starts the app.
# (`schemathesis.pytest.from_fixture` would defer all this, but it does not run under
# pytest 9: it reads `request.node._nodeid`, which pytest 9 removed.)
_DB_DIR = Path(tempfile.mkdtemp(prefix="incentives-fuzz-"))
_DB_URL = f"sqlite:///{_DB_DIR / 'fuzz.db'}"
atexit.register(shutil.rmtree, _DB_DIR, True)  # the app keeps it open until exit
app = create_app(make_settings(_DB_URL))
schema = schemathesis.openapi.from_dict(app.openapi())
schema.app = app
# HTTP services ignore query parameters they do not know, and OpenAPI cannot say they
# are forbidden; do not count "an unknown parameter was accepted" as a failure.
schema.config.generation.update(allow_extra_parameters=False)
# The coverage phase sends every boundary case of every field whatever `max_examples`
# says (hundreds for the profile); the examples and fuzzing phases stay bounded.
schema.config.phases.coverage.enabled = False


@pytest.fixture(scope="module")
def token() -> str:
    """Migrate the fresh database and issue an admin key for it."""
    migrate(_DB_URL)
    with TestClient(app) as client:  # start-up once, to issue the key
        return issue_token(client.app)  # type: ignore[arg-type]


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
def test_api_conforms_to_its_schema(case: Any, token: str) -> None:
    excluded = [
        # A schema-valid request may still be refused by a rule the schema cannot state
        # (a word not in the catalog's vocabulary, an ineligible enterprise): a 422 there
        # is documented and right.
        schemathesis.checks.positive_data_acceptance,
        # Invalid requests are still sent (negative mode) and must get a documented
        # answer, never a 5xx; but lenient parsing (a repeated query parameter, an epoch
        # number for a date-time filter) is not counted as a failure.
        schemathesis.checks.negative_data_rejection,
    ]
    if case.operation.path == "/v1/budgets/utilisation":
        # PUT /v1/budgets/{budget_id} also matches this path, so `Allow: GET, PUT` is
        # what the server really routes.
        excluded.append(schemathesis.checks.allow_header_conformance)
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, excluded_checks=excluded)


# ------------------------------------------------------------------------ documented errors


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
