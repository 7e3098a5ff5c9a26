"""``incentives native build``: compile the rule engine with mypyc, beside the sources.

Needs mypyc (it comes with mypy, a development dependency) and a C compiler. The build
is made in a new directory and moved into place whole, with its manifest written last:
an interrupted build leaves the previous one, or none, never half of one.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from app.native.sources import APP, MANIFEST, compiled_sources, fingerprint, interpreter_tag


def build(into: Path, quiet: bool = True) -> dict[str, object]:
    """Compile the engine's modules into ``into`` (replacing what is there); returns
    the manifest."""
    from mypyc.build import mypycify  # only the build needs mypyc
    from setuptools import Distribution

    sources = compiled_sources()
    stamp = fingerprint(sources)
    into = into.resolve()
    into.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".native-", dir=into.parent))
    try:
        here = Path.cwd()
        # mypyc names modules by their paths from the working directory.
        os.chdir(APP.parent)
        try:
            relative = [str(p.relative_to(APP.parent)) for p in sources]
            # (mypy's options go among the paths: no configuration file, so a checkout and
            # an installed package build alike; its cache stays in the work directory)
            # (its notes on the sources, such as comprehensions it treats as lists, are
            # kept quiet: mypy's own run, ``make types``, is the one that judges them)
            with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
                extensions = mypycify(
                    ["--config-file", "", "--cache-dir", str(work / "mypy-cache"), *relative],
                    opt_level="3",
                    verbose=not quiet,
                    target_dir=str(work / "c"),
                )
            dist = Distribution({"name": "incentives-native", "ext_modules": extensions})
            command = dist.get_command_obj("build_ext")
            command.build_lib = str(work / "lib")
            command.build_temp = str(work / "temp")
            with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
                dist.run_command("build_ext")
        finally:
            os.chdir(here)
        if fingerprint(sources) != stamp:
            raise SystemExit("the sources changed while they were compiled: build again")
        manifest: dict[str, object] = {
            "fingerprint": stamp,
            "interpreter": interpreter_tag(),
            "modules": [str(p.relative_to(APP.parent)) for p in sources],
        }
        (work / "lib" / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        old = into.with_name(into.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if into.exists():
            into.rename(old)
        (work / "lib").rename(into)
        shutil.rmtree(old, ignore_errors=True)
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(into: Path, quiet: bool = True, force: bool = False) -> int:
    from setuptools.errors import BaseError, CCompilerError

    from app.native.loader import why_not_current

    if not force and why_not_current(into) is None:
        # (touched, so that make's rule, which depends on more files than are compiled,
        # finds it newer than them)
        (into / MANIFEST).touch()
        print(f"native build: the one in {into} is of these sources; nothing to compile")
        return 0
    try:
        manifest = build(into, quiet)
    except ImportError as exc:
        print(f"native build: {exc} (install the development dependencies)", file=sys.stderr)
        return 1
    except (SystemExit, CCompilerError, BaseError) as exc:  # the compiler or setuptools
        print(f"native build failed: {exc}", file=sys.stderr)
        return 1
    modules = manifest["modules"]
    assert isinstance(modules, list)
    print(f"native build: {len(modules)} modules compiled into {into}")
    return 0
