"""Installs a current native build of the rule engine, at its packages' import."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from app.native.sources import APP, MANIFEST, fingerprint

MODES = ("auto", "off", "require")


class NativeBuildMissing(ImportError):
    """``NATIVE=require`` and no current build: the service must not start without one."""


def native_dir() -> Path:
    return Path(os.environ.get("NATIVE_DIR") or APP.parent / ".native")


def mode() -> str:
    value = os.environ.get("NATIVE", "auto").strip().lower() or "auto"
    if value not in MODES:
        raise NativeBuildMissing(f"NATIVE={value!r}: use one of {', '.join(MODES)}")
    return value


def why_not_current(directory: Path) -> str | None:
    """Why the build in ``directory`` cannot serve these sources, or None if it can."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        return f"no native build in {directory} (incentives native build)"
    except (OSError, ValueError) as exc:
        return f"the native build's manifest is unreadable: {exc}"
    if manifest.get("fingerprint") != fingerprint():
        return f"the native build in {directory} is of other sources (incentives native build)"
    return None


#: Per process: whether the build was found current (the fingerprint reads every source).
_verdict: dict[str, str | None] = {}


def install(package: str, path: list[str]) -> bool:
    """Put the build's modules of ``package`` ahead of its sources when the build is
    current (a package ``__init__`` calls this with its ``__path__`` before importing
    any module of its own). Returns whether it did."""
    chosen = mode()
    if chosen == "off":
        return False
    directory = native_dir()
    key = str(directory)
    if key not in _verdict:
        _verdict[key] = why_not_current(directory)
    reason = _verdict[key]
    if reason is not None:
        if chosen == "require":
            raise NativeBuildMissing(f"NATIVE=require: {reason}")
        return False
    # The modules' shared library is imported by its own top-level name.
    if key not in sys.path:
        sys.path.append(key)
    path.insert(0, str(directory.joinpath(*package.split("."))))
    return True


def status() -> dict[str, object]:
    """What ``incentives native status`` reports: the mode, the build, whether it serves."""
    import app.domain
    import app.domain.comparisons

    directory = native_dir()
    reason = why_not_current(directory)
    return {
        "mode": mode(),
        "directory": str(directory),
        "current": reason is None,
        "reason": reason,
        "in_use": app.domain.comparisons.__file__ is not None
        and not app.domain.comparisons.__file__.endswith(".py"),
    }
