"""The README's tour with curl runs as written, against a real server.

The ``sh`` block under "A tour with curl" is run verbatim with bash. What the tour
asks of the reader is done here the way the tour says: ``make run`` serving (migrate,
check the catalog, serve) on an empty SQLite database, and ``.venv/bin/incentives``
relative to where the tour runs. The tour says ``localhost:8000``; so as not to take
a port another program may hold, curl is told (through a ``.curlrc`` of its own,
``connect-to``) to reach this server's port when a URL names localhost:8000, so the
text of the tour is not changed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.support import free_port, run, serving

README = Path(__file__).resolve().parents[2] / "README.md"
INCENTIVES = Path(sys.executable).parent / "incentives"
PROXIES = {"http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"}


def tour() -> str:
    """The first ``sh`` block after the heading "A tour with curl"."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## A tour with curl", 1)[1]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found, "the README's tour has no ```sh block"
    return found.group(1)


@pytest.fixture(scope="module")
def where(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A directory to run the tour in (with its `.venv/bin/incentives`) and its environment,
    with `make run`'s equivalent serving on an empty database."""
    home = tmp_path_factory.mktemp("tour")
    (home / ".venv" / "bin").mkdir(parents=True)
    (home / ".venv" / "bin" / "incentives").symlink_to(INCENTIVES)
    port = free_port()
    (home / ".curlrc").write_text(f"connect-to = localhost:8000:127.0.0.1:{port}\n")
    env = {k: v for k, v in os.environ.items() if k not in PROXIES}
    env |= {"DATABASE_URL": f"sqlite:///{home / 'incentives.db'}", "CURL_HOME": str(home)}
    # `make run`: migrate, check the catalog, serve.
    run([INCENTIVES, "migrate"], env, home)
    run([INCENTIVES, "catalog", "check"], env, home)
    serve = [INCENTIVES, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with serving(serve, env, home, port, home / "serve.log"):
        yield home, env


def test_the_tour_runs_as_written(where: tuple[Path, dict[str, str]]) -> None:
    home, env = where
    done = subprocess.run(
        ["bash", "-eu", "-c", tour()],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # Only the CLI's reminder, twice (one per key), reaches stderr: no curl or Python error.
    notices = [line for line in done.stderr.splitlines() if line.strip()]
    assert notices == ["Keep the key now: only its hash is stored."] * 2, done.stderr
    assert '"policy_id": "nj-green-manufacturing"' in out  # the catalog and the policy
    assert '"computed_amount": "500000.00"' in out  # the entitlements of the stored enterprise
    assert '"next_rung":' in out  # the gap analysis
    statuses = [line.strip() for line in out.splitlines() if line.strip().startswith('"status": "')]
    lifecycle = [s for s in statuses if s.rstrip(",") in LIFECYCLE]
    assert [s.rstrip(",") for s in lifecycle] == LIFECYCLE, statuses
    assert '"disbursed": "500000.00"' in out  # the budget
    assert '"ok": true' in out and '"match": true' in out  # the auditor's chain and replay
    assert '"pointer": "/profile/uscc"' in out  # the error names the field


LIFECYCLE = ['"status": "public_notice"', '"status": "approved"', '"status": "disbursed"']
