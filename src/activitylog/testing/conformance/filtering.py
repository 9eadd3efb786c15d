"""Conformance: Categories, date buckets, ranges and counts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from activitylog import (
    ActionRegistry,
    ActivityLog,
    DateBucket,
    InvalidQuery,
    NaiveDatetime,
    UnknownCategory,
    Viewer,
)
from activitylog.stores import Store

from ._support import (
    ADA,
    ALAN,
    ALL_KEYS,
    GRACE,
    ORG,
    OTHER_ORG,
    START,
    Clock,
    ids,
    rec,
    viewer_of,
    walk,
)

# -- categories ------------------------------------------------------------------------------------


def test_categories_list_only_used_ones_in_catalogue_order_with_counts(
    log: ActivityLog, owner: Viewer
) -> None:
    """Categories appear only once used, in the catalogue's order, each with its entry count."""
    assert log.categories(ORG, viewer=owner) == []
    for action in (
        "api_key.created",
        "lead.created",
        "task.deleted",
        "lead.deleted",
        "subscription.canceled",
        "api_key.revoked",
        "lead.assigned",
    ):
        rec(log, action)
    rec(log, "meeting.created", org_id=OTHER_ORG)
    assert log.categories(ORG, viewer=owner) == [
        ("Leads", 3),
        ("Tasks", 1),
        ("API Keys", 2),
        ("Subscription", 1),
    ]
    assert log.categories(OTHER_ORG, viewer=viewer_of(OTHER_ORG)) == [("Meetings", 1)]


def test_every_category_appears_once_used(log: ActivityLog, owner: Viewer) -> None:
    """With one entry of every built-in action, every category is listed with its action count."""
    registry = ActionRegistry()
    for key in ALL_KEYS:
        rec(log, key)
    expected = [(c, len(registry.actions_in(c))) for c in registry.categories]
    assert log.categories(ORG, viewer=owner) == expected


def test_categories_unknown_to_the_registry_come_last(
    store: Store, clock: Clock, owner: Viewer
) -> None:
    """Entries of a category the reading registry lacks are listed after the catalogue's."""
    custom = ActionRegistry()
    custom.add_category("Billing")
    custom.add_category("Accounts")
    custom.register("invoice.paid", label="Invoice Paid", category="Billing")
    custom.register("account.merged", label="Account Merged", category="Accounts")
    writer = ActivityLog(store, registry=custom, clock=clock)
    for action in ("invoice.paid", "account.merged", "lead.created", "invoice.paid"):
        rec(writer, action)
    reader = ActivityLog(store, clock=clock)
    assert reader.categories(ORG, viewer=owner) == [("Leads", 1), ("Accounts", 1), ("Billing", 2)]


def test_every_listed_category_can_be_filtered_by(store: Store, clock: Clock, owner: Viewer) -> None:
    """A reader without the writer's registry filters by any category it lists; a name
    neither known nor stored still raises UnknownCategory naming the stored ones."""
    custom = ActionRegistry.empty()
    custom.add_category("Contacts")
    custom.register("contact.created", label="Contact Created", category="Contacts")
    writer = ActivityLog(store, registry=custom, clock=clock)
    made = {rec(writer, "contact.created").id, rec(writer, "contact.created").id}
    rec(ActivityLog(store, clock=clock), "lead.created", org_id=OTHER_ORG)
    for registry in (ActionRegistry(), ActionRegistry.empty()):
        reader = ActivityLog(store, registry=registry, clock=clock)
        listed = [name for name, _ in reader.categories(ORG, viewer=owner)]
        assert listed == ["Contacts"]
        query = reader.query(ORG, viewer=owner)
        assert set(ids(query.category(*listed).page())) == made
        assert query.category(*listed).count() == 2
        with pytest.raises(UnknownCategory, match="did you mean 'Contacts'"):
            query.category("Contact")
    with pytest.raises(UnknownCategory):  # stored in another org only
        ActivityLog(store, clock=clock).query(OTHER_ORG, viewer=viewer_of(OTHER_ORG)).category(
            "Contacts"
        )


def test_category_filter_keeps_any_of_the_named_categories(log: ActivityLog, owner: Viewer) -> None:
    """category(a, b) keeps entries in a or b; category() with no names keeps everything."""
    leads = {rec(log, "lead.created").id, rec(log, "lead.deleted").id}
    tasks = {rec(log, "task.updated").id}
    files = {rec(log, "file.created").id}
    query = log.query(ORG, viewer=owner)
    assert set(ids(query.category("Leads").page())) == leads
    assert set(ids(query.category("Leads", "Tasks").page())) == leads | tasks
    assert set(ids(query.category("Leads").category().page())) == leads | tasks | files
    assert query.category("Meetings").page().entries == ()
    assert query.category("Leads", "Leads").count() == 2
    with pytest.raises(UnknownCategory):
        query.category("leads")


# -- dates -------------------------------------------------------------------------------------------

US = timedelta(microseconds=1)


def bucket_ids(log: ActivityLog, bucket: str, tz: str, week_start: int | str = 0) -> set[str]:
    """Ids of every entry in a date bucket, through pages."""
    query = log.query(ORG, viewer=viewer_of(ORG), tz=tz, week_start=week_start).date(bucket)
    found = walk(query, 4)
    assert query.count() == len(found)
    return set(ids(found))


def at(log: ActivityLog, moment: datetime) -> str:
    """Record one entry at ``moment`` and return its id."""
    return rec(log, occurred_at=moment).id


def test_date_buckets_in_a_time_zone_with_a_week_start(log: ActivityLog) -> None:
    """Today/This week/This month/Older follow the viewer's zone (DST included) and week start.

    The clock reads 2024-03-13 02:30 UTC, which is Tuesday 2024-03-12 22:30 in New York (EDT,
    two days after the DST change).
    """
    utc = timezone.utc
    today = datetime(2024, 3, 12, 4, tzinfo=utc)  # 00:00 EDT
    monday = datetime(2024, 3, 11, 4, tzinfo=utc)  # 00:00 EDT
    sunday = datetime(2024, 3, 10, 5, tzinfo=utc)  # 00:00 EST
    month = datetime(2024, 3, 1, 5, tzinfo=utc)  # 00:00 EST
    older = datetime(2024, 2, 13, 3, 30, tzinfo=utc)  # 22:30 EST a month earlier
    e = {
        "now": at(log, START),
        "today": at(log, today),
        "yesterday_late": at(log, today - US),
        "monday": at(log, monday),
        "sunday": at(log, sunday),
        "saturday_late": at(log, sunday - US),
        "month": at(log, month),
        "feb_last": at(log, month - US),
        "older_edge": at(log, older),
        "older": at(log, older - US),
        "ancient": at(log, datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=utc)),
    }
    zone = "America/New_York"

    def upto(*names: str) -> set[str]:
        return {e[n] for n in names}

    assert bucket_ids(log, "today", zone) == upto("now", "today")
    assert bucket_ids(log, "this-week", zone) == upto("now", "today", "yesterday_late", "monday")
    assert bucket_ids(log, "this-week", zone, week_start="sunday") == upto(
        "now", "today", "yesterday_late", "monday", "sunday"
    )
    assert bucket_ids(log, "this-week", zone, week_start=6) == bucket_ids(
        log, "this-week", zone, week_start="Sunday"
    )
    assert bucket_ids(log, "this-week", zone, week_start=1) == upto("now", "today")
    assert bucket_ids(log, "this-month", zone) == upto(
        "now", "today", "yesterday_late", "monday", "sunday", "saturday_late", "month"
    )
    assert bucket_ids(log, "older", zone) == upto("older", "ancient")


def test_date_buckets_in_utc(log: ActivityLog) -> None:
    """In UTC the same clock is Wednesday 13 March: buckets start at UTC midnights."""
    utc = timezone.utc
    e = {
        "now": at(log, START),
        "midnight": at(log, datetime(2024, 3, 13, tzinfo=utc)),
        "tuesday": at(log, datetime(2024, 3, 13, tzinfo=utc) - US),
        "monday": at(log, datetime(2024, 3, 11, tzinfo=utc)),
        "sunday": at(log, datetime(2024, 3, 11, tzinfo=utc) - US),
        "first": at(log, datetime(2024, 3, 1, tzinfo=utc)),
        "edge": at(log, datetime(2024, 2, 13, 2, 30, tzinfo=utc)),
        "older": at(log, datetime(2024, 2, 13, 2, 30, tzinfo=utc) - US),
    }
    assert bucket_ids(log, "today", "UTC") == {e["now"], e["midnight"]}
    assert bucket_ids(log, "this-week", "UTC") == {
        e["now"],
        e["midnight"],
        e["tuesday"],
        e["monday"],
    }
    assert bucket_ids(log, "this-week", "UTC", week_start=2) == {e["now"], e["midnight"]}
    assert bucket_ids(log, "this-month", "UTC") == set(e.values()) - {e["edge"], e["older"]}
    assert bucket_ids(log, "older", "UTC") == {e["older"]}


def test_date_buckets_follow_the_clock(log: ActivityLog, clock: Clock, owner: Viewer) -> None:
    """A bucket is evaluated when the query runs: yesterday's entries leave Today at midnight."""
    entry = rec(log)
    query = log.query(ORG, viewer=owner).date(DateBucket.TODAY)
    assert ids(query.page()) == [entry.id]
    clock.advance(days=1)
    assert query.page().entries == ()
    assert query.count() == 0


def test_date_filter_rejects_unknown_buckets(log: ActivityLog, owner: Viewer) -> None:
    """An unknown date bucket, time zone or week start raises InvalidQuery."""
    with pytest.raises(InvalidQuery):
        log.query(ORG, viewer=owner).date("yesterday")
    with pytest.raises(InvalidQuery):
        log.query(ORG, viewer=owner, tz="Mars/Olympus")
    with pytest.raises(InvalidQuery):
        log.query(ORG, viewer=owner, week_start=7)


def test_between_is_inclusive_start_exclusive_end(log: ActivityLog, owner: Viewer) -> None:
    """between(start, end) keeps start <= occurred_at < end; either end may be open."""
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    made = {i: at(log, t0 + timedelta(hours=i)) for i in range(6)}
    made[-1] = at(log, t0 - US)
    made[99] = at(log, t0 + timedelta(hours=2) - US)
    query = log.query(ORG, viewer=owner)

    def got(start: datetime | None, end: datetime | None) -> set[str]:
        q = query.between(start, end)
        found = walk(q, 3)
        assert q.count() == len(found)
        return set(ids(found))

    assert got(t0, t0 + timedelta(hours=2)) == {made[0], made[1], made[99]}
    assert got(t0 + timedelta(hours=2), None) == {made[2], made[3], made[4], made[5]}
    assert got(None, t0) == {made[-1]}
    assert got(None, None) == set(made.values())
    assert got(t0 - US, t0) == {made[-1]}
    new_york = ZoneInfo("America/New_York")
    assert got(datetime(2023, 12, 31, 19, tzinfo=new_york), None) == set(made.values()) - {made[-1]}


def test_between_applies_bounds_to_the_millisecond(log: ActivityLog, owner: Viewer) -> None:
    """Sub-millisecond parts of the bounds and of occurred_at are dropped before comparing."""
    ms = timedelta(milliseconds=1)
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    inside = at(log, t0 + timedelta(microseconds=400))
    before = at(log, t0 - US)
    later = at(log, t0 + ms)
    query = log.query(ORG, viewer=owner)
    assert ids(query.between(t0 + timedelta(microseconds=700), t0 + ms).page()) == [inside]
    assert ids(query.between(t0 - US, t0 + timedelta(microseconds=999)).page()) == [before]
    assert ids(query.between(t0 + ms + US, None).page()) == [later]


def test_thousands_of_entries_at_one_instant(log: ActivityLog, owner: Viewer) -> None:
    """3,000 entries with one occurred_at (more than 2,048) are stored in recording order."""
    moment = START + timedelta(microseconds=999)
    stored = log.record_many(
        {"action": "lead.created", "org_id": ORG, "actor": ADA, "occurred_at": moment,
         "metadata": {"n": i}} for i in range(3000)
    )
    oldest_first = log.query(ORG, viewer=owner).sort("date", descending=False)
    assert [e.metadata["n"] for e in oldest_first] == list(range(3000))
    assert ids(oldest_first) == ids(stored)
    assert oldest_first.between(moment, moment + US).count() == 3000
    assert log.verify(ORG).ok


def test_between_rejects_naive_and_empty_ranges(log: ActivityLog, owner: Viewer) -> None:
    """Naive datetimes raise NaiveDatetime; a start not before the end raises InvalidQuery."""
    query = log.query(ORG, viewer=owner)
    with pytest.raises(NaiveDatetime):
        query.between(datetime(2024, 1, 1))
    with pytest.raises(InvalidQuery):
        query.between(START, START)
    with pytest.raises(InvalidQuery):
        query.between(START, START - US)


def test_date_and_between_replace_each_other(log: ActivityLog, owner: Viewer) -> None:
    """The last of date() and between() wins, and date(None) clears both."""
    old = at(log, START - timedelta(days=90))
    new = at(log, START)
    query = log.query(ORG, viewer=owner)
    assert ids(query.between(None, START - timedelta(days=1)).date("today").page()) == [new]
    assert ids(query.date("today").between(None, START - timedelta(days=1)).page()) == [old]
    assert set(ids(query.date("today").date(None).page())) == {old, new}


# -- counts -----------------------------------------------------------------------------------------


def test_count_matches_the_total_of_all_pages(
    log: ActivityLog, clock: Clock, owner: Viewer
) -> None:
    """count() equals the number of entries the pages hold, for every kind of filter."""
    for i, key in enumerate(ALL_KEYS):
        rec(log, key, actor=(ADA, GRACE, ALAN)[i % 3], occurred_at=START - timedelta(days=i))
    query = log.query(ORG, viewer=owner, tz="Europe/Paris")
    variants = [
        query,
        query.search("deleted"),
        query.search("ada created"),
        query.category("Leads", "Members"),
        query.date("this-month"),
        query.date("older").search("grace"),
        query.between(START - timedelta(days=30), START - timedelta(days=3)),
        query.sort("action").category("Tasks"),
        query.search("no such thing"),
    ]
    for variant in variants:
        assert variant.count() == len(walk(variant, 6))
    assert query.count() == len(ALL_KEYS)
