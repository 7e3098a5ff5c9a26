"""Do what the Dockerfile does, without Docker: a stand-in for the image on this machine.

Docker does not run on the build machines, so the Dockerfile is followed here
instruction by instruction, with the image's ``/`` mapped to a temporary directory:
``COPY`` copies from the checkout, ``WORKDIR`` and ``ENV`` are kept, and ``RUN pip
install …`` installs into a virtual environment of its own with the Dockerfile's own
arguments. Only these steps are understood; anything else fails, naming the line, so
a change to the Dockerfile cannot silently stop being tested.

Three liberties, all about cost, none about what is installed: the project is
installed with ``--no-deps`` (its dependencies are those of the environment running
the tests, seen through a ``.pth`` file), pip may use its cache, and the locked
requirements (``pip install --require-hashes -r LOCK``) are not installed again: the
file must be in the image and be the runtime lock, whose pins the test environment was
installed with (tests/deploy/test_lock.py holds the two locks together).
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
#: ``RUN`` commands that change nothing the service's behaviour depends on.
IGNORED_RUN = {"useradd"}


@dataclass
class Image:
    root: Path  # the image's "/"
    venv: Path  # where the image's Python installs packages
    workdir: Path = field(init=False)
    env: dict[str, str] = field(default_factory=dict)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    #: the lock files ``RUN pip install --require-hashes -r`` named, as image paths
    locks: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir = self.root

    def path(self, inside: str) -> Path:
        """Where a path of the image is on this machine."""
        where = Path(inside)
        return self.root / where.relative_to("/") if where.is_absolute() else self.workdir / where

    @property
    def bin(self) -> Path:
        return self.venv / "bin"


def instructions(text: str) -> list[tuple[int, str, str]]:
    """(line number, instruction, arguments), continuation lines joined, comments dropped."""
    found: list[tuple[int, str, str]] = []
    pending, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        start = start or number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        op, _, args = (pending + line).strip().partition(" ")
        found.append((start, op.upper(), args.strip()))
        pending, start = "", 0
    return found


def build(into: Path) -> Image:
    """Follow the Dockerfile; the result can run the image's commands."""
    image = Image(root=into / "image", venv=into / "image-python")
    _make_python(image.venv)
    for number, op, args in instructions(DOCKERFILE.read_text(encoding="utf-8")):
        where = f"Dockerfile line {number}: {op} {args}"
        if op in ("FROM", "EXPOSE", "USER"):
            continue
        if op == "ENV":
            for pair in shlex.split(args):
                name, _, value = pair.partition("=")
                image.env[name] = str(image.path(value)) if value.startswith("/") else value
        elif op == "WORKDIR":
            image.workdir = image.path(args)
            image.workdir.mkdir(parents=True, exist_ok=True)
        elif op == "COPY":
            *sources, target = shlex.split(args)
            _copy(image, sources, target)
        elif op == "RUN":
            for command in args.split("&&"):
                _run(image, shlex.split(command), where)
        elif op == "CMD":
            image.cmd = json.loads(args)
        elif op == "HEALTHCHECK":
            _options, _, command = args.partition("CMD ")
            assert command, f"{where}: a HEALTHCHECK with no CMD"
            image.healthcheck = json.loads(command)
        else:
            raise AssertionError(f"{where}: this test does not know {op}; teach it")
    return image


def _make_python(venv: Path) -> None:
    """A virtual environment whose dependencies are the test environment's (not the
    project: the editable install's hook lives in a .pth file this one does not read)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    ours = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    own = next((venv / "lib").glob("python*/site-packages"))
    (own / "test-dependencies.pth").write_text("".join(f"{p}\n" for p in ours), encoding="utf-8")


def _copy(image: Image, sources: list[str], target: str) -> None:
    destination = image.path(target)
    into_directory = target.endswith("/") or len(sources) > 1
    for source in sources:
        origin = ROOT / source
        place = destination / origin.name if into_directory else destination
        place.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, place, dirs_exist_ok=True)
        else:
            shutil.copy2(origin, place)


def _run(image: Image, command: list[str], where: str) -> None:
    if command[:2] == ["pip", "install"] and "-r" in command:
        assert command[2:] == ["--require-hashes", "-r", command[-1]], (
            f"{where}: the locked requirements are installed alone, with --require-hashes"
        )
        lock = image.path(command[-1])
        assert lock.is_file(), f"{where}: {command[-1]} is not in the image"
        assert lock.read_bytes() == (ROOT / "requirements" / "runtime.lock").read_bytes(), (
            f"{where}: the image installs {command[-1]}, which is not requirements/runtime.lock"
        )
        image.locks.append(command[-1])
    elif command[:2] == ["pip", "install"]:
        arguments = [str(image.path(a)) if a.startswith("/") else a for a in command[2:]]
        pip = [sys.executable, "-m", "pip", "--python", image.venv / "bin" / "python"]
        subprocess.run(
            [*pip, "install", "--quiet", "--no-deps", "--ignore-installed", *arguments],
            cwd=image.workdir,
            check=True,
        )
    elif command[:2] == ["rm", "-rf"]:
        for target in command[2:]:
            doomed = image.path(target).resolve()
            assert doomed.is_relative_to(image.root.resolve()), f"{where}: outside the image"
            shutil.rmtree(doomed)
    elif command[0] not in IGNORED_RUN:
        raise AssertionError(f"{where}: this test does not know `{' '.join(command)}`; teach it")
