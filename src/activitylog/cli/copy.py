"""``activitylog copy``: move a log to another store (SQLite to PostgreSQL, say), unchanged."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..copying import CopyError, CopyProgress, copy_log
from ..errors import SchemaError
from ..stores import open_store
from .base import EXIT_FAILED, PROG, CliError
from .database import check_database, database_url
from .options import Commands
from .terminal import Output, Progress
from .text import plural

EPILOG = f"""\
examples:
  {PROG} copy crm.db postgresql://app@db.internal/crm
  {PROG} copy crm.db 'postgresql://app@db.internal/crm?schema=audit' --org acme
  {PROG} copy sqlite:///crm.db sqlite:///backup.db

Entries keep their ids, seqs and hashes, so the copy verifies with the same key. An interrupted
copy resumes where it stopped when run again. Exits 1 when the target holds another log."""


def register(commands: Commands) -> None:
    """Add ``copy`` to the command line."""
    p = commands.add("copy", "copy a log to another store, keeping ids and hashes", run,
                     epilog=EPILOG)  # fmt: skip
    p.add_argument("source", metavar="SOURCE", help="the database to copy: a file or store URL")
    p.add_argument("target", metavar="TARGET",
                   help="where to copy it: a file (created if missing) or a store URL")
    p.add_argument("--org", metavar="ORG", action="append",
                   help="copy only this organization (repeatable)")
    p.add_argument("--batch-size", metavar="N", type=int, default=1000,
                   help="entries per transaction (default: 1000)")
    p.add_argument("--no-compare", action="store_true",
                   help="skip reading both logs back to compare them at the end")


def run(args: argparse.Namespace, out: Output) -> int:
    """Copy the source's log into the target."""
    if args.batch_size < 1:
        raise CliError(f"--batch-size must be at least 1, not {args.batch_size}")
    check_database(args.source)
    if "://" not in args.target and Path(args.target).expanduser().exists():
        check_database(args.target)
    try:
        source = open_store(database_url(args.source))
    except SchemaError as exc:
        raise CliError(f"{args.source} cannot be read as an activitylog database: {exc}") from None
    try:
        try:
            target = open_store(database_url(args.target))
        except SchemaError as exc:
            raise CliError(f"{args.target} cannot take an activitylog log: {exc}") from None
        try:
            orgs = args.org or source.org_ids()
            unknown = [org for org in orgs if source.head(org) is None]
            if unknown:
                raise CliError(f"unknown organization {unknown[0]!r}: it has no entries")
            progress = Progress("Copying", stream=out.err)

            def advance(step: CopyProgress) -> None:
                progress.update(step.done, step.total)

            try:
                report = copy_log(source, target, org_ids=orgs, batch_size=args.batch_size,
                                  progress=advance, compare=not args.no_compare)  # fmt: skip
            except CopyError as exc:
                out.print(out.style(f"Not copied: {exc}", "red"))
                return EXIT_FAILED
            finally:
                progress.close()
        finally:
            target.close()
    finally:
        source.close()
    copied = plural(report.copied, "entry", "entries")
    line = f"Copied {copied} of {plural(len(report.org_ids), 'organization', 'organizations')}"
    if report.skipped:
        line += f" ({report.skipped:,} already there)"
    if report.compared:
        line += f"; the copy reads back equal ({report.compared:,} compared)"
    out.print(out.style(line + ".", "green"))
    return 0
