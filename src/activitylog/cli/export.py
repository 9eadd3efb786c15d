"""``activitylog export``: every matching entry as CSV or JSON Lines, streamed."""

from __future__ import annotations

import argparse

from ..query import Query
from .base import PROG
from .database import check_org, open_log
from .filters import build_query, filter_options, time_options
from .options import Commands, database_option, format_option, org_option
from .outfile import GuardedStream, OutputFile
from .records import csv_pages, export_chunks
from .terminal import Output, Progress
from .text import escape, plural

EPILOG = f"""\
examples:
  {PROG} export --db crm.db --org acme --format csv --output acme.csv
  {PROG} export --db crm.db --org acme --format jsonl --category Members > members.jsonl
  {PROG} export --db crm.db --org acme --format jsonl --date this-month --desc

CSV is UTF-8 with a byte-order mark so spreadsheets detect the encoding; a cell that starts with
= + - @ (or a tab or carriage return) is prefixed with ' so it is never run as a formula.
JSON Lines holds every stored field of each entry, including seq, prev_hash and hash."""


def register(commands: Commands) -> None:
    """Add ``export`` to the command line."""
    p = commands.add(
        "export",
        "export matching entries as CSV or JSON Lines (streamed)",
        run,
        parents=[
            database_option(),
            org_option(),
            filter_options(),
            time_options(),
            format_option(("csv", "jsonl"), None),
        ],
        epilog=EPILOG,
    )
    p.add_argument(
        "--output",
        metavar="FILE",
        help="write to FILE instead of standard output (- is standard output); a regular file "
        "is replaced atomically, a FIFO or device such as /dev/null written to as it is",
    )


def run(args: argparse.Namespace, out: Output) -> int:
    """Every matching entry as CSV or JSON Lines, streamed."""
    with open_log(args.db) as log:
        check_org(log, args.org)
        query = build_query(log, args, default_desc=False)
        progress = Progress("Exporting", stream=out.err)
        if progress.enabled:
            progress.update(0, query.count())
        try:
            with OutputFile(args.output, out.stream, bom=args.format == "csv") as stream:
                written = write_export(query, args.format, stream, progress)
        finally:
            progress.close()
    if args.output and args.output != "-":
        out.err.write(f"Exported {plural(written, 'entry', 'entries')} to {escape(args.output)}\n")
    return 0


def write_export(query: Query, fmt: str, stream: GuardedStream, progress: Progress) -> int:
    """Write every entry of ``query`` to ``stream`` as ``csv`` or ``jsonl``; return how many.

    Written a page at a time (one write per page: per-row writes through the UTF-8-with-BOM
    stream cost as much as making the rows), from the stored rows when the store is SQLite.
    """
    written = 0
    if fmt == "csv":
        for text, count in csv_pages(query):
            stream.write(text)
            written += count
            progress.advance(count)
        return written
    for chunk in export_chunks(query, fmt):
        stream.write("".join(chunk))
        written += len(chunk)
        progress.advance(len(chunk))
    return written
