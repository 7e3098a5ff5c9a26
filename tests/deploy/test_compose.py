"""docker-compose.yml and the Dockerfile agree with the settings and the CLI.

Docker does not run on the build machines, so this checks what can be checked: the
services exist, every variable the compose file sets is a setting the app reads, the
commands are real CLI commands, and the database URLs point at the compose database
with the roles its script makes. What the image does is followed without Docker in
test_installed_package.py, and the roles script runs in test_database_roles.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

from app.cli import build_parser
from app.config import Settings
from tests.deploy import dockerfile

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
#: The services that run the image (every one but the database): each is checked alike.
IMAGE_SERVICES = sorted(name for name, service in COMPOSE["services"].items() if "build" in service)


@pytest.fixture(scope="module")
def compose() -> dict:  # type: ignore[type-arg]
    return COMPOSE


def _setting_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def test_services_are_database_migration_api_and_worker(compose: dict) -> None:  # type: ignore[type-arg]
    assert {"db", "migrate", "api", "worker"} <= set(compose["services"])
    for name in ("api", "worker"):
        service = compose["services"][name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert compose["services"]["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_the_image_services_are_found() -> None:
    assert {"migrate", "api"} <= set(IMAGE_SERVICES)


@pytest.mark.parametrize("service", IMAGE_SERVICES)
def test_every_variable_is_a_setting(compose: dict, service: str) -> None:  # type: ignore[type-arg]
    variables = set(compose["services"][service]["environment"])
    assert variables <= _setting_names(), f"not read by the app: {variables - _setting_names()}"
    Settings(**{k.lower(): v for k, v in compose["services"][service]["environment"].items()})


@pytest.mark.parametrize("service", IMAGE_SERVICES)
def test_commands_are_cli_commands(compose: dict, service: str) -> None:  # type: ignore[type-arg]
    command = compose["services"][service]["command"]
    assert command[0] == "incentives"
    build_parser(command[1:]).parse_args(command[1:])
    check = compose["services"][service].get("healthcheck")
    if check is not None:
        assert check["test"][:2] == ["CMD", "incentives"], check
        build_parser(check["test"][2:]).parse_args(check["test"][2:])


def test_the_api_is_healthy_when_ready_and_logs_json(compose: dict) -> None:  # type: ignore[type-arg]
    api = compose["services"]["api"]
    assert api["healthcheck"]["test"] == ["CMD", "incentives", "probe", "ready"]
    assert Settings(**{k.lower(): v for k, v in api["environment"].items()}).log_format == "json"


def test_api_runs_several_workers_on_the_exposed_port(compose: dict) -> None:  # type: ignore[type-arg]
    api = compose["services"]["api"]
    settings = Settings(**{k.lower(): v for k, v in api["environment"].items()})
    assert settings.workers >= 2
    assert settings.host == "0.0.0.0"
    assert f"{settings.port}:{settings.port}" in api["ports"]
    assert str(settings.catalog_dir).startswith("/srv/")


def _roles_script_defaults() -> dict[str, str]:
    """The role names and passwords deploy/postgres-roles.sql uses when not told others."""
    script = (ROOT / "deploy" / "postgres-roles.sql").read_text(encoding="utf-8")
    return dict(re.findall(r"\\set (\w+) (\S+)", script))


def test_migrations_run_as_the_owner_and_the_api_as_the_service_role(compose: dict) -> None:  # type: ignore[type-arg]
    """The script that makes the roles runs in the database container, the owner's URL
    goes to `migrate` only, and `migrate` grants the API's role what it needs.
    (tests/deploy/test_database_roles.py runs the same script on a real server.)"""
    db, migrate, api = (compose["services"][name] for name in ("db", "migrate", "api"))
    assert (
        "./deploy/postgres-roles.sql:/docker-entrypoint-initdb.d/10-roles.sql:ro" in db["volumes"]
    )
    roles = _roles_script_defaults()
    owner = make_url(migrate["environment"]["MIGRATE_DATABASE_URL"])
    service = make_url(api["environment"]["DATABASE_URL"])
    assert (owner.username, owner.password) == (roles["owner"], roles["owner_password"])
    assert (service.username, service.password) == (roles["service"], roles["service_password"])
    assert owner.username != service.username
    for url in (owner, service):
        assert url.host == "db" and url.get_backend_name() == "postgresql"
        assert url.database == db["environment"]["POSTGRES_DB"]
    assert (
        build_parser(migrate["command"][1:]).parse_args(migrate["command"][1:]).grant_to
        == service.username
    )
    assert "MIGRATE_DATABASE_URL" not in api["environment"], (
        "the API must not hold the owner's keys"
    )
    worker = compose["services"]["worker"]
    assert worker["environment"]["DATABASE_URL"] == api["environment"]["DATABASE_URL"]
    assert "MIGRATE_DATABASE_URL" not in worker["environment"]


def test_the_api_queues_runs_and_the_worker_executes_them(compose: dict) -> None:  # type: ignore[type-arg]
    """On PostgreSQL the API never executes a run: the worker service does."""
    api, worker = (compose["services"][name] for name in ("api", "worker"))
    api_settings = Settings(**{k.lower(): v for k, v in api["environment"].items()})
    worker_settings = Settings(**{k.lower(): v for k, v in worker["environment"].items()})
    assert api_settings.on_postgres and not api_settings.runs_jobs_in_process
    assert build_parser(worker["command"][1:]).parse_args(worker["command"][1:]).command == "worker"
    assert worker_settings.worker_nice > 0


def test_dockerfile_ships_what_the_service_loads() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for needed in (
        "COPY app",
        "COPY policy_catalog",
        "CATALOG_DIR=/srv/policy_catalog",
        "FROM python:3.11",
        "COPY requirements/runtime.lock",
        "pip install --require-hashes -r",
        "pip install --no-deps",
    ):
        assert needed in text


def test_the_image_checks_that_its_server_is_live() -> None:
    """The HEALTHCHECK is the CLI's liveness probe (it runs in test_installed_package.py)."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    (check,) = [args for _, op, args in dockerfile.instructions(text) if op == "HEALTHCHECK"]
    command = json.loads(check.partition("CMD ")[2])
    assert command[0] == "incentives"
    assert build_parser(command[1:]).parse_args(command[1:]).check == "live"


def test_on_a_shared_host_the_api_outweighs_the_database_and_the_worker(compose: dict) -> None:  # type: ignore[type-arg]
    shares = {name: s.get("cpu_shares", 1024) for name, s in compose["services"].items()}
    assert shares["api"] > shares["db"] > shares["worker"]
