"""``manage.py activitylog_export --org ORG``: one organization's log as CSV or JSON Lines."""

from __future__ import annotations

import csv
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from .....access import Role, Viewer
from .....cli import CSV_COLUMNS, csv_row, entry_record
from .....errors import ActivityLogError
from ...conf import get_log


class Command(BaseCommand):
    """Write an organization's entries, oldest first, with the CLI's columns and cell escaping."""

    help = "Export one organization's Activity Log as CSV or JSON Lines, oldest first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="the organization id")
        parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
        parser.add_argument("--output", help="a file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        org = options["org"]
        try:
            log = get_log()
            query = log.query(org, viewer=Viewer("manage.py", org, Role.OWNER)).sort("date", False)
            if options["output"]:
                with open(options["output"], "w", encoding="utf-8", newline="") as stream:
                    written = self._write(query, options["format"], stream)
                self.stderr.write(f"Exported {written} entries to {options['output']}")
            else:
                self._write(query, options["format"], self.stdout)
        except ActivityLogError as exc:
            raise CommandError(str(exc)) from exc

    def _write(self, query: Any, fmt: str, stream: Any) -> int:
        written = 0
        if fmt == "csv":
            writer = csv.writer(stream, lineterminator="\r\n")
            writer.writerow(CSV_COLUMNS)
            for entry in query:
                writer.writerow(csv_row(entry))
                written += 1
        else:
            for entry in query:
                stream.write(json.dumps(entry_record(entry), ensure_ascii=False) + "\n")
                written += 1
        return written
