"""``activitylog list``: one page of an organization's Activity Log."""

from __future__ import annotations

import argparse

from ..query import MAX_PAGE_SIZE
from .base import PROG, CliError
from .database import check_org, open_log
from .filters import build_query, filter_options, time_options
from .options import Commands, database_option, format_option, org_option
from .records import ENTRY_HEADERS, entry_record, entry_rows, jsonl_json
from .tables import table
from .terminal import Output

EPILOG = f"""\
examples:
  {PROG} list --db crm.db --org acme
  {PROG} list --db crm.db --org acme --search "olivia deleted" --date this-week
  {PROG} list --db crm.db --org acme --category leads --category "api keys" --sort action
  {PROG} list --db crm.db --org acme --since 2024-05-01 --until 2024-06-01 --tz Europe/Paris
  {PROG} list --db crm.db --org acme --limit 20 --after CURSOR   # the next page
  {PROG} list --db crm.db --org acme --target lead:42             # one record's history
  {PROG} list --db crm.db --org acme --actor acme-olivia --limit 10 # one person's activity
  {PROG} list --db crm.db --org acme --format json | jq '.entries[].description'
  {PROG} list --db crm.db --org acme --format jsonl | jq -r .description"""


def register(commands: Commands) -> None:
    """Add ``list`` to the command line."""
    p = commands.add(
        "list", "show one page of an organization's Activity Log", run,
        parents=[database_option(), org_option(), filter_options(), time_options(),
                 format_option(("table", "json", "jsonl"), "table")],
        epilog=EPILOG,
    )
    p.add_argument("--limit", type=int, default=50, metavar="N",
                   help="entries per page, 1 to 1000 (default 50)")
    p.add_argument("--after", metavar="CURSOR",
                   help="the cursor a previous page printed, to get the page after it")


def run(args: argparse.Namespace, out: Output) -> int:
    """One page of an organization's log."""
    if not 1 <= args.limit <= MAX_PAGE_SIZE:
        raise CliError(f"--limit must be between 1 and {MAX_PAGE_SIZE:,}, not {args.limit}")
    with open_log(args.db) as log:
        check_org(log, args.org)
        query = build_query(log, args)
        page = query.page(args.limit, after=args.after)
        total = query.count()
        now = log.clock()
        if args.format != "table":
            entries = []
            for entry in page.entries:
                data = entry_record(entry)
                data["color"] = entry.color
                data["relative_time"] = entry.relative_time(now)
                entries.append(data)
            if args.format == "jsonl":
                for data in entries:
                    out.print(jsonl_json(data))
                if page.next_cursor:  # for the reader, not for the tool reading the lines
                    out.err.write(f"Next page: add --after {page.next_cursor}\n")
                return 0
            out.json({"org_id": args.org, "total": total, "entries": entries,
                      "next_cursor": page.next_cursor})
            return 0
        if not page.entries:
            out.print("No entries match.")
            return 0
        out.lines(table(ENTRY_HEADERS, entry_rows(page.entries, now), out.style,
                        width=out.width, flex=2, fixed=(3,)))
        out.print()
        out.print(f"{len(page.entries):,} shown, {total:,} matching.")
        if page.next_cursor:
            out.print(f"Next page: add --after {page.next_cursor}")
    return 0
