"""Do what the Dockerfile does, without Docker: a stand-in for the image on this machine.

Docker does not run on the build machines, so the Dockerfile is followed here
instruction by instruction, with the image's ``/`` mapped to a temporary directory:
``COPY`` copies from the checkout, ``WORKDIR`` and ``ENV`` are kept, and ``RUN pip
install …`` installs into a virtual environment of its own with the Dockerfile's own
arguments. Only these steps are understood; anything else fails, naming the line, so
a change to the Dockerfile cannot silently stop being tested.

Each ``FROM`` starts a stage with a root and a Python of its own; ``COPY --from=STAGE``
copies from an earlier stage's root, and the last stage is the image.

Four liberties, all about cost, none about what is installed: the project is
installed with ``--no-deps`` (its dependencies are those of the environment running
the tests, seen through a ``.pth`` file), pip may use its cache, and the locked
requirements (``pip install --require-hashes -r LOCK``) are not installed again: the
file must be in the image and be the runtime lock (or, in a build stage, the native
one), whose pins the test environment was installed with (tests/deploy/test_lock.py
holds the locks together). ``apt-get`` is not run: the system packages it installs
(the C compiler) are this machine's. And ``incentives native build`` starts from the
checkout's build when that one is current (``make test`` builds it first): the
command still runs, in the stage, and takes it only if it was made from the installed
sources byte for byte; otherwise it compiles, as in the image.
"""

from __future__ import annotations

import glob
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
#: ``RUN`` commands that change nothing the service's behaviour depends on (apt-get:
#: the build stage's C compiler, which this machine has).
IGNORED_RUN = {"useradd", "apt-get"}
#: The locks an image may install, by file name.
LOCKS = {"runtime.lock", "native.lock"}


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
    """Follow the Dockerfile; the result (its last stage) can run the image's commands."""
    stages: dict[str, Image] = {}
    image: Image | None = None
    for number, op, args in instructions(DOCKERFILE.read_text(encoding="utf-8")):
        where = f"Dockerfile line {number}: {op} {args}"
        if op == "FROM":
            _base, _, name = args.partition(" AS ")
            count = len(stages)
            image = Image(root=into / f"stage-{count}", venv=into / f"stage-{count}-python")
            _make_python(image.venv)
            stages[name.strip() or str(count)] = image
            continue
        assert image is not None, f"{where}: before any FROM"
        if op in ("EXPOSE", "USER"):
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
            if sources[0].startswith("--from="):
                stage = stages[sources.pop(0).removeprefix("--from=")]
                _copy_from(stage, image, sources, target)
            else:
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
    assert image is not None, "a Dockerfile without FROM"
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


def _copy_from(stage: Image, image: Image, sources: list[str], target: str) -> None:
    for source in sources:
        origin, place = stage.path(source), image.path(target)
        assert origin.exists(), f"COPY --from: {source} is not in that stage"
        if origin.is_dir():
            shutil.copytree(origin, place, dirs_exist_ok=True)
        else:
            place.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, place)


def _native_build(image: Image, command: list[str], where: str) -> None:
    """``incentives native build --into DIR``, seeded with the checkout's current build."""
    from app.native.loader import native_dir, why_not_current

    assert command[3:4] == ["--into"] and len(command) == 5, f"{where}: --into DIR alone"
    into = image.path(command[4])
    checkout = native_dir()
    if why_not_current(checkout) is None:
        shutil.copytree(checkout, into)
    env = {"PATH": f"{image.bin}:/usr/bin:/bin", **image.env}
    subprocess.run([image.bin / "incentives", *command[1:3], "--into", into], env=env, check=True)


def _run(image: Image, command: list[str], where: str) -> None:
    if command[:2] == ["pip", "install"] and "-r" in command:
        assert command[2:] == ["--require-hashes", "-r", command[-1]], (
            f"{where}: the locked requirements are installed alone, with --require-hashes"
        )
        lock = image.path(command[-1])
        assert lock.is_file(), f"{where}: {command[-1]} is not in the image"
        assert lock.name in LOCKS, f"{where}: {lock.name} is none of requirements/{LOCKS}"
        assert lock.read_bytes() == (ROOT / "requirements" / lock.name).read_bytes(), (
            f"{where}: the image installs {command[-1]}, which is not requirements/{lock.name}"
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
            for doomed in map(Path, glob.glob(str(image.path(target)))):  # (none: nothing)
                assert doomed.resolve().is_relative_to(image.root.resolve()), (
                    f"{where}: outside the image"
                )
                shutil.rmtree(doomed)
    elif command[:3] == ["incentives", "native", "build"]:
        _native_build(image, command, where)
    elif command[0] not in IGNORED_RUN:
        raise AssertionError(f"{where}: this test does not know `{' '.join(command)}`; teach it")
