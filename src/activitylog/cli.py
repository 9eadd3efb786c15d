"""The ``activitylog`` command line: build the demo, read, export, verify and chart a log.

Every reading command acts as an operator of the database: it reads an organization's log as
that organization's Owner would. Nothing but ``demo`` ever creates a database file.

Exit codes: 0 success, 1 verification found damage or the store failed, 2 a usage error (bad
arguments, a missing or foreign database, an unknown organization, category, time zone or
cursor), 130 interrupted.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import IO, Any, NoReturn, TextIO

from dateutil import parser as dateparser
from dateutil import tz as dateutil_tz

from . import __version__, integrity
from .access import Role, Viewer
from .errors import ActivityLogError, SchemaError, StoreError
from .integrity import VerifyReport
from .log import ActivityLog
from .models import Entry, Source
from .query import DateBucket, Query, resolve_tz, resolve_week_start
from .stores.base import Chain, ChainHead, QuerySpec

PROG = "activitylog"
DEFAULT_DEMO_DB = "activitylog-demo.db"
#: The first bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"
#: Characters that make a spreadsheet read a cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: The operator identity the command line reads with.
OPERATOR = "activitylog-cli"

CSV_COLUMNS = (
    "id", "occurred_at", "action", "label", "category", "kind",
    "actor_id", "actor_name", "actor_kind", "actor_avatar_url", "description",
    "source", "api_key_id", "api_key_name", "target_type", "target_id", "target_label",
    "changes", "metadata", "idempotency_key", "seq", "prev_hash", "hash",
)


class CliError(Exception):
    """A user mistake or an unusable input: printed as one line, exit ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class _ArgumentParser(argparse.ArgumentParser):
    """Reports usage errors as one line plus a hint, exiting 2 like every usage error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n(see `{self.prog} --help`)\n")


# -- terminal ----------------------------------------------------------------------------------

_ANSI = {"green": "32", "gray": "90", "red": "31", "bold": "1", "dim": "2"}


def color_enabled(stream: IO[str], mode: str = "auto") -> bool:
    """Whether to color ``stream``: ``always``, ``never``, or on a terminal without NO_COLOR."""
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Style:
    """Applies ANSI colors when enabled, and nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, color: str | None) -> str:
        if not self.enabled or not color or not text:
            return text
        return f"\x1b[{_ANSI[color]}m{text}\x1b[0m"


def text_width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide East Asian characters count twice)."""
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def truncate(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, ending with "…" when cut."""
    if text_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = text_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[tuple[str, str | None]]],
    style: Style,
    *,
    width: int | None = None,
    flex: int | None = None,
    right: Sequence[int] = (),
) -> list[str]:
    """Aligned lines of a table; cells are ``(text, color)``.

    With ``width`` (a terminal), column ``flex`` is cut so that lines fit.
    """
    widths = [text_width(h) for h in headers]
    for row in rows:
        for i, (text, _) in enumerate(row):
            widths[i] = max(widths[i], text_width(text))
    if width is not None and flex is not None:
        others = sum(w for i, w in enumerate(widths) if i != flex) + 2 * (len(widths) - 1)
        widths[flex] = max(text_width(headers[flex]), min(widths[flex], width - others - 1))

    def line(cells: Sequence[tuple[str, str | None]]) -> str:
        parts = []
        for i, (text, color) in enumerate(cells):
            text = truncate(text, widths[i])
            pad = " " * (widths[i] - text_width(text))
            last = i == len(cells) - 1
            if i in right:
                parts.append(pad + style(text, color))
            else:
                parts.append(style(text, color) + ("" if last else pad))
        return "  ".join(parts).rstrip()

    out = [line([(h, "bold") for h in headers])]
    out.extend(line(row) for row in rows)
    return out


class Progress:
    """A one-line progress indicator on stderr, shown only when stderr is a terminal."""

    def __init__(self, label: str, total: int | None = None, stream: IO[str] | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _isatty(self.stream)
        self.label = label
        self.total = total
        self.done = 0
        self._shown = 0.0

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more items done."""
        self.update(self.done + n)

    def update(self, done: int, total: int | None = None) -> None:
        """Set how many items are done (and the total, when it is known only now)."""
        self.done = done
        if total is not None:
            self.total = total
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._shown < 0.1 and done != self.total:
            return
        self._shown = now
        text = f"{self.label} {done:,}"
        if self.total:
            text += f"/{self.total:,} ({100 * done // self.total}%)"
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()

    def close(self) -> None:
        """Erase the indicator."""
        if self.enabled and self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


# -- opening databases -------------------------------------------------------------------------


def database_url(db: str) -> str:
    """The store URL of a ``--db`` value: a path, or already a URL."""
    if "://" in db:
        return db
    return "sqlite:///" + str(Path(db).expanduser().resolve())


def check_database(db: str) -> None:
    """Refuse a ``--db`` that is missing, a directory, or not a SQLite file."""
    if "://" in db:
        return
    path = Path(db).expanduser()
    if not path.exists():
        raise CliError(
            f"no database at {db} (create the demo one with `{PROG} demo --db {shlex.quote(db)}`)"
        )
    if path.is_dir():
        raise CliError(f"{db} is a directory, not a database file")
    try:
        with path.open("rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise CliError(f"cannot read {db}: {exc.strerror}") from None
    if header != SQLITE_HEADER:
        raise CliError(f"{db} is not an activitylog database (not a SQLite file)")


def open_log(db: str, *, integrity_key: str | None = None) -> ActivityLog:
    """Open an existing database; never creates one."""
    check_database(db)
    options: dict[str, Any] = {}
    if integrity_key is not None:
        options["integrity_key"] = integrity_key
    try:
        return ActivityLog.open(database_url(db), **options)
    except SchemaError as exc:
        raise CliError(f"{db} is not an activitylog database ({exc})") from None


def check_org(log: ActivityLog, org: str) -> None:
    """Refuse an organization without entries, naming the closest known one."""
    if log.store.head(org) is not None:
        return
    known = log.store.org_ids()
    close = difflib.get_close_matches(org, known, n=1)
    if close:
        hint = f"; did you mean {close[0]!r}?"
    elif known:
        shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
        hint = f" (organizations with entries: {shown})"
    else:
        hint = " (the database has no entries)"
    raise CliError(f"unknown organization {org!r}: it has no entries{hint}")


def operator_viewer(org: str) -> Viewer:
    """The command line reads as an Owner of the organization it is asked about."""
    return Viewer(OPERATOR, org, Role.OWNER)


# -- queries from arguments --------------------------------------------------------------------


def zone(name: str | None) -> tzinfo:
    """The ``--tz`` zone: an IANA name, or the machine's local zone when not given."""
    if name is None:
        local = dateutil_tz.gettz()
        return local if local is not None else timezone.utc
    return resolve_tz(name)


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
        query = query.between(since, until)
    descending: bool | None = None
    if args.asc:
        descending = False
    elif args.desc:
        descending = True
    elif args.sort == "date":
        descending = default_desc
    return query.sort(args.sort, descending)


# -- entries as data ---------------------------------------------------------------------------


def entry_record(entry: Entry) -> dict[str, Any]:
    """Every stored field of an entry as JSON-ready data (nested like the integrity encoding)."""
    data = integrity.canonical_dict(entry)
    del data["v"]
    data["seq"] = entry.seq
    data["prev_hash"] = entry.prev_hash
    data["hash"] = entry.hash
    return data


_compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_jsonl_json = json.JSONEncoder(ensure_ascii=False).encode


def csv_safe(value: str) -> str:
    """A cell a spreadsheet will not run as a formula: risky first characters get a quote."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def csv_row(entry: Entry) -> list[str]:
    """One CSV row in :data:`CSV_COLUMNS` order; ``changes``/``metadata`` as compact JSON."""
    # Built from the entry's fields directly: exports call this for every entry, and going
    # through entry_record() costs a third of the export's time.
    actor, key, target, changes = entry.actor, entry.api_key, entry.target, entry.changes
    values = (
        entry.id, integrity.timestamp(entry.occurred_at), entry.action, entry.label,
        entry.category, entry.kind.value, actor.id, actor.name, actor.kind.value,
        actor.avatar_url, entry.description, entry.source.value,
        None if key is None else key.id, None if key is None else key.name,
        None if target is None else target.type, None if target is None else target.id,
        None if target is None else target.label,
        None if changes is None else _compact_json({k: list(v) for k, v in changes.items()}),
        _compact_json(dict(entry.metadata)), entry.idempotency_key,
        None if entry.seq is None else str(entry.seq), entry.prev_hash,
        entry.hash,
    )  # fmt: skip
    return ["" if v is None else csv_safe(v) for v in values]


def user_cell(entry: Entry) -> str:
    """Who acted, and through what when it was not the dashboard."""
    if entry.source is Source.API:
        return f"{entry.actor.name} · API"
    return entry.actor.name


def entry_rows(entries: Sequence[Entry], now: datetime) -> list[list[tuple[str, str | None]]]:
    """Table rows: colored action label, user, description, relative date."""
    return [
        [
            (e.label, e.color),
            (user_cell(e), None),
            (e.description, None),
            (e.relative_time(now), "dim"),
        ]
        for e in entries
    ]


ENTRY_HEADERS = ("ACTION", "USER", "DESCRIPTION", "DATE")


# -- commands ----------------------------------------------------------------------------------


class Output:
    """Where a command writes, and how (color, terminal width)."""

    def __init__(self, color: str) -> None:
        self.stream: TextIO = sys.stdout
        self.err: TextIO = sys.stderr
        self.style = Style(color_enabled(self.stream, color))
        tty = _isatty(self.stream)
        self.width = shutil.get_terminal_size().columns if tty else None

    def print(self, text: str = "") -> None:
        """Write one line."""
        self.stream.write(text + "\n")

    def lines(self, lines: Sequence[str]) -> None:
        """Write several lines."""
        for line in lines:
            self.print(line)

    def json(self, data: Any) -> None:
        """Write indented JSON."""
        self.print(json.dumps(data, ensure_ascii=False, indent=2))


def cmd_list(args: argparse.Namespace, out: Output) -> int:
    """``activitylog list``: one page of an organization's log."""
    with open_log(args.db) as log:
        check_org(log, args.org)
        query = build_query(log, args)
        page = query.page(args.limit, after=args.after)
        total = query.count()
        now = log.clock()
        if args.format == "json":
            entries = []
            for entry in page.entries:
                data = entry_record(entry)
                data["color"] = entry.color
                data["relative_time"] = entry.relative_time(now)
                entries.append(data)
            out.json({"org_id": args.org, "total": total, "entries": entries,
                      "next_cursor": page.next_cursor})
            return 0
        if not page.entries:
            out.print("No entries match.")
            return 0
        out.lines(table(ENTRY_HEADERS, entry_rows(page.entries, now), out.style,
                        width=out.width, flex=2))
        out.print()
        out.print(f"{len(page.entries):,} shown, {total:,} matching.")
        if page.next_cursor:
            out.print(f"Next page: add --after {page.next_cursor}")
    return 0


def cmd_categories(args: argparse.Namespace, out: Output) -> int:
    """``activitylog categories``: the categories with entries, with counts."""
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


def cmd_export(args: argparse.Namespace, out: Output) -> int:
    """``activitylog export``: every matching entry as CSV or JSON Lines, streamed."""
    with open_log(args.db) as log:
        check_org(log, args.org)
        query = build_query(log, args, default_desc=False)
        progress = Progress("Exporting", stream=out.err)
        if progress.enabled:
            progress.update(0, query.count())
        try:
            with _OutputStream(args.output, out, bom=args.format == "csv") as stream:
                written = _write_export(query, args.format, stream, progress)
        finally:
            progress.close()
    if args.output:
        out.err.write(f"Exported {written:,} entries to {args.output}\n")
    return 0


def _write_export(query: Query, fmt: str, stream: TextIO, progress: Progress) -> int:
    written = 0
    if fmt == "csv":
        writer = csv.writer(stream, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for entry in query:
            writer.writerow(csv_row(entry))
            written += 1
            progress.advance()
    else:
        for entry in query:
            stream.write(_jsonl_json(entry_record(entry)) + "\n")
            written += 1
            progress.advance()
    return written


class _OutputStream:
    """A UTF-8 text stream to ``path`` (written to a temporary file, then renamed) or stdout."""

    def __init__(self, path: str | None, out: Output, *, bom: bool) -> None:
        self.path = path
        self.out = out
        self.bom = bom
        self._tmp: Path | None = None
        self._stream: TextIO | None = None

    def __enter__(self) -> TextIO:
        if self.path is None:
            stream = self.out.stream
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                # Exports are UTF-8 whatever the locale, with CSV's own line endings kept.
                reconfigure(encoding="utf-8", newline="")
            if self.bom:
                stream.write("\ufeff")
            self._stream = stream
            return stream
        target = Path(self.path)
        if target.is_dir():
            raise CliError(f"--output {self.path} is a directory")
        try:
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        except OSError as exc:
            raise CliError(f"cannot write {self.path}: {exc.strerror}") from None
        self._tmp = Path(name)
        encoding = "utf-8-sig" if self.bom else "utf-8"
        self._stream = open(fd, "w", encoding=encoding, newline="")
        return self._stream

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._stream is not None
        if self._tmp is None:
            self._stream.flush()
            return
        self._stream.close()
        if exc_type is None:
            os.chmod(self._tmp, 0o666 & ~_umask())  # what open() would have given it
            os.replace(self._tmp, Path(self.path or ""))
        else:
            self._tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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


def cmd_verify(args: argparse.Namespace, out: Output) -> int:
    """``activitylog verify``: check every organization's hash chain."""
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
        out.print(out.style(f"{len(failed)} of {len(reports)} organizations failed "
                            "verification.", "red"))
        return 1
    noun = "organization" if len(reports) == 1 else "organizations"
    out.print(out.style(f"All {len(reports)} {noun} intact ({entries:,} entries).", "green"))
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


def cmd_stats(args: argparse.Namespace, out: Output) -> int:
    """``activitylog stats``: entries per category and per day over the last weeks."""
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
    out.print(style(f"{args.org}: {total:,} entries since {first:%a %d %b %Y} "
                    f"({args.weeks} week{'s' if args.weeks != 1 else ''}, {_tz_name(tz, now)})",
                    "bold"))
    out.print()
    if total == 0:
        out.print("No entries in this period.")
        return 0
    out.print(style("By category", "bold"))
    name_width = max(text_width(n) for n in categories)
    peak = max(per_category.values())
    for name in categories:
        count = per_category[name]
        out.print(f"  {name.ljust(name_width)}  {count:>7,}  " + style(bar(count, peak, 40),
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
    out.print(f"Busiest day: {busiest:%a %d %b %Y} ({per_day[busiest]:,} entries); "
              f"each block is scaled to it.")
    return 0


def _tz_name(tz: tzinfo, now: datetime) -> str:
    return getattr(tz, "key", None) or now.tzname() or "local time"


def cmd_demo(args: argparse.Namespace, out: Output) -> int:
    """``activitylog demo``: build the demo database and show what an Owner sees."""
    from . import demo

    path = Path(args.db).expanduser()
    if path.exists():
        orgs = _demo_orgs_in(args.db, demo.demo_org_ids())
        if args.fresh:
            _remove_files(path)
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
                _remove_files(path)
            raise
        finally:
            progress.close()
        elapsed = time.monotonic() - started
        out.print(f"Created {args.db}: {count:,} entries in {len(demo.ORGS)} organizations "
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


def _remove_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def _show_demo(log: ActivityLog, args: argparse.Namespace, out: Output) -> None:
    from . import demo

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
                    width=out.width, flex=2))
    out.print(style(f"… {query.count() - len(page.entries):,} more", "dim"))
    out.print()
    out.print(style("Category filter (only categories with activity):", "bold"))
    cats = log.categories(org.id, viewer=viewer)
    width = max((text_width(name) for name, _ in cats), default=0)
    for name, count in cats:
        out.print(f"  {name.ljust(width)}  {count:>6,}")
    out.print()
    out.print(style("Date filter (UTC; the week starts on Monday):", "bold"))
    for bucket, title in ((DateBucket.TODAY, "Today"), (DateBucket.THIS_WEEK, "This week"),
                          (DateBucket.THIS_MONTH, "This month"), (DateBucket.OLDER, "Older")):
        out.print(f"  {title:<10}  {query.date(bucket).count():>6,}")
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


# -- the parser --------------------------------------------------------------------------------


_EPILOGS = {
    "demo": f"""\
examples:
  {PROG} demo                          # creates ./{DEFAULT_DEMO_DB}
  {PROG} demo --db /tmp/crm.db --seed 42
  {PROG} demo                          # again: shows the database made earlier
  {PROG} demo --fresh                  # rebuild it, ending now""",
    "list": f"""\
examples:
  {PROG} list --db crm.db --org acme
  {PROG} list --db crm.db --org acme --search "olivia deleted" --date this-week
  {PROG} list --db crm.db --org acme --category leads --category "api keys" --sort action
  {PROG} list --db crm.db --org acme --since 2024-05-01 --until 2024-06-01 --tz Europe/Paris
  {PROG} list --db crm.db --org acme --limit 20 --after CURSOR   # the next page
  {PROG} list --db crm.db --org acme --format json | jq '.entries[].description'""",
    "categories": f"""\
examples:
  {PROG} categories --db crm.db --org acme
  {PROG} categories --db crm.db --org acme --format json""",
    "export": f"""\
examples:
  {PROG} export --db crm.db --org acme --format csv --output acme.csv
  {PROG} export --db crm.db --org acme --format jsonl --category Members > members.jsonl
  {PROG} export --db crm.db --org acme --format jsonl --date this-month --desc

CSV is UTF-8 with a byte-order mark so spreadsheets detect the encoding; a cell that starts with
= + - @ (or a tab or carriage return) is prefixed with ' so it is never run as a formula.
JSON Lines holds every stored field of each entry, including seq, prev_hash and hash.""",
    "verify": f"""\
examples:
  {PROG} verify --db crm.db
  {PROG} verify --db crm.db --org acme
  ACTIVITYLOG_KEY=secret {PROG} verify --db crm.db --key-env ACTIVITYLOG_KEY

Exits 0 when every organization's chain is intact, 1 when any is not.""",
    "stats": f"""\
examples:
  {PROG} stats --db crm.db --org acme
  {PROG} stats --db crm.db --org acme --weeks 12 --tz America/New_York --week-start sunday""",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``activitylog`` command."""
    parser = _ArgumentParser(
        prog=PROG,
        description="Read, export, verify and chart an activitylog database; or build a demo one.",
        epilog=f"Start with `{PROG} demo`, then follow the commands it suggests. "
        f"`{PROG} COMMAND --help` explains each command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgumentParser)
    commands.required = True

    common = _ArgumentParser(add_help=False)
    common.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="color the output: on a terminal without NO_COLOR (auto, the "
                        "default), always, or never")

    database = _ArgumentParser(add_help=False)
    database.add_argument("--db", required=True, metavar="PATH",
                          help="the database file (it must exist; only `demo` creates one)")

    org = _ArgumentParser(add_help=False)
    org.add_argument("--org", required=True, metavar="ORG", help="the organization id")

    def fmt(choices: tuple[str, ...], default: str | None) -> _ArgumentParser:
        p = _ArgumentParser(add_help=False)
        p.add_argument("--format", choices=choices, default=default, required=default is None,
                       help=f"output format ({', '.join(choices)})"
                       + (f"; default {default}" if default else ""))
        return p

    time_opts = _ArgumentParser(add_help=False)
    time_opts.add_argument("--tz", metavar="ZONE",
                           help="IANA time zone for dates and date filters, e.g. Europe/Paris "
                           "(default: this machine's zone)")
    time_opts.add_argument("--week-start", metavar="DAY", default="monday",
                           help="first day of the week for --date this-week (default monday)")

    filters = _ArgumentParser(add_help=False)
    group = filters.add_argument_group("filters")
    group.add_argument("--search", metavar="TEXT",
                       help="keep entries whose action, description or user contain every word")
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

    def add(name: str, help: str, parents: Sequence[_ArgumentParser],
            handler: Callable[[argparse.Namespace, Output], int]) -> argparse.ArgumentParser:
        shared = [*parents, common]
        p = commands.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".",
                                parents=shared, epilog=_EPILOGS[name],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(handler=handler)
        return p

    demo = add("demo", "create a demo database of 90 days of CRM activity and show it",
               [], cmd_demo)
    demo.add_argument("--db", metavar="PATH", default=DEFAULT_DEMO_DB,
                      help=f"where to create it (default ./{DEFAULT_DEMO_DB}); an earlier demo "
                      "database there is shown again, any other file is refused")
    demo.add_argument("--fresh", action="store_true",
                      help="rebuild an earlier demo database, ending now (a file holding other "
                      "organizations, or not an activitylog database, is never replaced)")
    demo.add_argument("--seed", type=int, default=7,
                      help="random seed; the same seed gives the same activity (default 7)")

    lst = add("list", "show one page of an organization's Activity Log",
              [database, org, filters, time_opts, fmt(("table", "json"), "table")], cmd_list)
    lst.add_argument("--limit", type=int, default=50, metavar="N",
                     help="entries per page, 1 to 1000 (default 50)")
    lst.add_argument("--after", metavar="CURSOR",
                     help="the cursor a previous page printed, to get the page after it")

    add("categories", "list the categories that have entries, with counts",
        [database, org, fmt(("table", "json"), "table")], cmd_categories)

    exp = add("export", "export matching entries as CSV or JSON Lines (streamed)",
              [database, org, filters, time_opts, fmt(("csv", "jsonl"), None)], cmd_export)
    exp.add_argument("--output", metavar="FILE",
                     help="write to FILE (replaced atomically) instead of standard output")

    ver = add("verify", "verify the integrity chain of every organization (or one)",
              [database, fmt(("table", "json"), "table")], cmd_verify)
    ver.add_argument("--org", metavar="ORG", help="verify only this organization")
    ver.add_argument("--key-env", metavar="VAR",
                     help="read the HMAC integrity key from this environment variable")

    st = add("stats", "chart entries per category and per day over the last weeks",
             [database, org, time_opts, fmt(("table", "json"), "table")], cmd_stats)
    st.add_argument("--weeks", type=int, default=4, metavar="N",
                    help="how many weeks, counting this one (default 4)")
    return parser


# -- main --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    out = Output(args.color)
    try:
        code: int = args.handler(args, out)
        out.stream.flush()
        return code
    except CliError as exc:
        return _fail(str(exc), exc.code)
    except StoreError as exc:
        return _fail(str(exc) or type(exc).__name__, 2 if isinstance(exc, SchemaError) else 1)
    except ActivityLogError as exc:
        return _fail(str(exc), 2)
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, and keep Python from
        # complaining when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    return code
