"""Who the open calculator's rate limit counts, and when it looks.

The count is kept in the database, so two apps on one database (two workers) share
it; ``X-Forwarded-For`` names the client only when the peer is a configured proxy
(``TRUSTED_PROXIES``), and then the client is the nearest address in the chain that
is not a proxy itself; the limit is checked before the body is read. The four-worker
server test is tests/ledger/test_rate_limit.py.

Each test calls from addresses of its own: the database (and its counters) is shared
by the whole test session.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import pkgutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

import app.api.routes
from app.api.rate_limit import RateLimitedRoute
from app.config import Settings
from app.main import OPEN_CALCULATOR, create_app
from app.services.rate_limits import rate_limit
from tests.api.conftest import make_settings
from tests.api.support import assert_problem

BODY = {"fiscal_year": 2024, "profile": {"name": "南京示例科技有限公司"}}
_hosts = itertools.count(1)


def _unique_v4() -> str:
    """An address no other test of the session uses (TEST-NET-2 and -3 ranges)."""
    n = next(_hosts)
    return f"198.51.{100 + n // 250}.{n % 250 + 1}"


@contextmanager
def _app(db_url: URL, **overrides: Any) -> Iterator[Any]:
    settings = make_settings(db_url, public_rate_limit_per_minute=2, **overrides)
    with TestClient(create_app(settings)) as started:
        yield started.app


def _call(app: Any, peer: str, forwarded: str | None = None, **kwargs: Any) -> int:
    headers = dict(kwargs.pop("headers", {}))
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    # Not started again (no `with`): the app is already running, this only sets the peer.
    response = TestClient(app, client=(peer, 40000)).post(
        "/v1/eligibility", headers=headers, **kwargs
    )
    if response.status_code == 429:
        assert_problem(response, 429)
    return response.status_code


def _calls(app: Any, peer: str, forwarded: list[str | None]) -> list[int]:
    return [_call(app, peer, f, json=BODY) for f in forwarded]


def test_two_apps_on_one_database_share_the_count(db_url: URL) -> None:
    peer = _unique_v4()
    with _app(db_url) as first, _app(db_url) as second:
        assert _call(first, peer, json=BODY) == 200
        assert _call(second, peer, json=BODY) == 200
        assert _call(first, peer, json=BODY) == 429
        assert _call(second, peer, json=BODY) == 429


def test_the_limit_is_checked_before_the_body_is_read(db_url: URL) -> None:
    peer = _unique_v4()
    with _app(db_url) as app:
        assert _calls(app, peer, [None, None]) == [200, 200]
        # A body that could not even be parsed: refused for the rate, not for the body.
        bad = {"content": b"{not json", "headers": {"Content-Type": "application/json"}}
        assert _call(app, peer, **bad) == 429


def test_forwarded_for_is_ignored_without_trusted_proxies(db_url: URL) -> None:
    peer = _unique_v4()
    with _app(db_url) as app:
        rotating = [_unique_v4() for _ in range(4)]
        assert _calls(app, peer, list(rotating)) == [200, 200, 429, 429]


def test_a_trusted_proxy_names_the_client(db_url: URL) -> None:
    proxy = "10.20.30.40"
    with _app(db_url, trusted_proxies="10.0.0.0/8, 192.0.2.1") as app:
        one, two = _unique_v4(), _unique_v4()
        assert _calls(app, proxy, [one, one, one]) == [200, 200, 429]
        assert _calls(app, proxy, [two]) == [200]  # another client behind the same proxy
        # The client may prepend what it likes; the nearest untrusted address counts,
        # and trusted proxies in the chain are skipped.
        three = _unique_v4()
        chain = [f"{_unique_v4()}, {three}", f"{_unique_v4()}, {three}, 10.9.9.9, 192.0.2.1"]
        assert _calls(app, proxy, [*chain, chain[0]]) == [200, 200, 429]
        # A peer outside TRUSTED_PROXIES is itself the client.
        outsider = _unique_v4()
        assert _calls(app, outsider, [_unique_v4(), _unique_v4(), _unique_v4()]) == [
            200,
            200,
            429,
        ]


def test_an_ipv6_client_is_counted_by_its_64_network(db_url: URL) -> None:
    n = next(_hosts)
    with _app(db_url) as app:
        network = f"2001:db8:{n:x}:1"
        calls = [_call(app, f"{network}::{host:x}", json=BODY) for host in (1, 2, 3)]
        assert calls == [200, 200, 429]
        assert _call(app, f"2001:db8:{n:x}:2::1", json=BODY) == 200


@pytest.mark.parametrize("value", ["not-an-address", "10.0.0.0/33"])
def test_a_bad_trusted_proxies_setting_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        Settings(trusted_proxies=value)


def test_calls_counted_together_take_consecutive_counts(db_url: URL) -> None:
    """Calls that wait together are counted in one transaction per process; two
    processes (two limits on one database) still give every call its own count."""

    async def burst() -> list[int]:
        limits = [rate_limit(db_url, 4), rate_limit(db_url, 4)]
        client = _unique_v4()
        try:
            verdicts = await asyncio.gather(
                *(limit.count(client, time.time()) for limit in limits * 5)
            )
        finally:
            for limit in limits:
                limit.close()
        assert sum(v.admitted for v in verdicts) == 4
        assert all(1 <= v.retry_after <= 60 for v in verdicts)
        return sorted(v.hits for v in verdicts)

    assert asyncio.run(burst()) == list(range(1, 11))


def test_the_request_gate_lets_every_open_calculator_route_through() -> None:
    """The gate queues requests for pooled connections; the rate-limited routes take
    none (their count has its own connection), so app.main lists them to pass it."""
    open_routes = {
        "/v1" + route.path
        for info in pkgutil.iter_modules(app.api.routes.__path__)
        for route in importlib.import_module(f"app.api.routes.{info.name}").router.routes
        if isinstance(route, RateLimitedRoute)
    }
    assert open_routes == {"/v1/eligibility", "/v1/gaps"}
    assert set(OPEN_CALCULATOR) == open_routes
