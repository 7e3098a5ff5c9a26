"""The image's install works: migrate, load the catalog and serve from an installed package.

The Dockerfile is followed (tests/deploy/dockerfile.py), so the project is a real,
non-editable ``pip install`` in an environment of its own, and its commands run from
the image's working directory, outside the checkout. An installed package once looked
for its migrations next to site-packages, so ``incentives migrate`` failed in the
image and compose's API never started; this test is what would have caught it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.deploy import dockerfile
from tests.deploy.support import free_port, run, serving

# The catalog's policy files in the checkout the image is built from.
POLICIES = len(list((dockerfile.ROOT / "policy_catalog" / "policies").rglob("*.yaml")))


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> dockerfile.Image:
    return dockerfile.build(tmp_path_factory.mktemp("docker"))


@pytest.fixture(scope="module")
def env(image: dockerfile.Image, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The image's environment, with a database (compose passes one) and a local port."""
    database = tmp_path_factory.mktemp("data") / "incentives.db"
    return {
        "PATH": f"{image.bin}:/usr/bin:/bin",
        **image.env,
        "DATABASE_URL": f"sqlite:///{database}",
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
    }


@pytest.fixture(scope="module")
def migrated(image: dockerfile.Image, env: dict[str, str]) -> dict[str, str]:
    out = run([image.bin / "incentives", "migrate"], env, image.workdir).stdout
    assert "is at revision head" in out
    return env


def test_the_package_is_installed_not_the_checkout(image: dockerfile.Image) -> None:
    found = run(
        [
            image.bin / "python",
            "-c",
            "import app, json, sys; print(app.__file__); print(json.dumps(sys.path))",
        ],
        {"PATH": "/usr/bin:/bin"},
        image.workdir,
    ).stdout
    location, path = found.splitlines()
    assert Path(location).is_relative_to(image.venv), location
    assert str(dockerfile.ROOT) not in json.loads(path)


def test_the_installed_package_migrates_and_checks_the_catalog(
    image: dockerfile.Image, migrated: dict[str, str]
) -> None:
    assert (
        f"{POLICIES} policies"
        in run([image.bin / "incentives", "catalog", "check"], migrated, image.workdir).stdout
    )
    loaded = run([image.bin / "incentives", "catalog", "load"], migrated, image.workdir).stdout
    assert "recorded" in loaded
    # Migrating again is a no-op, as compose's one-shot `migrate` does at every start.
    run([image.bin / "incentives", "migrate"], migrated, image.workdir)


@pytest.fixture(scope="module")
def served(
    image: dockerfile.Image, migrated: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    command = [image.bin / image.cmd[0], *image.cmd[1:]]
    log = tmp_path_factory.mktemp("log") / "serve.log"
    with (
        serving(command, migrated, image.workdir, int(migrated["PORT"]), log) as base_url,
        httpx.Client(base_url=base_url, timeout=30.0, trust_env=False) as client,
    ):
        yield client


def test_the_image_command_serves_the_catalog_and_the_calculator(served: httpx.Client) -> None:
    health = served.get("/health").json()
    assert health["status"] == "ok" and health["policies"] == POLICIES
    assert len(served.get("/v1/policies").json()["items"]) == POLICIES
    answer = served.post(
        "/v1/eligibility",
        json={
            "fiscal_year": 2024,
            "profile": {
                "name": "南京示例科技有限公司",
                "kind": "enterprise",
                "location": {"province": "jiangsu", "city": "nanjing", "district": "jiangning"},
                "recognitions": [
                    {"kind": "green_factory", "level": "national", "granted_on": "2024-03-01"}
                ],
                "compliance": {"serious_dishonesty": False},
            },
        },
    )
    assert answer.status_code == 200, answer.text
    green = next(r for r in answer.json()["results"] if r["policy_id"] == "nj-green-manufacturing")
    assert (green["status"], green["amount"]) == ("eligible", "500000.00")


def test_the_image_runs_its_engine_compiled(image: dockerfile.Image, env: dict[str, str]) -> None:
    """The build stage's compiled engine serves the installed sources (NATIVE=require)."""
    report = json.loads(
        run([image.bin / "incentives", "native", "status"], env, image.workdir).stdout
    )
    assert (report["mode"], report["current"], report["in_use"]) == ("require", True, True)
    assert Path(report["directory"]) == image.path("/srv/native")
    # The compiled modules are the build's, beside the installed package's sources.
    where = run(
        [image.bin / "python", "-c", "import app.domain.composites as m; print(m.__file__)"],
        env,
        image.workdir,
    ).stdout.strip()
    assert where.startswith(str(image.path("/srv/native"))) and where.endswith(".so"), where


def test_the_image_installs_the_runtime_lock(image: dockerfile.Image) -> None:
    """Checked, not installed again, by dockerfile.py (the test environment has its pins)."""
    assert image.locks == ["/tmp/lock/runtime.lock"]


def test_the_image_health_check_passes_while_it_serves(
    image: dockerfile.Image, migrated: dict[str, str], served: httpx.Client
) -> None:
    command = [image.bin / image.healthcheck[0], *image.healthcheck[1:]]
    assert run(command, migrated, image.workdir).returncode == 0
    ready = served.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
