"""``incentives native build | status``: the rule engine's native build (``app.native``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _build(args: argparse.Namespace) -> int:
    from app.native.build import main
    from app.native.loader import native_dir

    into = Path(args.into) if args.into else native_dir()
    return main(into, quiet=not args.verbose, force=args.force)


def _status(args: argparse.Namespace) -> int:
    from app.native.loader import status

    report = status()
    print(json.dumps(report, indent=2))
    # Exit 1 when the engine runs interpreted: a deployment step can insist on the build.
    return 0 if report["in_use"] else 1


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    native = commands.add_parser(
        "native", help="the rule engine compiled to native code (optional, about 2x faster)"
    ).add_subparsers(dest="native_command", required=True)
    build = native.add_parser(
        "build", help="compile the rule engine with mypyc (needs mypy and a C compiler)"
    )
    build.add_argument("--into", help="the build's directory (default NATIVE_DIR or .native)")
    build.add_argument("--verbose", action="store_true", help="show the compiler's commands")
    build.add_argument(
        "--force", action="store_true", help="compile even when the build in place is current"
    )
    build.set_defaults(handler=_build)
    status = native.add_parser(
        "status", help="whether the engine runs compiled; exit 1 when it runs interpreted"
    )
    status.set_defaults(handler=_status)
