"""Date buckets (Today, This week, This month, Older) in the viewer's time zone.

The properties compare :func:`activitylog.query.bucket_range` with the buckets' definitions
written in terms of local calendar dates, over random instants and random IANA zones.

One subtlety: a few zones (America/Goose_Bay, America/St_Johns and America/Moncton until 2006-2011)
set their clocks back at 00:01, so the wall clock shows yesterday's date again for an hour after a
new day has begun. A day begins at its first midnight; that repeated hour belongs to the new day. The
properties therefore use the latest date the wall clock has reached by an instant.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import example, given, settings
from hypothesis import strategies as st

from activitylog import ActivityLog, Actor, DateBucket, Viewer
from activitylog.query import bucket_range

UTC = timezone.utc
#: Zones with midnight DST changes, half-hour shifts, skipped days and other oddities.
DST_HEAVY = (
    "America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Santiago",
    "Asia/Tehran", "Pacific/Apia", "America/Havana", "America/Sao_Paulo", "Africa/Casablanca",
    "America/Asuncion", "Asia/Gaza", "Antarctica/Troll", "Pacific/Chatham", "Europe/Dublin",
    "America/Goose_Bay", "America/St_Johns", "America/Moncton", "Antarctica/Casey",
)
ALL_ZONES = sorted(available_timezones())

zones = st.one_of(st.sampled_from(DST_HEAVY), st.sampled_from(ALL_ZONES)).map(ZoneInfo)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31, 23, 59, 59),
    timezones=st.just(UTC),
)
week_starts = st.integers(min_value=0, max_value=6)
#: Offsets that land anywhere, near now, or within hours of a day boundary.
offsets = st.one_of(
    st.timedeltas(min_value=timedelta(days=-800), max_value=timedelta(days=30)),
    st.timedeltas(min_value=timedelta(days=-40), max_value=timedelta(hours=30)),
    st.integers(min_value=-45 * 24, max_value=48).map(lambda h: timedelta(hours=h)),
)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The calendar date of an instant in a zone."""
    return instant.astimezone(tz).date()


def date_reached(instant: datetime, tz: ZoneInfo) -> date:
    """The latest date the zone's wall clock has shown by ``instant``.

    That is the local date, except just after a clock change that crossed midnight backwards:
    then it is the date shown just before the change (found by bisection).
    """
    reached = local_date(instant, tz)
    offset = instant.astimezone(tz).utcoffset()
    lo, hi = instant - timedelta(hours=3), instant
    if lo.astimezone(tz).utcoffset() == offset:
        return reached
    while hi - lo > timedelta(microseconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).utcoffset() == offset:
            hi = mid
        else:
            lo = mid
    return max(reached, local_date(hi - timedelta(microseconds=1), tz))


def inside(instant: datetime, since: datetime | None, until: datetime | None) -> bool:
    """Whether ``since <= instant < until`` (open ends unbounded)."""
    return (since is None or since <= instant) and (until is None or instant < until)


def month_ago(now: datetime, tz: ZoneInfo) -> datetime:
    """The instant whose local wall time reads one calendar month before now's.

    A wall time that occurs twice resolves to its first occurrence; one skipped by a DST
    change resolves forward by the size of the gap (``fold=0``, the usual convention).
    """
    wall = now.astimezone(tz).replace(tzinfo=None) - relativedelta(months=1)
    return wall.replace(tzinfo=tz).astimezone(UTC)


def bucket_at(bucket: DateBucket, instant: datetime, now: datetime, tz: ZoneInfo,
              week_start: int = 0) -> bool:
    """Whether ``instant`` falls in ``bucket`` at ``now`` according to ``bucket_range``."""
    return inside(instant, *bucket_range(bucket, now, tz, week_start))


SETTINGS = settings(max_examples=200, deadline=None)


class TestProperties:
    """Each bucket matches its calendar definition for random instants, zones and weeks."""

    @SETTINGS
    @given(moments, offsets, zones)
    @example(datetime(2022, 9, 11, 5, tzinfo=UTC), timedelta(hours=-1),
             ZoneInfo("America/Santiago"))
    @example(datetime(2011, 12, 31, 12, tzinfo=UTC), timedelta(hours=-11),
             ZoneInfo("Pacific/Apia"))
    @example(datetime(2009, 11, 1, 16, tzinfo=UTC), timedelta(hours=-12, minutes=-30),
             ZoneInfo("America/Goose_Bay"))
    def test_today(self, now: datetime, offset: timedelta, tz: ZoneInfo) -> None:
        """In Today iff the local calendar had reached now's local date by the instant."""
        instant = now + offset
        expected = date_reached(instant, tz) >= local_date(now, tz)
        assert bucket_at(DateBucket.TODAY, instant, now, tz) == expected

    @SETTINGS
    @given(moments, offsets, zones, week_starts)
    def test_this_week(self, now: datetime, offset: timedelta, tz: ZoneInfo, ws: int) -> None:
        """In This week iff the local calendar had reached the week's first day."""
        instant = now + offset
        today = local_date(now, tz)
        start = today - timedelta(days=(today.weekday() - ws) % 7)
        assert start.weekday() == ws and start <= today < start + timedelta(days=7)
        expected = date_reached(instant, tz) >= start
        assert bucket_at(DateBucket.THIS_WEEK, instant, now, tz, ws) == expected

    @SETTINGS
    @given(moments, offsets, zones)
    def test_this_month(self, now: datetime, offset: timedelta, tz: ZoneInfo) -> None:
        """In This month iff the local calendar had reached the 1st of now's local month."""
        instant = now + offset
        expected = date_reached(instant, tz) >= local_date(now, tz).replace(day=1)
        assert bucket_at(DateBucket.THIS_MONTH, instant, now, tz) == expected

    @SETTINGS
    @given(moments, offsets, zones)
    def test_older(self, now: datetime, offset: timedelta, tz: ZoneInfo) -> None:
        """Older iff the instant is before now minus one calendar month in local time."""
        instant = now + offset
        expected = instant < month_ago(now, tz)
        assert bucket_at(DateBucket.OLDER, instant, now, tz) == expected

    @SETTINGS
    @given(moments, offsets, zones, week_starts)
    def test_nesting(self, now: datetime, offset: timedelta, tz: ZoneInfo, ws: int) -> None:
        """Today lies in This week, nothing from Today or This month is Older."""
        instant = now + offset
        today = bucket_at(DateBucket.TODAY, instant, now, tz, ws)
        week = bucket_at(DateBucket.THIS_WEEK, instant, now, tz, ws)
        month = bucket_at(DateBucket.THIS_MONTH, instant, now, tz, ws)
        older = bucket_at(DateBucket.OLDER, instant, now, tz, ws)
        assert (today <= week, month and older, today and older) == (True, False, False)

    @SETTINGS
    @given(moments, zones, week_starts)
    def test_bounds_are_utc_and_not_after_now(self, now: datetime, tz: ZoneInfo, ws: int) -> None:
        """Every bound is an aware UTC instant no later than now."""
        for bucket in DateBucket:
            since, until = bucket_range(bucket, now, tz, ws)
            bound = since if since is not None else until
            assert bound is not None
            assert (bound.utcoffset(), bound <= now) == (timedelta(0), True)

    @SETTINGS
    @given(moments, zones)
    def test_now_zone_is_irrelevant(self, now: datetime, tz: ZoneInfo) -> None:
        """The buckets depend on the instant now, not the zone now is expressed in."""
        other = now.astimezone(timezone(timedelta(hours=-7)))
        for bucket in DateBucket:
            assert bucket_range(bucket, other, tz) == bucket_range(bucket, now, tz)


def at(text: str, tz: str) -> datetime:
    """A local wall time in a zone, as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


class TestExamples:
    """Hand-checked bounds on DST days and at month ends."""

    @pytest.mark.parametrize(
        ("now", "tz", "since"),
        [
            # Spring forward at 02:00: the day still starts at 00:00 EST.
            ("2024-03-10T12:00", "America/New_York", "2024-03-10T05:00"),
            # Fall back at 02:00: the day starts at 00:00 EDT.
            ("2024-11-03T23:00", "America/New_York", "2024-11-03T04:00"),
            ("2024-03-31T12:00", "Europe/London", "2024-03-31T00:00"),
            # Midnight does not exist in Santiago on 2022-09-11; the day starts at 01:00 -03.
            ("2022-09-11T12:00", "America/Santiago", "2022-09-11T04:00"),
            # Lord Howe moves by half an hour.
            ("2024-10-06T12:00", "Australia/Lord_Howe", "2024-10-05T13:30"),
            # Tehran used to change at midnight; on 2022-03-22 the day began at 00:00 +03:30 ...
            ("2022-03-22T12:00", "Asia/Tehran", "2022-03-21T20:30"),
            # ... and after 24:00 became 23:00 again, 2022-09-22 began at 00:00 +03:30.
            ("2022-09-22T12:00", "Asia/Tehran", "2022-09-21T20:30"),
        ],
    )
    def test_today_on_dst_days(self, now: str, tz: str, since: str) -> None:
        """Today starts at the local day's first instant, whatever DST does that day."""
        expected = datetime.fromisoformat(since).replace(tzinfo=UTC)
        assert bucket_range(DateBucket.TODAY, at(now, tz), ZoneInfo(tz)) == (expected, None)

    def test_day_whose_clock_goes_back_across_midnight(self) -> None:
        """Goose Bay fell back at 00:01 to 23:01: the new day began at its first midnight."""
        tz = ZoneInfo("America/Goose_Bay")
        first_midnight = datetime(2009, 11, 1, 3, 0, tzinfo=UTC)  # 00:00 ADT
        repeated_hour = datetime(2009, 11, 1, 3, 30, tzinfo=UTC)  # wall clock: Oct 31 23:30 AST
        assert local_date(repeated_hour, tz) == date(2009, 10, 31)
        noon = datetime(2009, 11, 1, 16, 0, tzinfo=UTC)
        assert bucket_range(DateBucket.TODAY, noon, tz) == (first_midnight, None)
        assert bucket_at(DateBucket.TODAY, repeated_hour, noon, tz)
        # During the repeated hour the wall clock says Oct 31, so Today is Oct 31 again.
        assert bucket_range(DateBucket.TODAY, repeated_hour, tz) == (
            datetime(2009, 10, 31, 3, 0, tzinfo=UTC), None,
        )

    def test_apia_skipped_day(self) -> None:
        """Samoa skipped 2011-12-30: a week starting that day starts when Dec 31 began."""
        tz = ZoneInfo("Pacific/Apia")
        now = at("2012-01-02T12:00", "Pacific/Apia")
        since, _ = bucket_range(DateBucket.THIS_WEEK, now, tz, week_start=4)  # Friday
        assert since == datetime(2011, 12, 30, 10, 0, tzinfo=UTC)
        assert since.astimezone(tz).replace(tzinfo=None) == datetime(2011, 12, 31)

    @pytest.mark.parametrize(
        ("now", "cutoff"),
        [
            ("2024-01-31T10:00", "2023-12-31T10:00"),
            ("2024-03-31T10:00", "2024-02-29T10:00"),
            ("2023-03-31T10:00", "2023-02-28T10:00"),
            ("2024-05-31T10:00", "2024-04-30T10:00"),
            ("2024-03-01T00:00", "2024-02-01T00:00"),
        ],
    )
    def test_older_at_month_end(self, now: str, cutoff: str) -> None:
        """One month before the 31st is the last day of the previous month."""
        tz = "Europe/Paris"
        assert bucket_range(DateBucket.OLDER, at(now, tz), ZoneInfo(tz)) == (None, at(cutoff, tz))

    def test_older_across_dst(self) -> None:
        """A month before a summer time is the same wall time in winter time."""
        now = at("2024-04-15T09:00", "America/New_York")
        _, until = bucket_range(DateBucket.OLDER, now, ZoneInfo("America/New_York"))
        assert until == datetime(2024, 3, 15, 13, 0, tzinfo=UTC)

    def test_older_wall_time_in_gap(self) -> None:
        """A month-ago wall time skipped by DST resolves forward by the gap."""
        tz = ZoneInfo("America/New_York")
        now = at("2024-04-10T02:30", "America/New_York")
        _, until = bucket_range(DateBucket.OLDER, now, tz)
        assert until == datetime(2024, 3, 10, 7, 30, tzinfo=UTC)  # 03:30 EDT

    def test_older_ignores_fold_of_now(self) -> None:
        """Now in the second pass of a repeated hour still maps a month back by wall time."""
        tz = ZoneInfo("America/New_York")
        second_pass = datetime(2024, 11, 3, 6, 30, tzinfo=UTC)  # 01:30 EST, fold=1
        first_pass = datetime(2024, 11, 3, 5, 30, tzinfo=UTC)  # 01:30 EDT, fold=0
        assert bucket_range(DateBucket.OLDER, second_pass, tz) == bucket_range(
            DateBucket.OLDER, first_pass, tz
        ) == (None, datetime(2024, 10, 3, 5, 30, tzinfo=UTC))

    @pytest.mark.parametrize(
        ("week_start", "since"),
        [(0, "2024-05-13"), (6, "2024-05-12"), (2, "2024-05-15"), (3, "2024-05-09"),
         (5, "2024-05-11")],
    )
    def test_week_starts(self, week_start: int, since: str) -> None:
        """The week starts on the configured weekday (Wednesday 2024-05-15 as now)."""
        now = at("2024-05-15T12:00", "Asia/Tokyo")
        assert bucket_range(DateBucket.THIS_WEEK, now, ZoneInfo("Asia/Tokyo"), week_start) == (
            at(since + "T00:00", "Asia/Tokyo"), None,
        )

    def test_future_entries_are_today(self) -> None:
        """Entries slightly in the future (clock skew) count as Today, this week and month."""
        now = datetime(2024, 5, 15, 12, tzinfo=UTC)
        for bucket in (DateBucket.TODAY, DateBucket.THIS_WEEK, DateBucket.THIS_MONTH):
            assert bucket_at(bucket, now + timedelta(minutes=5), now, ZoneInfo("UTC"))


class TestQueryBuckets:
    """Buckets applied through the query builder."""

    def test_counts_per_bucket(self) -> None:
        """Entries fall into the buckets of the viewer's zone and week start."""
        now = at("2024-05-15T08:00", "America/Los_Angeles")  # a Wednesday
        log = ActivityLog(clock=lambda: now)
        ada = Actor("u1", "Ada Lovelace")
        for local in ("2024-05-15T00:30", "2024-05-14T23:30", "2024-05-12T10:00",
                      "2024-05-11T10:00", "2024-05-01T00:00", "2024-04-30T23:59",
                      "2024-04-15T08:01", "2024-04-15T07:59", "2023-01-01T00:00"):
            log.record("lead.created", org_id="acme", actor=ada,
                       occurred_at=at(local, "America/Los_Angeles"))
        owner = Viewer("u1", "acme", "owner")
        query = log.query("acme", viewer=owner, tz="America/Los_Angeles", week_start="sunday")
        counts = {b.value: query.date(b).count() for b in DateBucket}
        assert counts == {"today": 1, "this-week": 3, "this-month": 5, "older": 2}
        monday = log.query("acme", viewer=owner, tz="America/Los_Angeles", week_start=0)
        assert monday.date("this-week").count() == 2

    def test_zone_changes_today(self) -> None:
        """The same instant is today in one zone and yesterday in another."""
        now = datetime(2024, 5, 15, 3, 0, tzinfo=UTC)
        log = ActivityLog(clock=lambda: now)
        log.record("lead.created", org_id="acme", actor=Actor("u1", "Ada"),
                   occurred_at=datetime(2024, 5, 14, 23, 0, tzinfo=UTC))
        owner = Viewer("u1", "acme", "owner")
        utc = log.query("acme", viewer=owner, tz="UTC").date("today").count()
        new_york = log.query("acme", viewer=owner, tz="America/New_York").date("today").count()
        assert (utc, new_york) == (0, 1)


def test_all_zones_load() -> None:
    """Every zone the property tests may pick can be loaded and bucketed."""
    now = datetime(2024, 5, 15, 12, tzinfo=UTC)
    for key in ALL_ZONES:
        for bucket in DateBucket:
            bucket_range(bucket, now, ZoneInfo(key), 6)
