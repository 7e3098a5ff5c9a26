"""What is compiled, and the fingerprint that ties a build to the sources it came from."""

from __future__ import annotations

import hashlib
import sys
import sysconfig
from pathlib import Path

APP = Path(__file__).resolve().parents[1]

#: The packages compiled, each with the modules left interpreted. ``results`` keeps
#: its frozen dataclasses' fast ``__init__`` (they write ``__dict__`` directly, as a
#: native class cannot); package ``__init__`` modules stay Python, as they install the
#: build (``app.native.loader``).
PACKAGES: dict[str, frozenset[str]] = {
    "app.domain": frozenset({"__init__.py", "results.py"}),
    "app.domain.batch": frozenset({"__init__.py"}),
}

MANIFEST = "manifest.json"


def package_dir(package: str) -> Path:
    return APP.parent.joinpath(*package.split("."))


def compiled_sources() -> list[Path]:
    """The modules the build compiles, in a fixed order."""
    out: list[Path] = []
    for package, interpreted in PACKAGES.items():
        out += sorted(p for p in package_dir(package).glob("*.py") if p.name not in interpreted)
    return out


def interpreter_tag() -> str:
    """The interpreter a build is for: its extensions load only into the same ABI."""
    return f"{sys.implementation.cache_tag}{sysconfig.get_config_var('EXT_SUFFIX')}"


def fingerprint(paths: list[Path] | None = None) -> str:
    """sha256 over the compiled modules' names and bytes, the build's own module (its
    options make the build too) and the interpreter's tag."""
    digest = hashlib.sha256(interpreter_tag().encode())
    for path in [*(compiled_sources() if paths is None else paths), APP / "native" / "build.py"]:
        digest.update(b"\0" + path.relative_to(APP.parent).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()
