"""Conformance: Organizations and access, the integrity chain, and the history of one record or person."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from activitylog import (
    ActionRegistry,
    ActivityLog,
    Actor,
    Entry,
    InvalidCursor,
    InvalidQuery,
    PermissionDenied,
    Query,
    Role,
    Target,
    Viewer,
)
from activitylog.stores import GENESIS, ChainHead, QuerySpec, Store

from ._support import (
    ADA,
    ALL_KEYS,
    GRACE,
    ORG,
    OTHER_ORG,
    SORTS,
    START,
    Clock,
    expected_order,
    ids,
    mirror,
    rec,
    viewer_of,
    walk,
)

# -- organizations and access ---------------------------------------------------------------------------


def test_one_org_never_sees_another_orgs_entries(log: ActivityLog) -> None:
    """Queries, counts, categories and chains of one org hold only that org's entries."""
    orgs = [ORG, OTHER_ORG, "ACME", "acme ", "acm%", "ac_e", "a'c\"me"]
    made: dict[str, set[str]] = {org: set() for org in orgs}
    for i in range(14):
        org = orgs[i % len(orgs)]
        key = "same" if i < len(orgs) else None  # one use of the key per org
        made[org].add(rec(log, ALL_KEYS[i], org_id=org, idempotency_key=key).id)
        made[org].add(rec(log, ALL_KEYS[i + 1], org_id=org).id)
    for org in orgs:
        viewer = viewer_of(org)
        query = log.query(org, viewer=viewer)
        assert set(ids(walk(query, 3))) == made[org]
        assert query.count() == len(made[org])
        assert set(ids(walk(query.search("ada").sort("action"), 2))) == made[org]
        assert sum(n for _, n in log.categories(org, viewer=viewer)) == len(made[org])
        assert {e.id for e in log.store.chain(org)} == made[org]
        assert [e.seq for e in log.store.chain(org)] == list(range(1, len(made[org]) + 1))
        assert log.verify(org).ok
    assert log.store.org_ids() == sorted(orgs)


def test_members_and_other_orgs_viewers_are_denied(
    log: ActivityLog, owner: Viewer, admin: Viewer, member: Viewer
) -> None:
    """Members, strangers and anonymous callers get PermissionDenied; Owners and Admins read."""
    rec(log)
    for viewer in (member, viewer_of(OTHER_ORG), Viewer("u", "ACME", Role.OWNER), None):
        with pytest.raises(PermissionDenied):
            log.query(ORG, viewer=viewer)
        with pytest.raises(PermissionDenied):
            log.categories(ORG, viewer=viewer)
    with pytest.raises(PermissionDenied):
        log.verify(ORG, viewer=member)
    for viewer in (owner, admin, Viewer("u", ORG, "admin")):
        assert log.query(ORG, viewer=viewer).count() == 1
        assert log.categories(ORG, viewer=viewer) == [("Leads", 1)]


# -- integrity chain ---------------------------------------------------------------------------------------


def test_chain_head_and_org_ids_agree_with_the_reference(log: ActivityLog) -> None:
    """chain(), chain(after_seq), head() and org_ids() return what the reference store returns."""
    args = [
        {
            "action": ALL_KEYS[i],
            "org_id": (ORG, OTHER_ORG, "zeta")[i % 3],
            "actor": ADA,
            "occurred_at": START - timedelta(minutes=(i * 7) % 11),
            "metadata": {"i": i},
        }
        for i in range(25)
    ]
    reference, _ = mirror(log, args[:10])
    mirror_into(log, reference, args[10:])
    assert log.store.org_ids() == reference.store.org_ids() == sorted({ORG, OTHER_ORG, "zeta"})
    for org in (*reference.store.org_ids(), "nobody"):
        assert list(log.store.chain(org)) == list(reference.store.chain(org))
        for after in (0, 1, 3, 8, 9, 100):
            assert list(log.store.chain(org, after)) == list(reference.store.chain(org, after))
        assert log.store.head(org) == reference.store.head(org)
    first = next(log.store.chain(ORG))
    assert first.seq == 1 and first.prev_hash == GENESIS


def mirror_into(log: ActivityLog, reference: ActivityLog, args: Sequence[dict[str, Any]]) -> None:
    """Append more built entries into both ``log`` and ``reference``, checking they agree."""
    built = [log.build(a["action"], **{k: v for k, v in a.items() if k != "action"}) for a in args]
    assert log.store.append(built, log.chain) == reference.store.append(built, reference.chain)


def test_verify_is_ok_on_untouched_data(store: Store, clock: Clock) -> None:
    """verify() passes on untouched logs, keyed or not, and on an org with no entries."""
    for key in (None, "s3cret"):
        log = ActivityLog(store, clock=clock, integrity_key=key)
        org = f"org-{key}"
        for i, action in enumerate(ALL_KEYS[:20]):
            rec(log, action, org_id=org, occurred_at=START - timedelta(seconds=i % 4))
        log.record_many([{"action": "lead.created", "org_id": org, "actor": ADA}] * 3)
        report = log.verify(org)
        assert report.ok, report
        assert report.checked == 23
        checkpoint = log.checkpoint(org)
        rec(log, "lead.deleted", org_id=org)
        assert log.verify(org, since=checkpoint).ok
    assert ActivityLog(store, clock=clock).verify("empty-org").ok


def test_concurrent_writers_keep_one_gapless_chain(log: ActivityLog, owner: Viewer) -> None:
    """Several threads recording at once never fork or break the chain."""

    def work(n: int) -> None:
        for i in range(15):
            rec(log, ALL_KEYS[(n * 15 + i) % len(ALL_KEYS)], actor=Actor(f"t{n}", f"Thread {n}"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(work, n) for n in range(4)]:
            future.result()
    assert log.query(ORG, viewer=owner).count() == 60
    assert [e.seq for e in log.store.chain(ORG)] == list(range(1, 61))
    assert len(set(ids(walk(log.query(ORG, viewer=owner), 7)))) == 60
    assert log.verify(ORG).ok


def test_store_page_honours_the_spec_limit_and_after(log: ActivityLog) -> None:
    """Store.page() returns at most ``limit`` entries, strictly after ``after``; count ignores both."""
    recorded = [rec(log, occurred_at=START - timedelta(seconds=i % 2)) for i in range(6)]
    order = expected_order(recorded, "date", True)
    spec = QuerySpec(org_id=ORG, limit=2)
    assert ids(log.store.page(spec)) == order[:2]
    after = (int(order[1], 16),)
    assert ids(log.store.page(attrs.evolve(spec, after=after))) == order[2:4]
    assert log.store.count(attrs.evolve(spec, after=after, limit=1)) == 6


def test_appending_nothing_changes_nothing(log: ActivityLog) -> None:
    """Appending an empty list returns an empty list and leaves heads and orgs alone."""
    entry = rec(log)
    assert log.store.append([], log.chain) == []
    assert log.store.org_ids() == [ORG]
    assert log.store.head(ORG) == ChainHead(1, entry.hash)


def test_without_integrity_entries_carry_no_hash_like_the_reference(
    store: Store, clock: Clock
) -> None:
    """With integrity off, entries get seq and GENESIS links but no hash, as in the reference;
    turning it on later starts hashing from GENESIS."""
    plain = ActivityLog(store, clock=clock, integrity=False)
    args = [{"action": ALL_KEYS[i], "org_id": ORG, "actor": ADA} for i in range(4)]
    reference, stored = mirror(plain, args)
    assert [(e.seq, e.prev_hash, e.hash) for e in stored] == [
        (i, GENESIS, None) for i in (1, 2, 3, 4)
    ]
    assert store.head(ORG) == reference.store.head(ORG)
    hashed = ActivityLog(store, clock=clock)
    more = [hashed.build("lead.deleted", org_id=ORG, actor=ADA)]
    assert store.append(more, hashed.chain) == reference.store.append(more, hashed.chain)
    assert list(store.chain(ORG)) == list(reference.store.chain(ORG))
    assert store.head(ORG) == reference.store.head(ORG)


def test_between_extreme_instants_answers_like_the_reference(log: ActivityLog) -> None:
    """Ranges reaching far before 1970 or past 2100 find exactly what the reference finds."""
    utc = timezone.utc
    moments = [
        datetime(1970, 1, 1, tzinfo=utc),
        datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=utc),
        START,
        datetime(2099, 12, 31, 23, 59, 59, 999_999, tzinfo=utc),
    ]
    args = [
        {"action": "lead.created", "org_id": ORG, "actor": ADA, "occurred_at": m} for m in moments
    ]
    reference, _ = mirror(log, args)
    edges = [
        None,
        datetime(1, 1, 1, tzinfo=utc),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=utc),
        *moments,
        datetime(2100, 1, 1, tzinfo=utc),
        datetime(2112, 9, 17, tzinfo=utc),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=utc),
    ]
    for start in edges:
        for end in edges:
            if start is not None and end is not None and start >= end:
                continue
            for sort, descending in SORTS:
                query = log.query(ORG, viewer=viewer_of(ORG)).between(start, end)
                expected = reference.query(ORG, viewer=viewer_of(ORG)).between(start, end)
                query, expected = query.sort(sort, descending), expected.sort(sort, descending)
                assert ids(walk(query, 2)) == ids(walk(expected, 2)), (start, end)
                assert query.count() == expected.count()


def test_equal_labels_of_different_actions_tie_break_by_id(
    store: Store, clock: Clock, owner: Viewer
) -> None:
    """Two actions sharing a label sort together, ordered by id within the label."""
    registry = ActionRegistry()
    registry.register("custom.one", label="Same", category="Leads")
    registry.register("custom.two", label="Same", category="Tasks")
    log = ActivityLog(store, registry=registry, clock=clock)
    recorded = [rec(log, ("custom.one", "custom.two")[i % 2]) for i in range(6)]
    for descending in (False, True):
        got = walk(log.query(ORG, viewer=owner).sort("action", descending=descending), 4)
        assert ids(got) == expected_order(recorded, "action", descending)
    assert log.categories(ORG, viewer=owner) == [("Leads", 3), ("Tasks", 3)]


# -- history of one record, activity of one person ------------------------------------------------


def history_log(log: ActivityLog, clock: Clock) -> dict[str, list[Entry]]:
    """Entries about two leads (one id given as an int), a client sharing an id, by three people."""
    made: dict[str, list[Entry]] = {"lead42": [], "lead7": [], "client42": [], "none": []}
    people = (ADA, GRACE, Actor(42, "Numbered"))
    for i in range(24):
        clock.advance(minutes=7)
        who = people[i % 3]
        if i % 4 == 0:
            made["lead42"].append(rec(log, "lead.updated", actor=who,
                                      target=Target("lead", 42, "Acme"),
                                      changes={"status": ("New", f"S{i}")}))
        elif i % 4 == 1:
            made["lead7"].append(rec(log, "lead.deleted", actor=who, target=Target("lead", "7")))
        elif i % 4 == 2:
            made["client42"].append(rec(log, "client.created", actor=who,
                                        target=Target("client", "42", "Acme Client")))
        else:
            made["none"].append(rec(log, "member.joined", actor=who))
    rec(log, "lead.updated", org_id=OTHER_ORG, target=Target("lead", "42"))
    return made


def test_target_history_with_every_filter_sort_and_page_size(
    log: ActivityLog, clock: Clock, owner: Viewer
) -> None:
    """.target(type, id) keeps exactly that record's entries (type and id both matter, int ids
    as text), combined with search, category, dates, actor and every sort, paged by cursor."""
    made = history_log(log, clock)
    every = [e for group in made.values() for e in group]
    query = log.query(ORG, viewer=owner)
    lead42 = query.target("lead", 42)
    assert set(ids(walk(lead42, 2))) == set(ids(made["lead42"]))
    assert query.target("lead", "42").count() == len(made["lead42"])
    assert set(ids(walk(query.target("client", 42), 3))) == set(ids(made["client42"]))
    assert query.target("lead", "4").count() == 0
    assert query.target("Lead", "42").count() == 0  # types are compared exactly
    middle = sorted(e.occurred_at for e in every)[len(every) // 2]
    variants: list[tuple[Query, Callable[[Entry], bool]]] = [
        (lead42.search("numbered"), lambda e: e.actor.name == "Numbered"),
        (lead42.actor(42), lambda e: e.actor.id == "42"),
        (lead42.actor("u-ada"), lambda e: e.actor.id == "u-ada"),
        (lead42.category("Leads"), lambda e: True),
        (lead42.category("Clients"), lambda e: False),
        (lead42.between(middle, None), lambda e: e.occurred_at >= middle),
        (lead42.between(None, middle), lambda e: e.occurred_at < middle),
        (lead42.date("today"), lambda e: True),
        (lead42.search("s12"), lambda e: "S12" in e.description),
    ]
    for variant, keep in variants:
        expected = [e for e in made["lead42"] if keep(e)]
        for sort, descending in (("date", True), ("date", False), ("action", True),
                                 ("action", False)):
            sorted_variant = variant.sort(sort, descending)
            assert ids(walk(sorted_variant, 2)) == expected_order(expected, sort, descending)
            assert sorted_variant.count() == len(expected)


def test_actor_activity_with_every_filter(log: ActivityLog, clock: Clock, owner: Viewer) -> None:
    """.actor(id) keeps exactly what that person did, with any other filter and sort."""
    made = history_log(log, clock)
    every = [e for group in made.values() for e in group]
    query = log.query(ORG, viewer=owner)
    for actor_id in ("u-ada", "u-grace", "42", 42):
        mine = [e for e in every if e.actor.id == str(actor_id)]
        assert ids(walk(query.actor(actor_id), 4)) == expected_order(mine, "date", True)
        assert query.actor(actor_id).count() == len(mine)
        leads = [e for e in mine if e.category == "Leads"]
        assert ids(walk(query.actor(actor_id).category("Leads").sort("action"), 3)) == (
            expected_order(leads, "action", False)
        )
        deleted = [e for e in mine if e.action == "lead.deleted"]
        assert set(ids(walk(query.actor(actor_id).search("deleted"), 2))) == set(ids(deleted))
    assert query.actor("u-nobody").count() == 0
    assert query.actor("U-ADA").count() == 0  # ids are compared exactly


def test_target_and_actor_cursors_belong_to_their_query(
    log: ActivityLog, clock: Clock, owner: Viewer
) -> None:
    """A cursor from one record's history cannot page another record's, or another actor's."""
    history_log(log, clock)
    query = log.query(ORG, viewer=owner)
    cursor = query.target("lead", 42).page(1).next_cursor
    assert cursor is not None
    with pytest.raises(InvalidCursor):
        query.target("lead", 7).page(1, after=cursor)
    with pytest.raises(InvalidCursor):
        query.page(1, after=cursor)
    by_ada = query.actor("u-ada").page(1).next_cursor
    assert by_ada is not None
    with pytest.raises(InvalidCursor):
        query.actor("u-grace").page(1, after=by_ada)


@pytest.mark.parametrize(
    "call",
    [lambda q: q.target("", "1"), lambda q: q.target("lead", ""), lambda q: q.target(None, 1),
     lambda q: q.target("lead", None), lambda q: q.target("lead", True),
     lambda q: q.target("lead", "a\x00"), lambda q: q.actor(""), lambda q: q.actor(None),
     lambda q: q.actor(3.5), lambda q: q.actor("\ud800")],
)
def test_target_and_actor_refuse_bad_values(log: ActivityLog, owner: Viewer, call: Any) -> None:
    """Empty, missing or wrong-typed targets and actor ids raise InvalidQuery."""
    with pytest.raises(InvalidQuery):
        call(log.query(ORG, viewer=owner))
