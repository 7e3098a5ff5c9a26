"""``incentives probe ready`` when the database goes away under a serving server.

The server (``incentives serve`` on PostgreSQL) reaches its database through a relay
that the test controls: open (it forwards), silent (it takes connections and never
answers: a hung server, or a network that drops the packets) or closed (nothing
listens: refused). Ready while open; then the probe hears a 503 naming the `database`
check, silent and closed alike, instead of running into its own timeout while the
server waits for the driver's connect timeout. Nothing here measures time.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from app.db.session import migrate
from tests.conftest import _postgres_database
from tests.deploy.support import free_port, run, serving

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "app.cli"]

pytestmark = pytest.mark.postgres


class Relay:
    """A TCP relay to ``target`` on a port of its own, in threads of its own."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port: int = self.listener.getsockname()[1]
        self.mode = "open"
        self.sockets: list[socket.socket] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while self.mode != "closed":
            if self.mode == "silent":  # the kernel still completes each handshake
                threading.Event().wait(0.1)
                continue
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def silent(self) -> None:
        self.mode = "silent"

    def close(self) -> None:
        """Nothing listens on the port any more, and every relayed connection is cut."""
        self.mode = "closed"
        self._accepting.join()
        self.listener.close()
        for sock in self.sockets:
            with suppress(OSError):
                sock.close()


@pytest.fixture
def database(postgres_admin_url: URL) -> Iterator[URL]:
    with _postgres_database(postgres_admin_url) as url:
        migrate(url)
        yield url


def _probe_ready(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    probed = run([*CLI, "probe", "ready"], env, cwd, check=False)
    return probed.returncode, probed.stderr


def test_the_probe_names_the_database_when_it_goes_away(database: URL, tmp_path: Path) -> None:
    relay = Relay((database.host or "127.0.0.1", database.port or 5432))
    try:
        env = {
            **os.environ,
            "DATABASE_URL": database.set(host="127.0.0.1", port=relay.port).render_as_string(
                hide_password=False
            ),
            "CATALOG_DIR": str(ROOT / "policy_catalog"),
            "HOST": "127.0.0.1",
            "PORT": str(free_port()),
            "JOBS_IN_PROCESS": "false",
        }
        with serving([*CLI, "serve"], env, tmp_path, int(env["PORT"]), tmp_path / "serve.log"):
            # A worker's heartbeat, so that only the database can make it unready.
            engine = create_engine(database)
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO procrastinate_workers DEFAULT VALUES"))
            engine.dispose()
            assert _probe_ready(env, tmp_path) == (0, "")

            for goes_away in (relay.silent, relay.close):
                goes_away()
                status, said = _probe_ready(env, tmp_path)
                assert status == 1, said
                assert ": 503 " in said, said  # the server's answer, not the probe's timeout
                assert "database: the database does not answer" in said, said
    finally:
        relay.close()
