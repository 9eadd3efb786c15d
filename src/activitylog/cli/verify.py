"""``activitylog verify``: check every organization's hash chain."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator, Sequence
from typing import Any

from .. import integrity
from ..integrity import VerifyReport
from ..models import Entry
from ..stores.base import Chain, ChainHead, QuerySpec
from .base import PROG, CliError
from .database import check_org, open_log
from .options import Commands, database_option, format_option
from .tables import table
from .terminal import Output, Progress
from .text import plural

EPILOG = f"""\
examples:
  {PROG} verify --db crm.db
  {PROG} verify --db crm.db --org acme
  ACTIVITYLOG_KEY=secret {PROG} verify --db crm.db --key-env ACTIVITYLOG_KEY

Exits 0 when every organization's chain is intact, 1 when any is not."""


def register(commands: Commands) -> None:
    """Add ``verify`` to the command line."""
    p = commands.add(
        "verify", "verify the integrity chain of every organization (or one)", run,
        parents=[database_option(), format_option(("table", "json"), "table")],
        epilog=EPILOG,
    )
    p.add_argument("--org", metavar="ORG", help="verify only this organization")
    p.add_argument("--key-env", metavar="VAR",
                   help="read the HMAC integrity key from this environment variable")


class _CountingStore:
    """Passes every call to a store, counting the entries its chain streams (for progress)."""

    def __init__(self, store: Any, progress: Progress) -> None:
        self._store = store
        self._progress = progress

    def chain(self, org_id: str, after_seq: int = 0) -> Iterator[Entry]:
        for entry in self._store.chain(org_id, after_seq):
            self._progress.advance()
            yield entry

    def head(self, org_id: str) -> ChainHead | None:
        return self._store.head(org_id)  # type: ignore[no-any-return]

    def append(self, entries: Sequence[Entry], chain: Chain | None) -> list[Entry]:
        return self._store.append(entries, chain)  # type: ignore[no-any-return]

    def page(self, spec: QuerySpec) -> list[Entry]:
        return self._store.page(spec)  # type: ignore[no-any-return]

    def count(self, spec: QuerySpec) -> int:
        return self._store.count(spec)  # type: ignore[no-any-return]

    def categories(self, org_id: str) -> dict[str, int]:
        return self._store.categories(org_id)  # type: ignore[no-any-return]

    def org_ids(self) -> list[str]:
        return self._store.org_ids()  # type: ignore[no-any-return]

    def close(self) -> None:
        self._store.close()


def run(args: argparse.Namespace, out: Output) -> int:
    """Check every organization's hash chain (or one's)."""
    key: str | None = None
    if args.key_env:
        key = os.environ.get(args.key_env)
        if not key:
            raise CliError(f"--key-env: the environment variable {args.key_env} is not set")
    with open_log(args.db, integrity_key=key) as log:
        if args.org:
            check_org(log, args.org)
            orgs = [args.org]
        else:
            orgs = log.store.org_ids()
        heads = {org: log.store.head(org) for org in orgs}
        total = sum(h.seq for h in heads.values() if h is not None)
        progress = Progress("Verifying", total, stream=out.err)
        counting = _CountingStore(log.store, progress)
        chain = log.chain
        if chain is None:  # pragma: no cover - the command line always opens with integrity
            raise CliError("this log was opened without integrity")
        try:
            reports = [integrity.verify(counting, org, chain) for org in orgs]
        finally:
            progress.close()
    failed = [r for r in reports if not r.ok]
    if args.format == "json":
        out.json([_report_data(r) for r in reports])
        return 1 if failed else 0
    if not reports:
        out.print("The database has no entries; nothing to verify.")
        return 0
    rows = [
        [(r.org_id, None), (f"{r.checked:,}", None), _report_cell(r)]
        for r in reports
    ]
    out.lines(table(("ORGANIZATION", "VERIFIED", "STATUS"), rows, out.style,
                    width=out.width, flex=2, right=(1,)))
    out.print()
    entries = sum(r.checked for r in reports)
    if failed:
        out.print(out.style(f"{len(failed)} of {plural(len(reports), 'organization', 'organizations')}"
                            " failed verification.", "red"))
        return 1
    checked = plural(len(reports), "organization", "organizations")
    out.print(out.style(f"All {checked} intact ({plural(entries, 'entry', 'entries')}).", "green"))
    return 0


def _report_data(report: VerifyReport) -> dict[str, Any]:
    return {
        "org_id": report.org_id,
        "ok": report.ok,
        "checked": report.checked,
        "problem": report.problem.value if report.problem else None,
        "seq": report.seq,
        "detail": report.detail,
    }


def _report_cell(report: VerifyReport) -> tuple[str, str | None]:
    if report.ok:
        return ("ok", "green")
    problem = report.problem.value.upper() if report.problem else "FAILED"
    return (f"{problem} at entry #{report.seq}: {report.detail}", "red")
