"""``ActivityLog.record()``: every argument, context defaults, validation, and nothing stored on error."""

from __future__ import annotations

import asyncio
import json
import math
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitylog import (
    MAX_METADATA_BYTES,
    ActivityLog,
    Actor,
    ActorKind,
    ApiKeyRef,
    Entry,
    IdempotencyConflict,
    InvalidEntry,
    Kind,
    MetadataError,
    MissingContext,
    NaiveDatetime,
    Source,
    Target,
    UnknownAction,
)
from activitylog.log import MAX_NESTING, _json_copy
from activitylog.stores.base import GENESIS

NOW = datetime(2024, 5, 15, 12, 0, tzinfo=timezone.utc)
ADA = Actor("u1", "Ada Lovelace", avatar_url="https://example.com/ada.png")
ACME = Target("lead", "42", "Acme Corp")
KEY = ApiKeyRef("k1", "Zapier integration")


@pytest.fixture
def log() -> ActivityLog:
    """A memory-backed log whose clock always reads NOW."""
    return ActivityLog(clock=lambda: NOW)


def stored(log: ActivityLog, org_id: str = "acme") -> list[Entry]:
    """Everything the store holds for an organization, in chain order."""
    return list(log.store.chain(org_id))


def nothing_stored(log: ActivityLog) -> bool:
    """Whether the store holds no entry at all."""
    return log.store.org_ids() == [] and log.store.head("acme") is None


class TestArguments:
    """Each argument of ``record()`` ends up in the entry."""

    def test_minimal(self, log: ActivityLog) -> None:
        """Action, org and actor suffice; the rest comes from the action and the clock."""
        entry = log.record("lead.deleted", org_id="acme", actor=ADA, target=ACME)
        assert (
            entry.action, entry.label, entry.category, entry.kind, entry.color, entry.org_id,
            entry.actor, entry.target, entry.description, entry.occurred_at, entry.source,
            entry.api_key, entry.changes, dict(entry.metadata), entry.idempotency_key,
        ) == (
            "lead.deleted", "Lead Deleted", "Leads", Kind.DELETE, "red", "acme",
            ADA, ACME, "Ada Lovelace deleted lead “Acme Corp”", NOW, Source.DASHBOARD,
            None, None, {}, None,
        )

    def test_stored_entry_is_returned(self, log: ActivityLog) -> None:
        """The returned entry is the stored one, with its chain position."""
        first = log.record("lead.created", org_id="acme", actor=ADA, target=ACME)
        second = log.record("lead.deleted", org_id="acme", actor=ADA, target=ACME)
        assert stored(log) == [first, second]
        assert (first.seq, second.seq, first.prev_hash, second.prev_hash) == (
            1, 2, GENESIS, first.hash,
        )

    def test_changes(self, log: ActivityLog) -> None:
        """Changes are kept as (old, new) pairs and described."""
        entry = log.record(
            "lead.status_changed", org_id="acme", actor=ADA, target=ACME,
            changes={"status": ("New", "Contacted")},
        )
        assert entry.changes == {"status": ("New", "Contacted")}
        assert entry.description == (
            "Ada Lovelace changed lead “Acme Corp” status from New to Contacted"
        )

    def test_description_override(self, log: ActivityLog) -> None:
        """An explicit description replaces the template."""
        entry = log.record("lead.deleted", org_id="acme", actor=ADA, description="Cleanup")
        assert entry.description == "Cleanup"

    def test_metadata_round_trips_as_json(self, log: ActivityLog) -> None:
        """Metadata is stored as its JSON round-trip (tuples become lists)."""
        entry = log.record(
            "lead.bulk_deleted", org_id="acme", actor=ADA,
            metadata={"ids": ("1", "2"), "nested": {"n": 1.5, "ok": True, "none": None}},
        )
        assert dict(entry.metadata) == {
            "ids": ["1", "2"], "nested": {"n": 1.5, "ok": True, "none": None},
        }
        assert entry.description == "Ada Lovelace deleted 2 leads"

    @pytest.mark.parametrize(
        ("metadata", "expected"),
        [({"count": 12}, "Ada Lovelace deleted 12 leads"),
         ({"ids": [str(i) for i in range(12)]}, "Ada Lovelace deleted 12 leads"),
         ({"count": 1}, "Ada Lovelace deleted 1 lead"),
         ({}, "Ada Lovelace deleted multiple leads")],
    )
    def test_bulk_description(
        self, log: ActivityLog, metadata: dict[str, Any], expected: str
    ) -> None:
        """Bulk actions count from metadata count or ids."""
        entry = log.record("lead.bulk_deleted", org_id="acme", actor=ADA, metadata=metadata)
        assert entry.description == expected

    def test_occurred_at_backfill(self, log: ActivityLog) -> None:
        """An explicit aware occurred_at is kept, converted to UTC."""
        moment = datetime(2020, 1, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
        entry = log.record("lead.created", org_id="acme", actor=ADA, occurred_at=moment)
        assert (entry.occurred_at, entry.occurred_at.utcoffset()) == (
            datetime(2020, 1, 1, 14, 30, tzinfo=timezone.utc), timedelta(0),
        )

    def test_clock_in_another_zone(self) -> None:
        """A clock returning a non-UTC aware time is converted to UTC."""
        tz = timezone(timedelta(hours=9))
        log = ActivityLog(clock=lambda: NOW.astimezone(tz))
        entry = log.record("lead.created", org_id="acme", actor=ADA)
        assert (entry.occurred_at, entry.occurred_at.tzinfo) == (NOW, timezone.utc)

    def test_api_key_snapshot(self, log: ActivityLog) -> None:
        """The API key is kept as a snapshot (id and name) and implies source api."""
        entry = log.record("lead.created", org_id="acme", actor=ADA, api_key=KEY)
        assert (entry.api_key, entry.source) == (ApiKeyRef("k1", "Zapier integration"),
                                                 Source.API)

    def test_actor_snapshot(self, log: ActivityLog) -> None:
        """The actor is kept as given, avatar included."""
        entry = log.record("lead.created", org_id="acme", actor=ADA)
        assert (entry.actor.name, entry.actor.avatar_url) == (
            "Ada Lovelace", "https://example.com/ada.png",
        )


class TestSource:
    """Where an action came from."""

    def test_dashboard_by_default(self, log: ActivityLog) -> None:
        """A person without an API key acts through the dashboard."""
        assert log.record("lead.created", org_id="acme", actor=ADA).source is Source.DASHBOARD

    def test_api_when_api_key(self, log: ActivityLog) -> None:
        """An API key makes the source api."""
        entry = log.record("lead.created", org_id="acme", actor=ADA, api_key=KEY)
        assert entry.source is Source.API

    def test_system_for_system_actors(self, log: ActivityLog) -> None:
        """A system actor without API key acts as system."""
        bot = Actor.system("AI pipeline")
        entry = log.record("file.embedding_failed", org_id="acme", actor=bot,
                           target=Target("file", "f1", "deck.pdf"))
        assert (entry.source, entry.actor.kind) == (Source.SYSTEM, ActorKind.SYSTEM)
        assert entry.description == "AI pipeline failed to process file “deck.pdf”"

    @pytest.mark.parametrize("given", ["api", Source.API])
    def test_explicit(self, log: ActivityLog, given: Any) -> None:
        """An explicit source wins, as a string or a Source."""
        assert log.record("lead.created", org_id="acme", actor=ADA, source=given).source is (
            Source.API
        )

    def test_api_key_with_another_source_is_refused(self, log: ActivityLog) -> None:
        """An API key with an explicit source other than api raises InvalidEntry; nothing is
        stored."""
        with pytest.raises(InvalidEntry, match="source 'api'"):
            log.record("lead.created", org_id="acme", actor=ADA, api_key=KEY, source="system")
        assert nothing_stored(log)

    def test_unknown(self, log: ActivityLog) -> None:
        """An unknown source raises InvalidEntry listing the choices; nothing is stored."""
        with pytest.raises(InvalidEntry, match="dashboard, api, system"):
            log.record("lead.created", org_id="acme", actor=ADA, source="email")
        assert nothing_stored(log)


class TestContextDefaults:
    """Org, actor, source and API key come from the active context."""

    def test_org_and_actor(self, log: ActivityLog) -> None:
        """Without arguments, org and actor are the context's."""
        with log.context(org_id="acme", actor=ADA):
            entry = log.record("lead.created", target=ACME)
        assert (entry.org_id, entry.actor) == ("acme", ADA)

    def test_arguments_win(self, log: ActivityLog) -> None:
        """Explicit arguments override the context."""
        grace = Actor("u2", "Grace Hopper")
        with log.context(org_id="acme", actor=ADA):
            entry = log.record("lead.created", org_id="globex", actor=grace)
        assert (entry.org_id, entry.actor) == ("globex", grace)

    def test_api_key_from_context(self, log: ActivityLog) -> None:
        """An API key in the context is snapshotted and makes the source api."""
        with log.context(org_id="acme", actor=ADA, api_key=KEY):
            entry = log.record("lead.created")
        assert (entry.api_key, entry.source) == (KEY, Source.API)

    def test_source_from_context(self, log: ActivityLog) -> None:
        """A source set in the context is used."""
        with log.context(org_id="acme", actor=ADA, source="system"):
            assert log.record("lead.created").source is Source.SYSTEM

    @pytest.mark.parametrize(
        ("given", "missing"), [({"actor": ADA}, "org_id"), ({"org_id": "acme"}, "actor")]
    )
    def test_missing(self, log: ActivityLog, given: dict[str, Any], missing: str) -> None:
        """Without org or actor anywhere, MissingContext names the field; nothing is stored."""
        with pytest.raises(MissingContext) as info:
            log.record("lead.created", **given)
        assert info.value.field == missing
        assert f"pass {missing}= to record()" in str(info.value)
        assert nothing_stored(log)


class TestIdempotency:
    """``idempotency_key``: a retried request records once."""

    def test_returns_first_entry(self, log: ActivityLog) -> None:
        """A retry (same key, same request) in the same org returns the first entry and stores
        nothing new."""
        first = log.record("lead.created", org_id="acme", actor=ADA, target=ACME,
                           idempotency_key="req-1")
        again = log.record("lead.created", org_id="acme", actor=ADA, target=ACME,
                           idempotency_key="req-1")
        assert (again, len(stored(log))) == (first, 1)

    def test_reused_for_another_target_is_refused(self, log: ActivityLog) -> None:
        """The same key with a different target raises IdempotencyConflict naming the field."""
        log.record("lead.created", org_id="acme", actor=ADA, target=ACME, idempotency_key="req-1")
        with pytest.raises(IdempotencyConflict, match=r"'req-1'.*target"):
            log.record("lead.created", org_id="acme", actor=ADA,
                       target=Target("lead", "43", "Other"), idempotency_key="req-1")
        assert len(stored(log)) == 1

    def test_scoped_to_org(self, log: ActivityLog) -> None:
        """The same key in another org records a new entry."""
        a = log.record("lead.created", org_id="acme", actor=ADA, idempotency_key="req-1")
        b = log.record("lead.created", org_id="globex", actor=ADA, idempotency_key="req-1")
        assert (a.id != b.id, b.org_id, len(stored(log, "globex"))) == (True, "globex", 1)

    def test_kept_on_entry(self, log: ActivityLog) -> None:
        """The key is kept on the entry."""
        entry = log.record("lead.created", org_id="acme", actor=ADA, idempotency_key="req-1")
        assert entry.idempotency_key == "req-1"

    def test_within_record_many(self, log: ActivityLog) -> None:
        """A key repeated within one call records once and returns the same entry twice."""
        a, b = log.record_many([
            {"action": "lead.created", "org_id": "acme", "actor": ADA, "idempotency_key": "k"},
            {"action": "lead.created", "org_id": "acme", "actor": ADA, "idempotency_key": "k"},
        ])
        assert (a, len(stored(log))) == (b, 1)


def naive() -> datetime:
    """A naive datetime."""
    return datetime(2024, 5, 15, 12, 0)


#: (record() keyword arguments, the error expected); every case stores nothing.
INVALID: list[tuple[dict[str, Any], type[Exception]]] = [
    ({"org_id": ""}, InvalidEntry),
    ({"org_id": "   "}, InvalidEntry),
    ({"org_id": 42}, InvalidEntry),
    ({"org_id": "ac\x00me"}, InvalidEntry),
    ({"actor": "Ada"}, InvalidEntry),
    ({"target": "lead 42"}, InvalidEntry),
    ({"api_key": "k1"}, InvalidEntry),
    ({"description": ""}, InvalidEntry),
    ({"description": "  \n"}, InvalidEntry),
    ({"description": 5}, InvalidEntry),
    ({"description": "bad\x00text"}, InvalidEntry),
    ({"description": "lone \ud800 surrogate"}, InvalidEntry),
    ({"idempotency_key": ""}, InvalidEntry),
    ({"idempotency_key": " "}, InvalidEntry),
    ({"idempotency_key": 7}, InvalidEntry),
    ({"occurred_at": naive()}, NaiveDatetime),
    ({"occurred_at": "2024-05-15T12:00:00Z"}, InvalidEntry),
    ({"occurred_at": datetime(1960, 1, 1, tzinfo=timezone.utc)}, InvalidEntry),
    ({"occurred_at": datetime(2100, 1, 1, tzinfo=timezone.utc)}, InvalidEntry),
    ({"metadata": {"tags": {"a", "b"}}}, MetadataError),
    ({"metadata": {"blob": b"\x00"}}, MetadataError),
    ({"metadata": {"score": math.nan}}, MetadataError),
    ({"metadata": {"score": math.inf}}, MetadataError),
    ({"metadata": {"nested": [{"x": -math.inf}]}}, MetadataError),
    ({"metadata": {1: "one"}}, MetadataError),
    ({"metadata": {"1": "one", 1: "one"}}, MetadataError),
    ({"metadata": {"a": [({True: 1},)]}}, MetadataError),
    ({"metadata": {"a": {None: 1}}}, MetadataError),
    ({"metadata": {"big": "x" * MAX_METADATA_BYTES}}, MetadataError),
    ({"metadata": {"nul": "a\x00b"}}, MetadataError),
    ({"metadata": {"bad": "\udc00"}}, MetadataError),
    ({"metadata": ["not", "a", "mapping"]}, MetadataError),
    ({"changes": {"status": "New"}}, MetadataError),
    ({"changes": {"status": ("New", "Contacted", "Lost")}}, MetadataError),
    ({"changes": {"": ("a", "b")}}, MetadataError),
    ({"changes": {1: ("a", "b")}}, MetadataError),
    ({"changes": [("status", "a", "b")]}, MetadataError),
    ({"changes": {"when": ({1}, {2})}}, MetadataError),
    ({"metadata": {"amount": Decimal("NaN")}}, MetadataError),
    ({"metadata": {"amount": Decimal("-Infinity")}}, MetadataError),
    ({"changes": {"score": (1.0, math.nan)}}, MetadataError),
    ({"source": "email"}, InvalidEntry),
]


class TestEverydayValues:
    """Metadata and changes holding datetimes, dates, Decimals and UUIDs are converted."""

    def test_converted_as_documented(self, log: ActivityLog) -> None:
        """datetime/date/time read back as ISO 8601 text, Decimal as its exact text, UUID
        hyphenated; nested ones too; the entry verifies."""
        paris = timezone(timedelta(hours=2))
        entry = log.record(
            "lead.updated", org_id="acme", actor=ADA, target=ACME,
            metadata={"at": datetime(2024, 5, 1, 9, 30, tzinfo=paris), "due": date(2024, 5, 31),
                      "slot": time(14, 5), "amount": Decimal("1234.50"),
                      "ref": uuid.UUID(int=1), "lines": [{"price": Decimal("0.10")}]},
            changes={"due": (date(2024, 5, 1), date(2024, 5, 31)), "value": (None, Decimal(9))},
        )
        assert dict(entry.metadata) == {
            "at": "2024-05-01T09:30:00+02:00", "due": "2024-05-31", "slot": "14:05:00",
            "amount": "1234.50", "ref": "00000000-0000-0000-0000-000000000001",
            "lines": [{"price": "0.10"}],
        }
        assert dict(entry.changes or {}) == {"due": ("2024-05-01", "2024-05-31"),
                                             "value": (None, "9")}
        assert stored(log) == [entry]
        assert log.verify("acme").ok

    @pytest.mark.parametrize(
        ("metadata", "where", "type_name"),
        [({"tags": {"a"}}, "metadata['tags']", "set"),
         ({"x": {"y": [1, object()]}}, "metadata['x']['y'][1]", "object"),
         ({"blob": b"\x00"}, "metadata['blob']", "bytes")],
    )
    def test_other_values_name_the_key_and_the_type(
        self, log: ActivityLog, metadata: dict[str, Any], where: str, type_name: str
    ) -> None:
        """Anything else is refused with a message naming where it is and its type."""
        with pytest.raises(MetadataError, match=re.escape(where) + f".*type {type_name}"):
            log.record("lead.created", org_id="acme", actor=ADA, metadata=metadata)
        assert nothing_stored(log)


class TestValidation:
    """Invalid arguments raise a specific error and store nothing."""

    @pytest.mark.parametrize(("fields", "error"), INVALID)
    def test_invalid(self, log: ActivityLog, fields: dict[str, Any],
                     error: type[Exception]) -> None:
        """Each invalid argument raises its error, and the store stays empty."""
        arguments: dict[str, Any] = {"org_id": "acme", "actor": ADA, **fields}
        with pytest.raises(error):
            log.record("lead.bulk_deleted", **arguments)
        assert nothing_stored(log)

    def test_unknown_action(self, log: ActivityLog) -> None:
        """An unknown action raises UnknownAction with a suggestion; nothing is stored."""
        with pytest.raises(UnknownAction, match=r"did you mean 'lead\.deleted'"):
            log.record("lead.delete", org_id="acme", actor=ADA)
        assert nothing_stored(log)

    def test_metadata_at_the_limit(self, log: ActivityLog) -> None:
        """Metadata of exactly MAX_METADATA_BYTES (as compact UTF-8 JSON) is accepted."""
        padding = MAX_METADATA_BYTES - len('{"big":""}')
        entry = log.record("lead.created", org_id="acme", actor=ADA,
                           metadata={"big": "x" * padding})
        assert len(entry.metadata["big"]) == padding

    def test_metadata_limit_counts_utf8_bytes(self, log: ActivityLog) -> None:
        """The limit counts UTF-8 bytes, not characters."""
        chars = MAX_METADATA_BYTES // 2
        with pytest.raises(MetadataError, match="the limit is 65536"):
            log.record("lead.created", org_id="acme", actor=ADA, metadata={"big": "é" * chars})
        assert nothing_stored(log)

    def test_escaped_backslash_is_not_nul(self, log: ActivityLog) -> None:
        """A literal backslash-u0000 in metadata is ordinary text, kept as given."""
        entry = log.record("lead.created", org_id="acme", actor=ADA,
                           metadata={"\\u0000": "\\u0000"}, changes={"a": ("\\u0000", None)})
        assert (dict(entry.metadata), entry.changes) == (
            {"\\u0000": "\\u0000"}, {"a": ("\\u0000", None)},
        )

    def test_nul_in_metadata_key(self, log: ActivityLog) -> None:
        """A NUL character in a metadata key is refused like one in a value."""
        with pytest.raises(MetadataError, match="NUL"):
            log.record("lead.created", org_id="acme", actor=ADA, metadata={"a\x00": 1})
        assert nothing_stored(log)

    def test_deeply_nested_metadata(self, log: ActivityLog) -> None:
        """Absurdly nested metadata raises MetadataError, not RecursionError."""
        value: Any = []
        for _ in range(100_000):
            value = [value]
        with pytest.raises(MetadataError):
            log.record("lead.created", org_id="acme", actor=ADA, metadata={"deep": value})
        assert nothing_stored(log)

    def test_nesting_limit(self, log: ActivityLog) -> None:
        """Metadata may nest MAX_NESTING levels deep, and no deeper."""
        value: Any = "leaf"
        for _ in range(MAX_NESTING - 1):
            value = [value]
        entry = log.record("lead.created", org_id="acme", actor=ADA, metadata={"d": value})
        assert entry.metadata["d"] == value
        with pytest.raises(MetadataError, match="nested more than 100 levels"):
            log.record("lead.created", org_id="acme", actor=ADA, metadata={"d": [value]})
        assert len(stored(log)) == 1

    def test_naive_clock(self) -> None:
        """A clock returning naive datetimes raises NaiveDatetime; nothing is stored."""
        log = ActivityLog(clock=naive)
        with pytest.raises(NaiveDatetime):
            log.record("lead.created", org_id="acme", actor=ADA)
        assert nothing_stored(log)

    def test_errors_are_value_errors(self) -> None:
        """Entry errors can be caught as ValueError."""
        assert all(issubclass(e, ValueError) for e in (InvalidEntry, MissingContext,
                                                       NaiveDatetime, MetadataError))

    def test_record_many_is_all_or_nothing(self, log: ActivityLog) -> None:
        """One invalid item in record_many stores none of the items."""
        with pytest.raises(MetadataError):
            log.record_many([
                {"action": "lead.created", "org_id": "acme", "actor": ADA},
                {"action": "lead.created", "org_id": "acme", "actor": ADA,
                 "metadata": {"x": math.nan}},
            ])
        assert nothing_stored(log)

    @pytest.mark.parametrize("item", [{"org_id": "acme", "actor": ADA}, "lead.created"])
    def test_record_many_malformed_item(self, log: ActivityLog, item: Any) -> None:
        """An item without an action, or not a mapping, raises InvalidEntry."""
        with pytest.raises(InvalidEntry):
            log.record_many([item])
        assert nothing_stored(log)


class TestBatch:
    """``with log.batch():`` writes every record of the block at its end, or nothing."""

    def test_written_at_end(self, log: ActivityLog) -> None:
        """Inside the block nothing is stored; afterwards all entries are, in order."""
        with log.batch() as batch:
            log.record("lead.created", org_id="acme", actor=ADA)
            log.record_many([{"action": "lead.deleted", "org_id": "acme", "actor": ADA}])
            assert nothing_stored(log)
        assert [e.action for e in stored(log)] == ["lead.created", "lead.deleted"]
        assert batch.entries == stored(log)

    def test_nothing_on_error(self, log: ActivityLog) -> None:
        """If the block raises, nothing is stored."""
        with pytest.raises(RuntimeError), log.batch():
            log.record("lead.created", org_id="acme", actor=ADA)
            raise RuntimeError("boom")
        assert nothing_stored(log)

    def test_nested_batch_joins_outer(self, log: ActivityLog) -> None:
        """A nested batch is written with the outer one, and dropped if the outer fails."""
        with pytest.raises(RuntimeError), log.batch():
            with log.batch():
                log.record("lead.created", org_id="acme", actor=ADA)
            assert nothing_stored(log)
            raise RuntimeError("boom")
        assert nothing_stored(log)
        with log.batch() as outer:
            log.record("lead.created", org_id="acme", actor=ADA)
            with log.batch():
                log.record("lead.updated", org_id="acme", actor=ADA)
            log.record("lead.deleted", org_id="acme", actor=ADA)
        assert [e.action for e in outer.entries] == ["lead.created", "lead.updated",
                                                     "lead.deleted"]
        assert outer.entries == stored(log)

    def test_other_log_is_not_batched(self, log: ActivityLog) -> None:
        """Another log recording inside this log's batch writes to its own store at once."""
        other = ActivityLog(clock=lambda: NOW)
        with log.batch():
            entry = other.record("lead.created", org_id="acme", actor=ADA)
            assert stored(other) == [entry]
        assert nothing_stored(log)

    def test_task_outliving_the_batch_still_records(self, log: ActivityLog) -> None:
        """An asyncio task started in a batch that records after it ended is still stored."""

        async def main() -> None:
            gate = asyncio.Event()

            async def later() -> None:
                await gate.wait()
                log.record("lead.deleted", org_id="acme", actor=ADA)

            with log.batch():
                task = asyncio.create_task(later())
                log.record("lead.created", org_id="acme", actor=ADA)
            gate.set()
            await task

        asyncio.run(main())
        assert [e.action for e in stored(log)] == ["lead.created", "lead.deleted"]


@pytest.fixture
def fixed_clock_log() -> Iterator[ActivityLog]:
    """A log used as a context manager (closed at the end)."""
    with ActivityLog(clock=lambda: NOW) as log:
        yield log


def test_log_is_a_context_manager(fixed_clock_log: ActivityLog) -> None:
    """``with ActivityLog() as log`` records normally until the block ends."""
    entry = fixed_clock_log.record("lead.created", org_id="acme", actor=ADA)
    assert stored(fixed_clock_log) == [entry]


_KEYS = st.one_of(st.text(max_size=3), st.integers(-2, 2), st.booleans(), st.none())
_JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False,
              allow_infinity=False), st.text(max_size=4)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner),
                            st.dictionaries(_KEYS, inner, max_size=3)),
    max_leaves=12,
)  # fmt: skip


def _keys_are_text(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _keys_are_text(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_keys_are_text(v) for v in value)
    return True


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


@given(st.dictionaries(_KEYS, _JSONISH, max_size=4))
def test_json_copy_is_the_round_trip_or_a_refusal(value: dict[Any, Any]) -> None:
    """Metadata is copied as its JSON round trip exactly when every key is text and no text
    holds NUL; otherwise it is refused, however the value is shaped."""
    if _keys_are_text(value) and not _has_nul(value):
        assert _json_copy(value, "metadata", 1 << 20) == json.loads(json.dumps(value))
    else:
        with pytest.raises(MetadataError):
            _json_copy(value, "metadata", 1 << 20)
