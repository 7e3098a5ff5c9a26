"""``incentives native status | build``, as an operator runs them.

``make test`` runs this module twice: with the engine interpreted (``NATIVE=off``) and
on the native build (``NATIVE=require``); the status must say which.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import cli
from app.native.sources import fingerprint

INCENTIVES = Path(sys.executable).parent / "incentives"


def test_status_says_whether_the_engine_runs_compiled(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["native", "status"])
    report = json.loads(capsys.readouterr().out)
    assert report["mode"] == os.environ.get("NATIVE", "auto")
    compiled = report["mode"] != "off" and report["current"]
    assert report["in_use"] is compiled
    assert code == (0 if compiled else 1)
    if report["mode"] == "require":  # (the suite's native pass)
        assert report["in_use"] is True and report["reason"] is None


def test_status_names_a_missing_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NATIVE_DIR", str(tmp_path / "none"))
    cli.main(["native", "status"])
    report = json.loads(capsys.readouterr().out)
    assert report["current"] is False
    assert "no native build in" in report["reason"]


def test_a_current_build_is_not_compiled_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"fingerprint": fingerprint()}))
    assert cli.main(["native", "build", "--into", str(tmp_path)]) == 0
    assert "nothing to compile" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_a_failed_build_leaves_the_previous_one_whole(tmp_path: Path) -> None:
    into = tmp_path / "native"
    into.mkdir()
    (into / "manifest.json").write_text('{"fingerprint": "the previous build"}')
    # A compiler that fails at once: the build must say so and touch nothing in place.
    env = {**os.environ, "CC": "false", "NATIVE": "off"}
    done = subprocess.run(
        [INCENTIVES, "native", "build", "--force", "--into", into],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert "native build failed" in done.stderr
    assert [p.name for p in into.iterdir()] == ["manifest.json"]
    assert "the previous build" in (into / "manifest.json").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["native"]  # no work directory left
