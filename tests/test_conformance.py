"""The conformance suite: every behaviour of the Activity Log, run against every store.

Each test takes the ``log`` fixture (an :class:`ActivityLog` on a fresh store of the kind under
test, with a fixed clock), so a new store passes when this file passes on it. Where a result is
easier to state as "what the in-memory reference store says", the test records the same entries
into a reference log too and compares.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from activitylog import (
    MAX_METADATA_BYTES,
    ActionRegistry,
    ActivityLog,
    Actor,
    ActorKind,
    ApiKeyRef,
    DateBucket,
    Entry,
    IdempotencyConflict,
    InvalidCursor,
    InvalidEntry,
    InvalidQuery,
    MetadataError,
    NaiveDatetime,
    PermissionDenied,
    Query,
    Role,
    Source,
    StoreError,
    Target,
    UnknownCategory,
    Viewer,
)
from activitylog import ids as id_scheme
from activitylog.integrity import canonical
from activitylog.search import MAX_SEARCH_CHARS, MAX_SEARCH_WORDS
from activitylog.stores import GENESIS, ChainHead, QuerySpec, Store
from conftest import ORG, OTHER_ORG, START, Clock

ADA = Actor("u-ada", "Ada Lovelace")
GRACE = Actor("u-grace", "Grace Hopper")
LEAD = Target("lead", "42", "Acme Corp")
ALAN = Actor("u-alan", "Alan Turing")
ALL_KEYS = tuple(a.key for a in ActionRegistry())
SORTS = (("date", True), ("date", False), ("action", True), ("action", False))


# -- helpers ---------------------------------------------------------------------------------


def rec(log: ActivityLog, action: str = "lead.created", **fields: Any) -> Entry:
    """Record into ``ORG`` as Ada unless told otherwise."""
    fields.setdefault("org_id", ORG)
    fields.setdefault("actor", ADA)
    return log.record(action, **fields)


def walk(query: Query, size: int, cursor: str | None = None) -> list[Entry]:
    """Every entry of ``query`` (after ``cursor``), page by page through the cursors."""
    seen: list[Entry] = []
    cursors: set[str | None] = set()
    while True:
        assert cursor not in cursors, "paging came back to a page it already gave"
        cursors.add(cursor)
        page = query.page(size, after=cursor)
        assert len(page) <= size
        seen.extend(page.entries)
        if page.next_cursor is None:
            return seen
        assert len(page) == size, "only the last page may be short"
        cursor = page.next_cursor


def ids(entries: Iterable[Entry]) -> list[str]:
    """The ids of ``entries`` in order."""
    return [e.id for e in entries]


def viewer_of(org: str) -> Viewer:
    """An Owner of ``org``."""
    return Viewer("u-owner", org, Role.OWNER)


def expected_order(entries: Iterable[Entry], sort: str, descending: bool) -> list[str]:
    """Ids in the documented order: by id, or by (label, id); both parts in one direction."""
    if sort == "date":
        ordered = sorted(entries, key=lambda e: int(e.id, 16), reverse=descending)
    else:
        ordered = sorted(entries, key=lambda e: (e.label, int(e.id, 16)), reverse=descending)
    return ids(ordered)


def mirror(log: ActivityLog, args: Sequence[dict[str, Any]]) -> tuple[ActivityLog, list[Entry]]:
    """Build entries once and append them to ``log``'s store and to a fresh reference log.

    Returns the reference log and the entries as ``log``'s store stored them (asserted equal to
    what the reference stored).
    """
    reference = ActivityLog(clock=log.clock)
    built = [log.build(a["action"], **{k: v for k, v in a.items() if k != "action"}) for a in args]
    stored = log.store.append(built, log.chain)
    expected = reference.store.append(built, log.chain)
    assert stored == expected
    return reference, stored


def tamper(cursor: str, key: Any) -> str:
    """``cursor`` with its keyset replaced by ``key`` (the fingerprint kept)."""
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw["k"] = key
    text = json.dumps(raw).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def outcome(query: Query, size: int, after: str) -> list[str] | str:
    """The ids a page holds, or the name of the error it raises."""
    try:
        return ids(query.page(size, after=after))
    except InvalidCursor:
        return "InvalidCursor"


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
    for key in ([], ["x"], [1.5], [1, 2], "12", None, {"a": 1}):
        with pytest.raises(InvalidCursor):
            by_date.page(1, after=tamper(date_cursor, key))
    for key in ([], [1], [1, 2], ["x", "y"], ["x", 1.5], [None, 1]):
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


# -- search ----------------------------------------------------------------------------------------


def search_ids(log: ActivityLog, text: str, org: str = ORG) -> set[str]:
    """Ids of every entry of ``org`` a search for ``text`` finds (walked through pages)."""
    query = log.query(org, viewer=viewer_of(org)).search(text)
    found = walk(query, 7)
    assert query.count() == len(found)
    return set(ids(found))


def test_search_is_case_insensitive_with_unicode_casefold(log: ActivityLog) -> None:
    """Search folds case the Unicode way: ADA finds Ada, STRASSE finds Straße, ΣΊΣΥΦΟΣ finds σίσυφος."""
    ada = rec(log, actor=ADA)
    strasse = rec(log, actor=Actor("u-s", "Hans Straße"))
    sisyphus = rec(log, actor=Actor("u-g", "σίσυφος"))
    full = rec(log, actor=Actor("u-f", "ＦＵＬＬ Width"))
    assert search_ids(log, "ADA") == {ada.id}
    assert search_ids(log, "lOvElAcE") == {ada.id}
    assert search_ids(log, "STRASSE") == {strasse.id}
    assert search_ids(log, "straße") == {strasse.id}
    assert search_ids(log, "ss") == {strasse.id}
    assert search_ids(log, "ΣΊΣΥΦΟΣ") == {sisyphus.id}
    assert search_ids(log, "ｆｕｌｌ") == {full.id}
    assert search_ids(log, "full") == {full.id}  # compatibility normalization


def test_search_folding_edge_cases_match_the_definition(log: ActivityLog) -> None:
    """Dotted İ, dotless ı, ligatures and combining marks fold as documented: NFKD, casefold,
    combining marks removed, ı to i."""
    istanbul = rec(log, actor=Actor("u-i", "İstanbul"))
    dotless = rec(log, actor=Actor("u-d", "ılık"))
    ligature = rec(log, actor=Actor("u-l", "ﬁnance"))
    combining = rec(log, actor=Actor("u-c", "Jose\u0301"))
    precomposed = rec(log, actor=Actor("u-p", "José"))
    everyone = {istanbul.id, dotless.id, ligature.id, combining.id, precomposed.id}
    assert search_ids(log, "i\u0307stanbul") == {istanbul.id}  # "İ".casefold()
    assert search_ids(log, "stanbul") == {istanbul.id}
    assert search_ids(log, "İ") == {istanbul.id, dotless.id, ligature.id}  # every i
    assert search_ids(log, "ılık") == {dotless.id}
    assert search_ids(log, "ILIK") == {dotless.id}
    assert search_ids(log, "FINANCE") == {ligature.id}
    assert search_ids(log, "ﬁ") == {ligature.id}
    assert search_ids(log, "josé") == {precomposed.id, combining.id}
    assert search_ids(log, "Jose\u0301") == {precomposed.id, combining.id}
    assert search_ids(log, "\u0301") == everyone  # nothing left to look for
    assert search_ids(log, "jose") == {precomposed.id, combining.id}
    assert search_ids(log, "created") == everyone


def test_search_ignores_case_and_diacritics(log: ActivityLog) -> None:
    """The searches people type find the names they stored, and the other way round."""
    names = ["Müller", "Café", "Cafe\u0301", "İstanbul", "Yılmaz", "ŞİŞLİ", "Øresund",
             "Łódź", "Æsir"]
    made = {name: rec(log, actor=Actor(f"u-{i}", name)).id for i, name in enumerate(names)}
    assert search_ids(log, "muller") == {made["Müller"]}
    assert search_ids(log, "MÜLLER") == {made["Müller"]}
    assert search_ids(log, "cafe") == {made["Café"], made["Cafe\u0301"]}
    assert search_ids(log, "café") == {made["Café"], made["Cafe\u0301"]}
    assert search_ids(log, "istanbul") == {made["İstanbul"]}
    assert search_ids(log, "yilmaz") == {made["Yılmaz"]}
    assert search_ids(log, "YILMAZ") == {made["Yılmaz"]}
    assert search_ids(log, "sisli") == {made["ŞİŞLİ"]}
    assert search_ids(log, "şişli") == {made["ŞİŞLİ"]}
    assert search_ids(log, "oresund") == {made["Øresund"]}
    assert search_ids(log, "lodz") == {made["Łódź"]}
    assert search_ids(log, "aesir") == {made["Æsir"]}


def test_search_limits_raise_invalid_query_naming_the_limit(log: ActivityLog) -> None:
    """Thousands of words, or a very long text, raise InvalidQuery with the limit; at the
    limits the search runs."""
    rec(log)
    query = log.query(ORG, viewer=viewer_of(ORG))
    words = [f"w{i}" for i in range(5000)]
    with pytest.raises(InvalidQuery, match=f"limit is {MAX_SEARCH_WORDS}"):
        query.search(" ".join(words[: MAX_SEARCH_WORDS + 1]))
    with pytest.raises(InvalidQuery, match=f"limit is {MAX_SEARCH_CHARS}"):
        query.search(" ".join(words))
    with pytest.raises(InvalidQuery, match="must be a string"):
        query.search(None)  # type: ignore[arg-type]
    assert query.search(" ".join(["ada"] * 200)).count() == 1  # one word, repeated
    many = query.search(" ".join(["lovelace", *words[: MAX_SEARCH_WORDS - 1]]))
    assert many.page().entries == ()
    longest = "ada " + "x" * (MAX_SEARCH_CHARS - 4)
    assert query.search(longest).count() == 0


def test_search_requires_every_word(log: ActivityLog) -> None:
    """Several words narrow the search: each must occur somewhere in the entry."""
    ada_lead = rec(log, "lead.created", actor=ADA)
    ada_task = rec(log, "task.created", actor=ADA)
    grace_lead = rec(log, "lead.created", actor=GRACE)
    assert search_ids(log, "ada") == {ada_lead.id, ada_task.id}
    assert search_ids(log, "ada lead") == {ada_lead.id}
    assert search_ids(log, "  lead \t ADA\n") == {ada_lead.id}
    assert search_ids(log, "lead created") == {ada_lead.id, grace_lead.id}
    assert search_ids(log, "lead hopper") == {grace_lead.id}
    assert search_ids(log, "lead nobody") == set()
    assert search_ids(log, "ada ada ada") == {ada_lead.id, ada_task.id}


def test_blank_search_matches_everything(log: ActivityLog) -> None:
    """An empty or whitespace-only search filters nothing."""
    recorded = {rec(log, a).id for a in ALL_KEYS[:5]}
    assert search_ids(log, "") == recorded
    assert search_ids(log, " \t\n\u3000") == recorded


def test_search_metacharacters_are_literal(log: ActivityLog) -> None:
    """% _ " ' \\ * ? [ ] ^ match only themselves, never as wildcards or syntax."""
    names = {
        "pct": "100% Sure",
        "under": "snake_case",
        "dq": 'Dwayne "The Rock"',
        "sq": "O'Brien",
        "bs": "back\\slash",
        "star": "Star*Lord",
        "q": "Who?",
        "br": "[bracket]",
        "caret": "x^y",
        "plain": "abc abbc aXc",
    }
    made = {k: rec(log, "note.created", actor=Actor(f"u-{k}", v)).id for k, v in names.items()}
    assert search_ids(log, "%") == {made["pct"]}
    assert search_ids(log, "0%") == {made["pct"]}
    assert search_ids(log, "_") == {made["under"]}
    assert search_ids(log, "e_c") == {made["under"]}
    assert search_ids(log, "a_c") == set()
    assert search_ids(log, "a%c") == set()
    assert search_ids(log, '"') == {made["dq"]}
    assert search_ids(log, '"the') == {made["dq"]}
    assert search_ids(log, "'") == {made["sq"]}
    assert search_ids(log, "o'brien") == {made["sq"]}
    assert search_ids(log, "\\") == {made["bs"]}
    assert search_ids(log, "k\\s") == {made["bs"]}
    assert search_ids(log, "*") == {made["star"]}
    assert search_ids(log, "a*c") == set()
    assert search_ids(log, "?") == {made["q"]}
    assert search_ids(log, "a?c") == set()
    assert search_ids(log, "[b") == {made["br"]}
    assert search_ids(log, "[a-z]") == set()
    assert search_ids(log, "^") == {made["caret"]}
    assert search_ids(log, "%%") == set()
    assert search_ids(log, "__") == set()


def test_sql_and_fts_syntax_in_search_is_literal(log: ActivityLog) -> None:
    """SQL injection attempts and FTS query syntax are searched for as plain text."""
    normal = rec(log, "lead.created", actor=ADA)
    odd = rec(log, "lead.created", actor=Actor("u-x", "Robert'); DROP TABLE entries;--"))
    for text in (
        "' OR '1'='1",
        '" OR ""="',
        "1=1 OR",
        "lead* NOT ada",
        "NEAR(lead ada)",
        "lead OR",
        "AND",
        "-ada",
        "^lead",
        "description:lead",
        "{label}",
        "ada)",
    ):
        assert search_ids(log, text) == set(), text
    assert search_ids(log, "'); drop table entries;--") == {odd.id}
    assert search_ids(log, "Robert');") == {odd.id}
    assert search_ids(log, "lead") == {normal.id, odd.id}


def test_search_deleted_finds_every_deletion(log: ActivityLog, clock: Clock) -> None:
    """Searching "deleted" finds every entry of every "… Deleted" action, and nothing else."""
    made: dict[str, str] = {}
    for key in ALL_KEYS:
        made[key] = rec(log, key, actor=GRACE, target=Target("thing", "1", "Thing")).id
        clock.advance(seconds=1)
    deletions = {made[k] for k in ALL_KEYS if k.endswith("deleted")}
    assert len(deletions) >= 15
    assert search_ids(log, "deleted") == deletions
    assert search_ids(log, "DELETED") == deletions


def test_a_members_name_finds_what_they_did(log: ActivityLog) -> None:
    """Searching a person's name finds the actions they performed (and nothing by others)."""
    by_grace = {
        rec(log, a, actor=GRACE).id
        for a in ("lead.created", "task.deleted", "subscription.plan_changed")
    }
    for action in ("lead.created", "client.updated"):
        rec(log, action, actor=ADA)
        rec(log, action, actor=ALAN)
    assert search_ids(log, "Grace Hopper") == by_grace
    assert search_ids(log, "hopper") == by_grace
    assert search_ids(log, "grace hop") == by_grace


def test_short_search_terms_match(log: ActivityLog) -> None:
    """One- and two-character words match like any other substring."""
    ada = rec(log, "lead.created", actor=ADA)
    alan = rec(log, "task.created", actor=ALAN)
    li = rec(log, "note.created", actor=Actor("u-li", "Li Xu"))
    emoji = rec(log, "note.created", actor=Actor("u-e", "Bo 🚀"))
    assert search_ids(log, "xu") == {li.id}
    assert search_ids(log, "Li") == {li.id}
    assert search_ids(log, "ad") == {ada.id}
    assert search_ids(log, "tu") == {alan.id}
    assert search_ids(log, "🚀") == {emoji.id}
    assert search_ids(log, "o 🚀") == {emoji.id}
    assert search_ids(log, "q") == set()
    assert search_ids(log, "z") == set()


def test_two_character_words_at_field_ends_and_beyond_the_bmp(log: ActivityLog) -> None:
    """Two-character words match at the very end of a field, and may be emoji or combining marks;
    a two-character word spanning two fields never matches."""
    end = rec(log, "note.created", actor=Actor("u-1", "Bo Qz"))
    astral = rec(log, "note.created", actor=Actor("u-2", "x 🚀🛸"))
    combining = rec(log, "note.created", actor=Actor("u-3", "Rene\u0301"))
    label_end = rec(log, "lead.deleted", actor=Actor("u-4", "Yu"), description="Wiped")
    assert search_ids(log, "qz") == {end.id}
    assert search_ids(log, "🚀🛸") == {astral.id}
    assert search_ids(log, "🛸") == {astral.id}
    assert search_ids(log, "ne\u0301") == {combining.id}  # folds to "ne"
    assert search_ids(log, "yu") == {label_end.id}
    assert search_ids(log, "dw") == set()  # label "…Deleted" + description "Wiped…"
    assert search_ids(log, "dy") == set()  # description "…wiped" + actor "Yu"


def test_a_two_character_word_shared_by_hundreds_of_trigrams_finds_every_entry(
    log: ActivityLog,
) -> None:
    """A short word followed by hundreds of different characters still finds every entry."""
    made = log.record_many(
        {"action": "note.created", "org_id": ORG, "actor": Actor(f"u{i}", f"Ab{chr(0x4E00 + i)}")}
        for i in range(300)
    )
    other = rec(log, "note.created", actor=Actor("u-x", "Zed"))
    assert search_ids(log, "ab") == set(ids(made))
    assert search_ids(log, "AB") == set(ids(made))
    assert search_ids(log, "b" + chr(0x4E00 + 7)) == {made[7].id}
    assert search_ids(log, "ze") == {other.id}
    assert search_ids(log, "ab ze") == set()


def test_search_words_no_entry_can_hold_find_nothing(log: ActivityLog) -> None:
    """Words with NUL or lone surrogates match nothing (and never everything)."""
    rec(log, actor=ADA)
    rec(log, actor=Actor("u-b", "Bob"))
    for text in (
        "\x00",
        "a\x00b",
        "ada\x00",
        "\x00ada",
        "ad\x00",
        "\ud800",
        "ad\udfff",
        "ada \x00",
    ):
        assert search_ids(log, text) == set(), repr(text)


def test_orgs_no_entry_can_belong_to_are_empty(log: ActivityLog) -> None:
    """Reading an org id with NUL or lone surrogates finds an empty log rather than failing."""
    rec(log)
    for org in ("ac\x00me", "acme\x00", "\ud800", "acm\udce9"):
        viewer = viewer_of(org)
        assert log.query(org, viewer=viewer).page().entries == ()
        assert log.query(org, viewer=viewer).search("ada").count() == 0
        assert log.categories(org, viewer=viewer) == []
        assert list(log.store.chain(org)) == []
        assert log.store.head(org) is None
        assert log.verify(org).ok


def test_search_terms_never_match_across_fields(log: ActivityLog) -> None:
    """A word only matches inside one field: the end of one and start of the next never join."""
    entry = rec(log, "lead.deleted", actor=ADA, description="Removed stale lead")
    assert search_ids(log, "deleted") == {entry.id}
    assert search_ids(log, "leadremoved") == set()  # label "…Deleted" + description "Removed…"
    assert search_ids(log, "deletedremoved") == set()
    assert search_ids(log, "leadada") == set()  # description "…lead" + actor "Ada…"
    assert search_ids(log, "deleted\nremoved") == {entry.id}  # whitespace splits the words


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


# -- idempotency ------------------------------------------------------------------------------------


def test_idempotency_key_returns_the_first_entry(
    log: ActivityLog, clock: Clock, owner: Viewer
) -> None:
    """Retrying with a used idempotency key (later) returns the first entry and stores nothing."""
    first = rec(log, "lead.created", target=LEAD, idempotency_key="req-1")
    clock.advance(minutes=5)
    again = rec(log, "lead.created", target=LEAD, idempotency_key="req-1")
    assert again == first
    assert log.query(ORG, viewer=owner).count() == 1
    other = rec(log, "lead.created", idempotency_key="req-2")
    assert other.id != first.id
    assert log.query(ORG, viewer=owner).count() == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"action": "lead.deleted"}, "action"),
        ({"target": Target("lead", "43", "Other")}, "target"),
        ({"metadata": {"plan": "pro"}}, "metadata"),
        ({"changes": {"status": ("New", "Won")}}, "changes"),
        ({"description": "something else"}, "description"),
        ({"actor": Actor("u9", "Grace Hopper")}, "actor"),
        ({"source": "api"}, "source"),
    ],
)
def test_idempotency_key_reused_for_another_entry_is_refused(
    log: ActivityLog, owner: Viewer, change: dict[str, Any], field: str
) -> None:
    """A key reused with a different action, target or content raises IdempotencyConflict
    naming what differs, and stores nothing (alone, in record_many() or in a batch)."""
    base: dict[str, Any] = {"action": "lead.created", "target": LEAD, "idempotency_key": "k"}
    first = rec(log, **base)
    other = {**base, **change}
    with pytest.raises(IdempotencyConflict, match=f"'k'.*{field}"):
        rec(log, **other)
    with pytest.raises(IdempotencyConflict):
        log.record_many([{"org_id": ORG, "actor": ADA, **other}])
    with pytest.raises(IdempotencyConflict), log.batch():
        rec(log, "task.created")
        rec(log, **other)
    assert ids(log.query(ORG, viewer=owner).page()) == [first.id]
    assert log.verify(ORG).ok


def test_idempotency_key_reused_inside_one_batch(log: ActivityLog, owner: Viewer) -> None:
    """Inside batch(), two records with one key return the same entry; a conflict raises."""
    with log.batch() as batch:
        a = rec(log, target=LEAD, idempotency_key="k")
        b = rec(log, target=LEAD, idempotency_key="k")
        assert b is a
        with pytest.raises(IdempotencyConflict):
            rec(log, "lead.deleted", target=LEAD, idempotency_key="k")
    assert [e.id for e in batch.entries] == [a.id]
    assert log.query(ORG, viewer=owner).count() == 1


def test_idempotency_keys_are_per_organization(log: ActivityLog, owner: Viewer) -> None:
    """Another org using the same idempotency key records a new entry of its own."""
    ours = rec(log, idempotency_key="shared")
    theirs = rec(log, org_id=OTHER_ORG, idempotency_key="shared")
    assert theirs.id != ours.id
    assert theirs.org_id == OTHER_ORG
    assert theirs.seq == 1
    assert rec(log, org_id=OTHER_ORG, idempotency_key="shared") == theirs
    assert log.query(ORG, viewer=owner).count() == 1
    assert log.query(OTHER_ORG, viewer=viewer_of(OTHER_ORG)).count() == 1


def test_idempotency_key_repeated_within_one_batch(log: ActivityLog, owner: Viewer) -> None:
    """A key repeated inside one record_many() returns the first entry of the call."""
    stored = log.record_many(
        [
            {"action": "lead.created", "org_id": ORG, "actor": ADA, "idempotency_key": "k"},
            {"action": "task.created", "org_id": ORG, "actor": ADA},
            {"action": "lead.created", "org_id": ORG, "actor": ADA, "idempotency_key": "k"},
        ]
    )
    assert stored[2] == stored[0]
    assert [e.seq for e in stored] == [1, 2, 1]
    assert log.query(ORG, viewer=owner).count() == 2


# -- atomic writes -----------------------------------------------------------------------------------


def test_record_many_with_an_invalid_item_stores_nothing(log: ActivityLog, owner: Viewer) -> None:
    """If any item of record_many() is invalid, no item is stored."""
    rec(log)
    items = [
        {"action": "lead.created", "org_id": ORG, "actor": ADA},
        {"action": "lead.created", "org_id": ORG, "actor": ADA, "metadata": {"x": object()}},
    ]
    with pytest.raises(MetadataError):
        log.record_many(items)
    with pytest.raises(InvalidEntry):
        log.record_many([items[0], {"org_id": ORG, "actor": ADA}])
    assert log.query(ORG, viewer=owner).count() == 1
    head = log.store.head(ORG)
    assert head is not None and head.seq == 1


def test_batch_is_written_at_its_end_or_not_at_all(log: ActivityLog, owner: Viewer) -> None:
    """A batch writes every entry when it ends, and nothing when its block raises."""
    query = log.query(ORG, viewer=owner)
    with log.batch() as batch:
        rec(log, "lead.created")
        rec(log, "lead.updated")
        assert query.count() == 0
    assert query.count() == 2
    assert [e.seq for e in batch.entries] == [1, 2]
    with pytest.raises(InvalidEntry), log.batch():
        rec(log, "lead.deleted")
        rec(log, "lead.deleted", metadata={"x": object()})
    with pytest.raises(RuntimeError), log.batch():
        rec(log, "lead.deleted")
        raise RuntimeError("the host's operation failed")
    assert query.count() == 2
    assert log.verify(ORG).ok


class FailingChain:
    """Links like the log's chain, then fails at the ``fail_at``-th link."""

    def __init__(self, log: ActivityLog, fail_at: int) -> None:
        assert log.chain is not None
        self._chain = log.chain
        self._left = fail_at

    def link(self, prev_hash: str, entry: Entry) -> str:
        self._left -= 1
        if self._left == 0:
            raise RuntimeError("link failed")
        return self._chain.link(prev_hash, entry)


def test_append_failing_midway_stores_nothing(log: ActivityLog, owner: Viewer) -> None:
    """A failure in the middle of an append leaves the store as it was (no entries, no head)."""
    rec(log, "lead.created")
    entries = [log.build("task.created", org_id=org, actor=ADA) for org in (ORG, OTHER_ORG, ORG)]
    with pytest.raises((RuntimeError, StoreError)):
        log.store.append(entries, FailingChain(log, fail_at=3))
    assert log.query(ORG, viewer=owner).count() == 1
    assert log.store.org_ids() == [ORG]
    assert log.store.head(OTHER_ORG) is None
    head = log.store.head(ORG)
    assert head is not None and head.seq == 1
    again = log.store.append(entries, log.chain)
    assert [e.seq for e in again] == [2, 1, 3]
    assert log.verify(ORG).ok and log.verify(OTHER_ORG).ok


def test_colliding_ids_move_up_within_their_millisecond(log: ActivityLog, owner: Viewer) -> None:
    """An id that is already taken is moved up within its millisecond, exactly as the reference does."""
    built = [log.build("lead.created", org_id=ORG, actor=ADA, occurred_at=START) for _ in range(4)]
    base = id_scheme.floor_id(START)
    clashing = [attrs.evolve(e, id=format(base | 5, "016x")) for e in built]
    reference = ActivityLog()
    expected = reference.store.append(clashing, reference.chain)
    stored = log.store.append(clashing, log.chain)
    assert stored == expected
    assert [int(e.id, 16) - base for e in stored] == [5, 6, 7, 8]
    later = log.store.append([attrs.evolve(built[0], id=format(base | 6, "016x"))], log.chain)
    assert int(later[0].id, 16) - base == 9
    assert ids(log.query(ORG, viewer=owner).sort("date", descending=False).page()) == ids(
        [*stored, *later]
    )
    assert log.verify(ORG).ok


def test_an_id_that_cannot_move_up_fails_and_stores_nothing(
    log: ActivityLog, owner: Viewer
) -> None:
    """When a taken id has no room left in its millisecond, the append fails and stores nothing."""
    built = [log.build("lead.created", org_id=ORG, actor=ADA, occurred_at=START) for _ in range(3)]
    top = id_scheme.floor_id(START) + id_scheme.IDS_PER_MS - 1
    rec(log, "task.created")
    with pytest.raises((InvalidEntry, StoreError)):
        log.store.append([attrs.evolve(e, id=format(top, "016x")) for e in built], log.chain)
    assert log.query(ORG, viewer=owner).count() == 1
    assert log.verify(ORG).ok


# -- bad input ----------------------------------------------------------------------------------------


def test_record_without_org_or_actor_raises(log: ActivityLog) -> None:
    """record() without an org or an actor (and no context) raises and stores nothing."""
    with pytest.raises(InvalidEntry):
        log.record("lead.created", org_id=ORG)
    with pytest.raises(InvalidEntry):
        log.record("lead.created", actor=ADA)
    with pytest.raises(InvalidEntry):
        log.record("lead.created", org_id="  ", actor=ADA)
    assert log.store.org_ids() == []


@pytest.mark.parametrize(
    "make",
    [
        lambda: {"actor": Actor("u", "Ada\x00")},
        lambda: {"target": Target("lead", "1", "A\x00")},
        lambda: {"api_key": ApiKeyRef("k\x00", "key")},
        lambda: {"actor": Actor("u", "Ada\ud800")},
        lambda: {"description": "gone\x00"},
        lambda: {"description": "gone\udfff"},
        lambda: {"org_id": "ac\x00me"},
        lambda: {"org_id": "acme\ud800"},
        lambda: {"idempotency_key": "op\x00"},
        lambda: {"idempotency_key": "op\ud800"},
    ],
    ids=[
        "actor-name",
        "target-label",
        "api-key-id",
        "surrogate-name",
        "nul-description",
        "surrogate-description",
        "nul-org",
        "surrogate-org",
        "nul-key",
        "surrogate-key",
    ],
)
def test_unstorable_text_raises_invalid_entry(log: ActivityLog, make: Any) -> None:
    """NUL characters and lone surrogates in names raise InvalidEntry before anything is stored."""
    with pytest.raises(InvalidEntry):
        fields = {"actor": ADA, "org_id": ORG, **make()}
        log.record("lead.created", **fields)
    assert log.store.org_ids() == []


def test_bad_metadata_raises_metadata_error(log: ActivityLog) -> None:
    """Metadata with NUL, non-JSON values, NaN or over the size limit raises MetadataError."""
    for bad in (
        {"a": "x\x00y"},
        {"a\x00": 1},
        {"a": object()},
        {"a": float("nan")},
        {"a": float("inf")},
        {"a": "\ud800"},
        {"a": "x" * MAX_METADATA_BYTES},
    ):
        with pytest.raises(MetadataError):
            rec(log, metadata=bad)
    with pytest.raises(MetadataError):
        rec(log, changes={"status": ("a", "\x00")})
    assert log.store.org_ids() == []


def test_metadata_at_the_size_limit_round_trips(log: ActivityLog, owner: Viewer) -> None:
    """Metadata of exactly the maximum size is stored and read back unchanged."""
    overhead = len(json.dumps({"blob": ""}, separators=(",", ":")))
    blob = "é" * ((MAX_METADATA_BYTES - overhead) // 2)
    if (MAX_METADATA_BYTES - overhead) % 2:
        blob += "x"
    entry = rec(log, metadata={"blob": blob})
    (read,) = log.query(ORG, viewer=owner).page().entries
    assert read == entry
    assert read.metadata["blob"] == blob
    with pytest.raises(MetadataError):
        rec(log, metadata={"blob": blob + "x"})


ODD_TEXT = [
    'Zoë 👩‍💻 O\'Brien "the" 100% snake_case back\\slash',
    "Straße İstanbul ılık ﬁnance Jose\u0301 ǅ",
    "\u202eright-to-left\u202c zero\u200bwidth",
    "line\nbreak\ttab\u2028sep\u3000ideographic",
    "\U0001f600\U0010fffd\ufeff\ufffe",
    "'; DROP TABLE entries; --",
    "\x01\x1f\x7f",
]


def test_odd_unicode_round_trips_exactly(log: ActivityLog, owner: Viewer) -> None:
    """Odd Unicode in every text field and in metadata comes back exactly as recorded."""
    recorded = []
    for i, text in enumerate(ODD_TEXT):
        recorded.append(
            rec(
                log,
                "lead.updated",
                actor=Actor(f"id {text}", text or "x", avatar_url=text, kind="system"),
                target=Target(text, text, text),
                description=text,
                metadata={text: [text, {text: text}], "n": i},
                changes={text: (text, None)},
                api_key=ApiKeyRef(text, text),
                idempotency_key=text,
            )
        )
    got = walk(log.query(ORG, viewer=owner).sort("date", descending=False), 3)
    assert got == recorded
    assert [canonical(e) for e in got] == [canonical(e) for e in recorded]
    for text, entry in zip(ODD_TEXT, recorded, strict=True):
        assert search_ids(log, text.split()[0]) >= {entry.id}


def test_entries_round_trip_field_for_field(log: ActivityLog, clock: Clock, owner: Viewer) -> None:
    """What a query returns equals, field for field and type for type, what record() returned."""
    recorded = [
        rec(log, "lead.created", target=Target("lead", 42, "Acme Corp")),
        rec(
            log,
            "lead.status_changed",
            actor=Actor("u-9", "Grace", avatar_url="https://x/a.png"),
            target=Target("lead", "7"),
            changes={"status": ("New", "Contacted"), "score": (1, 2.5)},
            metadata={
                "big": 2**70,
                "neg": -(2**63),
                "f": 0.1,
                "t": True,
                "n": None,
                "list": [1, "2", [3]],
                "obj": {"nested": {"deep": False}},
            },
            source="api",
            api_key=ApiKeyRef("key-1", "Zapier"),
            idempotency_key="op-77",
            occurred_at=datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=ZoneInfo("Asia/Kolkata")),
        ),
        rec(
            log,
            "file.embedding_completed",
            actor=Actor.system("AI pipeline"),
            description="Parsed 3 pages",
        ),
        rec(log, "organization.deleted", occurred_at=datetime(1970, 1, 1, tzinfo=timezone.utc)),
        rec(
            log,
            "subscription.plan_changed",
            occurred_at=datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
        ),
    ]
    got = {e.id: e for e in walk(log.query(ORG, viewer=owner), 2)}
    assert set(got) == set(ids(recorded))
    for entry in recorded:
        read = got[entry.id]
        assert read == entry
        assert canonical(read) == canonical(entry)
        assert (read.seq, read.prev_hash, read.hash) == (entry.seq, entry.prev_hash, entry.hash)
        assert read.occurred_at.utcoffset() == timedelta(0)
        assert read.relative_time(START + timedelta(days=365 * 80)).endswith("ago")
        assert isinstance(read.kind.color, str) and isinstance(read.source.value, str)
        assert isinstance(read.actor.kind, ActorKind)
    assert got[recorded[1].id].metadata["big"] == 2**70
    assert type(got[recorded[1].id].metadata["t"]) is bool
    assert got[recorded[1].id].changes == {"status": ("New", "Contacted"), "score": (1, 2.5)}
    assert got[recorded[1].id].source is Source.API


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
    variants = [
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
