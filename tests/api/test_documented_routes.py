"""Every route the README or the OpenAPI schema names is served.

The routes are collected from the README (each ``METHOD /path`` it mentions and each
``curl`` of the tour) and from the app's OpenAPI schema, and each one is called over
HTTP. A route that is documented but not mounted answers 404 "Not Found" from the
router, or 405 when another method is mounted at the path: that is what this test
refuses. Unknown ids, a missing body or a missing key are fine: they prove a route
answered.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app

README = Path(__file__).resolve().parents[2] / "README.md"
PLACEHOLDER = "00000000-0000-0000-0000-000000000000"

MENTION = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/[\w/{}.\-]+)")
CURL_URL = re.compile(r"localhost:8000(/[^\s\"'?]*)")
PARAMETER = re.compile(r"\{[^}/]*\}|\$\{?\w+\}?")


def _template(path: str) -> str:
    """``/v1/awards/$AWARD/notice`` and ``/v1/awards/{award_id}/notice`` alike: ``/v1/awards/{}/notice``."""
    return PARAMETER.sub("{}", path.rstrip("/") or "/")


def _curl_commands(readme: str) -> list[str]:
    """Each curl of the README's shell blocks, continuation lines joined."""
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    commands = []
    for block in blocks:
        joined = block.replace("\\\n", " ")
        commands += [m.group(0) for m in re.finditer(r"curl [^\n|)]*", joined)]
    return commands


def readme_routes() -> set[tuple[str, str]]:
    readme = README.read_text(encoding="utf-8")
    routes = {(method, _template(path)) for method, path in MENTION.findall(readme)}
    for command in _curl_commands(readme):
        url = CURL_URL.search(command)
        if url is None:
            continue
        explicit = re.search(r"-X\s*(\w+)", command)
        method = explicit.group(1) if explicit else ("POST" if " -d " in command else "GET")
        routes.add((method, _template(url.group(1))))
    return routes


def openapi_routes() -> set[tuple[str, str]]:
    schema = create_app(Settings(database_url="sqlite://")).openapi()
    return {
        (method.upper(), _template(path))
        for path, operations in schema["paths"].items()
        for method in operations
    }


ROUTES = sorted(readme_routes() | openapi_routes())


def _absent(client: TestClient, method: str, template: str) -> bool:
    response = client.request(method, template.replace("{}", PLACEHOLDER), json={})
    if response.status_code == 405:
        return True
    return response.status_code == 404 and response.json().get("detail") == "Not Found"


def test_the_readme_names_routes_and_the_tour_calls_them() -> None:
    routes = readme_routes()
    assert ("POST", "/v1/eligibility") in routes  # from a sentence
    assert ("POST", "/v1/awards/{}/notice") in routes  # from a curl of the tour
    assert ("GET", "/v1/awards/{}/replay") in routes


def _served_by(route: tuple[str, str], operation: tuple[str, str]) -> bool:
    """A README path (with ids or placeholders) is an instance of an OpenAPI operation."""
    pattern = "".join(
        "[^/]+" if part == "{}" else re.escape(part) for part in re.split(r"(\{\})", operation[1])
    )
    return route[0] == operation[0] and re.fullmatch(pattern, route[1]) is not None


def test_every_readme_route_is_in_the_openapi_schema() -> None:
    operations = openapi_routes()
    missing = {r for r in readme_routes() if not any(_served_by(r, op) for op in operations)}
    assert not missing, f"the README documents routes the service does not serve: {missing}"


def test_an_absent_route_is_recognised(client: TestClient) -> None:
    assert _absent(client, "GET", "/v1/no-such-thing")
    assert _absent(client, "DELETE", "/v1/policies")
    assert not _absent(client, "GET", "/v1/enterprises/{}")  # 404 for the id, not the route


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=[f"{m} {t}" for m, t in ROUTES])
def test_every_documented_route_answers(client: TestClient, method: str, template: str) -> None:
    assert not _absent(client, method, template), f"{method} {template} is not served"
