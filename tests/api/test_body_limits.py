"""Request bodies have a size limit per route class, enforced before anything parses them.

Ordinary routes take small JSON bodies (``MAX_BODY_BYTES``); ``POST /v1/imports`` takes
a file up to ``MAX_IMPORT_BYTES``. A declared ``Content-Length`` past the limit is a 413
before the body is read; a chunked body (no length) is counted as it arrives and
answered 413 as soon as it passes the limit, without reading the rest. Compressed
bodies are not accepted (415). The last tests talk raw HTTP to a real uvicorn server.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from app.config import Settings
from app.db.session import migrate, normalize_url
from app.main import create_app
from tests.api.conftest import issue_token, make_settings
from tests.api.support import assert_problem
from tests.imports.support import csv_bytes, many_rows, table
from tests.ledger.server import LedgerServer

DEFAULT_LIMIT = Settings.model_fields["max_body_bytes"].default


def _big_profile(size: int) -> bytes:
    """An eligibility body of about ``size`` bytes (the filler is a long name)."""
    return json.dumps({"fiscal_year": 2024, "profile": {"name": "x" * size}}).encode()


def test_the_default_limits_are_small_for_json_and_larger_for_imports() -> None:
    settings = Settings()
    assert 64 * 1024 <= settings.max_body_bytes <= 1024 * 1024
    assert settings.max_import_bytes >= 10 * 1024 * 1024


def test_a_declared_length_over_the_limit_is_413(client: TestClient) -> None:
    body = _big_profile(DEFAULT_LIMIT + 1)
    response = client.post(
        "/v1/eligibility", content=body, headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(response, 413)
    assert "MAX_BODY_BYTES" in problem["detail"]
    assert response.headers["connection"] == "close"


def test_an_unauthenticated_large_body_is_413_before_anything_else(client: TestClient) -> None:
    anonymous = TestClient(client.app)
    response = anonymous.post(
        "/v1/enterprises",
        content=_big_profile(DEFAULT_LIMIT * 2),
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 413)


def test_a_chunked_body_is_counted_as_it_arrives(client: TestClient) -> None:
    body = _big_profile(DEFAULT_LIMIT + 1)

    def chunks() -> Iterator[bytes]:  # a generator: httpx sends it chunked, with no length
        for start in range(0, len(body), 16 * 1024):
            yield body[start : start + 16 * 1024]

    response = client.post(
        "/v1/eligibility", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)


def test_a_body_under_the_limit_is_served(client: TestClient) -> None:
    body = {"fiscal_year": 2024, "profile": {"name": "南京示例科技有限公司"}}
    assert client.post("/v1/eligibility", json=body).status_code == 200


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_compressed_bodies_are_415(client: TestClient, encoding: str) -> None:
    response = client.post(
        "/v1/eligibility",
        content=b"\x1f\x8b\x08\x00",
        headers={"Content-Type": "application/json", "Content-Encoding": encoding},
    )
    problem = assert_problem(response, 415)
    assert "Content-Encoding" in problem["detail"]


def test_imports_take_larger_bodies_up_to_their_own_limit(db_url: URL) -> None:
    data = csv_bytes(table(many_rows(900)))
    assert DEFAULT_LIMIT < len(data) < 2 * DEFAULT_LIMIT
    settings = make_settings(db_url, max_import_bytes=2 * DEFAULT_LIMIT)
    with TestClient(create_app(settings)) as api:
        api.headers["Authorization"] = f"Bearer {issue_token(api.app)}"  # type: ignore[arg-type]
        dry = api.post(
            "/v1/imports?dry_run=true", content=data, headers={"Content-Type": "text/csv"}
        )
        assert dry.status_code == 200, dry.text
        assert dry.json()["rows"] == 900
        twice = csv_bytes(table(many_rows(1800)))
        for response in (
            api.post("/v1/imports", content=twice, headers={"Content-Type": "text/csv"}),
            api.post("/v1/imports", files={"file": ("x.csv", twice, "text/csv")}),
        ):
            problem = assert_problem(response, 413)
            assert "MAX_IMPORT_BYTES" in problem["detail"]


# ---------------------------------------------------------------- a real server, raw HTTP


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerServer]:
    """One uvicorn worker on an SQLite file of its own."""
    workdir = tmp_path_factory.mktemp("body-limits")
    url = normalize_url(f"sqlite:///{workdir / 'incentives.db'}")
    migrate(url)
    srv = LedgerServer(url, workdir, workers=1)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        srv.engine.dispose()


def _connect(server: LedgerServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    return sock


def _read_response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_server_answers_a_declared_200_mb_body_without_reading_it(server: LedgerServer) -> None:
    with _connect(server) as sock:
        sock.sendall(
            b"POST /v1/eligibility HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: 209715200\r\n\r\n"
            b'{"fiscal_year": 2024, "profile": {"name": "'
        )
        # Nothing more is sent: the server must answer from the headers alone.
        answer = _read_response(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"content-type: application/problem+json" in head.lower()
    assert json.loads(body)["status"] == 413


def test_server_stops_a_chunked_body_at_the_limit(server: LedgerServer) -> None:
    piece = b"x" * (16 * 1024)
    with _connect(server) as sock:
        sock.sendall(
            b"POST /v1/eligibility HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        while sent <= DEFAULT_LIMIT:  # just past the limit, then nothing more
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent += len(piece)
        # The body is not finished (no last chunk): the server answers anyway and closes.
        answer = _read_response(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"connection: close" in head.lower()
    assert json.loads(body)["status"] == 413


def test_server_still_serves_small_bodies(server: LedgerServer, tmp_path: Path) -> None:
    with server.client() as http:
        response = http.post(
            "/v1/eligibility", json={"fiscal_year": 2024, "profile": {"name": "南京示例"}}
        )
    assert response.status_code == 200, response.text


def test_the_schema_documents_413_and_415_wherever_a_body_is_taken(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    with_body = [
        (method, path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "requestBody" in operation
    ]
    assert with_body
    for method, path, operation in with_body:
        assert {"413", "415"} <= set(operation["responses"]), (method, path)
