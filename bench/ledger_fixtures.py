"""What the ledger benchmarks share: a scratch database and awards waiting for approval.

Each award is made through the service layer (enterprise registered, award computed,
public notice over), so an approval over HTTP does exactly what it does in service.
The budget covers ``covered`` of the awards: the rest are refused with 409, which is
the contended path the no-overspend guarantee is about.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from sqlalchemy import create_engine, text

from bench._support import ROOT

AMOUNT = Decimal("10000.00")
POLICY = "nj-public-platform"


@contextlib.contextmanager
def scratch_database(
    server_url: str, prefix: str = "i9_ledger_bench", template: str | None = None
) -> Iterator[str]:
    """A new database beside the one named by ``server_url`` (empty, or a copy of the
    database ``template``), dropped on exit."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield str(admin.url.set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(url: str, awards: int, covered: int) -> tuple[str, list[str]]:
    """Migrate, issue an admin key, make one budget for ``covered`` awards and
    ``awards`` awards at the end of their notice; ANALYZE; the token and the award ids."""
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
    engine = make_engine(url)
    make_session = make_sessionmaker(engine)
    ids: list[str] = []
    with make_session.begin() as session:
        token = keys.issue_key(session, catalog, role="admin", label="bench", actor=SYSTEM).token
        create_budget(
            session,
            policy_id=POLICY,
            fiscal_year=2024,
            payer_level="city",
            payer_jurisdiction="nanjing",
            amount=AMOUNT * covered,
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
                    "years": {"2024": {"performance": {POLICY: 88}}},
                }
            )
            enterprise, _ = create_enterprise(session, catalog, profile, SYSTEM)
            award = compute_award(
                session,
                catalog,
                enterprise_id=enterprise.id,
                policy_id=POLICY,
                fiscal_year=2024,
                amount=AMOUNT,
                actor=SYSTEM,
            )
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
    # Fresh statistics, as after any bulk load: the planner must not guess.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("ANALYZE"))
    engine.dispose()
    return token, ids


def ledger_state(url: str) -> dict[str, object]:
    """Budget totals against approved awards, read straight from the database."""
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            budget = c.execute(
                text("SELECT amount, committed, disbursed FROM budgets WHERE policy_id = :p"),
                {"p": POLICY},
            ).one()
            approved = c.execute(
                text(
                    "SELECT count(*), coalesce(sum(amount), 0) FROM awards "
                    "WHERE status = 'approved' AND policy_id = :p"
                ),
                {"p": POLICY},
            ).one()
    finally:
        engine.dispose()
    amount, committed, disbursed = (Decimal(v) for v in budget)
    return {
        "budget": f"{amount:.2f}",
        "committed": f"{committed:.2f}",
        "approved": int(approved[0]),
        "approved_sum": f"{Decimal(approved[1]):.2f}",
        "overspent": committed + disbursed > amount,
        "committed_equals_approved": committed == Decimal(approved[1]),
    }
