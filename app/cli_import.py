"""``incentives import FILE [--dry-run] [--actor NAME]``: bulk import of enterprise profiles.

Reads a CSV or XLSX file (column mapping: ``policy_catalog/IMPORT.md``) with a
progress bar on standard error, writes every accepted row or none in one transaction,
and prints the report and the first rejected rows (``--errors-csv FILE`` writes every
rejected row's problems as CSV, through the service's one CSV writer). Exit status: 0 when the accepted
rows were written (or, with ``--dry-run``, would be), 1 when no row could be applied
(or the database refused the import: then nothing was written), 2 when the file
cannot be imported at all (unreadable, unknown columns).

``incentives imports cancel ID`` stops a large import sent to ``POST /v1/imports`` (a job),
as ``POST /v1/imports/{id}/cancel`` does: exit 0 when cancelled, 1 when there is no such
import or it has already finished.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.catalog.loader import CatalogError, load_catalog
from app.config import get_settings
from app.db.session import make_engine, make_sessionmaker
from app.services import bulk_import
from app.services.actors import Actor
from app.services.csv_export import write_csv
from app.services.errors import ServiceError
from app.services.import_source import ImportLimits

_PHASES = {"read": "reading and checking rows", "write": "writing"}


class _Bars:
    """One tqdm bar per phase (reading, writing), on standard error."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bars: dict[str, Any] = {}

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self.bars.get(phase)
        if bar is None:
            for other in self.bars.values():
                other.close()
            bar = self.bars[phase] = tqdm(
                total=total, desc=_PHASES.get(phase, phase), unit=" rows", file=sys.stderr
            )
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _print_report(report: bulk_import.ImportReport, show: int) -> None:
    print(f"file:      {report.file_name} ({report.format}, sha256 {report.file_sha256[:16]}…)")
    print(f"rows:      {report.rows}")
    counts = f"created {report.created}, updated {report.updated}, unchanged {report.unchanged}"
    print(f"accepted:  {report.accepted} ({counts})")
    print(f"rejected:  {report.rejected} row(s), {len(report.errors)} problem(s)")
    if report.dry_run:
        print("dry run: nothing was written")
    elif report.applied:
        print(
            "applied"
            + (f": import {report.import_id}" if report.import_id else ": nothing changed")
        )
    else:
        print("nothing was applied")
    for error in report.errors[:show]:
        print(f"  row {error.row}, {error.field}: {error.reason}")
    if len(report.errors) > show:
        print(f"  … and {len(report.errors) - show} more (use --show-errors N or --json)")


def _write_errors(path: Path, report: bulk_import.ImportReport) -> None:
    """The rejected rows' problems as CSV: row (a number), column header, reason."""
    with path.open("w", encoding="utf-8", newline="") as out:
        write_csv(
            out, ["row", "field", "reason"], ([e.row, e.field, e.reason] for e in report.errors)
        )


def _run(args: argparse.Namespace) -> int:
    path: Path = args.file
    settings = get_settings()
    try:
        catalog = load_catalog(settings.catalog_dir)
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 2
    actor = Actor(name=args.actor, role="admin")
    bars = _Bars(enabled=not args.no_progress and not args.json)
    try:
        with path.open("rb") as data:
            file_format = bulk_import.detect_format(path.name, None, data.read(8))
            source = bulk_import.ImportFile(name=path.name, format=file_format, data=data)
            limits = ImportLimits.from_settings(settings)
            prepared = bulk_import.prepare(catalog, source, actor, bars, limits)
            engine = make_engine(settings.database_url)
            try:
                with make_sessionmaker(engine).begin() as session:
                    report = bulk_import.apply(
                        session, prepared, actor, dry_run=args.dry_run, progress=bars
                    )
            finally:
                engine.dispose()
    except OSError as exc:
        bars.close()
        print(f"error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        bars.close()
        print(f"error: {exc.detail}", file=sys.stderr)
        known = exc.extra().get("known_columns")
        if known:
            print("known columns: " + ", ".join(known), file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        bars.close()
        print(
            f"error: the database refused the import; nothing was written: {exc}", file=sys.stderr
        )
        return 1
    bars.close()
    if args.errors_csv is not None:
        _write_errors(args.errors_csv, report)
    if args.json:
        print(
            json.dumps(report.as_json(max_errors=len(report.errors)), ensure_ascii=False, indent=2)
        )
    else:
        _print_report(report, args.show_errors)
    return 0 if report.accepted else 1


def _cancel(args: argparse.Namespace) -> int:
    from app.cli_cancel import cancel_from_cli
    from app.db.models import ImportJob
    from app.jobs.queue import cancel_queued_import
    from app.services import import_jobs

    def cancel(session: Session, import_id: str) -> bool:
        job = session.get(ImportJob, import_id)
        if job is None:
            return False
        import_jobs.cancel(session, job)
        cancel_queued_import(session, job.id)
        return True

    return cancel_from_cli("import", args.import_id, cancel)


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "import",
        help="register or update enterprises from a CSV or XLSX file (policy_catalog/IMPORT.md)",
    )
    parser.add_argument("file", type=Path, help="a .csv or .xlsx file; row 1 holds the headers")
    parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    parser.add_argument("--actor", default="cli", help="who imports, for the audit log")
    parser.add_argument(
        "--show-errors", type=int, default=50, metavar="N", help="rejected rows to print"
    )
    parser.add_argument(
        "--errors-csv",
        type=Path,
        metavar="FILE",
        help="write every rejected row's problems to FILE as CSV (row, field, reason)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=_run)
    imports = commands.add_parser(
        "imports", help="large imports sent to POST /v1/imports (jobs)"
    ).add_subparsers(dest="imports_command", required=True)
    cancel = imports.add_parser(
        "cancel", help="stop a queued or running import: nothing of it is written"
    )
    cancel.add_argument("import_id")
    cancel.set_defaults(handler=_cancel)
