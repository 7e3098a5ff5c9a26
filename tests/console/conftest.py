"""The console in a real browser: ``incentives serve`` on an SQLite file, and Debian's
chromium driven by Playwright (never a browser download: ``executable_path``).

The server runs two workers without CONSOLE_SECRET, as an operator would start it, so
a session signed by one worker must be honoured by the other. Keys are issued
straight into the server's database, as ``incentives keys create`` does. Each test
saves screenshots under ``test-artifacts/console/`` (git-ignored) for a person to look
at; the browser tests run on one xdist worker (group ``console-browser``).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.catalog.loader import load_catalog
from app.db.session import make_engine, make_sessionmaker, migrate
from app.services.actors import SYSTEM
from app.services.keys import issue_key
from tests.deploy.support import free_port, serving

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass
class Console:
    """The running service: its address, and keys issued into its database."""

    base_url: str
    database_url: str

    def key(self, role: str, **scope: Any) -> str:
        catalog = load_catalog(ROOT / "policy_catalog")
        engine = make_engine(self.database_url)
        try:
            with make_sessionmaker(engine).begin() as session:
                issued = issue_key(
                    session, catalog, role=role, label=f"console-{role}", actor=SYSTEM, **scope
                )
                return issued.token
        finally:
            engine.dispose()

    def api(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,
            trust_env=False,
        )


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp("console")
    database = f"sqlite:///{tmp / 'console.db'}"
    migrate(database)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "CATALOG_DIR": str(ROOT / "policy_catalog"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": "2",
        "PUBLIC_RATE_LIMIT_PER_MINUTE": "10000",
    }
    env.pop("CONSOLE_SECRET", None)
    command = [sys.executable, "-m", "app.cli", "serve"]
    with serving(command, env, tmp, port, tmp / "serve.log") as base_url:
        yield Console(base_url, database)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one module: Playwright's sync API keeps an event loop running in this
    thread while it is open, and the tests after the module may run their own."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), (
        f"no chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM to its path)"
    )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def page(
    browser: Any, console: Console, artifacts: Path, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """A fresh browser context (its own cookies) at desktop size; a screenshot of where
    it ended is saved whatever the outcome, named after the test."""
    context = browser.new_context(
        viewport=DESKTOP, base_url=console.base_url, accept_downloads=True, locale="zh-CN"
    )
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    try:
        yield opened
    finally:
        opened.screenshot(path=artifacts / f"{request.node.name}-last.png", full_page=True)
        context.close()


def shoot(page: Any, name: str) -> Path:
    """Save a screenshot of the page as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path, full_page=False)
    return path


def copy_to_docs(shot: Path, name: str) -> None:
    """Keep a screenshot for the README when CONSOLE_DOCS_SHOTS names a folder."""
    folder = os.environ.get("CONSOLE_DOCS_SHOTS")
    if folder:
        shutil.copy(shot, Path(folder) / name)
