"""The query builder: immutability, argument validation and cursors."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from activitylog import (
    ActivityLog,
    Actor,
    DateBucket,
    InvalidCursor,
    InvalidQuery,
    NaiveDatetime,
    Query,
    Target,
    UnknownCategory,
    Viewer,
)
from activitylog.query import MAX_PAGE_SIZE

NOW = datetime(2024, 5, 15, 12, 0, tzinfo=timezone.utc)
ADA = Actor("u1", "Ada Lovelace")
OWNER = Viewer("u1", "acme", "owner")


@pytest.fixture
def log() -> ActivityLog:
    """A memory-backed log with 30 entries in acme (one per hour) and 2 in globex."""
    log = ActivityLog(clock=lambda: NOW)
    for i in range(30):
        action = ("lead.created", "lead.deleted", "task.created")[i % 3]
        log.record(action, org_id="acme", actor=ADA, target=Target("lead", i, f"Lead {i}"),
                   occurred_at=NOW - timedelta(hours=i))
    for _ in range(2):
        log.record("lead.created", org_id="globex", actor=ADA, occurred_at=NOW)
    return log


@pytest.fixture
def query(log: ActivityLog) -> Query:
    """Acme's log as its owner sees it."""
    return log.query("acme", viewer=OWNER)


def encode(payload: Any) -> str:
    """A cursor-shaped string holding an arbitrary JSON payload."""
    raw = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class TestImmutability:
    """Every method returns a new query and leaves the original as it was."""

    @pytest.mark.parametrize(
        ("method", "args"),
        [("search", ("lead",)), ("category", ("Leads",)), ("date", ("today",)),
         ("between", (NOW - timedelta(hours=2), NOW)), ("sort", ("action",))],
    )
    def test_returns_new_query(self, query: Query, method: str, args: tuple[Any, ...]) -> None:
        """The refined query is a different object; the original still matches everything."""
        before = (query.text, query.categories, query.bucket, query.since, query.until,
                  query.sort_field, query.descending)
        refined = getattr(query, method)(*args)
        after = (query.text, query.categories, query.bucket, query.since, query.until,
                 query.sort_field, query.descending)
        assert (refined is not query, refined != query, before == after) == (True, True, True)
        assert query.count() == 30

    def test_branches_are_independent(self, query: Query) -> None:
        """Two refinements of one query do not affect each other."""
        leads = query.category("Leads")
        tasks = query.category("Tasks")
        assert (leads.count(), tasks.count(), query.count()) == (20, 10, 30)

    def test_chaining(self, query: Query) -> None:
        """Refinements combine."""
        refined = query.category("Leads").search("deleted").sort("date", descending=False)
        assert refined.count() == 10
        assert [e.target.id for e in refined.page(3) if e.target] == ["28", "25", "22"]

    def test_frozen(self, query: Query) -> None:
        """Query attributes cannot be assigned."""
        with pytest.raises(AttributeError):
            query.text = "x"  # type: ignore[misc]


class TestSort:
    """``sort``."""

    def test_defaults(self, query: Query) -> None:
        """Newest first by default; action sort is A to Z by default."""
        assert (query.sort_field, query.descending) == ("date", True)
        by_action = query.sort("action")
        assert (by_action.sort_field, by_action.descending) == ("action", False)
        assert query.sort("date").descending is True
        assert query.sort("action", descending=True).descending is True

    @pytest.mark.parametrize("field", ["Date", "label", "", "occurred_at", None])
    def test_bad_field(self, query: Query, field: Any) -> None:
        """Fields other than date and action raise InvalidQuery."""
        with pytest.raises(InvalidQuery, match="sort by 'date' or 'action'"):
            query.sort(field)

    @pytest.mark.parametrize("descending", ["no", 0, 1, "desc"])
    def test_bad_direction(self, query: Query, descending: Any) -> None:
        """A direction other than True/False/None raises InvalidQuery."""
        with pytest.raises(InvalidQuery, match="descending"):
            query.sort("date", descending=descending)


class TestPageSize:
    """``page(size)``."""

    @pytest.mark.parametrize("size", [0, -1, MAX_PAGE_SIZE + 1, True, 1.5, "50", None])
    def test_bad(self, query: Query, size: Any) -> None:
        """Sizes outside 1..1000 or not integers raise InvalidQuery."""
        with pytest.raises(InvalidQuery, match="page size must be between 1 and 1000"):
            query.page(size)

    @pytest.mark.parametrize(("size", "expected"), [(1, 1), (30, 30), (MAX_PAGE_SIZE, 30)])
    def test_good(self, query: Query, size: int, expected: int) -> None:
        """Sizes 1 to 1000 return up to that many entries."""
        assert len(query.page(size)) == expected


class TestZoneAndWeek:
    """Time zone and first day of the week."""

    @pytest.mark.parametrize("tz", ["Mars/Olympus", "", "utc ", "../etc/passwd", None, 5])
    def test_bad_zone(self, log: ActivityLog, tz: Any) -> None:
        """An unknown zone raises InvalidQuery."""
        with pytest.raises(InvalidQuery, match="time zone"):
            log.query("acme", viewer=OWNER, tz=tz)

    def test_zone_names_and_objects(self, log: ActivityLog) -> None:
        """A zone may be an IANA name or a tzinfo."""
        assert log.query("acme", viewer=OWNER, tz="Asia/Tokyo").tz == ZoneInfo("Asia/Tokyo")
        fixed = timezone(timedelta(hours=3))
        assert log.query("acme", viewer=OWNER, tz=fixed).tz is fixed

    @pytest.mark.parametrize(
        ("week_start", "expected"),
        [(0, 0), (6, 6), ("monday", 0), ("Sunday", 6), (" SATURDAY ", 5)],
    )
    def test_week_start(self, log: ActivityLog, week_start: Any, expected: int) -> None:
        """The week may start on any day, given as 0-6 or a weekday name."""
        assert log.query("acme", viewer=OWNER, week_start=week_start).week_start == expected

    @pytest.mark.parametrize("week_start", [7, -1, True, False, "sun", "", None, 1.0])
    def test_bad_week_start(self, log: ActivityLog, week_start: Any) -> None:
        """Other values raise InvalidQuery."""
        with pytest.raises(InvalidQuery):
            log.query("acme", viewer=OWNER, week_start=week_start)

    @pytest.mark.parametrize("org_id", ["", "  ", None, 42])
    def test_bad_org(self, log: ActivityLog, org_id: Any) -> None:
        """An empty or non-string org raises InvalidQuery, even for a viewer of that org."""
        with pytest.raises(InvalidQuery, match="org_id"):
            log.query(org_id, viewer=Viewer("u1", org_id, "owner"))


class TestCategoryFilter:
    """``category``."""

    def test_unknown(self, query: Query) -> None:
        """An unknown category raises UnknownCategory with a suggestion."""
        with pytest.raises(UnknownCategory) as info:
            query.category("Lead")
        assert info.value.suggestion == "Leads"

    @pytest.mark.parametrize("name", [["Leads"], None, 3])
    def test_not_a_name(self, query: Query, name: Any) -> None:
        """A non-string category raises UnknownCategory, not TypeError."""
        with pytest.raises(UnknownCategory):
            query.category(name)

    def test_several_and_duplicates(self, query: Query) -> None:
        """Several categories match any of them; repeats are dropped."""
        refined = query.category("Tasks", "Leads", "Tasks")
        assert (refined.categories, refined.count()) == (("Tasks", "Leads"), 30)

    def test_none_means_all(self, query: Query) -> None:
        """No names clears the filter."""
        assert query.category("Tasks").category().count() == 30


class TestDateFilter:
    """``date`` and ``between``."""

    @pytest.mark.parametrize("bucket", ["yesterday", "Today", "this_week", "", 3])
    def test_unknown_bucket(self, query: Query, bucket: Any) -> None:
        """An unknown bucket raises InvalidQuery listing the choices."""
        with pytest.raises(InvalidQuery, match="today, this-week, this-month, older"):
            query.date(bucket)

    def test_bucket_values(self, query: Query) -> None:
        """Buckets may be given as enum members or their values; None clears."""
        assert query.date("this-week").bucket is DateBucket.THIS_WEEK
        assert query.date(DateBucket.OLDER).bucket is DateBucket.OLDER
        assert query.date("today").date(None).bucket is None

    def test_today_counts(self, query: Query) -> None:
        """Today at noon UTC holds the entries of the last 13 hours."""
        assert query.date("today").count() == 13

    def test_date_replaces_between_and_back(self, query: Query) -> None:
        """A bucket replaces a range and a range replaces a bucket."""
        ranged = query.between(NOW - timedelta(hours=2), NOW)
        bucketed = ranged.date("today")
        assert (bucketed.since, bucketed.until, bucketed.bucket) == (None, None,
                                                                    DateBucket.TODAY)
        back = bucketed.between(NOW - timedelta(hours=2))
        assert (back.bucket, back.count()) == (None, 3)

    def test_between_half_open(self, query: Query) -> None:
        """``between(start, end)`` keeps start <= occurred_at < end."""
        assert query.between(NOW - timedelta(hours=2), NOW).count() == 2
        assert query.between(end=NOW - timedelta(hours=27)).count() == 2
        assert query.between(start=NOW - timedelta(hours=27)).count() == 28
        assert query.between().count() == 30

    def test_between_normalizes_to_utc(self, query: Query) -> None:
        """Bounds in other zones are converted to UTC."""
        tokyo = NOW.astimezone(ZoneInfo("Asia/Tokyo"))
        refined = query.between(tokyo - timedelta(hours=1), tokyo)
        assert (refined.since, refined.until) == (NOW - timedelta(hours=1), NOW)
        assert refined.since is not None and refined.since.tzinfo is timezone.utc

    def test_between_naive(self, query: Query) -> None:
        """A naive bound raises NaiveDatetime naming it."""
        with pytest.raises(NaiveDatetime, match="end"):
            query.between(NOW, datetime(2024, 6, 1))
        with pytest.raises(NaiveDatetime, match="start"):
            query.between(datetime(2024, 6, 1))

    @pytest.mark.parametrize("value", [date(2024, 5, 1), "2024-05-01", 1715774400])
    def test_between_not_a_datetime(self, query: Query, value: Any) -> None:
        """A bound that is not a datetime raises InvalidQuery."""
        with pytest.raises(InvalidQuery, match="must be a datetime"):
            query.between(value)

    @pytest.mark.parametrize("delta", [timedelta(0), timedelta(hours=-1)])
    def test_between_empty_range(self, query: Query, delta: timedelta) -> None:
        """A start not before the end raises InvalidQuery."""
        with pytest.raises(InvalidQuery, match="empty range"):
            query.between(NOW, NOW + delta)

    def test_far_bounds(self, query: Query) -> None:
        """Bounds far outside the id range still filter correctly."""
        far_past = datetime(1900, 1, 1, tzinfo=timezone.utc)
        far_future = datetime(9999, 1, 1, tzinfo=timezone.utc)
        assert query.between(far_past, far_future).count() == 30
        assert query.between(far_future - timedelta(days=1), far_future).count() == 0

    def test_naive_clock_with_bucket(self) -> None:
        """A bucket on a log whose clock is naive raises NaiveDatetime."""
        log = ActivityLog(clock=lambda: datetime(2024, 5, 15, 12))
        with pytest.raises(NaiveDatetime):
            log.query("acme", viewer=OWNER).date("today").count()


class TestSearch:
    """``search``."""

    def test_terms_normalized(self, query: Query) -> None:
        """Search text is split into casefolded, deduplicated terms."""
        assert query.search("  Lead  DELETED lead ").spec().terms == ("lead", "deleted")

    def test_blank_matches_everything(self, query: Query) -> None:
        """Blank search text matches every entry."""
        assert query.search("   ").count() == 30

    def test_not_text(self, query: Query) -> None:
        """Search text must be a string: anything else raises InvalidQuery."""
        with pytest.raises(InvalidQuery, match="must be a string"):
            query.search(None)  # type: ignore[arg-type]


class TestCursor:
    """Paging cursors."""

    def test_pages_cover_everything_once(self, query: Query) -> None:
        """Following cursors visits every entry once, in order, and the last has no cursor."""
        seen, cursor, pages = [], None, 0
        while True:
            page = query.page(7, after=cursor)
            seen += [e.id for e in page]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        assert (pages, seen) == (5, [e.id for e in query.page(100)])

    def test_exact_fit_has_no_dangling_page(self, query: Query) -> None:
        """When the entries end exactly on a page boundary, that page has no cursor."""
        first = query.page(15)
        second = query.page(15, after=first.next_cursor)
        assert (len(second), second.next_cursor) == (15, None)

    def test_cursor_is_opaque_text(self, query: Query) -> None:
        """A cursor is URL-safe text."""
        cursor = query.page(5).next_cursor
        assert cursor is not None
        assert cursor.isascii() and "/" not in cursor and "+" not in cursor and "=" not in cursor

    def test_survives_refinement_with_same_filters(self, query: Query) -> None:
        """An equal query built separately accepts the cursor (e.g. on the next request)."""
        cursor = query.search("lead").page(5).next_cursor
        again = query.sort("date").search("LEAD")
        assert len(again.page(5, after=cursor)) == 5

    @pytest.mark.parametrize(
        "cursor",
        ["", "not a cursor", "%%%", "é", "abc", encode([1, 2]), encode({"f": "x"}),
         encode({"k": [1]}), encode("text"), encode(None), encode(17)],
    )
    def test_malformed(self, query: Query, cursor: str) -> None:
        """Garbage raises InvalidCursor."""
        with pytest.raises(InvalidCursor):
            query.page(5, after=cursor)

    @pytest.mark.parametrize("cursor", [None, 5, b"abc", ["x"]])
    def test_not_a_string(self, query: Query, cursor: Any) -> None:
        """A cursor that is not a string raises InvalidCursor (None means the first page)."""
        if cursor is None:
            assert len(query.page(5, after=cursor)) == 5
            return
        with pytest.raises(InvalidCursor):
            query.page(5, after=cursor)

    @pytest.mark.parametrize(
        "key", [[], [1.5], ["1"], [True], [-1], [2**63], [1, 2], ["Lead Created", 1]]
    )
    def test_bad_keys_with_valid_fingerprint(self, query: Query, key: list[Any]) -> None:
        """A well-formed cursor whose key is not an id raises InvalidCursor."""
        fingerprint = query._fingerprint()
        with pytest.raises(InvalidCursor):
            query.page(5, after=encode({"f": fingerprint, "k": key}))

    @pytest.mark.parametrize(
        "change",
        [
            lambda q: q.search("lead"),
            lambda q: q.category("Leads"),
            lambda q: q.sort("action"),
            lambda q: q.sort("date", descending=False),
            lambda q: q.date("today"),
            lambda q: q.between(NOW - timedelta(days=1)),
        ],
        ids=["search", "category", "sort-field", "direction", "bucket", "range"],
    )
    def test_foreign_filters(self, query: Query, change: Any) -> None:
        """A cursor from a query with other filters or sort raises InvalidCursor."""
        cursor = query.page(5).next_cursor
        with pytest.raises(InvalidCursor, match="different query"):
            change(query).page(5, after=cursor)

    def test_foreign_org(self, log: ActivityLog, query: Query) -> None:
        """A cursor from another organization's log raises InvalidCursor."""
        cursor = query.page(5).next_cursor
        other = log.query("globex", viewer=Viewer("u9", "globex", "admin"))
        with pytest.raises(InvalidCursor, match="different query"):
            other.page(1, after=cursor)

    def test_foreign_zone_for_bucket(self, log: ActivityLog) -> None:
        """A bucket cursor is tied to the viewer's zone and week start."""
        utc = log.query("acme", viewer=OWNER).date("this-week")
        cursor = utc.page(2).next_cursor
        tokyo = log.query("acme", viewer=OWNER, tz="Asia/Tokyo").date("this-week")
        sunday = log.query("acme", viewer=OWNER, week_start="sunday").date("this-week")
        for other in (tokyo, sunday):
            with pytest.raises(InvalidCursor):
                other.page(2, after=cursor)

    def test_action_sort_cursor(self, query: Query) -> None:
        """Paging by action visits every entry once, labels in order."""
        by_action = query.sort("action")
        first = by_action.page(11)
        rest = by_action.page(100, after=first.next_cursor)
        labels = [e.label for e in (*first, *rest)]
        assert (len({e.id for e in (*first, *rest)}), labels) == (30, sorted(labels))


class TestSpec:
    """The store query a builder produces."""

    def test_spec(self, query: Query) -> None:
        """``spec`` carries org, terms, categories, bounds and sort, normalized."""
        spec = query.search("Ada").category("Leads").date("today").sort("action").spec()
        assert (spec.org_id, spec.terms, spec.categories, spec.since, spec.until, spec.sort,
                spec.descending) == (
            "acme", ("ada",), ("Leads",), datetime(2024, 5, 15, tzinfo=timezone.utc), None,
            "action", False,
        )

    def test_spec_at_another_now(self, query: Query) -> None:
        """``spec(now)`` evaluates buckets at the given instant."""
        later = NOW + timedelta(days=1)
        assert query.date("today").spec(later).since == datetime(2024, 5, 16,
                                                                 tzinfo=timezone.utc)

    def test_iteration(self, query: Query) -> None:
        """Iterating a query yields every matching entry in order."""
        assert [e.id for e in query.category("Tasks")] == [
            e.id for e in query.category("Tasks").page(100)
        ]
