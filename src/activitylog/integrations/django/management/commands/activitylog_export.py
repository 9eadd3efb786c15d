"""``manage.py activitylog_export --org ORG``: one organization's log as CSV or JSON Lines."""

from __future__ import annotations

import io
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from .....access import Role, Viewer
from .....cli.export import write_export
from .....cli.outfile import GuardedStream, OutputError
from .....cli.terminal import Progress
from .....errors import ActivityLogError
from ...conf import get_log


class Command(BaseCommand):
    """Write an organization's entries, oldest first, as the command line's ``export`` does
    (same columns, formula-safe cells), with the project's configured log."""

    help = "Export one organization's Activity Log as CSV or JSON Lines, oldest first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="the organization id")
        parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
        parser.add_argument("--output", help="a file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        org, fmt, path = options["org"], options["format"], options["output"]
        quiet = Progress("Exporting", stream=io.StringIO())  # never drawn: not a terminal
        try:
            query = get_log().query(org, viewer=Viewer("manage.py", org, Role.OWNER))
            query = query.sort("date", False)
            if path:
                with open(path, "w", encoding="utf-8", newline="") as raw:
                    written = write_export(query, fmt, GuardedStream(raw, path), quiet)
                self.stderr.write(f"Exported {written} entries to {path}")
            else:
                write_export(query, fmt, GuardedStream(self.stdout, "standard output"), quiet)
        except (ActivityLogError, OutputError) as exc:
            raise CommandError(str(exc)) from exc
