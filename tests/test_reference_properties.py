"""Properties: every store answers exactly as the in-memory reference does, and the reference
answers as the definitions say (checked against brute force written here, independently)."""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activitylog import (
    ActivityLog,
    Entry,
    InvalidEntry,
    Query,
    Role,
    StoreError,
    Viewer,
    ids,
    search,
)
from activitylog.stores.memory import MemoryStore
from conftest import Clock, StoreOpener
from strategies import (
    BASE,
    INSTANTS,
    ORGS,
    QueryPlan,
    orgs_of,
    query_plans,
    record_batches,
    with_colliding_ids,
)

PROPERTIES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


#: The last offset in a millisecond's band of ids.
BAND_TOP = ids.IDS_PER_MS - 1

SORTS = (("date", True), ("date", False), ("action", True), ("action", False))


def owner_of(org: str) -> Viewer:
    """An Owner of ``org``."""
    return Viewer("u-owner", org, Role.OWNER)


def of_org(entries: Sequence[Entry], org: str) -> list[Entry]:
    """The entries of one organization."""
    return [e for e in entries if e.org_id == org]


def build_all(log: ActivityLog, batch: Sequence[dict[str, Any]]) -> list[Entry]:
    """Entries for every ``record()`` argument dict, built (not stored) by ``log``."""
    return [log.build(a["action"], **{k: v for k, v in a.items() if k != "action"}) for a in batch]


def pages(query: Query, size: int) -> list[tuple[list[str], str | None]]:
    """Every page of ``query`` as (ids, next cursor), following the cursors to the end."""
    out: list[tuple[list[str], str | None]] = []
    cursor: str | None = None
    while True:
        page = query.page(size, after=cursor)
        out.append(([e.id for e in page.entries], page.next_cursor))
        assert len(out) <= 1000, "paging does not terminate"
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def walk(query: Query, size: int) -> list[Entry]:
    """Every entry of ``query``, page by page."""
    seen: list[Entry] = []
    cursors: set[str | None] = set()
    cursor: str | None = None
    while True:
        assert cursor not in cursors, "paging came back to a page it already gave"
        cursors.add(cursor)
        page = query.page(size, after=cursor)
        seen.extend(page.entries)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


FOLDED_LETTERS = {"ı": "i", "ø": "o", "đ": "d", "ð": "d", "ł": "l", "ħ": "h", "ŧ": "t",
                  "æ": "ae", "œ": "oe"}


def fold(text: str) -> str:
    """The documented search folding, written out step by step (no shortcut for ASCII)."""
    decomposed = unicodedata.normalize("NFKD", text)
    folded = unicodedata.normalize("NFKD", decomposed.casefold())
    bare = "".join(c for c in folded if unicodedata.combining(c) == 0)
    return "".join(FOLDED_LETTERS.get(c, c) for c in bare)


def found_by(entry: Entry, text: str) -> bool:
    """Brute-force search: every folded word is a substring of label, description or name."""
    fields = [fold(entry.label), fold(entry.description), fold(entry.actor.name)]
    return all(any(word in field for field in fields) for word in fold(text).split())


def in_order(entries: Sequence[Entry], sort: str, descending: bool) -> list[str]:
    """Ids in the documented order: by id, or by label then id, in one direction."""

    def key(e: Entry) -> tuple[Any, ...]:
        return (int(e.id, 16),) if sort == "date" else (e.label, int(e.id, 16))

    return [e.id for e in sorted(entries, key=key, reverse=descending)]


def append_both(
    reference: ActivityLog, other: ActivityLog, entries: Sequence[Entry]
) -> list[Entry] | None:
    """Append to both stores; both must store the same entries or both refuse and keep nothing."""
    try:
        expected = reference.store.append(entries, reference.chain)
    except InvalidEntry:
        before = {org: other.store.head(org) for org in ORGS}
        try:
            other.store.append(entries, other.chain)
        except (InvalidEntry, StoreError):
            pass
        else:
            raise AssertionError("the reference refused an append the store accepted") from None
        assert {org: other.store.head(org) for org in ORGS} == before
        return None
    assert other.store.append(entries, other.chain) == expected
    return expected


def assert_same_query(reference: Query, other: Query, size: int) -> None:
    """Both queries give the same pages, cursors and count."""
    expected = pages(reference, size)
    assert pages(other, size) == expected
    assert other.count() == reference.count() == sum(len(ids) for ids, _ in expected)


@PROPERTIES
@given(batch=record_batches(), data=st.data())
def test_every_store_answers_like_the_reference(
    open_fresh: StoreOpener, batch: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Recording the same entries into a store and into the reference gives identical stored
    entries, chains, heads, categories, pages, cursors and counts for random queries."""
    clock = Clock(data.draw(st.sampled_from(INSTANTS), label="now"))
    store = open_fresh()
    try:
        reference = ActivityLog(MemoryStore(), clock=clock)
        other = ActivityLog(store, clock=clock)
        entries = build_all(reference, batch)
        keyed = [a for a in batch if "idempotency_key" in a]
        if keyed and data.draw(st.booleans(), label="conflict"):
            # The same key for something else: every store must refuse it as the reference does.
            reused = data.draw(st.sampled_from(keyed), label="reused")
            other_args = {**reused, "metadata": {"conflict": True}}
            clash = build_all(reference, [other_args])[0]
            at = data.draw(st.integers(0, len(entries)), label="at")
            entries = [*entries[:at], clash, *entries[at:]]
        if entries and data.draw(st.booleans(), label="collide"):
            picks = data.draw(
                st.lists(
                    st.sampled_from((-1, 0, 1, 2, BAND_TOP - 1, BAND_TOP)),
                    max_size=len(entries),
                ),
                label="picks",
            )
            entries = with_colliding_ids(entries, picks)
        stored: list[Entry] = []
        while entries:
            size = data.draw(st.integers(1, len(entries)), label="chunk")
            chunk, entries = entries[:size], entries[size:]
            stored.extend(append_both(reference, other, chunk) or ())
        assert other.store.org_ids() == reference.store.org_ids()
        for org in ORGS:
            assert list(other.store.chain(org)) == list(reference.store.chain(org))
            assert other.store.head(org) == reference.store.head(org)
            assert other.store.categories(org) == reference.store.categories(org)
            assert other.categories(org, viewer=owner_of(org)) == reference.categories(
                org, viewer=owner_of(org)
            )
            assert other.verify(org).ok
        size = data.draw(st.integers(1, 7), label="size")
        for org in reference.store.org_ids():
            for sort, descending in SORTS:
                assert_same_query(
                    reference.query(org, viewer=owner_of(org)).sort(sort, descending),
                    other.query(org, viewer=owner_of(org)).sort(sort, descending),
                    size,
                )
        for _ in range(data.draw(st.integers(1, 4), label="queries")):
            org = data.draw(orgs_of(stored), label="org")
            plan = data.draw(query_plans(of_org(stored, org)), label="plan")
            assert_same_query(
                plan.apply(reference, org, owner_of(org)),
                plan.apply(other, org, owner_of(org)),
                plan.size,
            )
    finally:
        open_fresh.close(store)


def reference_log(batch: list[dict[str, Any]]) -> tuple[ActivityLog, list[Entry]]:
    """A reference log holding ``batch``, and its stored entries."""
    log = ActivityLog(MemoryStore(), clock=Clock(BASE))
    entries = build_all(log, batch)
    return log, log.store.append(entries, log.chain) if entries else []


def distinct(entries: Sequence[Entry]) -> list[Entry]:
    """Stored entries without the repeats that idempotency keys return."""
    return list({e.id: e for e in entries}.values())


@PROPERTIES
@given(batch=record_batches(), data=st.data())
def test_paging_any_sort_visits_each_match_exactly_once(
    batch: list[dict[str, Any]], data: st.DataObject
) -> None:
    """For any filters, walking the pages of every sort yields each match once, in sort order."""
    log, stored = reference_log(batch)
    org = data.draw(orgs_of(stored), label="org")
    plan = data.draw(query_plans(of_org(stored, org)), label="plan")
    query = plan.apply(log, org, owner_of(org))
    matches = list(query)
    for sort, descending in SORTS:
        walked = [e.id for e in walk(query.sort(sort, descending), plan.size)]
        assert len(walked) == len(set(walked))
        assert walked == in_order(matches, sort, descending)
    assert query.count() == len(matches)


@PROPERTIES
@given(batch=record_batches(), data=st.data())
def test_search_equals_brute_force(batch: list[dict[str, Any]], data: st.DataObject) -> None:
    """A search finds exactly the entries whose label, description or actor name contain every
    casefolded word (checked against a brute-force filter)."""
    log, stored = reference_log(batch)
    org = data.draw(orgs_of(stored), label="org")
    plan = data.draw(query_plans(of_org(stored, org)), label="plan")
    query = log.query(org, viewer=owner_of(org)).search(plan.text)
    expected = [e for e in distinct(stored) if e.org_id == org and found_by(e, plan.text)]
    assert [e.id for e in walk(query, plan.size)] == in_order(expected, "date", True)


@PROPERTIES
@given(batch=record_batches(), data=st.data())
def test_filters_equal_brute_force(batch: list[dict[str, Any]], data: st.DataObject) -> None:
    """Search, categories, date range, target and actor together keep exactly the entries
    passing all of them (dates compared to the millisecond)."""
    log, stored = reference_log(batch)
    org = data.draw(orgs_of(stored), label="org")
    plan: QueryPlan = data.draw(query_plans(of_org(stored, org)), label="plan")
    query = plan.apply(log, org, owner_of(org))
    spec = query.spec()
    expected = [
        e
        for e in distinct(stored)
        if e.org_id == org
        and found_by(e, plan.text)
        and (not plan.categories or e.category in plan.categories)
        and (spec.since is None or ids.floor_ms(e.occurred_at) >= spec.since)
        and (spec.until is None or ids.floor_ms(e.occurred_at) < spec.until)
        and (plan.target is None or (
            e.target is not None and (e.target.type, e.target.id) == tuple(map(str, plan.target))
        ))
        and (plan.actor is None or e.actor.id == str(plan.actor))
    ]
    assert [e.id for e in walk(query, plan.size)] == in_order(
        expected, query.sort_field, query.descending
    )


@PROPERTIES
@given(batch=record_batches())
def test_one_org_never_sees_another(batch: list[dict[str, Any]]) -> None:
    """Each org's queries, counts and categories cover exactly its own entries."""
    log, stored = reference_log(batch)
    everything = distinct(stored)
    for org in ORGS:
        viewer = owner_of(org)
        own = {e.id for e in everything if e.org_id == org}
        listed = [e for e in walk(log.query(org, viewer=viewer), 4)]
        assert {e.id for e in listed} == own
        assert all(e.org_id == org for e in listed)
        assert sum(n for _, n in log.categories(org, viewer=viewer)) == len(own)
        assert {e.id for e in log.store.chain(org)} == own


def test_every_combining_mark_lies_below_the_scanned_range() -> None:
    """``search`` builds its classes of combining marks from the code points below
    ``MARKS_BELOW``; none lies above (with this Python's Unicode database)."""
    assert not [c for c in range(search.MARKS_BELOW, sys.maxunicode + 1)
                if unicodedata.combining(chr(c))]


_FOLDING = st.sampled_from(["\u0301", "\u0327", "\U0001d165", "\U0001e94a", "ı", "İ", "ﬁ",
                            "Æ", "Ø", "ß", "ǅ", "ẞ", "Ⅻ", "ｆ", "“", "\u00a0", *FOLDED_LETTERS])


@PROPERTIES
@given(text=st.text(st.characters(exclude_categories=("Cs",)) | _FOLDING, max_size=40))
def test_search_folding_is_the_documented_one_and_stable(text: str) -> None:
    """``search.normalize`` equals the documented steps for any Unicode text (its ASCII
    shortcut included), and folding twice changes nothing more."""
    folded = search.normalize(text)
    assert folded == fold(text)
    assert search.normalize(folded) == folded
