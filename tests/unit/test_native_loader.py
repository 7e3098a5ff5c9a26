"""The native build is used only when it was made from the sources in place."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from app.native import loader
from app.native.sources import APP, MANIFEST, compiled_sources, fingerprint


def _build_dir(tmp_path: Path, stamp: str) -> Path:
    (tmp_path / MANIFEST).write_text(json.dumps({"fingerprint": stamp}))
    return tmp_path


@pytest.fixture(autouse=True)
def _fresh_verdicts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "_verdict", {})
    monkeypatch.setattr(sys, "path", list(sys.path))


def test_the_compiled_modules_are_the_engines_and_not_the_packages_own() -> None:
    names = {p.relative_to(APP).as_posix() for p in compiled_sources()}
    assert {"domain/composites.py", "domain/batch/engine.py", "domain/engine.py"} <= names
    assert not {"domain/__init__.py", "domain/batch/__init__.py", "domain/results.py"} & names


def test_the_fingerprint_follows_every_source_byte(tmp_path: Path) -> None:
    sources = compiled_sources()
    assert fingerprint(sources) == fingerprint()
    assert fingerprint(sources[:-1]) != fingerprint()
    # The same bytes under another module's name are another build.
    assert fingerprint([sources[1], sources[0], *sources[2:]]) != fingerprint()


def test_a_build_of_these_sources_is_current(tmp_path: Path) -> None:
    assert loader.why_not_current(_build_dir(tmp_path, fingerprint())) is None


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        (None, "no native build in"),
        ("{not json", "manifest is unreadable"),
        (json.dumps({"fingerprint": "0" * 64}), "is of other sources"),
        (json.dumps({}), "is of other sources"),
    ],
)
def test_a_missing_broken_or_stale_build_is_not_current(
    tmp_path: Path, manifest: str | None, reason: str
) -> None:
    if manifest is not None:
        (tmp_path / MANIFEST).write_text(manifest)
    why = loader.why_not_current(tmp_path)
    assert why is not None and reason in why


def test_a_current_build_goes_first_on_the_package_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NATIVE", "auto")
    monkeypatch.setenv("NATIVE_DIR", str(_build_dir(tmp_path, fingerprint())))
    path = ["/sources/app/domain"]
    assert loader.install("app.domain", path) is True
    assert path == [str(tmp_path / "app" / "domain"), "/sources/app/domain"]
    assert str(tmp_path) in sys.path  # (where the modules' shared library is found)


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_without_a_current_build_the_sources_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("NATIVE", mode)
    monkeypatch.setenv("NATIVE_DIR", str(_build_dir(tmp_path, "stale")))
    path = ["/sources/app/domain"]
    assert loader.install("app.domain", path) is False
    assert path == ["/sources/app/domain"]
    assert str(tmp_path) not in sys.path


def test_off_ignores_even_a_current_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATIVE", "off")
    monkeypatch.setenv("NATIVE_DIR", str(_build_dir(tmp_path, fingerprint())))
    assert loader.install("app.domain", []) is False


def test_require_refuses_to_run_interpreted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NATIVE", "require")
    monkeypatch.setenv("NATIVE_DIR", str(tmp_path))
    with pytest.raises(loader.NativeBuildMissing, match="NATIVE=require: no native build in"):
        loader.install("app.domain", [])


def test_an_unknown_mode_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATIVE", "fast")
    with pytest.raises(loader.NativeBuildMissing, match="NATIVE='fast': use one of auto, off"):
        loader.install("app.domain", [])


def test_the_default_build_lives_beside_the_app_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NATIVE_DIR", raising=False)
    assert loader.native_dir() == APP.parent / ".native"
