"""The Activity Log query builder: search, categories, date buckets, sorting and cursor paging."""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
from dateutil.relativedelta import relativedelta

from . import ids, search
from .errors import InvalidCursor, InvalidEntry, InvalidQuery, NaiveDatetime, UnknownCategory
from .models import Actor, Entry, Page, Target
from .registry import ActionRegistry
from .stores.base import QuerySpec, SortField, SortKey, Store, sort_key

#: The largest page a query returns.
MAX_PAGE_SIZE = 1000

#: ``json.dumps(value, ensure_ascii=False)``, without making an encoder at every call.
_json = json.JSONEncoder(ensure_ascii=False).encode

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class DateBucket(str, enum.Enum):
    """The Date filter's choices, relative to now in the viewer's time zone."""

    TODAY = "today"
    THIS_WEEK = "this-week"
    THIS_MONTH = "this-month"
    OLDER = "older"


def resolve_tz(tz: str | tzinfo) -> tzinfo:
    """An IANA zone name (or a tzinfo) as a tzinfo; raises :class:`InvalidQuery` if unknown."""
    if isinstance(tz, tzinfo):
        return tz
    if not isinstance(tz, str) or not tz or len(tz) > 255 or "\x00" in tz:
        raise InvalidQuery(
            f"unknown time zone {tz!r:.80} (use an IANA name such as 'Europe/Paris')"
        )
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError, UnicodeError):
        raise InvalidQuery(
            f"unknown time zone {tz!r} (use an IANA name such as 'Europe/Paris')"
        ) from None


def resolve_week_start(week_start: int | str) -> int:
    """0 (Monday) to 6 (Sunday), from an int or a weekday name."""
    if isinstance(week_start, str):
        name = week_start.strip().lower()
        if name not in _WEEKDAYS:
            raise InvalidQuery(f"unknown first day of the week {week_start!r}")
        return _WEEKDAYS.index(name)
    if isinstance(week_start, int) and not isinstance(week_start, bool) and 0 <= week_start <= 6:
        return week_start
    raise InvalidQuery(f"week_start must be 0 (Monday) to 6 (Sunday), not {week_start!r}")


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    # fold=0 picks the first midnight when it is repeated; a midnight skipped by a DST change
    # resolves to the instant the day actually starts.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)


def bucket_range(
    bucket: DateBucket, now: datetime, tz: tzinfo, week_start: int = 0
) -> tuple[datetime | None, datetime | None]:
    """The ``[since, until)`` instants (UTC) of a date bucket at ``now``."""
    local = now.astimezone(tz)
    today = local.date()
    if bucket is DateBucket.TODAY:
        return _local_midnight(today, tz), None
    if bucket is DateBucket.THIS_WEEK:
        start = today - timedelta(days=(today.weekday() - week_start) % 7)
        return _local_midnight(start, tz), None
    if bucket is DateBucket.THIS_MONTH:
        return _local_midnight(today.replace(day=1), tz), None
    # fold=0: a month-ago wall time that occurs twice means its first occurrence, whichever
    # pass of a repeated hour ``now`` itself is in.
    return None, (local.replace(fold=0) - relativedelta(months=1)).astimezone(timezone.utc)


def _aware(value: datetime, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidQuery(f"{field} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetime(field)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise InvalidQuery(f"{field} {value!r} is beyond the range of datetimes in UTC") from None


@attrs.frozen
class Query:
    """An immutable Activity Log query; every method returns a new query.

    Build it with :meth:`ActivityLog.query`, refine it, then call :meth:`page` or :meth:`count`.
    """

    store: Store = attrs.field(repr=False)
    registry: ActionRegistry = attrs.field(repr=False)
    clock: Callable[[], datetime] = attrs.field(repr=False)
    org_id: str
    tz: tzinfo = timezone.utc
    week_start: int = 0
    text: str = ""
    categories: tuple[str, ...] = ()
    bucket: DateBucket | None = None
    since: datetime | None = None
    until: datetime | None = None
    sort_field: SortField = "date"
    descending: bool = True
    target_key: tuple[str, str] | None = None
    actor_id: str | None = None

    def search(self, text: str) -> Query:
        """Keep entries whose label, description or actor name contain every word of ``text``."""
        search.terms(text)  # validates the type
        return attrs.evolve(self, text=text)

    def category(self, *names: str) -> Query:
        """Keep entries in any of these categories (no names: every category).

        A category is known when the registry holds it or when this organization has entries
        in it (recorded by a host with its own registry), so every category
        :meth:`ActivityLog.categories` lists can be filtered by.
        """
        stored: dict[str, int] | None = None
        checked: list[str] = []
        for name in names:
            if not isinstance(name, str) or name not in self.registry.categories:
                if stored is None:
                    stored = self.store.categories(self.org_id)
                if not isinstance(name, str) or name not in stored:
                    known = dict.fromkeys([*self.registry.categories, *sorted(stored)])
                    raise UnknownCategory(str(name), known)
            checked.append(name)
        return attrs.evolve(self, categories=tuple(dict.fromkeys(checked)))

    def target(self, type: str, id: str | int | uuid.UUID) -> Query:
        """Keep entries about one record: the history of ``Target(type, id)``.

        ``id`` may be an integer or a UUID, as when recording; it is compared as text.
        """
        try:
            checked = Target(type, id)  # the same rules (and id conversion) as recording
        except InvalidEntry as exc:
            raise InvalidQuery(f"target({type!r}, {id!r}): {exc}") from None
        return attrs.evolve(self, target_key=(checked.type, checked.id))

    def actor(self, actor_id: str | int | uuid.UUID) -> Query:
        """Keep entries made by one actor: a member's recent activity.

        ``actor_id`` may be an integer or a UUID, as when recording; it is compared as text.
        """
        try:
            checked = Actor(actor_id, "-")  # an actor id follows the recording rules
        except InvalidEntry as exc:
            raise InvalidQuery(f"actor({actor_id!r}): {exc}") from None
        return attrs.evolve(self, actor_id=checked.id)

    def date(self, bucket: DateBucket | str | None) -> Query:
        """Keep entries in a date bucket (replaces any :meth:`between`); ``None`` clears it."""
        if bucket is None:
            return attrs.evolve(self, bucket=None, since=None, until=None)
        try:
            bucket = DateBucket(bucket)
        except ValueError:
            choices = ", ".join(b.value for b in DateBucket)
            raise InvalidQuery(f"unknown date filter {bucket!r} (choose {choices})") from None
        return attrs.evolve(self, bucket=bucket, since=None, until=None)

    def between(self, start: datetime | None = None, end: datetime | None = None) -> Query:
        """Keep entries with ``start <= occurred_at < end`` (either may be open).

        Bounds are applied to the millisecond: sub-millisecond parts are dropped from the bounds
        and from ``occurred_at`` before comparing.
        """
        since = None if start is None else _aware(start, "start")
        until = None if end is None else _aware(end, "end")
        if since is not None and until is not None and since >= until:
            raise InvalidQuery(f"empty range: start {since.isoformat()} is not before end")
        return attrs.evolve(self, bucket=None, since=since, until=until)

    def sort(self, field: str = "date", descending: bool | None = None) -> Query:
        """Order by ``"date"`` (newest first by default) or ``"action"`` (A to Z by default)."""
        if field not in ("date", "action"):
            raise InvalidQuery(f"cannot sort by {field!r}; sort by 'date' or 'action'")
        if descending is None:
            descending = field == "date"
        elif not isinstance(descending, bool):
            raise InvalidQuery(f"descending must be True, False or None, not {descending!r}")
        sort_field: SortField = "date" if field == "date" else "action"
        return attrs.evolve(self, sort_field=sort_field, descending=bool(descending))

    def spec(self, now: datetime | None = None) -> QuerySpec:
        """The normalized store query for this builder at ``now`` (default: the log's clock)."""
        return self._spec(now)

    def _spec(
        self, now: datetime | None = None, after: SortKey | None = None, limit: int = 50
    ) -> QuerySpec:
        since, until = self.since, self.until
        if self.bucket is not None:
            moment = now if now is not None else self.clock()
            if not isinstance(moment, datetime):
                raise InvalidQuery(f"now must be a datetime, not {type(moment).__name__}")
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise NaiveDatetime("now" if now is not None else "the clock's time")
            since, until = bucket_range(self.bucket, moment, self.tz, self.week_start)
        # Bounds apply to the millisecond: the precision at which ids order entries.
        since = None if since is None else ids.floor_ms(since)
        until = None if until is None else ids.floor_ms(until)
        return QuerySpec(
            org_id=self.org_id,
            terms=search.terms(self.text),
            categories=self.categories,
            since=since,
            until=until,
            sort=self.sort_field,
            descending=self.descending,
            target=self.target_key,
            actor_id=self.actor_id,
            after=after,
            limit=limit,
        )

    def page(self, size: int = 50, after: str | None = None) -> Page:
        """One page of entries and the cursor of the next (``None`` when this is the last)."""
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidQuery(f"page size must be between 1 and {MAX_PAGE_SIZE}, not {size!r}")
        fingerprint = None if after is None else self._fingerprint()
        key = None if after is None else self._decode_cursor(after, fingerprint)
        rows = self.store.page(self._spec(after=key, limit=size + 1))
        if len(rows) <= size:
            return Page(tuple(rows), None)
        entries = tuple(rows[:size])
        last = sort_key(entries[-1], self.sort_field)
        return Page(entries, self._encode_cursor(last, fingerprint))

    def count(self) -> int:
        """How many entries match (ignores paging)."""
        return self.store.count(self.spec())

    def __iter__(self) -> Iterator[Entry]:
        """Every matching entry in order, fetched page by page (constant memory)."""
        cursor: str | None = None
        while True:
            page = self.page(MAX_PAGE_SIZE, after=cursor)
            yield from page.entries
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # Cursors carry the keyset of the last entry plus a fingerprint of the query, so a cursor
    # from another org, filter or sort is refused instead of silently paging the wrong list.
    def _fingerprint(self) -> str:
        parts: list[Any] = [
            self.org_id,
            list(search.terms(self.text)),
            list(self.categories),
            self.bucket.value if self.bucket else None,
            self.since.isoformat() if self.since else None,
            self.until.isoformat() if self.until else None,
            self.sort_field,
            self.descending,
            list(self.target_key) if self.target_key else None,
            self.actor_id,
        ]
        if self.bucket is not None:
            # The same bucket in another zone or week is another list of entries.
            parts += [str(self.tz), self.week_start]
        digest = hashlib.sha256(_json(parts).encode("utf-8"))
        return digest.hexdigest()[:16]

    def _encode_cursor(self, key: SortKey, fingerprint: str | None = None) -> str:
        if fingerprint is None:
            fingerprint = self._fingerprint()
        payload = _json({"f": fingerprint, "k": list(key)})
        return base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii").rstrip("=")

    def _decode_cursor(self, cursor: str, fingerprint: str | None = None) -> SortKey:
        if not isinstance(cursor, str):
            raise InvalidCursor(f"a cursor is a string, not {type(cursor).__name__}")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            data: Any = json.loads(raw.decode("utf-8"))
            found, key = data["f"], data["k"]
        except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
            raise InvalidCursor(f"malformed cursor {cursor[:40]!r}") from None
        if found != (self._fingerprint() if fingerprint is None else fingerprint):
            raise InvalidCursor(
                "this cursor belongs to a different query (org, search, filters or sort changed)"
            )
        expected = 1 if self.sort_field == "date" else 2
        if (
            not isinstance(key, list)
            or len(key) != expected
            or not isinstance(key[-1], int)
            or isinstance(key[-1], bool)
            or not 0 <= key[-1] <= ids.MAX_ID
        ):
            raise InvalidCursor(f"malformed cursor {cursor[:40]!r}")
        if expected == 2 and not isinstance(key[0], str):
            raise InvalidCursor(f"malformed cursor {cursor[:40]!r}")
        return tuple(key)
