"""Approvals per second on PostgreSQL with 4 workers contending for one budget, then
the zero-overspend check.

    .venv/bin/python bench/ledger.py [--awards 400] [--concurrency 32]
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/test]

Creates a scratch database beside the one named (dropped at the end), registers the
enterprises and computes their awards through the service layer, then sends every
approval over HTTP at once against a budget that covers half of them.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import ROOT, load, machine, server

AMOUNT = Decimal("10000.00")


def _setup(url: str, awards: int) -> tuple[str, list[str]]:
    from app.api.schemas.profile import EnterpriseProfile
    from app.catalog.loader import load_catalog
    from app.db.session import make_engine, make_sessionmaker, migrate
    from app.services import keys, lifecycle
    from app.services.actors import SYSTEM
    from app.services.awards import compute_award
    from app.services.budgets import create_budget
    from app.services.enterprises import create_enterprise
    from tests.helpers import random_uscc

    migrate(url)
    catalog = load_catalog(ROOT / "policy_catalog")
    make_session = make_sessionmaker(make_engine(url))
    ids = []
    with make_session.begin() as session:
        token = keys.issue_key(session, catalog, role="admin", label="bench", actor=SYSTEM).token
        create_budget(
            session,
            policy_id="nj-public-platform",
            fiscal_year=2024,
            payer_level="city",
            payer_jurisdiction="nanjing",
            amount=AMOUNT * awards / 2,
            actor=SYSTEM,
            catalog=catalog,
        )
        for i in range(awards):
            profile = EnterpriseProfile.model_validate(
                {
                    "uscc": random_uscc(),
                    "name": f"平台{i}",
                    "kind": "platform",
                    "location": {"province": "jiangsu", "city": "nanjing", "district": "jiangning"},
                    "compliance": {"serious_dishonesty": False},
                    "recognitions": [
                        {
                            "kind": "public_platform",
                            "level": "municipal",
                            "granted_on": "2023-03-01",
                        }
                    ],
                    "years": {"2024": {"performance": {"nj-public-platform": 88}}},
                }
            )
            enterprise, _ = create_enterprise(session, catalog, profile, SYSTEM)
            award = compute_award(
                session,
                catalog,
                enterprise_id=enterprise.id,
                policy_id="nj-public-platform",
                fiscal_year=2024,
                amount=AMOUNT,
                actor=SYSTEM,
            )
            from datetime import date

            lifecycle.transition(
                session,
                catalog,
                SYSTEM,
                award.id,
                "notice",
                notice_start=date(2024, 6, 3),
                notice_end=date(2024, 6, 14),
            )
            ids.append(award.id)
    return token, ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--awards", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    admin = create_engine(args.database, isolation_level="AUTOCOMMIT")
    name = f"incentives_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = str(admin.url.set(database=name).render_as_string(hide_password=False))
    try:
        token, ids = _setup(url, args.awards)
        env = {"DATABASE_URL": url, "CATALOG_DIR": str(ROOT / "policy_catalog")}
        with server("app.main:create_app", env, workers=4, factory=True) as base:
            headers = {"authorization": f"Bearer {token}"}
            queue = iter(ids)
            results = load_many(base, queue, headers, args.concurrency, len(ids))
            budgets = httpx.get(
                base + "/v1/budgets?policy_id=nj-public-platform", headers=headers
            ).json()["items"]
            verify = httpx.get(base + "/v1/audit/verify", headers=headers, timeout=120).json()
        engine = create_engine(url)
        with engine.connect() as c:
            approved = c.execute(
                text(
                    "SELECT count(*), coalesce(sum(amount), 0) FROM awards "
                    "WHERE status = 'approved'"
                )
            ).one()
        engine.dispose()
        budget = budgets[0]
        report = {
            "machine": machine(),
            "awards": len(ids),
            "concurrency": args.concurrency,
            "workers": 4,
            "approvals_per_second": round(results["rate"], 1),
            "statuses": results["statuses"],
            "p50_ms": results["p50"],
            "p99_ms": results["p99"],
            "budget": budget["amount"],
            "committed": budget["committed"],
            "approved": approved[0],
            "approved_sum": f"{Decimal(approved[1]):.2f}",
            "overspent": Decimal(budget["committed"]) > Decimal(budget["amount"]),
            "committed_equals_approved": Decimal(budget["committed"]) == Decimal(approved[1]),
            "audit_chain_ok": verify["ok"],
        }
        print(json.dumps(report, indent=2))
        (ROOT / "bench" / "results").mkdir(exist_ok=True)
        (ROOT / "bench" / "results" / "ledger.json").write_text(json.dumps(report, indent=2))
        assert (
            not report["overspent"]
            and report["committed_equals_approved"]
            and report["audit_chain_ok"]
        )
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def load_many(
    base: str, ids: object, headers: dict[str, str], concurrency: int, total: int
) -> dict[str, object]:
    """Approve every award once, ``concurrency`` at a time."""
    import asyncio
    import time

    async def run() -> dict[str, object]:
        statuses: dict[int, int] = {}
        latencies: list[float] = []
        async with httpx.AsyncClient(
            timeout=120, headers=headers, limits=httpx.Limits(max_connections=concurrency)
        ) as client:

            async def worker() -> None:
                for award_id in ids:  # type: ignore[attr-defined]
                    started = time.perf_counter()
                    response = await client.post(f"{base}/v1/awards/{award_id}/approve", json={})
                    latencies.append(time.perf_counter() - started)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - started
        ordered = sorted(latencies)
        return {
            "rate": total / elapsed,
            "statuses": statuses,
            "p50": round(ordered[len(ordered) // 2] * 1000, 1),
            "p99": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1),
        }

    return asyncio.run(run())


__all__ = ["load", "main"]

if __name__ == "__main__":
    main()
