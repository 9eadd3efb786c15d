"""``manage.py activitylog_verify [--org ORG]``: check the integrity chains of the project's log."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from .....errors import ActivityLogError
from ...conf import get_log


class Command(BaseCommand):
    """Verify every organization's hash chain (or one's) with the configured key."""

    help = "Verify the Activity Log's integrity chains; exits 1 if any organization fails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="verify only this organization")
        parser.add_argument("--format", choices=("text", "json"), default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            log = get_log()
            orgs = [options["org"]] if options["org"] else log.store.org_ids()
            reports = [log.verify(org) for org in orgs]
        except ActivityLogError as exc:
            raise CommandError(str(exc)) from exc
        if options["format"] == "json":
            self.stdout.write(json.dumps([
                {"org_id": r.org_id, "ok": r.ok, "checked": r.checked,
                 "problem": r.problem.value if r.problem else None, "seq": r.seq,
                 "detail": r.detail}
                for r in reports
            ]))
        else:
            for r in reports:
                status = "ok" if r.ok else f"FAILED at entry #{r.seq}: {r.detail}"
                self.stdout.write(f"{r.org_id}: {r.checked} entries, {status}")
        failed = [r.org_id for r in reports if not r.ok]
        if failed:
            raise CommandError(f"{len(failed)} of {len(reports)} organizations failed "
                               f"verification: {', '.join(failed)}", returncode=1)
        if options["format"] == "text":
            self.stdout.write(self.style.SUCCESS(
                f"All {len(reports)} organizations intact."))
