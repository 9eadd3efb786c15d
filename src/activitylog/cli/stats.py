"""``activitylog stats``: entries per category and per day over the last weeks."""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import date, datetime, timedelta, tzinfo

from ..query import resolve_week_start
from .base import PROG, CliError
from .database import check_org, open_log, operator_viewer
from .filters import narrow, subject_options, time_options, zone
from .options import Commands, database_option, format_option, org_option
from .terminal import Output
from .text import escape, ljust, plural, text_width

EPILOG = f"""\
examples:
  {PROG} stats --db crm.db --org acme
  {PROG} stats --db crm.db --org acme --weeks 12 --tz America/New_York --week-start sunday
  {PROG} stats --db crm.db --org acme --actor acme-olivia     # one person's activity"""


def register(commands: Commands) -> None:
    """Add ``stats`` to the command line."""
    p = commands.add(
        "stats", "chart entries per category and per day over the last weeks", run,
        parents=[database_option(), org_option(), subject_options(), time_options(),
                 format_option(("table", "json"), "table")],
        epilog=EPILOG,
    )
    p.add_argument("--weeks", type=int, default=4, metavar="N",
                   help="how many weeks, counting this one (default 4)")


#: The widest a category's bar gets, and the narrowest on a narrow terminal.
BAR_WIDTH, MIN_BAR_WIDTH = 40, 10

_BLOCKS = " ▁▂▃▄▅▆▇█"
_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value: int, peak: int, width: int) -> str:
    """A horizontal bar of ``value`` out of ``peak`` in at most ``width`` columns."""
    if peak <= 0 or value <= 0:
        return ""
    eighths = max(1, round(8 * width * value / peak))
    full, rest = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[rest] if rest else "")


def spark(value: int, peak: int) -> str:
    """One block character for ``value`` out of ``peak`` (a dot for zero)."""
    if value <= 0 or peak <= 0:
        return "·"
    return _BLOCKS[max(1, round(8 * value / peak))]


def run(args: argparse.Namespace, out: Output) -> int:
    """Entries per category and per day over the last weeks."""
    if not 1 <= args.weeks <= 520:
        raise CliError("--weeks must be between 1 and 520")
    with open_log(args.db) as log:
        check_org(log, args.org)
        tz = zone(args.tz)
        week_start = resolve_week_start(args.week_start)
        now = log.clock().astimezone(tz)
        today = now.date()
        first = today - timedelta(days=(today.weekday() - week_start) % 7 + 7 * (args.weeks - 1))
        since = datetime.combine(first, datetime.min.time(), tzinfo=tz)
        query = log.query(args.org, viewer=operator_viewer(args.org), tz=tz,
                          week_start=week_start).between(since, None).sort("date", False)
        query = narrow(query, args)
        per_category: Counter[str] = Counter()
        per_day: Counter[date] = Counter()
        for entry in query:
            per_category[entry.category] += 1
            per_day[entry.occurred_at.astimezone(tz).date()] += 1
        order = {name: i for i, name in enumerate(log.registry.categories)}
    days = [first + timedelta(days=i) for i in range((today - first).days + 1)]
    categories = sorted(per_category, key=lambda n: (order.get(n, len(order)), n))
    if args.format == "json":
        out.json({
            "org_id": args.org,
            "since": first.isoformat(),
            "until": today.isoformat(),
            "total": sum(per_category.values()),
            "categories": {n: per_category[n] for n in categories},
            "days": {d.isoformat(): per_day[d] for d in days},
        })
        return 0
    total = sum(per_category.values())
    style = out.style
    out.print(style(f"{escape(args.org)}: {plural(total, 'entry', 'entries')} since {first:%a %d %b %Y} "
                    f"({args.weeks} week{'s' if args.weeks != 1 else ''}, {_tz_name(tz, now)})",
                    "bold"))
    out.print()
    if total == 0:
        out.print("No entries in this period.")
        return 0
    out.print(style("By category", "bold"))
    names = {n: escape(n) for n in categories}
    name_width = max(text_width(n) for n in names.values())
    peak = max(per_category.values())
    # Bars take what a terminal leaves after the name and the count (40 columns at most).
    room = BAR_WIDTH if out.width is None else out.width - name_width - 14
    width = max(MIN_BAR_WIDTH, min(BAR_WIDTH, room))
    for name in categories:
        count = per_category[name]
        out.print(f"  {ljust(names[name], name_width)}  {count:>7,}  " + style(bar(count, peak, width),
                                                                      "green"))
    out.print()
    out.print(style("By day", "bold"))
    labels = [(first + timedelta(days=i)).strftime("%a") for i in range(7)]
    out.print("  " + "week of".ljust(12) + " ".join(f"{d:<3}" for d in labels) + "   total")
    peak_day = max(per_day.values(), default=0)
    for week in range(0, len(days), 7):
        chunk = days[week:week + 7]
        cells = [f"{spark(per_day[d], peak_day):<3}" for d in chunk]
        cells += ["   "] * (7 - len(chunk))
        week_total = sum(per_day[d] for d in chunk)
        out.print(f"  {chunk[0].isoformat():<12}" + style(" ".join(cells), "green")
                  + f"{week_total:>8,}")
    busiest = max(days, key=lambda d: (per_day[d], d))
    out.print()
    out.print(f"Busiest day: {busiest:%a %d %b %Y} ({plural(per_day[busiest], 'entry', 'entries')}); "
              f"each block is scaled to it.")
    return 0


def _tz_name(tz: tzinfo, now: datetime) -> str:
    return getattr(tz, "key", None) or now.tzname() or "local time"
