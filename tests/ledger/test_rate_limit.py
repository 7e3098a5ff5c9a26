"""The open calculator's rate limit is one limit for all workers, and cannot be rotated.

A real server with four uvicorn workers (both databases) and a low limit: a burst of
calls from one address, spread over the workers by the kernel, gets exactly the
limit served and the rest refused; a client that sends a different
``X-Forwarded-For`` with every call is still one address, because no proxy is trusted
(``TRUSTED_PROXIES`` is empty by default).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.db.session import migrate
from tests.conftest import _empty_database
from tests.ledger.server import Call, LedgerServer, burst

LIMIT = 12
BODY = {"fiscal_year": 2024, "profile": {"name": "南京示例科技有限公司"}}
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def limited(
    db_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LedgerServer]:
    """Four workers on a database of their own, with a limit of LIMIT calls a minute."""
    with _empty_database(db_backend, request, tmp_path_factory.mktemp("rate-db")) as url:
        migrate(url)
        srv = LedgerServer(
            url,
            tmp_path_factory.mktemp("rate-server"),
            env={"PUBLIC_RATE_LIMIT_PER_MINUTE": str(LIMIT)},
        )
        srv.start()
        try:
            yield srv
        finally:
            srv.stop()
            srv.engine.dispose()


def _split(outcomes: list[httpx.Response | BaseException]) -> tuple[int, list[httpx.Response]]:
    served, refused = 0, []
    for outcome in outcomes:
        assert isinstance(outcome, httpx.Response), repr(outcome)
        if outcome.status_code == 200:
            served += 1
        else:
            assert outcome.status_code == 429, outcome.text
            refused.append(outcome)
    return served, refused


def test_one_limit_across_the_workers(limited: LedgerServer) -> None:
    # The first test of the module: this address has made no call in this window yet.
    calls = [Call("POST", "/v1/eligibility", json=BODY) for _ in range(4 * LIMIT)]
    served, refused = _split(burst(limited.base_url, None, calls))
    assert served == LIMIT, f"{served} calls served by {limited.workers} workers, limit {LIMIT}"
    for response in refused:
        assert response.headers["content-type"] == PROBLEM
        assert 1 <= int(response.headers["retry-after"]) <= 60


def test_a_rotating_forwarded_for_from_an_untrusted_peer_changes_nothing(
    limited: LedgerServer,
) -> None:
    calls = [
        Call("POST", "/v1/eligibility", json=BODY, headers={"X-Forwarded-For": f"203.0.113.{i}"})
        for i in range(1, 3 * LIMIT + 1)
    ]
    served, refused = _split(burst(limited.base_url, None, calls))
    # Every call counts against 127.0.0.1, the peer, whatever the header says (that
    # address may already have used some of its calls in this window, above).
    assert served <= LIMIT
    assert len(refused) >= 2 * LIMIT
