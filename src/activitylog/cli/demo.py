"""``activitylog demo``: build a demo database of CRM activity and show what an Owner sees."""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path

from ..log import ActivityLog
from ..query import DateBucket
from .base import DEFAULT_DEMO_DB, PROG, CliError
from .database import check_database, database_url, open_log, remove_files
from .options import Commands
from .records import ENTRY_HEADERS, entry_rows
from .tables import table
from .terminal import Output, Progress
from .text import escape, ljust, plural, text_width

EPILOG = f"""\
examples:
  {PROG} demo                          # creates ./{DEFAULT_DEMO_DB}
  {PROG} demo --db /tmp/crm.db --seed 42
  {PROG} demo                          # again: shows the database made earlier
  {PROG} demo --fresh                  # rebuild it, ending now"""


def register(commands: Commands) -> None:
    """Add ``demo`` to the command line."""
    p = commands.add(
        "demo", "create a demo database of 90 days of CRM activity and show it", run,
        epilog=EPILOG,
    )
    p.add_argument("--db", metavar="PATH", default=DEFAULT_DEMO_DB,
                   help=f"where to create it (default ./{DEFAULT_DEMO_DB}); an earlier demo "
                   "database there is shown again, any other file is refused")
    p.add_argument("--fresh", action="store_true",
                   help="rebuild an earlier demo database, ending now (a file holding other "
                   "organizations, or not an activitylog database, is never replaced)")
    p.add_argument("--seed", type=int, default=7,
                   help="random seed; the same seed gives the same activity (default 7)")


def run(args: argparse.Namespace, out: Output) -> int:
    """Build the demo database and show what an Owner sees."""
    from .. import demo

    path = Path(args.db).expanduser()
    if path.exists():
        orgs = _demo_orgs_in(args.db, demo.demo_org_ids())
        if args.fresh:
            remove_files(path)
        elif orgs:
            # Running the demo again shows the database it made before.
            with open_log(args.db) as log:
                out.print(f"Using the demo database {args.db} made earlier "
                          "(--fresh rebuilds it ending now).")
                out.print()
                _show_demo(log, args, out)
            return 0
        else:
            raise CliError(f"{args.db} is an empty activitylog database; pass --fresh to "
                           "fill it with the demo")
    if "://" not in args.db and not path.parent.is_dir():
        raise CliError(f"cannot create {args.db}: the folder {path.parent} does not exist")
    started = time.monotonic()
    progress = Progress("Simulating day", demo.DAYS, stream=out.err)
    log = ActivityLog.open(database_url(args.db))
    try:
        try:
            count = demo.populate(log, seed=args.seed,
                                  progress=lambda day, days: progress.update(day, days))
        except BaseException:
            # Leave no half-built demo database behind (nothing was written: one batch).
            log.close()
            if "://" not in args.db:
                remove_files(path)
            raise
        finally:
            progress.close()
        elapsed = time.monotonic() - started
        out.print(f"Created {escape(args.db)}: {plural(count, 'entry', 'entries')} in "
                  f"{plural(len(demo.ORGS), 'organization', 'organizations')} "
                  f"over the last {demo.DAYS} days (seed {args.seed}, {elapsed:.1f} s).")
        out.print()
        _show_demo(log, args, out)
    finally:
        log.close()
    return 0


def _demo_orgs_in(db: str, demo_orgs: list[str]) -> list[str]:
    """The organizations of an existing demo database; refuses any other file."""
    try:
        check_database(db)
        with open_log(db) as log:
            orgs = log.store.org_ids()
    except CliError as exc:
        raise CliError(f"{exc}; refusing to replace it with the demo") from None
    foreign = sorted(set(orgs) - set(demo_orgs))
    if foreign:
        raise CliError(
            f"{db} holds organizations the demo does not create ({', '.join(foreign[:5])}); "
            "refusing to replace it with the demo"
        )
    return orgs


def _show_demo(log: ActivityLog, args: argparse.Namespace, out: Output) -> None:
    from .. import demo

    org, owner = demo.MAIN_ORG, demo.MAIN_ORG.owner
    viewer = demo.MAIN_VIEWER
    style = out.style
    now = log.clock()
    query = log.query(org.id, viewer=viewer)
    page = query.page(15)
    out.print(style(f"Settings › Activity Log of {org.name} ({org.id}), as its Owner "
                    f"{owner.name} sees it, newest first:", "bold"))
    out.print()
    out.lines(table(ENTRY_HEADERS, entry_rows(page.entries, now), style,
                    width=out.width, flex=2, fixed=(3,)))
    out.print(style(f"… {query.count() - len(page.entries):,} more", "dim"))
    out.print()
    out.print(style("Category filter (only categories with activity):", "bold"))
    cats = log.categories(org.id, viewer=viewer)
    width = max((text_width(escape(name)) for name, _ in cats), default=0)
    for name, count in cats:
        out.print(f"  {ljust(escape(name), width)}  {count:>6,}")
    out.print()
    out.print(style("Date filter (UTC). The buckets overlap, so they do not add up to the total:",
                    "bold"))
    for bucket, title, meaning in (
        (DateBucket.TODAY, "Today", "since midnight"),
        (DateBucket.THIS_WEEK, "This week", "since Monday 00:00"),
        (DateBucket.THIS_MONTH, "This month", "since the 1st of the month, 00:00"),
        (DateBucket.OLDER, "Older", "before this moment one calendar month ago"),
    ):
        out.print(f"  {title:<10}  {query.date(bucket).count():>6,}  " + style(meaning, "dim"))
    out.print()
    db = shlex.quote(args.db)
    out.print(style("Try next:", "bold"))
    for line in (
        f"{PROG} list --db {db} --org {org.id} --search deleted --date this-week",
        f"{PROG} list --db {db} --org {org.id} --category 'API Keys' --category Members",
        f"{PROG} list --db {db} --org {org.id} --sort action --format json --limit 5",
        f"{PROG} categories --db {db} --org {org.id}",
        f"{PROG} stats --db {db} --org {org.id} --weeks 6",
        f"{PROG} export --db {db} --org {org.id} --format csv --output {org.id}.csv",
        f"{PROG} verify --db {db}",
    ):
        out.print("  " + line)
