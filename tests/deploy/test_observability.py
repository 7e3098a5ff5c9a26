"""``incentives serve`` as compose runs it, observed: two workers, JSON logs, /metrics.

- a scrape reaches one worker, yet counts every worker's requests (prometheus-client's
  multiprocess mode, in the directory ``serve`` prepares);
- each request's JSON log line is found by the id its response carried, with the key's
  role and prefix and never the key;
- ``incentives probe`` (the health checks of compose and the image) answers 0 or 1.

The log formats and the metrics directory are also tested here on their own.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.observability.logs import (
    REQUEST_ID,
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    log_event,
)
from app.observability.metrics_dir import VARIABLE, shared_metrics_dir
from tests.deploy.support import free_port, run, serving

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "app.cli"]
LOG_WAIT = 30.0  # seconds: a worker writes its line just after the response's last byte


@dataclass
class Served:
    base_url: str
    token: str
    log: Path
    env: dict[str, str]
    cwd: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Two workers on an SQLite file, logging JSON, with an auditor's key for Prometheus."""
    root = tmp_path_factory.mktemp("observed")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{root / 'observed.db'}",
        "CATALOG_DIR": str(ROOT / "policy_catalog"),
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "WORKERS": "2",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
    }
    env.pop(VARIABLE, None)  # serve makes the workers' shared directory itself
    run([*CLI, "migrate"], env, root)
    issued = run([*CLI, "keys", "create", "--role", "auditor", "--label", "prometheus"], env, root)
    token = re.search(r"key:\s+(\S+)", issued.stdout).group(1)  # type: ignore[union-attr]
    log = root / "serve.log"
    with serving([*CLI, "serve"], env, root, int(env["PORT"]), log) as base_url:
        yield Served(base_url, token, log, env, root)


def _scrape(served: Served) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    # A connection of its own: whichever worker the kernel hands it to answers.
    answer = httpx.get(
        f"{served.base_url}/metrics",
        headers={"Authorization": f"Bearer {served.token}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


LIVE_200 = (
    "incentives_http_request_duration_seconds_count",
    frozenset({("method", "GET"), ("route", "/health/live"), ("status", "200")}),
)


def test_every_scrape_counts_every_workers_requests(served: Served) -> None:
    before = _scrape(served).get(LIVE_200, 0.0)
    for _ in range(40):  # each on a new connection, so both workers serve some
        assert httpx.get(f"{served.base_url}/health/live", timeout=30).status_code == 200
    counts = {_scrape(served)[LIVE_200] - before for _ in range(6)}
    assert counts == {40}


def _log_lines(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]


def _line_for(served: Served, request_id: str) -> dict[str, object]:
    deadline = time.monotonic() + LOG_WAIT
    while time.monotonic() < deadline:
        found = [
            line
            for line in _log_lines(served.log)
            if line.get("request_id") == request_id and line["logger"] == "incentives.request"
        ]
        if found:
            (line,) = found
            return line
        time.sleep(0.1)
    raise AssertionError(f"no log line for request {request_id}:\n{served.log.read_text()}")


def test_a_log_line_is_joined_to_its_response_by_request_id(served: Served) -> None:
    response = httpx.get(
        f"{served.base_url}/v1/audit/verify",
        headers={"Authorization": f"Bearer {served.token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    line = _line_for(served, response.headers["x-request-id"])
    prefix = served.token.removeprefix("pik_").split("_")[0]
    assert line["route"] == "/v1/audit/verify"
    assert (line["method"], line["status"], line["level"]) == ("GET", 200, "info")
    assert (line["role"], line["key_prefix"]) == ("auditor", prefix)
    assert isinstance(line["duration_ms"], float)
    secret = served.token.split("_", 2)[2]
    assert secret not in served.log.read_text(encoding="utf-8")


def test_the_clients_request_id_is_kept_through_to_the_log(served: Served) -> None:
    response = httpx.post(
        f"{served.base_url}/v1/eligibility",
        json={"fiscal_year": 2024, "profile": {"name": "南京示例科技有限公司"}},
        headers={"X-Request-ID": "gateway-5b1e.7"},
        timeout=30,
    )
    assert response.headers["x-request-id"] == "gateway-5b1e.7"
    line = _line_for(served, "gateway-5b1e.7")
    assert (line["route"], line["role"], line["key_prefix"]) == (
        "/v1/eligibility",
        "anonymous",
        None,
    )
    # Not the profile, nor anything else of the body.
    assert "南京示例" not in served.log.read_text(encoding="utf-8")


def test_every_line_the_server_writes_is_json(served: Served) -> None:
    """uvicorn's own lines (start-up, workers) and the service's alike."""
    lines = _log_lines(served.log)
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # type: ignore[union-attr]
    assert any(line["logger"] == "incentives" for line in lines)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)


@pytest.mark.parametrize("check", ["live", "ready"])
def test_the_probe_passes_against_a_serving_server(served: Served, check: str) -> None:
    assert run([*CLI, "probe", check], served.env, served.cwd).returncode == 0


def test_the_probe_fails_where_nothing_answers(served: Served) -> None:
    env = {**served.env, "PORT": str(free_port())}
    failed = run([*CLI, "probe", "live"], env, served.cwd, check=False)
    assert failed.returncode == 1
    assert "no answer" in failed.stderr


# ------------------------------------------------------------------ the log formats


def _record(message: str, **fields: object) -> logging.LogRecord:
    logger = logging.getLogger("incentives.test")
    captured: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.addFilter(RequestIdFilter())  # as logging_config sets the service's handler
    handler.emit = captured.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        log_event(logger, message, **fields)
    finally:
        logger.removeHandler(handler)
    (record,) = captured
    return record


def test_a_json_line_has_the_event_its_fields_and_the_request_id() -> None:
    token = REQUEST_ID.set("req-1")
    try:
        record = _record("job.step", job_id="j-9", step="chunk", rows=1000)
    finally:
        REQUEST_ID.reset(token)
    # Formatted outside the request's context: the id was stamped when it was logged.
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "job.step" and line["logger"] == "incentives.test"
    assert (line["job_id"], line["step"], line["rows"]) == ("j-9", "chunk", 1000)
    assert line["request_id"] == "req-1" and line["level"] == "info"


def test_a_json_line_holds_a_traceback_in_one_member() -> None:
    try:
        raise ValueError("bad chunk")
    except ValueError:
        record = logging.LogRecord(
            "incentives", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    formatted = JsonFormatter().format(record)
    assert "\n" not in formatted
    assert "ValueError: bad chunk" in json.loads(formatted)["exception"]


def test_a_text_line_puts_the_fields_after_the_message() -> None:
    formatted = TextFormatter().format(_record("job.step", job_id="j-9", rows=3))
    assert formatted.endswith("INFO incentives.test: job.step job_id=j-9 rows=3")


def test_nothing_is_formatted_below_the_level() -> None:
    logger = logging.getLogger("incentives.test.quiet")
    logger.setLevel(logging.WARNING)
    calls: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = calls.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        log_event(logger, "job.step", step="chunk")
    finally:
        logger.removeHandler(handler)
    assert calls == []


# ------------------------------------------------------------------ the metrics directory


def test_one_worker_counts_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    with shared_metrics_dir(1) as directory:
        assert directory is None and VARIABLE not in os.environ


def test_several_workers_share_a_directory_removed_at_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    with shared_metrics_dir(4) as directory:
        assert directory is not None and directory.is_dir()
        assert os.environ[VARIABLE] == str(directory)
    assert not directory.exists() and VARIABLE not in os.environ


def test_the_operators_directory_is_emptied_of_a_previous_servers_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chosen = tmp_path / "metrics"
    chosen.mkdir()
    (chosen / "counter_1234.db").write_bytes(b"old counts")
    (chosen / "README").write_text("kept")
    monkeypatch.setenv(VARIABLE, str(chosen))
    with shared_metrics_dir(4) as directory:
        assert directory == chosen
        assert sorted(p.name for p in chosen.iterdir()) == ["README"]
    assert chosen.is_dir()
