"""The command line: catalog check, migrate and keys on a real database file."""

from __future__ import annotations

import argparse
import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import cli
from app.config import get_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CATALOG_DIR", str(ROOT / "policy_catalog"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_catalog_check_passes_on_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["catalog", "check", "--dir", str(ROOT / "policy_catalog")]) == 0
    assert "policies, hash" in capsys.readouterr().out


def test_catalog_check_names_the_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(ROOT / "policy_catalog", tmp_path / "c")
    bad = tmp_path / "c" / "policies" / "nanjing" / "nj-quality-benchmark.yaml"
    bad.write_text(
        bad.read_text(encoding="utf-8").replace("kind: award", "kind: prize"), encoding="utf-8"
    )
    assert cli.main(["catalog", "check", "--dir", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert "nj-quality-benchmark.yaml" in err and "kind" in err


def test_migrate_load_and_keys(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["migrate"]) == 0
    assert cli.main(["catalog", "load"]) == 0
    assert cli.main(["keys", "create", "--role", "auditor", "--label", "audit bureau"]) == 0
    out = capsys.readouterr().out
    token = next(line.split()[1] for line in out.splitlines() if line.startswith("key:"))
    assert token.startswith("pik_")
    assert cli.main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    # The secret is never shown again. It is URL-safe base64 and may itself hold "_",
    # so it is everything after the prefix, taken whole, never a piece of a split.
    prefix, secret = token.removeprefix("pik_").split("_", 1)
    assert len(secret) >= 32
    assert "auditor" in listing and prefix in listing
    assert secret not in listing
    assert not any(secret[i : i + 8] in listing for i in range(len(secret) - 7))
    assert cli.main(["keys", "revoke", prefix]) == 0
    assert cli.main(["keys", "create", "--role", "portal", "--jurisdiction", "atlantis"]) == 2


def test_a_key_label_with_a_terminal_escape_is_refused(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `keys list` prints labels on a terminal: an escape sequence there would run in it.
    assert cli.main(["migrate"]) == 0
    label = "audit\x1b]0;owned\x07 bureau"
    assert cli.main(["keys", "create", "--role", "auditor", "--label", label]) == 2
    assert "U+001B" in capsys.readouterr().err
    assert cli.main(["keys", "list"]) == 0
    assert "owned" not in capsys.readouterr().out


def test_a_key_label_longer_than_the_ledger_can_name_is_refused(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key's holder appears as "<role>:<label>#<prefix>" in 200-character columns."""
    from app.services.keys import LABEL_MAX

    assert cli.main(["migrate"]) == 0
    too_long = "审计局" * (LABEL_MAX // 3 + 1)
    assert cli.main(["keys", "create", "--role", "enterprise", "--label", too_long]) == 2
    assert f"1 to {LABEL_MAX} characters" in capsys.readouterr().err
    longest = too_long[:LABEL_MAX]
    assert cli.main(["keys", "create", "--role", "auditor", "--label", longest]) == 0


def _registered_by(module: str) -> set[str]:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    importlib.import_module(module).register(commands)
    return set(commands.choices)


def test_each_command_is_registered_by_the_module_the_table_names() -> None:
    modules = set(cli.COMMAND_MODULES.values())
    registered = {word: module for module in modules for word in _registered_by(module)}
    assert registered == cli.COMMAND_MODULES
    own = set(cli.build_parser(["serve"])._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert own == cli.OWN_COMMANDS


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--help"], {*cli.OWN_COMMANDS, *cli.COMMAND_MODULES}),
        (["no-such-command"], {*cli.OWN_COMMANDS, *cli.COMMAND_MODULES}),
        (["probe", "live"], cli.OWN_COMMANDS),
        (["runs", "cancel", "x"], {*cli.OWN_COMMANDS, "worker", "runs"}),
        (["--", "keys"], {*cli.OWN_COMMANDS, "keys", "idempotency"}),
    ],
)
def test_a_command_line_builds_only_its_own_command(argv: list[str], words: set[str]) -> None:
    action = cli.build_parser(argv)._subparsers._group_actions[0]  # type: ignore[union-attr]
    assert set(action.choices) == words


def test_the_health_probe_does_not_import_the_service() -> None:
    # Docker runs `incentives probe live` every 10 seconds with a 5-second timeout: it
    # must not import the database layer, the web framework or the catalog to answer.
    script = (
        "import sys; from app import cli; cli.build_parser(['probe', 'live']);"
        "print(sorted(m for m in ('sqlalchemy', 'fastapi', 'numpy', 'app.catalog.loader')"
        " if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "[]"


def test_an_unknown_command_is_refused_naming_the_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as refused:
        cli.main(["no-such-command"])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'no-such-command'" in err and "keys" in err and "native" in err
