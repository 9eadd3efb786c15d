"""Conformance: Idempotency keys, atomic writes and bad input."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from activitylog import (
    MAX_METADATA_BYTES,
    ActivityLog,
    Actor,
    ActorKind,
    ApiKeyRef,
    Entry,
    IdempotencyConflict,
    InvalidEntry,
    MetadataError,
    Source,
    StoreError,
    Target,
    Viewer,
)
from activitylog import ids as id_scheme
from activitylog.integrity import canonical

from ._support import (
    ADA,
    LEAD,
    ORG,
    OTHER_ORG,
    START,
    Clock,
    ids,
    rec,
    search_ids,
    viewer_of,
    walk,
)

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
