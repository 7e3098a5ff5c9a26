"""The locked requirements agree with pyproject.toml, offline.

``make install`` and the Dockerfile install requirements/*.lock, not pyproject.toml, so
a dependency added, removed or narrowed in pyproject.toml changes nothing until
``make lock`` is run. These tests say so at once:

- every requirement of pyproject.toml is pinned in the lock at a version its specifier
  allows (the runtime ones in both locks, the dev extra's in the dev lock);
- nothing is pinned as a requirement of pyproject.toml (uv's ``# via`` note) that
  pyproject.toml no longer names;
- every pin has hashes, and the dev lock pins each runtime package at the runtime
  lock's version: the tests run what the image installs; the native lock (the image's
  build stage) pins each of its packages at the dev lock's version.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
RUNTIME_LOCK = ROOT / "requirements" / "runtime.lock"
DEV_LOCK = ROOT / "requirements" / "dev.lock"
NATIVE_LOCK = ROOT / "requirements" / "native.lock"
#: how uv names the project in a ``# via`` note
PROJECT_REASON = "(pyproject.toml)"


@dataclass
class Pin:
    version: Version
    hashes: int = 0
    via: list[str] = field(default_factory=list)


def read_lock(text: str) -> dict[NormalizedName, Pin]:
    """The pins of a ``uv pip compile --generate-hashes`` file, with their ``# via`` notes."""
    pins: dict[NormalizedName, Pin] = {}
    current: Pin | None = None
    for line in text.replace("\\\n", " ").splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            note = stripped.lstrip("#").strip().removeprefix("via").strip()
            if current is not None and line.startswith("    #") and note:
                current.via.append(note)
            continue
        requirement, *options = re.split(r"\s+--", stripped)
        parsed = Requirement(requirement)
        (specifier,) = parsed.specifier
        assert specifier.operator == "==", f"not a pin: {stripped}"
        current = Pin(
            Version(specifier.version), hashes=sum(o.startswith("hash=") for o in options)
        )
        pins[canonicalize_name(parsed.name)] = current
    return pins


def read_requirements(pyproject: str, extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads(pyproject)["project"]
    named = project["dependencies"]
    if extra is not None:
        named = [*named, *project["optional-dependencies"][extra]]
    return [Requirement(text) for text in named]


def disagreements(requirements: list[Requirement], lock: dict[NormalizedName, Pin]) -> list[str]:
    """What is wrong between pyproject.toml's requirements and a lock, in words."""
    found = []
    named = {canonicalize_name(r.name) for r in requirements}
    for requirement in requirements:
        pin = lock.get(canonicalize_name(requirement.name))
        if pin is None:
            found.append(f"{requirement} is not in the lock: run `make lock`")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            found.append(f"{requirement} but the lock pins {pin.version}: run `make lock`")
    for name, pin in lock.items():
        if any(PROJECT_REASON in reason for reason in pin.via) and name not in named:
            found.append(
                f"{name} is pinned for pyproject.toml, which no longer names it: run `make lock`"
            )
        if pin.hashes == 0:
            found.append(f"{name} has no hash: regenerate with `make lock`")
    return found


@pytest.mark.parametrize(
    ("lock", "extra"),
    [(RUNTIME_LOCK, None), (DEV_LOCK, "dev"), (NATIVE_LOCK, "native")],
    ids=["runtime", "dev", "native"],
)
def test_the_lock_agrees_with_pyproject(lock: Path, extra: str | None) -> None:
    requirements = read_requirements(PYPROJECT.read_text(encoding="utf-8"), extra)
    assert disagreements(requirements, read_lock(lock.read_text(encoding="utf-8"))) == []


def _pinned_elsewhere(lock: Path, wider: Path) -> dict[str, tuple[Version, Version | None]]:
    """Each pin of ``lock`` that ``wider`` lacks or pins at another version."""
    pins, others = (read_lock(f.read_text(encoding="utf-8")) for f in (lock, wider))
    return {
        name: (pin.version, others[name].version if name in others else None)
        for name, pin in pins.items()
        if name not in others or others[name].version != pin.version
    }


def test_the_dev_lock_pins_what_the_image_installs() -> None:
    assert _pinned_elsewhere(RUNTIME_LOCK, DEV_LOCK) == {}, (
        "(runtime, dev) versions differ: run `make lock`"
    )


def test_the_native_lock_builds_with_what_the_tests_ran() -> None:
    """The image's build stage (requirements/native.lock) compiles with the versions of
    mypy and of every runtime package that the suite's native pass used."""
    assert _pinned_elsewhere(NATIVE_LOCK, DEV_LOCK) == {}, (
        "(native, dev) versions differ: run `make lock`"
    )


# ------------------------------------------------------------------ the check itself

LOCK = """\
# This file was autogenerated by uv via the following command:
#    make lock
fastapi==0.165.0 \\
    --hash=sha256:aa
    # via policy-incentives (pyproject.toml)
starlette==1.10.0 \\
    --hash=sha256:bb
    # via fastapi
tqdm==4.67.1 \\
    --hash=sha256:cc
    # via
    #   -c requirements/runtime.lock
    #   policy-incentives (pyproject.toml)
colorama==0.4.6 ; sys_platform == 'win32' \\
    --hash=sha256:dd
    # via tqdm
"""


def _pyproject(*dependencies: str) -> str:
    listed = ", ".join(f'"{d}"' for d in dependencies)
    return f'[project]\nname = "x"\ndependencies = [{listed}]\n'


def test_the_lock_is_read_with_its_reasons() -> None:
    lock = read_lock(LOCK)
    assert set(lock) == {"fastapi", "starlette", "tqdm", "colorama"}
    assert lock["tqdm"].via == [
        "-c requirements/runtime.lock",
        "policy-incentives (pyproject.toml)",
    ]
    assert lock["colorama"].version == Version("0.4.6") and lock["colorama"].hashes == 1


def test_a_lock_that_agrees_has_nothing_to_say() -> None:
    requirements = read_requirements(_pyproject("fastapi>=0.121", "TQDM>=4.66"))
    assert disagreements(requirements, read_lock(LOCK)) == []


@pytest.mark.parametrize(
    ("dependencies", "complaint"),
    [
        (("fastapi>=0.121", "tqdm", "orjson>=3.10"), "orjson>=3.10 is not in the lock"),
        (("fastapi>=0.170", "tqdm"), "fastapi>=0.170 but the lock pins 0.165.0"),
        (("fastapi",), "tqdm is pinned for pyproject.toml, which no longer names it"),
    ],
    ids=["added", "narrowed", "removed"],
)
def test_a_lock_behind_pyproject_is_named(dependencies: tuple[str, ...], complaint: str) -> None:
    found = disagreements(read_requirements(_pyproject(*dependencies)), read_lock(LOCK))
    assert len(found) == 1 and found[0].startswith(complaint), found


def test_a_pin_without_a_hash_is_named() -> None:
    unhashed = LOCK.replace("starlette==1.10.0 \\\n    --hash=sha256:bb\n", "starlette==1.10.0\n")
    found = disagreements(read_requirements(_pyproject("fastapi", "tqdm")), read_lock(unhashed))
    assert found == ["starlette has no hash: regenerate with `make lock`"]
