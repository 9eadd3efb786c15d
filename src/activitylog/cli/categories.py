"""``activitylog categories``: the categories that have entries, with counts."""

from __future__ import annotations

import argparse

from ..errors import ActivityLogError
from ..log import ActivityLog
from .base import PROG
from .database import check_org, open_log, operator_viewer
from .options import Commands, database_option, format_option, org_option
from .tables import table
from .terminal import Output

EPILOG = f"""\
examples:
  {PROG} categories --db crm.db --org acme
  {PROG} categories --db crm.db --org acme --format json"""


def register(commands: Commands) -> None:
    """Add ``categories`` to the command line."""
    commands.add(
        "categories", "list the categories that have entries, with counts", run,
        parents=[database_option(), org_option(), format_option(("table", "json"), "table")],
        epilog=EPILOG,
    )


def run(args: argparse.Namespace, out: Output) -> int:
    """The categories with entries, with counts."""
    with open_log(args.db) as log:
        check_org(log, args.org)
        counts = log.categories(args.org, viewer=operator_viewer(args.org))
        described = [(name, n, _category_description(log, name)) for name, n in counts]
    if args.format == "json":
        out.json([{"category": n, "count": c, "description": d} for n, c, d in described])
        return 0
    rows = [[(n, None), (f"{c:,}", None), (d, "dim")] for n, c, d in described]
    out.lines(table(("CATEGORY", "ENTRIES", "WHAT IT TRACKS"), rows, out.style,
                    width=out.width, flex=2, right=(1,)))
    return 0


def _category_description(log: ActivityLog, name: str) -> str:
    try:
        return log.registry.category_description(name)
    except ActivityLogError:
        return ""
