"""Conformance: Order, sorting and cursor paging."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from activitylog import (
    ActionRegistry,
    ActivityLog,
    DateBucket,
    Entry,
    InvalidCursor,
    InvalidQuery,
    Viewer,
)
from activitylog.stores import Store

from ._support import (
    ADA,
    ALL_KEYS,
    ORG,
    OTHER_ORG,
    SORTS,
    START,
    Clock,
    expected_order,
    ids,
    mirror,
    outcome,
    rec,
    tamper,
    viewer_of,
    walk,
)

# -- default order and sorting ------------------------------------------------------------------


def test_default_order_is_newest_first(log: ActivityLog, clock: Clock, owner: Viewer) -> None:
    """Without a sort, entries come newest first."""
    recorded = []
    for _ in range(5):
        recorded.append(rec(log))
        clock.advance(minutes=1)
    assert ids(log.query(ORG, viewer=owner).page()) == ids(reversed(recorded))


def test_same_instant_entries_keep_record_order_as_tie_break(
    log: ActivityLog, owner: Viewer
) -> None:
    """Entries recorded at one instant are ordered by id: newest-first is reverse record order."""
    recorded = [rec(log, "task.created") for _ in range(6)]
    query = log.query(ORG, viewer=owner)
    assert ids(query.page()) == ids(reversed(recorded))
    assert ids(query.sort("date", descending=False).page()) == ids(recorded)


def test_sort_by_date_both_directions(log: ActivityLog, clock: Clock, owner: Viewer) -> None:
    """Date sort runs oldest-first ascending and newest-first descending, ties by id."""
    recorded = []
    for i in range(9):
        recorded.append(rec(log, occurred_at=START - timedelta(hours=i % 3)))
    query = log.query(ORG, viewer=owner)
    for descending in (True, False):
        got = query.sort("date", descending=descending).page()
        assert ids(got) == expected_order(recorded, "date", descending)


def test_sort_by_action_ascending_by_default_with_id_tie_break(
    log: ActivityLog, clock: Clock, owner: Viewer
) -> None:
    """Action sort is A to Z by default, and equal labels run oldest id first."""
    recorded = []
    for action in ("task.deleted", "lead.created", "task.deleted", "client.updated") * 2:
        recorded.append(rec(log, action))
        clock.advance(seconds=1)
    got = log.query(ORG, viewer=owner).sort("action").page().entries
    assert ids(got) == expected_order(recorded, "action", False)
    assert [e.label for e in got][:2] == ["Client Updated", "Client Updated"]
    assert int(got[0].id, 16) < int(got[1].id, 16)


def test_sort_by_action_descending_ties_newest_first(
    log: ActivityLog, clock: Clock, owner: Viewer
) -> None:
    """Action sort Z to A breaks ties by id descending too (both parts in one direction)."""
    recorded = [rec(log, a) for a in ("note.created", "note.created", "file.deleted") * 2]
    got = log.query(ORG, viewer=owner).sort("action", descending=True).page().entries
    assert ids(got) == expected_order(recorded, "action", True)
    assert got[0].label == "Note Created"
    assert int(got[0].id, 16) > int(got[1].id, 16)


def test_action_sort_uses_code_point_order(store: Store, clock: Clock, owner: Viewer) -> None:
    """Labels sort by code point (case-sensitive, no locale), so "Zeta" comes before "alpha"."""
    registry = ActionRegistry()
    labels = ["alpha", "Zeta", "Émile", "émile", "a b", "a_b", "a%b", "😀 Smile", "ﬁle", "Ä", "A"]
    for i, label in enumerate(labels):
        registry.register(f"custom.a{i}", label=label, category="Leads")
    log = ActivityLog(store, registry=registry, clock=clock)
    recorded = [rec(log, f"custom.a{i}") for i in range(len(labels))]
    for descending in (False, True):
        got = log.query(ORG, viewer=owner).sort("action", descending=descending).page()
        assert [e.label for e in got] == sorted(labels, reverse=descending)
        assert ids(got) == expected_order(recorded, "action", descending)


def test_sort_rejects_unknown_fields(log: ActivityLog, owner: Viewer) -> None:
    """Sorting by anything but date or action raises InvalidQuery."""
    with pytest.raises(InvalidQuery):
        log.query(ORG, viewer=owner).sort("actor")


# -- cursor paging -------------------------------------------------------------------------------


def test_cursor_paging_visits_each_entry_once_in_every_sort(
    log: ActivityLog, clock: Clock, owner: Viewer
) -> None:
    """Walking the cursors of any sort and page size yields every entry once, in sort order."""
    recorded = []
    for i in range(14):
        recorded.append(rec(log, ALL_KEYS[i % 4], occurred_at=START - timedelta(minutes=i % 5)))
    for sort, descending in SORTS:
        query = log.query(ORG, viewer=owner).sort(sort, descending=descending)
        for size in (1, 2, 3, 5, 14, 15):
            assert ids(walk(query, size)) == expected_order(recorded, sort, descending)


def test_last_page_has_no_cursor(log: ActivityLog, owner: Viewer) -> None:
    """A page that ends the results has no next cursor, even when it is exactly full."""
    for _ in range(4):
        rec(log)
    query = log.query(ORG, viewer=owner)
    assert query.page(4).next_cursor is None
    first = query.page(2)
    assert first.next_cursor is not None
    assert query.page(2, after=first.next_cursor).next_cursor is None
    empty = log.query(OTHER_ORG, viewer=viewer_of(OTHER_ORG)).page()
    assert empty.entries == () and empty.next_cursor is None


def test_iterating_a_query_equals_walking_its_pages(log: ActivityLog, owner: Viewer) -> None:
    """``list(query)`` gives the same entries as walking its pages."""
    for action in ALL_KEYS[:12]:
        rec(log, action)
    query = log.query(ORG, viewer=owner).sort("action", descending=True)
    assert ids(query) == ids(walk(query, 5))


def test_cursor_can_be_used_twice(log: ActivityLog, owner: Viewer) -> None:
    """A cursor is a plain value: asking for the same page twice gives the same page."""
    for _ in range(5):
        rec(log)
    query = log.query(ORG, viewer=owner)
    cursor = query.page(2).next_cursor
    assert cursor is not None
    assert query.page(2, after=cursor) == query.page(2, after=cursor)


def test_newer_entries_recorded_while_paging_newest_first_do_not_appear(
    log: ActivityLog, clock: Clock, owner: Viewer
) -> None:
    """Paging newest-first while new entries arrive shows exactly the entries of the first page's
    moment and older: nothing repeats, nothing is skipped, nothing newer slips in."""
    recorded = []
    for _ in range(20):
        recorded.append(rec(log))
        clock.advance(seconds=30)
    query = log.query(ORG, viewer=owner)
    seen: list[Entry] = []
    cursor = None
    for _ in range(50):
        page = query.page(3, after=cursor)
        seen.extend(page.entries)
        for _ in range(2):
            rec(log, "lead.updated")
            clock.advance(seconds=1)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    else:
        pytest.fail("paging does not end")
    assert ids(seen) == ids(reversed(recorded))


def test_entries_backfilled_below_the_cursor_show_up_later_in_the_walk(
    log: ActivityLog, clock: Clock, owner: Viewer
) -> None:
    """An entry recorded with an older ``occurred_at`` mid-walk appears once, in its place."""
    recorded = []
    for _ in range(6):
        recorded.append(rec(log))
        clock.advance(minutes=1)
    query = log.query(ORG, viewer=owner)
    first = query.page(2)
    assert first.next_cursor is not None
    backfill = rec(log, "client.created", occurred_at=START - timedelta(days=1))
    rest = walk(query, 2, first.next_cursor)
    assert ids([*first.entries, *rest]) == ids([*reversed(recorded), backfill])


def test_oldest_first_paging_picks_up_new_entries_at_the_end(
    log: ActivityLog, clock: Clock, owner: Viewer
) -> None:
    """Paging oldest-first while entries arrive reaches the new ones last, each exactly once."""
    recorded = []
    for _ in range(7):
        recorded.append(rec(log))
        clock.advance(minutes=1)
    query = log.query(ORG, viewer=owner).sort("date", descending=False)
    first = query.page(3)
    assert first.next_cursor is not None
    arrived = [rec(log, "lead.updated") for _ in range(3)]
    seen = [*first.entries, *walk(query, 3, first.next_cursor)]
    assert ids(seen) == ids([*recorded, *arrived])


def test_action_paging_while_recording_never_repeats_or_skips(
    log: ActivityLog, clock: Clock, owner: Viewer
) -> None:
    """Paging by action while entries arrive visits every earlier entry once and never repeats."""
    recorded = [rec(log, ALL_KEYS[(i * 7) % len(ALL_KEYS)]) for i in range(15)]
    query = log.query(ORG, viewer=owner).sort("action")
    seen: list[Entry] = []
    cursor = None
    for step in range(50):
        page = query.page(4, after=cursor)
        seen.extend(page.entries)
        rec(log, ALL_KEYS[(step * 11 + 3) % len(ALL_KEYS)])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    else:
        pytest.fail("paging does not end")
    assert len(set(ids(seen))) == len(seen)
    assert set(ids(recorded)) <= set(ids(seen))
    keys = [(e.label, int(e.id, 16)) for e in seen]
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    "cursor",
    ["", "!!!", "not base64 at all$", "e30", "WzFd", "eyJmIjoieCJ9", "\u00e9t\u00e9", "a" * 5000],
    ids=["empty", "punctuation", "not-base64", "empty-object", "list", "no-key", "unicode", "long"],
)
def test_malformed_cursor_raises_invalid_cursor(
    log: ActivityLog, owner: Viewer, cursor: str
) -> None:
    """A cursor that is not one of ours raises InvalidCursor."""
    for _ in range(3):
        rec(log)
    with pytest.raises(InvalidCursor):
        log.query(ORG, viewer=owner).page(1, after=cursor)


def test_cursor_with_wrong_keyset_shape_raises_invalid_cursor(
    log: ActivityLog, owner: Viewer
) -> None:
    """A cursor of this query whose keyset has the wrong shape or types raises InvalidCursor."""
    for action in ("lead.created", "task.created", "note.created"):
        rec(log, action)
    by_date = log.query(ORG, viewer=owner)
    by_action = by_date.sort("action")
    date_cursor = by_date.page(1).next_cursor
    action_cursor = by_action.page(1).next_cursor
    assert date_cursor is not None and action_cursor is not None
    bad_date_keys: list[Any] = [[], ["x"], [1.5], [1, 2], "12", None, {"a": 1}]
    for key in bad_date_keys:
        with pytest.raises(InvalidCursor):
            by_date.page(1, after=tamper(date_cursor, key))
    bad_action_keys: list[Any] = [[], [1], [1, 2], ["x", "y"], ["x", 1.5], [None, 1]]
    for key in bad_action_keys:
        with pytest.raises(InvalidCursor):
            by_action.page(1, after=tamper(action_cursor, key))


def test_foreign_cursor_raises_invalid_cursor(log: ActivityLog, owner: Viewer) -> None:
    """A cursor from another org, search, category, date filter or sort is refused."""
    for action in ("lead.created", "lead.deleted", "task.created") * 2:
        rec(log, action)
        rec(log, action, org_id=OTHER_ORG)
    query = log.query(ORG, viewer=owner)
    cursor = query.page(1).next_cursor
    assert cursor is not None
    others = [
        log.query(OTHER_ORG, viewer=viewer_of(OTHER_ORG)),
        query.search("lead"),
        query.category("Leads"),
        query.date(DateBucket.TODAY),
        query.between(START - timedelta(days=1)),
        query.sort("action"),
        query.sort("date", descending=False),
    ]
    for other in others:
        with pytest.raises(InvalidCursor):
            other.page(1, after=cursor)
    assert len(query.page(1, after=cursor)) == 1


def test_tampered_cursor_keys_behave_like_the_reference(
    log: ActivityLog, clock: Clock, owner: Viewer
) -> None:
    """A cursor edited to carry out-of-range ids or odd labels answers as the reference does."""
    args = [{"action": a, "org_id": ORG, "actor": ADA} for a in ALL_KEYS[:6]]
    reference, _ = mirror(log, args)
    ref_viewer = owner
    for sort, keys in (
        ("date", [[0], [-1], [2**63 - 1], [2**63], [2**64 + 5], [-(2**63) - 1]]),
        (
            "action",
            [
                ["", 0],
                ["Lead", 2**63],
                ["\U0010ffff", -1],
                ["zzz", 2**70],
                ["Lead\u00a0", 1],
                ["Lead\u0000", 1],
                ["Lead\ud800", 1],
            ],
        ),
    ):
        for descending in (True, False):
            query = log.query(ORG, viewer=owner).sort(sort, descending=descending)
            ref_query = reference.query(ORG, viewer=ref_viewer).sort(sort, descending=descending)
            cursor = query.page(1).next_cursor
            assert cursor is not None
            for key in keys:
                forged = tamper(cursor, key)
                assert outcome(query, 3, forged) == outcome(ref_query, 3, forged), key


def test_page_size_must_be_between_1_and_1000(log: ActivityLog, owner: Viewer) -> None:
    """Page sizes outside 1..1000 (or not ints) raise InvalidQuery."""
    rec(log)
    query = log.query(ORG, viewer=owner)
    for size in (0, -1, 1001, True, 2.0):
        with pytest.raises(InvalidQuery):
            query.page(size)  # type: ignore[arg-type]
    assert len(query.page(1000)) == 1
