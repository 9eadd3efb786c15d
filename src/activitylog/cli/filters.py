"""The filter and time options of the reading commands, and the query they describe."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone, tzinfo

from dateutil import parser as dateparser
from dateutil import tz as dateutil_tz

from ..errors import ActivityLogError
from ..log import ActivityLog
from ..query import DateBucket, Query, resolve_tz
from .base import CliError
from .database import operator_viewer
from .options import ArgumentParser

#: The values of ``--week-start``.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def time_options() -> ArgumentParser:
    """``--tz`` and ``--week-start``."""
    p = ArgumentParser(add_help=False)
    p.add_argument("--tz", metavar="ZONE",
                   help="IANA time zone for dates and date filters, e.g. Europe/Paris "
                   "(default: this machine's zone)")
    p.add_argument("--week-start", metavar="DAY", default="monday", type=week_start_day,
                   help="first day of the week for --date this-week: monday (the default) to "
                   "sunday")
    return p


def week_start_day(value: str) -> str:
    """A ``--week-start`` value: a weekday's name, in any case."""
    day = value.strip().lower()
    if day not in WEEKDAYS:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a day of the week; use one of {', '.join(WEEKDAYS)}"
        )
    return day


def target_value(value: str) -> tuple[str, str]:
    """A ``--target TYPE:ID`` value, split at its first colon."""
    kind, sep, ident = value.partition(":")
    if not sep or not kind.strip() or not ident.strip():
        raise argparse.ArgumentTypeError(
            f"{value!r} is not TYPE:ID; give the record's type and id, e.g. lead:42"
        )
    return kind.strip(), ident.strip()


def _add_subject_options(group: argparse._ActionsContainer) -> None:
    group.add_argument("--target", metavar="TYPE:ID", type=target_value,
                       help="keep entries about one record, e.g. lead:42 (its history)")
    group.add_argument("--actor", metavar="ID",
                       help="keep entries made by one actor (a user id, e.g. a member's)")


def subject_options() -> ArgumentParser:
    """``--target TYPE:ID`` and ``--actor ID``: one record's history, one person's activity."""
    p = ArgumentParser(add_help=False)
    _add_subject_options(p.add_argument_group("filters"))
    return p


def filter_options() -> ArgumentParser:
    """The options that narrow and order entries: search, category, dates, sort."""
    p = ArgumentParser(add_help=False)
    group = p.add_argument_group("filters")
    group.add_argument("--search", metavar="TEXT",
                       help="keep entries whose action, description or user contain every word")
    _add_subject_options(group)
    group.add_argument("--category", action="append", metavar="NAME",
                       help="keep this category (repeatable; case-insensitive, e.g. 'api keys')")
    group.add_argument("--date", choices=[b.value for b in DateBucket],
                       help="keep a date bucket: today, this-week, this-month or older")
    group.add_argument("--since", metavar="ISO",
                       help="keep entries at or after this date/time (ISO 8601; no offset: --tz)")
    group.add_argument("--until", metavar="ISO", help="keep entries before this date/time")
    group.add_argument("--sort", choices=("date", "action"), default="date",
                       help="sort by date (default) or by action label")
    direction = group.add_mutually_exclusive_group()
    direction.add_argument("--asc", action="store_true",
                           help="ascending: oldest first, or A to Z")
    direction.add_argument("--desc", action="store_true",
                           help="descending: newest first, or Z to A")
    return p


def zone(name: str | None) -> tzinfo:
    """The ``--tz`` zone: an IANA name, or the machine's local zone when not given."""
    if name is None:
        local = dateutil_tz.gettz()
        return local if local is not None else timezone.utc
    try:
        return resolve_tz(name)
    except ActivityLogError as exc:
        raise CliError(f"--tz: {exc}") from None


def narrow(query: Query, args: argparse.Namespace) -> Query:
    """``query`` kept to the ``--target`` record and the ``--actor``, when given."""
    try:
        if args.target is not None:
            query = query.target(*args.target)
        if args.actor is not None:
            query = query.actor(args.actor)
    except ActivityLogError as exc:
        option = "--actor" if args.target is None else "--target/--actor"
        raise CliError(f"{option}: {exc}") from None
    return query


def parse_moment(value: str, option: str, tz: tzinfo) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is read in ``tz``."""
    try:
        moment = dateparser.isoparse(value)
    except (ValueError, OverflowError):
        raise CliError(
            f"{option}: not an ISO 8601 date or time: {value!r} "
            "(e.g. 2024-05-01, 2024-05-01T09:30 or 2024-05-01T09:30:00+02:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment


def category_name(log: ActivityLog, name: str) -> str:
    """A category as the registry spells it, matched without regard to case, '-' or '_'."""

    def norm(text: str) -> str:
        return " ".join(text.replace("-", " ").replace("_", " ").casefold().split())

    for known in log.registry.categories:
        if norm(known) == norm(name):
            return known
    return name  # the query refuses it with UnknownCategory and a suggestion


def build_query(log: ActivityLog, args: argparse.Namespace, *, default_desc: bool = True) -> Query:
    """The query the filter options describe."""
    tz = zone(args.tz)
    query = log.query(
        args.org, viewer=operator_viewer(args.org), tz=tz, week_start=args.week_start
    )
    query = narrow(query, args)
    if args.search:
        query = query.search(args.search)
    if args.category:
        query = query.category(*(category_name(log, c) for c in args.category))
    if args.date and (args.since or args.until):
        raise CliError("use either --date or --since/--until, not both")
    if args.date:
        query = query.date(args.date)
    if args.since or args.until:
        since = parse_moment(args.since, "--since", tz) if args.since else None
        until = parse_moment(args.until, "--until", tz) if args.until else None
        if since is not None and until is not None and since >= until:
            raise CliError(
                f"--since {args.since} is not before --until {args.until}, so nothing can "
                "match: --since is the first moment kept, --until the first one left out"
            )
        query = query.between(since, until)
    descending: bool | None = None
    if args.asc:
        descending = False
    elif args.desc:
        descending = True
    elif args.sort == "date":
        descending = default_desc
    return query.sort(args.sort, descending)
