"""Two database roles on a real PostgreSQL: the schema's owner migrates, the service runs.

The roles are made by compose's own script (deploy/postgres-roles.sql, with names of
this test: roles belong to the whole server, so they are unique and dropped at the end)
in a database of their own. Then, as an operator would: ``incentives migrate
--grant-to`` as the owner, and everything else as the service. The service works end
to end through the app and the command line, and what stolen service credentials
would need to hide a change in the audit log (UPDATE, DELETE, TRUNCATE, dropping or
disabling the triggers, replacing their function, altering the table) is refused by
the database as a missing privilege, before any trigger is reached.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from app import cli
from app.config import get_settings
from app.main import OWNS_AUDIT_LOG, create_app
from tests.api.conftest import CATALOG_DIR, make_settings
from tests.imports.support import csv_bytes, good_row, table

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
ROLES_SCRIPT = ROOT / "deploy" / "postgres-roles.sql"
INSUFFICIENT_PRIVILEGE = "42501"
NOTICE = {"notice_start": "2024-01-02", "notice_end": "2024-01-12"}


@dataclass(frozen=True)
class Roles:
    owner: str
    service: str
    owner_url: URL
    service_url: URL


@pytest.fixture(scope="module")
def roles(postgres_admin_url: URL) -> Iterator[Roles]:
    suffix = uuid.uuid4().hex[:10]
    owner, service = f"incentives_owner_{suffix}", f"incentives_app_{suffix}"
    database = f"incentives_roles_{suffix}"
    passwords = {owner: secrets.token_hex(12), service: secrets.token_hex(12)}
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        where = postgres_admin_url.set(drivername="postgresql", database=database)
        variables = {
            "owner": owner,
            "owner_password": passwords[owner],
            "service": service,
            "service_password": passwords[service],
        }
        psql = shutil.which("psql")
        assert psql, "psql (PostgreSQL's client) runs deploy/postgres-roles.sql: install it"
        command = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        for name, value in variables.items():
            command += ["-v", f"{name}={value}"]
        command += ["-d", where.render_as_string(hide_password=False), "-f", str(ROLES_SCRIPT)]
        made = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        at = postgres_admin_url.set(database=database)
        yield Roles(
            owner,
            service,
            at.set(username=owner, password=passwords[owner]),
            at.set(username=service, password=passwords[service]),
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            for role in (owner, service):
                connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def _url(url: URL) -> str:
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def operator(roles: Roles) -> Iterator[pytest.MonkeyPatch]:
    """The environment of compose's `migrate` and `api` together: the owner's URL for
    migrations, the service's for everything else; the schema migrated and granted."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MIGRATE_DATABASE_URL", _url(roles.owner_url))
        env.setenv("DATABASE_URL", _url(roles.service_url))
        env.setenv("CATALOG_DIR", str(CATALOG_DIR))
        get_settings.cache_clear()
        assert cli.main(["migrate", "--grant-to", roles.service]) == 0
        yield env
    get_settings.cache_clear()


def incentives(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    get_settings.cache_clear()
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _key(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = incentives(capsys, "keys", "create", *args)
    assert code == 0, err
    return next(line.split()[1] for line in out.splitlines() if line.startswith("key:"))


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _finished(client: TestClient, path: str) -> dict[str, Any]:
    """Poll a background run until it ends (bounded: a stuck run fails the test)."""
    for _ in range(600):
        run: dict[str, Any] = _ok(client.get(path))
        if run["status"] in ("done", "failed"):
            return run
        time.sleep(0.1)
    raise AssertionError(f"{path} did not finish")


def _green(name: str) -> dict[str, Any]:
    return {
        "uscc": good_row()["uscc"],
        "name": name,
        "kind": "enterprise",
        "location": {"province": "jiangsu", "city": "nanjing", "district": "jiangning"},
        "recognitions": [
            {"kind": "green_factory", "level": "national", "granted_on": "2024-01-05"}
        ],
        "compliance": {"serious_dishonesty": False},
    }


def test_the_owner_owns_every_table_and_the_service_none(
    roles: Roles, operator: pytest.MonkeyPatch
) -> None:
    engine = create_engine(roles.service_url)
    with engine.connect() as connection:
        owners = dict(
            connection.execute(
                text("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'")
            ).all()
        )
        audit = connection.execute(
            text(
                "SELECT privilege_type FROM information_schema.role_table_grants "
                "WHERE table_name = 'audit_log' AND grantee = :role"
            ),
            {"role": roles.service},
        )
        granted = {row[0] for row in audit}
    engine.dispose()
    assert "audit_log" in owners and set(owners.values()) == {roles.owner}
    assert granted == {"INSERT", "SELECT"}


def test_the_service_works_end_to_end_as_its_own_role(
    roles: Roles, operator: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = _key(capsys, "--role", "admin", "--label", "roles test")
    auditor = _key(capsys, "--role", "auditor", "--label", "roles test auditor")
    with TestClient(create_app(make_settings(roles.service_url))) as client:
        client.headers["Authorization"] = f"Bearer {admin}"
        # Enterprises: registered, changed (a new profile version), gaps and entitlements.
        first = _ok(client.post("/v1/enterprises", json=_green("南京示例一号有限公司")), 201)
        changed = {**_green("南京示例一号有限公司"), "uscc": first["uscc"], "employees": 80}
        _ok(client.put(f"/v1/enterprises/{first['id']}", json=changed))
        _ok(client.get(f"/v1/enterprises/{first['id']}/gaps?fiscal_year=2024"))
        second = _ok(client.post("/v1/enterprises", json=_green("南京示例二号有限公司")), 201)
        # Awards through their life, one of them revoked; a retried POST is answered again.
        award_ids = []
        for enterprise in (first, second):
            body = {
                "enterprise_id": enterprise["id"],
                "policy_id": "nj-green-manufacturing",
                "fiscal_year": 2024,
            }
            retry = {"Idempotency-Key": f"roles-{enterprise['id']}"}
            award = _ok(client.post("/v1/awards", json=body, headers=retry), 201)
            assert _ok(client.post("/v1/awards", json=body, headers=retry), 201) == award
            _ok(client.post(f"/v1/awards/{award['id']}/notice", json=NOTICE))
            _ok(client.post(f"/v1/awards/{award['id']}/approve", json={}))
            award_ids.append(award["id"])
        _ok(client.post(f"/v1/awards/{award_ids[0]}/disburse", json={}))
        revoked = client.post(f"/v1/awards/{award_ids[1]}/revoke", json={"reason": "roles test"})
        assert _ok(revoked)["status"] == "revoked"
        # Budgets set and adjusted by an admin.
        budget = {
            "policy_id": "nj-green-manufacturing",
            "fiscal_year": 2031,
            "payer_level": "city",
            "payer_jurisdiction": "nanjing",
            "amount": "1000000.00",
        }
        made = _ok(client.post("/v1/budgets", json=budget), 201)
        adjust = {"amount": "2000000.00", "reason": "roles test"}
        _ok(client.put(f"/v1/budgets/{made['id']}", json=adjust))
        # A bulk import, a matching run turned into awards, a simulation.
        upload = csv_bytes(table([good_row(), good_row()]))
        imported = client.post("/v1/imports", files={"file": ("e.csv", upload, "text/csv")})
        assert _ok(imported)["accepted"] == 2
        # A large one: stored with its job, which the service's own worker writes.
        app: Any = client.app
        app.state.settings = app.state.settings.model_copy(update={"import_job_bytes": 0})
        upload = csv_bytes(table([good_row(), good_row()]))
        queued = _ok(client.post("/v1/imports", files={"file": ("l.csv", upload, "text/csv")}), 202)
        assert _finished(client, f"/v1/imports/{queued['id']}")["report"]["created"] == 2
        run = _ok(client.post("/v1/matching/runs", json={"fiscal_year": 2024}), 202)
        assert _finished(client, f"/v1/matching/runs/{run['id']}")["status"] == "done"
        _ok(client.get(f"/v1/matching/runs/{run['id']}/results"))
        from_run = {"policy_id": "nj-green-manufacturing"}
        _ok(client.post(f"/v1/matching/runs/{run['id']}/awards", json=from_run))
        change = {"policy_id": "nj-green-manufacturing", "enabled": False}
        simulation = client.post("/v1/simulations", json={"fiscal_year": 2024, "changes": [change]})
        simulated = _finished(client, f"/v1/simulations/{_ok(simulation, 202)['id']}")
        assert simulated["status"] == "done"
        # The auditor reads and verifies.
        client.headers["Authorization"] = f"Bearer {auditor}"
        assert _ok(client.get("/v1/audit/verify"))["ok"] is True
        assert client.get("/v1/audit/events.csv").status_code == 200
        _ok(client.get(f"/v1/awards/{award_ids[0]}/replay"))
        # Operations: readiness reads the schema's revision; /metrics, budgets and the chain.
        assert _ok(client.get("/health/ready"))["checks"]["migrations"] == "ok"
        assert f'budget="{made["id"]}"' in client.get("/metrics").text
    # The operator's routines, as the service.
    assert incentives(capsys, "idempotency", "purge")[0] == 0
    assert incentives(capsys, "keys", "revoke", auditor.split("_")[1])[0] == 0
    assert incentives(capsys, "catalog", "load")[0] == 0


REFUSED = {
    "update": "UPDATE audit_log SET actor = 'someone else'",
    "delete": "DELETE FROM audit_log",
    "truncate": "TRUNCATE audit_log",
    "drop trigger": "DROP TRIGGER audit_log_no_update_delete ON audit_log",
    "disable triggers": "ALTER TABLE audit_log DISABLE TRIGGER USER",
    "alter table": "ALTER TABLE audit_log ADD COLUMN note text",
    "drop table": "DROP TABLE audit_log",
    "replace the trigger function": (
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
    ),
    "truncate another table": "TRUNCATE awards CASCADE",
    "create a table": "CREATE TABLE shadow (id int)",
    "become the owner": "SET ROLE {owner}",
}


@pytest.mark.parametrize("statement", REFUSED.values(), ids=REFUSED.keys())
def test_the_service_role_cannot_change_the_audit_log(
    roles: Roles, operator: pytest.MonkeyPatch, statement: str
) -> None:
    engine = create_engine(roles.service_url)
    try:
        with engine.connect() as connection:
            with pytest.raises(DBAPIError) as refused:
                connection.execute(text(statement.format(owner=f'"{roles.owner}"')))
            assert refused.value.orig.sqlstate == INSUFFICIENT_PRIVILEGE, refused.value  # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_grant_can_be_repeated_and_refuses_an_owner_or_unknown_role(
    roles: Roles, operator: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = incentives(capsys, "db", "grant", "--role", roles.service)
    assert code == 0 and "audit_log: INSERT, SELECT" in out
    code, _, err = incentives(capsys, "db", "grant", "--role", roles.owner)
    assert code == 2 and "owns" in err
    code, _, err = incentives(capsys, "db", "grant", "--role", "no_such_role_here")
    assert code == 2 and "CREATE ROLE" in err


def test_the_service_warns_when_its_role_could_alter_the_audit_log(
    roles: Roles, operator: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="incentives"):
        with TestClient(create_app(make_settings(roles.service_url))):
            pass
        assert OWNS_AUDIT_LOG not in caplog.messages
        with TestClient(create_app(make_settings(roles.owner_url))):
            pass
    assert OWNS_AUDIT_LOG in caplog.messages
