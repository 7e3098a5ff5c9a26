"""``incentives audit checkpoint | verify``: checkpoints kept outside the system.

The hash chain shows a changed record by itself, but not records cut from its end:
what is left is still a valid chain. Only a checkpoint (sequence and head hash) kept
where the database's users cannot write shows that. ``checkpoint`` prints one as a
JSON line (for a second party) and with ``--append FILE`` adds it to a file, after
checking the log against the checkpoints already there; ``verify --against FILE``
checks the chain and every checkpoint in the file. The same checks as
``GET /v1/audit/checkpoint`` and ``GET /v1/audit/verify`` (app/services/audit.py), so
a file may also hold what the API answered, one JSON object a line.

Exit status: 0 when the log agrees, 1 when it does not (the first problem is named),
2 when the file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from app.config import get_settings
from app.db.session import make_engine, make_sessionmaker
from app.services import audit


class CheckpointFileError(Exception):
    """The checkpoint file cannot be read; the message names the file and the line."""


def read_checkpoints(path: Path) -> list[tuple[int, audit.Checkpoint]]:
    """(line number, checkpoint) for each non-empty line of ``path``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise CheckpointFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointFileError(f"{path}: cannot be read ({exc})") from None
    found = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            found.append((number, _parse(path, number, line)))
    return found


def _parse(path: Path, number: int, line: str) -> audit.Checkpoint:
    expected = 'expected {"seq": 12, "hash": "<64 hex digits>", …} as written by `audit checkpoint`'
    try:
        data = json.loads(line)
    except ValueError:
        raise CheckpointFileError(f"{path} line {number}: not JSON; {expected}") from None
    seq = data.get("seq") if isinstance(data, dict) else None
    digest = data.get("hash") if isinstance(data, dict) else None
    if not (isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0):
        raise CheckpointFileError(f"{path} line {number}: `seq` is not a count; {expected}")
    if not (
        isinstance(digest, str)
        and len(digest) == 64
        and all(c in "0123456789abcdef" for c in digest)
    ):
        raise CheckpointFileError(f"{path} line {number}: `hash` is not a SHA-256; {expected}")
    return audit.Checkpoint(seq=seq, hash=digest)


def _check(path: Path | None, database_url: str | None = None) -> tuple[audit.Verification, str]:
    """Verify the chain (and the checkpoints in ``path``); the result and where it failed."""
    kept = read_checkpoints(path) if path is not None else []
    engine = make_engine(database_url or get_settings().database_url)
    try:
        with make_sessionmaker(engine)() as session:
            result = audit.verify_against(session, [(c.seq, c.hash) for _, c in kept])
    finally:
        engine.dispose()
    if result.checkpoint is None:
        return result, f"record {result.first_bad_seq}"
    return result, f"{path} line {kept[result.checkpoint][0]}"


def _report_problem(result: audit.Verification, where: str) -> int:
    print(f"the audit log does not verify: {where}: {result.problem}", file=sys.stderr)
    return 1


def append_checkpoint(path: Path | None, database_url: str | None = None) -> tuple[int, str]:
    """Check the log against the checkpoints in ``path`` and, if it agrees, append its
    head there (if given). (exit status, the checkpoint line or what is wrong): the
    command's and the scheduled job's one way of doing it."""
    try:
        result, where = _check(path if path is not None and path.exists() else None, database_url)
    except CheckpointFileError as exc:
        return 2, f"error: {exc}"
    if not result.ok:
        # Appending now would bury the evidence under a checkpoint of the damaged log.
        return 1, f"the audit log does not verify: {where}: {result.problem}"
    line = json.dumps(
        audit.Checkpoint(result.head_seq, result.head_hash, datetime.now(UTC)).as_json(),
        sort_keys=True,
    )
    if path is not None:
        with path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
    return 0, line


def _checkpoint(args: argparse.Namespace) -> int:
    status, said = append_checkpoint(Path(args.append) if args.append else None)
    print(said, file=sys.stdout if status == 0 else sys.stderr)
    return status


def _verify(args: argparse.Namespace) -> int:
    path = Path(args.against) if args.against else None
    try:
        result, where = _check(path)
    except CheckpointFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not result.ok:
        return _report_problem(result, where)
    kept = f"; it agrees with every checkpoint in {path}" if path is not None else ""
    print(
        f"the audit log verifies: {result.records} records, head {result.head_seq} {result.head_hash}{kept}"
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub = commands.add_parser("audit", help="the audit log's checkpoints").add_subparsers(
        dest="audit_command", required=True
    )
    checkpoint = sub.add_parser(
        "checkpoint",
        help="print the chain's head (sequence and hash) as a JSON line to keep outside the system",
    )
    checkpoint.add_argument(
        "--append",
        metavar="FILE",
        help="also add it to FILE, after checking the log against the checkpoints already there",
    )
    checkpoint.set_defaults(handler=_checkpoint)
    verify = sub.add_parser(
        "verify", help="recompute the hash chain and hold it to every kept checkpoint"
    )
    verify.add_argument(
        "--against", metavar="FILE", help="the checkpoints kept (JSON lines); shows a cut tail"
    )
    verify.set_defaults(handler=_verify)
