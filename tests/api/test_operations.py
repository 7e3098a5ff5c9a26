"""Operations over HTTP: liveness, readiness, /metrics and who may read it, request ids,
and the request's log line (both backends).

What several uvicorn workers add (the metrics summed across them, the JSON log lines
of a real server) is tested in tests/deploy/test_observability.py.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from app.config import Settings
from app.db.session import make_engine, migrate
from app.jobs.runtime import Runtime
from app.main import create_app
from app.observability import readiness
from app.observability.metrics import UNMATCHED
from tests.api.conftest import issue_token, make_settings
from tests.api.support import assert_problem, create_enterprise, nanjing, profile

GREEN = "nj-green-manufacturing"


def samples(response: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The scrape's samples by (name, labels)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests_counted(scraped: dict[Any, float], route: str, status: str, method: str) -> float:
    labels = frozenset({("method", method), ("route", route), ("status", status)})
    return scraped.get(("incentives_http_request_duration_seconds_count", labels), 0.0)


@pytest.fixture(scope="module")
def keys(client: TestClient) -> dict[str, dict[str, str]]:
    app: FastAPI = client.app  # type: ignore[assignment]
    enterprise = create_enterprise(client, profile(location=nanjing()))
    tokens = {
        "auditor": issue_token(app, "auditor"),
        "portal": issue_token(app, "portal", jurisdiction="nanjing"),
        "enterprise": issue_token(app, "enterprise", enterprise_id=enterprise["id"]),
    }
    return {role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()}


# ------------------------------------------------------------------ health


def test_live_answers_without_a_key_or_the_database(client: TestClient) -> None:
    response = client.get("/health/live", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_names_each_check_it_passed(client: TestClient) -> None:
    response = client.get("/health/ready", headers={"Authorization": ""})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "catalog": "ok", "workers": "ok"},
    }


def test_health_still_answers_as_the_readme_shows(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["policies"] > 0


@pytest.fixture
def own_app(fresh_db_url: URL) -> Iterator[tuple[TestClient, URL]]:
    """An app on a database of its own, which the test may break."""
    migrate(fresh_db_url)
    with TestClient(create_app(make_settings(fresh_db_url))) as own:
        yield own, fresh_db_url


def test_ready_is_503_naming_migrations_behind_this_release(
    own_app: tuple[TestClient, URL],
) -> None:
    own, url = own_app
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000_older'"))
    engine.dispose()
    problem = assert_problem(own.get("/health/ready"), 503)
    assert problem["detail"].startswith("migrations: the database is at 0000_older")
    assert "incentives migrate" in problem["detail"]
    assert problem["checks"]["database"] == "ok"
    assert "catalog" not in problem["checks"]  # not run past the first failure
    assert own.get("/health/live").status_code == 200


def _database_at(app: FastAPI, url: str) -> Any:
    """The app's settings before DATABASE_URL was changed to ``url`` (readiness connects
    with DATABASE_URL, on a connection of its own)."""
    before = app.state.settings
    app.state.settings = before.model_copy(update={"database_url": url})
    return before


def test_ready_is_503_naming_the_database_when_it_does_not_answer(
    own_app: tuple[TestClient, URL],
) -> None:
    own, _ = own_app
    app: FastAPI = own.app  # type: ignore[assignment]
    # Nothing listens on port 1: the connection is refused at once.
    working = _database_at(app, "postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    try:
        problem = assert_problem(own.get("/health/ready"), 503)
    finally:
        app.state.settings = working
    assert problem["detail"].startswith("database: the database does not answer")
    assert problem["checks"] == {"database": problem["detail"].removeprefix("database: ")}
    assert "secret" not in problem["detail"] and "nobody" not in problem["detail"]
    assert own.get("/health/ready").status_code == 200


def test_ready_is_503_naming_the_database_when_its_host_is_silent(
    own_app: tuple[TestClient, URL],
) -> None:
    """A database host that takes the connection and never answers (a hung server, a
    network that drops its packets): the check gives up after its connect timeout and
    names the database, instead of waiting for the driver's 130 s."""
    own, url = own_app
    if url.get_backend_name() != "postgresql":
        pytest.skip("once is enough: the URL checked is PostgreSQL's either way")
    app: FastAPI = own.app  # type: ignore[assignment]
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody ever reads
        port = silent.getsockname()[1]
        working = _database_at(app, f"postgresql+psycopg://nobody@127.0.0.1:{port}/none")
        try:
            problem = assert_problem(own.get("/health/ready"), 503)
        finally:
            app.state.settings = working
    assert problem["detail"].startswith("database: the database does not answer")
    assert list(problem["checks"]) == ["database"]


def test_the_connect_timeouts_reach_the_engines(fresh_db_url: URL) -> None:
    """DATABASE_CONNECT_TIMEOUT for the service's and the workers' connections, 2 s for
    readiness's own; a URL that names its own connect_timeout keeps it."""
    if fresh_db_url.get_backend_name() != "postgresql":
        pytest.skip("libpq's connect_timeout: PostgreSQL only")
    migrate(fresh_db_url)
    settings = make_settings(fresh_db_url, database_connect_timeout=7)
    with TestClient(create_app(settings)) as own:
        app: FastAPI = own.app  # type: ignore[assignment]
        assert app.state.engine.url.query["connect_timeout"] == "7"
        assert readiness._probe_engine(app.state).url.query["connect_timeout"] == "2"
        assert own.get("/health/ready").json()["checks"]["database"] == "ok"
    runtime = Runtime.open(settings)
    try:
        assert runtime.engine is not None
        assert runtime.engine.url.query["connect_timeout"] == "7"
    finally:
        runtime.close()
    assert Settings(database_url=str(fresh_db_url)).database_connect_timeout == 5
    own_url = fresh_db_url.update_query_dict({"connect_timeout": "11"})
    assert make_engine(own_url, connect_timeout=7).url.query["connect_timeout"] == "11"


def test_ready_waits_for_a_job_worker_when_the_service_only_queues(fresh_db_url: URL) -> None:
    """With JOBS_IN_PROCESS off the API only queues runs: on PostgreSQL it is ready once a
    worker's heartbeat is recent. SQLite has no heartbeats (its worker polls the shards)."""
    migrate(fresh_db_url)
    with TestClient(create_app(make_settings(fresh_db_url, jobs_in_process=False))) as own:
        if fresh_db_url.get_backend_name() != "postgresql":
            assert own.get("/health/ready").json()["checks"]["workers"] == "ok"
            return
        problem = assert_problem(own.get("/health/ready"), 503)
        assert problem["detail"].startswith("workers: no job worker has been heard from in 30 s")
        assert "incentives worker" in problem["detail"]
        engine = create_engine(fresh_db_url)
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO procrastinate_workers DEFAULT VALUES"))
        engine.dispose()
        assert own.get("/health/ready").json()["checks"]["workers"] == "ok"


# ------------------------------------------------------------------ /metrics: who


def test_metrics_need_a_key(client: TestClient) -> None:
    response = client.get("/metrics", headers={"Authorization": ""})
    assert_problem(response, 401)


@pytest.mark.parametrize("role", ["portal", "enterprise"])
def test_metrics_are_refused_to_portals_and_enterprises(
    client: TestClient, keys: dict[str, dict[str, str]], role: str
) -> None:
    problem = assert_problem(client.get("/metrics", headers=keys[role]), 403)
    assert role in problem["detail"]


def test_an_auditor_and_an_admin_read_the_metrics(
    client: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    for headers in (keys["auditor"], {}):  # the client's own key is an admin's
        assert "incentives_audit_chain_records" in client.get("/metrics", headers=headers).text


# ------------------------------------------------------------------ /metrics: what


def test_requests_are_counted_by_route_template_and_status(client: TestClient) -> None:
    enterprise = create_enterprise(client, profile(location=nanjing()))
    template = "/v1/enterprises/{enterprise_id}"
    before = samples(client.get("/metrics"))
    assert client.get(f"/v1/enterprises/{enterprise['id']}").status_code == 200
    assert client.get("/v1/enterprises/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get("/no/such/route/at/all").status_code == 404
    after = samples(client.get("/metrics"))
    for route, status in ((template, "200"), (template, "404"), (UNMATCHED, "404")):
        gained = requests_counted(after, route, status, "GET") - requests_counted(
            before, route, status, "GET"
        )
        assert gained == 1, (route, status)
    assert not [name for name, labels in after if ("route", "/no/such/route/at/all") in labels]


def test_a_method_no_route_knows_is_counted_as_other(client: TestClient) -> None:
    before = samples(client.get("/metrics"))
    client.request("BREW", "/health/live")
    after = samples(client.get("/metrics"))
    gained = requests_counted(after, "/health/live", "405", "other") - requests_counted(
        before, "/health/live", "405", "other"
    )
    assert gained == 1


def test_budgets_are_measured_per_budget(client: TestClient) -> None:
    body = {
        "policy_id": GREEN,
        "fiscal_year": 2071,
        "payer_level": "park",
        "payer_jurisdiction": "jiangning-high-tech-zone",
        "amount": "1234.56",
    }
    created = client.post("/v1/budgets", json=body)
    assert created.status_code == 201, created.text
    budget = created.json()
    labels = frozenset(
        {
            ("budget", budget["id"]),
            ("policy", GREEN),
            ("fiscal_year", "2071"),
            ("payer", "jiangning-high-tech-zone"),
        }
    )
    scraped = samples(client.get("/metrics"))
    assert scraped[("incentives_budget_amount_yuan", labels)] == 1234.56
    assert scraped[("incentives_budget_committed_yuan", labels)] == 0
    assert scraped[("incentives_budget_disbursed_yuan", labels)] == 0
    assert scraped[("incentives_budget_remaining_yuan", labels)] == float(budget["remaining"])


def test_the_audit_chain_and_its_last_verification_are_measured(
    client: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    verified = client.get("/v1/audit/verify", headers=keys["auditor"]).json()
    assert verified["ok"] is True
    scraped = samples(client.get("/metrics", headers=keys["auditor"]))
    # Other tests may add records meanwhile (the database is shared): at least as many.
    assert scraped[("incentives_audit_chain_records", frozenset())] >= verified["head_seq"]
    intact = frozenset({("outcome", "intact")})
    assert scraped[("incentives_audit_verification_records", intact)] >= verified["records"]
    assert scraped[("incentives_audit_verification_timestamp_seconds", intact)] > 0


# ------------------------------------------------------------------ request ids and logs


def test_the_job_queue_and_run_shards_are_measured(
    client: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    before = samples(client.get("/metrics", headers=keys["auditor"]))
    shards = ("incentives_run_shard_duration_seconds_count", frozenset())
    started = client.post("/v1/matching/runs", json={"fiscal_year": 2024})
    assert started.status_code == 202, started.text
    run = started.json()
    for _ in range(600):
        run = client.get(f"/v1/matching/runs/{run['id']}").json()
        if run["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    assert run["status"] == "done", run
    scraped = samples(client.get("/metrics", headers=keys["auditor"]))
    assert scraped[shards] >= before.get(shards, 0) + run["shards"]["total"]
    assert scraped[("incentives_run_shard_duration_seconds_sum", frozenset())] >= 0
    families = {
        family.name
        for family in text_string_to_metric_families(
            client.get("/metrics", headers=keys["auditor"]).text
        )
    }
    assert {
        "incentives_jobs_waiting",
        "incentives_jobs_running",
        "incentives_jobs_failed",
    } <= families


def test_a_sane_request_id_is_returned_as_given(client: TestClient) -> None:
    response = client.get("/health/live", headers={"X-Request-ID": "lb-7f3a.42:retry-1"})
    assert response.headers["x-request-id"] == "lb-7f3a.42:retry-1"


@pytest.mark.parametrize("given", ["x" * 65, "has space", "semi;colon", "\u00e9t\u00e9"], ids=repr)
def test_an_insane_request_id_is_replaced(client: TestClient, given: str) -> None:
    response = client.get(
        "/health/live", headers=[("X-Request-ID", given.encode("utf-8"))]
    )  # raw bytes: the header as a client might send it
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_refusals_and_errors_carry_a_request_id(client: TestClient) -> None:
    for response in (
        client.get("/v1/enterprises", headers={"Authorization": ""}),  # 401
        client.post("/v1/eligibility", json={"profile": 1}),  # 422
        client.get("/nowhere"),  # 404 from the router
        client.post("/v1/eligibility", content=b"x" * 300_000),  # 413 from the body limit
    ):
        assert response.status_code >= 400
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"]), response


def test_an_unexpected_error_answers_500_with_the_request_id(db_url: URL) -> None:
    app = create_app(make_settings(db_url))

    @app.get("/test-only/fails")
    def fails() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as own:
        response = own.get("/test-only/fails", headers={"X-Request-ID": "trace-500"})
    assert_problem(response, 500)
    assert response.headers["x-request-id"] == "trace-500"


def test_each_request_logs_one_line_with_its_id_actor_and_route(
    client: TestClient, keys: dict[str, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    token = keys["portal"]["Authorization"].removeprefix("Bearer ")
    prefix = token.removeprefix("pik_").split("_")[0]
    with caplog.at_level(logging.INFO, logger="incentives.request"):
        response = client.get(
            "/v1/awards/00000000-0000-0000-0000-000000000000", headers=keys["portal"]
        )
    lines = [
        r for r in caplog.records if r.name == "incentives.request" and r.levelno == logging.INFO
    ]
    assert len(lines) == 1
    fields = lines[0].fields  # type: ignore[attr-defined]
    assert fields["route"] == "/v1/awards/{award_id}"
    assert (fields["status"], fields["method"]) == (404, "GET")
    assert (fields["role"], fields["key_prefix"]) == ("portal", prefix)
    assert fields["duration_ms"] >= 0
    assert fields["request_id"] == response.headers["x-request-id"]
    assert token not in caplog.text and token.split("_")[-1] not in str(fields)


def test_an_open_calculator_call_is_logged_as_anonymous(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="incentives.request"):
        client.post(
            "/v1/eligibility",
            json={"fiscal_year": 2024, "profile": {"name": "南京示例科技有限公司"}},
            headers={"Authorization": ""},
        )
    (line,) = [r for r in caplog.records if r.name == "incentives.request"]
    fields = line.fields  # type: ignore[attr-defined]
    assert (fields["route"], fields["role"], fields["key_prefix"]) == (
        "/v1/eligibility",
        "anonymous",
        None,
    )
