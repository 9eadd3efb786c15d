"""The hash chain, checkpoints and verify(), proven by really tampering with the in-memory store.

Tampering pokes the reference store's private structures (``_by_org``, ``_heads``) with
``attrs.evolve``, the way someone with write access to the storage would: every kind of damage
must be reported as the right :class:`Problem` at the right ``seq``.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import io
import json
import os
import re
import runpy
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from itertools import islice
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activitylog import (
    ActivityLog,
    Actor,
    ActorKind,
    ApiKeyRef,
    Checkpoint,
    Entry,
    HashChain,
    InvalidQuery,
    Kind,
    Problem,
    Source,
    Target,
    integrity,
)
from activitylog.stores.base import GENESIS, ChainHead
from activitylog.stores.memory import MemoryStore
from strategies import record_args

ROOT = Path(__file__).resolve().parent.parent
ORG = "acme"
OTHER = "globex"
KEY = b"integrity test key"
BASE = datetime(2024, 3, 13, 2, 30, tzinfo=timezone.utc)
ACTIONS = ("lead.created", "lead.status_changed", "member.role_changed", "file.deleted")


def records(n: int, org: str = ORG, start: int = 0) -> list[dict[str, Any]]:
    """``record()`` arguments for ``n`` varied entries: targets, changes, metadata, API keys."""
    out = []
    for i in range(start, start + n):
        item: dict[str, Any] = {
            "action": ACTIONS[i % len(ACTIONS)],
            "org_id": org,
            "actor": Actor(f"u{i % 3}", ("Ada Lovelace", "Zoë Ünïcödé", "José 😀")[i % 3]),
            "target": Target("lead", str(i), f"Lead “{i}”"),
            "occurred_at": BASE + timedelta(seconds=i, microseconds=i % 7),
            "metadata": {"n": i, "ratio": i / 7, "tags": ["a", "ß"]},
        }
        if i % 3 == 0:
            item["changes"] = {"status": ["new", "contacted"]}
        if i % 5 == 0:
            item["api_key"] = ApiKeyRef("k1", "CI key")
        if i % 7 == 0:
            item["idempotency_key"] = f"op-{i}"
        out.append(item)
    return out


def lean_records(n: int, start: int = 0, org: str = ORG) -> list[dict[str, Any]]:
    """``record()`` arguments for ``n`` plain entries: quick to build in bulk."""
    actor = Actor("u1", "Ada Lovelace")
    return [
        {"action": "lead.created", "org_id": org, "actor": actor, "target": Target("lead", str(i))}
        for i in range(start, start + n)
    ]


def make_log(n: int, *, key: bytes | None = None, org: str = ORG) -> ActivityLog:
    """A memory log holding ``n`` varied entries of ``org``."""
    log = ActivityLog(integrity_key=key)
    log.record_many(records(n, org))
    return log


def memory(log: ActivityLog) -> MemoryStore:
    """The log's in-memory store."""
    assert isinstance(log.store, MemoryStore)
    return log.store


def stored(log: ActivityLog, org: str = ORG) -> list[Entry]:
    """A copy of the organization's stored entries, in seq order."""
    return list(memory(log)._by_org[org])


def put(log: ActivityLog, rows: list[Entry], org: str = ORG, head: ChainHead | None = None) -> None:
    """Replace the organization's stored entries (and, when given, its recorded head)."""
    memory(log)._by_org[org] = rows
    if head is not None:
        memory(log)._heads[org] = head


def sha256_link(prev_hash: str, entry: Entry) -> str:
    """What an attacker without the key computes: the plain SHA-256 link."""
    return HashChain().link(prev_hash, entry)


def renumber(rows: list[Entry]) -> list[Entry]:
    """The rows with seq rewritten to 1, 2, 3... (hiding a gap or making room)."""
    return [attrs.evolve(e, seq=i) for i, e in enumerate(rows, 1)]


def forged(like: Entry, **changes: Any) -> Entry:
    """A made-up entry shaped like ``like``."""
    fields: dict[str, Any] = {
        "id": format(int(like.id, 16) + 1, "016x"),
        "description": "Mallory did nothing",
        "prev_hash": "f" * 64,
        "hash": "e" * 64,
    }
    fields.update(changes)
    return attrs.evolve(like, **fields)


def rehash(rows: list[Entry], chain: HashChain) -> tuple[list[Entry], ChainHead]:
    """The rows relinked from GENESIS with ``chain``: a consistent rewrite, and its head."""
    prev, out = GENESIS, []
    for e in rows:
        e = attrs.evolve(e, prev_hash=prev, hash=None)
        e = attrs.evolve(e, hash=chain.link(prev, e))
        prev = e.hash or ""
        out.append(e)
    return out, ChainHead(len(out), prev)


def problem(log: ActivityLog, since: Checkpoint | None = None) -> tuple[Problem | None, int | None]:
    """The kind and seq of the first problem verify() reports (``(None, None)`` when clean)."""
    report = log.verify(ORG, since=since)
    assert report.ok == (report.problem is None)
    return report.problem, report.seq


def _other_kind(kind: Kind) -> Kind:
    return Kind.DELETE if kind is not Kind.DELETE else Kind.CREATE


def _other_source(source: Source) -> Source:
    return Source.API if source is not Source.API else Source.DASHBOARD


#: One way to change each hashed field; every hashed field must have one.
MUTATIONS: dict[str, Callable[[Entry], Entry]] = {
    "id": lambda e: attrs.evolve(e, id=format(int(e.id, 16) + 1, "016x")),
    "org_id": lambda e: attrs.evolve(e, org_id=OTHER),
    "action": lambda e: attrs.evolve(e, action=e.action + "x"),
    "label": lambda e: attrs.evolve(e, label=e.label + " "),
    "category": lambda e: attrs.evolve(e, category="Other"),
    "kind": lambda e: attrs.evolve(e, kind=_other_kind(e.kind)),
    "actor": lambda e: attrs.evolve(e, actor=attrs.evolve(e.actor, name="Mallory")),
    "actor.avatar_url": lambda e: attrs.evolve(
        e, actor=attrs.evolve(e.actor, avatar_url="https://evil.example/a.png")
    ),
    "actor.kind": lambda e: attrs.evolve(e, actor=attrs.evolve(e.actor, kind=ActorKind.SYSTEM)),
    "description": lambda e: attrs.evolve(e, description=e.description + "."),
    "occurred_at": lambda e: attrs.evolve(e, occurred_at=e.occurred_at + timedelta(microseconds=1)),
    "source": lambda e: attrs.evolve(e, source=_other_source(e.source)),
    "api_key": lambda e: attrs.evolve(
        e, api_key=None if e.api_key else ApiKeyRef("k9", "stolen key")
    ),
    "target": lambda e: attrs.evolve(e, target=Target("lead", "9999", "Someone else")),
    "changes": lambda e: attrs.evolve(e, changes={"status": ["new", "won"]}),
    "metadata": lambda e: attrs.evolve(e, metadata={**e.metadata, "ratio": 0.5}),
    "idempotency_key": lambda e: attrs.evolve(e, idempotency_key="forged"),
}

N = 12
positions = st.integers(1, N)
small = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def pristine() -> list[Entry]:
    """A 12-entry unkeyed chain, built once and copied into every test's log."""
    return stored(make_log(N))


@pytest.fixture(scope="module")
def pristine_keyed() -> list[Entry]:
    """A 12-entry HMAC chain, built once."""
    return stored(make_log(N, key=KEY))


def log_of(rows: list[Entry], key: bytes | None = None) -> ActivityLog:
    """A fresh memory log holding exactly ``rows`` (head recorded as the store would)."""
    log = ActivityLog(integrity_key=key)
    memory(log)._by_org[ORG] = list(rows)
    memory(log)._heads[ORG] = ChainHead(rows[-1].seq or 0, rows[-1].hash)
    return log


class TestCanonical:
    def test_every_stored_field_but_the_chain_fields_is_hashed(self) -> None:
        """The encoding covers every Entry attribute except seq, prev_hash and hash."""
        entry = stored(make_log(1))[0]
        hashed = set(integrity.canonical_dict(entry)) - {"v"}
        expected = {f.name for f in attrs.fields(Entry)} - set(integrity.CHAIN_FIELDS)
        assert hashed == expected

    def test_every_hashed_field_has_a_tampering_test(self) -> None:
        """MUTATIONS names every hashed field, so a new field cannot escape the tamper tests."""
        entry = stored(make_log(1))[0]
        assert set(integrity.canonical_dict(entry)) - {"v"} <= {m.split(".")[0] for m in MUTATIONS}

    def test_encoding_is_compact_sorted_utf8_json_with_a_version(self) -> None:
        """canonical() is sorted-key compact JSON with raw UTF-8 and the version first."""
        entry = stored(make_log(2))[1]
        text = integrity.canonical(entry).decode("utf-8")
        assert text.startswith('{"action":')
        assert '"v":1}' in text
        assert ", " not in text and '": ' not in text
        assert "Zoë Ünïcödé" in text
        assert json.loads(text) == integrity.canonical_dict(entry)

    def test_control_characters_are_escaped_and_others_kept_raw(self) -> None:
        """Quotes, backslashes and C0 controls are JSON-escaped; U+2028 and emoji stay raw."""
        entry = attrs.evolve(stored(make_log(1))[0], description='a"b\\c\nd\x01e\u2028f😀')
        assert '"description":"a\\"b\\\\c\\nd\\u0001e\u2028f😀"' in integrity.canonical(
            entry
        ).decode("utf-8")

    def test_timestamp_is_utc_with_microseconds_and_z(self) -> None:
        """occurred_at is encoded in UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ whatever its zone."""
        entry = stored(make_log(1))[0]
        nepal = timezone(timedelta(hours=5, minutes=45))
        shifted = attrs.evolve(entry, occurred_at=entry.occurred_at.astimezone(nepal))
        assert integrity.canonical_dict(entry)["occurred_at"] == "2024-03-13T02:30:00.000000Z"
        assert integrity.canonical(shifted) == integrity.canonical(entry)

    def test_naive_timestamp_is_refused(self) -> None:
        """An entry without a time zone cannot be encoded (its instant is unknown)."""
        entry = stored(make_log(1))[0]
        with pytest.raises(ValueError, match="timezone-aware"):
            integrity.canonical(attrs.evolve(entry, occurred_at=datetime(2024, 1, 1)))

    def test_chain_fields_do_not_change_the_encoding(self) -> None:
        """seq, prev_hash and hash are outside the encoding."""
        entry = stored(make_log(1))[0]
        moved = attrs.evolve(entry, seq=99, prev_hash="a" * 64, hash="b" * 64)
        assert integrity.canonical(moved) == integrity.canonical(entry)

    def test_link_formula(self) -> None:
        """link = SHA-256(prev_hash, newline, canonical), or its HMAC with the key."""
        import hmac

        entry = stored(make_log(1))[0]
        message = GENESIS.encode() + b"\n" + integrity.canonical(entry)
        assert HashChain().link(GENESIS, entry) == hashlib.sha256(message).hexdigest()
        assert (
            HashChain(KEY).link(GENESIS, entry)
            == hmac.new(KEY, message, hashlib.sha256).hexdigest()
        )
        assert HashChain(KEY.decode()).link(GENESIS, entry) == HashChain(KEY).link(GENESIS, entry)

    def test_empty_key_is_refused(self) -> None:
        """An empty integrity key would look keyed but protect nothing."""
        with pytest.raises(ValueError, match="empty"):
            HashChain(b"")

    def test_known_answer_in_the_docs(self) -> None:
        """The test vector in docs/integrity.md is what canonical() and link() produce."""
        doc = (ROOT / "docs" / "integrity.md").read_text(encoding="utf-8")
        vector = doc.split("## Test vector", 1)[1]
        blocks = re.findall(r"```(\w*)\n(.*?)\n```", vector, re.DOTALL)
        canonical_text = next(body for lang, body in blocks if lang == "json")
        hashes = dict(re.findall(r"^(\w+) = ([0-9a-f]{64})$", vector, re.MULTILINE))
        entry = vector_entry()
        assert integrity.canonical(entry).decode("utf-8") == canonical_text
        assert HashChain().link(GENESIS, entry) == hashes["sha256"]
        assert HashChain(b"secret").link(GENESIS, entry) == hashes["hmac"]


def reference_encoding(entry: Entry) -> bytes:
    """The canonical encoding exactly as docs/integrity.md defines it, the slow obvious way."""
    text = json.dumps(
        integrity.canonical_dict(entry),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=dict,
    )
    return text.encode("utf-8")


def unchecked(entry: Entry, **values: Any) -> Entry:
    """A copy of ``entry`` holding ``values`` as they are, past validators and converters (as a
    store hands back a tampered row, or a caller builds an entry by hand)."""
    copy = attrs.evolve(entry)
    for name, value in values.items():
        object.__setattr__(copy, name, value)
    return copy


class _Text(str):
    """A str subclass, as an application's own string types are."""


class _Instant(datetime):
    """A datetime subclass, as time-freezing test libraries make."""


#: Entries of unusual shapes: each must encode exactly as the reference does, or fail as it does.
ODD_ENTRIES: dict[str, Callable[[Entry], Entry]] = {
    "text subclass": lambda e: unchecked(e, description=_Text("plain"), label=_Text("L")),
    "enum as text": lambda e: unchecked(e, action=Kind.DELETE),
    "number as text": lambda e: unchecked(e, description=5),
    "bytes as text": lambda e: unchecked(e, category=b"Leads"),
    "None as text": lambda e: unchecked(e, action=None),
    "plain kind": lambda e: unchecked(e, kind="create"),
    "plain source": lambda e: unchecked(e, source="api"),
    "plain actor kind": lambda e: unchecked(e, actor=unchecked(e.actor, kind="user")),
    "no actor": lambda e: unchecked(e, actor=None),
    "odd avatar": lambda e: unchecked(e, actor=unchecked(e.actor, avatar_url=7)),
    "odd api key": lambda e: unchecked(e, api_key=unchecked(ApiKeyRef("k", "K"), id=None)),
    "odd target": lambda e: unchecked(e, target=unchecked(Target("t", "1"), label=1.5)),
    "api key as dict": lambda e: unchecked(e, api_key={"id": "k", "name": "K"}),
    "changes of lists": lambda e: unchecked(e, changes={"s": ["a", "b"]}),
    "changes of three": lambda e: unchecked(e, changes={"s": ("a", "b", "c")}),
    "changes of text": lambda e: unchecked(e, changes={"s": "ab"}),
    "changes as list": lambda e: unchecked(e, changes=[("s", ("a", "b"))]),
    "metadata as dict": lambda e: unchecked(e, metadata={"b": 1, "a": {"d": [], "c": None}}),
    "metadata as list": lambda e: unchecked(e, metadata=[("a", 1)]),
    "metadata NaN": lambda e: unchecked(e, metadata={"x": float("nan")}),
    "metadata bytes": lambda e: unchecked(e, metadata={"x": b"1"}),
    "metadata int keys": lambda e: unchecked(e, metadata={1: "a", 2: "b"}),
    "metadata mixed keys": lambda e: unchecked(e, metadata={1: "a", "b": "c"}),
    "metadata tuple": lambda e: unchecked(e, metadata={"x": (1, 2)}),
    "surrogate text": lambda e: unchecked(e, description="a\ud800"),
    "naive time": lambda e: unchecked(e, occurred_at=datetime(2024, 1, 1)),
    "zoned time": lambda e: unchecked(
        e, occurred_at=e.occurred_at.astimezone(timezone(timedelta(hours=-3)))
    ),
    "time subclass": lambda e: unchecked(
        e, occurred_at=_Instant(2024, 1, 1, 12, 0, 0, 5, tzinfo=timezone.utc)
    ),
    "year 5": lambda e: unchecked(e, occurred_at=datetime(5, 1, 1, tzinfo=timezone.utc)),
    "time as number": lambda e: unchecked(e, occurred_at=1_700_000_000),
    "id as number": lambda e: unchecked(e, id=12),
}


class TestFastEncoding:
    @settings(max_examples=150, deadline=None)
    @given(args=record_args())
    def test_recorded_entries_encode_as_the_reference(self, args: dict[str, Any]) -> None:
        """canonical() of any entry record() can make is the documented json.dumps encoding."""
        fields = dict(args)
        entry = ActivityLog().build(fields.pop("action"), **fields)
        assert integrity.canonical(entry) == reference_encoding(entry)
        stored = attrs.evolve(entry, seq=1, prev_hash=GENESIS)
        assert integrity.canonical(stored) == reference_encoding(entry)

    @pytest.mark.parametrize("shape", sorted(ODD_ENTRIES))
    def test_unusual_entries_encode_or_fail_as_the_reference(self, shape: str) -> None:
        """An entry of an unusual shape encodes to the reference's bytes, or raises its error."""
        entry = ODD_ENTRIES[shape](vector_entry())
        try:
            expected: bytes | type[BaseException] = reference_encoding(entry)
        except Exception as exc:  # noqa: BLE001 - the reference's error is the expectation
            expected = type(exc)
        if isinstance(expected, bytes):
            assert integrity.canonical(entry) == expected
            assert HashChain().link(GENESIS, entry) == hashlib.sha256(
                GENESIS.encode() + b"\n" + expected
            ).hexdigest()
        else:
            with pytest.raises(expected):
                integrity.canonical(entry)

    def test_enum_members_encode_as_their_values(self) -> None:
        """Kind, Source and ActorKind members are text holding exactly their values."""
        for member in [*Kind, *Source, *ActorKind]:
            assert json.dumps(member) == json.dumps(member.value)

    @settings(max_examples=300, deadline=None)
    @given(
        micros=st.one_of(
            st.integers(0, integrity._MAX_MICROS),
            st.integers(-(10**15), 10**17),
            st.sampled_from([0, 86_399_999_999, 86_400_000_000, integrity._MAX_MICROS]),
        )
    )
    def test_timestamps_from_microseconds_match_datetimes(self, micros: int) -> None:
        """The timestamp written from a microsecond count is the one written from its datetime."""
        moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=micros)
        assert integrity._micros_timestamp(micros) == integrity.timestamp(moment)

    @settings(max_examples=100, deadline=None)
    @given(args=record_args())
    def test_plain_values_encode_as_the_entry(self, args: dict[str, Any]) -> None:
        """fields_text() of an entry's values in RECORD_FIELDS order is its canonical text."""
        fields = dict(args)
        e = ActivityLog().build(fields.pop("action"), **fields)
        key, target = e.api_key, e.target
        values = (
            e.id, e.org_id, e.action, e.label, e.category, e.kind.value, e.actor.id,
            e.actor.name, e.actor.avatar_url, e.actor.kind.value, e.description,
            (e.occurred_at - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1),
            e.source.value, key and key.id, key and key.name, target and target.type,
            target and target.id, target and target.label,
            None if e.changes is None else {k: list(v) for k, v in e.changes.items()},
            dict(e.metadata), e.idempotency_key,
        )  # fmt: skip
        assert len(values) == len(integrity.RECORD_FIELDS)
        assert integrity.fields_text(values).encode("utf-8") == reference_encoding(e)


def vector_entry() -> Entry:
    """The fixed entry of the documented test vector."""
    return Entry(
        id="309c0c6948548005",
        org_id="acme",
        action="lead.status_changed",
        label="Lead Status Changed",
        category="Leads",
        kind=Kind.UPDATE,
        actor=Actor("u1", "Zoë Lovelace"),
        description="Zoë Lovelace changed lead “Acme” status from New to Contacted",
        occurred_at=datetime(2024, 3, 13, 2, 30, 0, 250000, tzinfo=timezone.utc),
        source=Source.API,
        api_key=ApiKeyRef("k1", "CI key"),
        target=Target("lead", "42", "Acme"),
        changes={"status": ["New", "Contacted"]},
        metadata={"ratio": 0.1, "big": 2**70, "tags": ["a\nb", "😀"]},
        idempotency_key=None,
    )


class TestClean:
    def test_empty_organization_verifies(self) -> None:
        """An organization without entries verifies with nothing checked."""
        report = ActivityLog().verify(ORG)
        assert (report.ok, report.checked, report.head_seq, report.head_hash) == (
            True, 0, 0, GENESIS
        )

    def test_large_log_verifies_clean(self) -> None:
        """An untouched log of 30,000 entries verifies, ending at its recorded head."""
        # The 100,000-entry run is on a SQLite file, in test_integrity_sqlite.py.
        log = ActivityLog()
        for start in range(0, 30_000, 10_000):
            log.record_many(lean_records(10_000, start))
        report = log.verify(ORG)
        head = memory(log).head(ORG)
        assert head is not None
        assert (report.ok, report.checked, report.head_hash) == (True, 30_000, head.hash)
        assert str(report).startswith("acme: 30000 entries verified")

    def test_keyed_log_verifies_with_its_key(self) -> None:
        """An HMAC chain verifies when the log has the key it was written with."""
        assert make_log(50, key=KEY).verify(ORG).ok

    def test_organizations_have_separate_chains(self, pristine: list[Entry]) -> None:
        """Each organization's chain starts at GENESIS; damage in one leaves the other clean."""
        log = make_log(5, org=OTHER)
        log.record_many(records(5))
        assert [e.seq for e in stored(log)] == [1, 2, 3, 4, 5]
        assert stored(log)[0].prev_hash == GENESIS
        rows = stored(log)
        rows[2] = attrs.evolve(rows[2], description="changed")
        put(log, rows)
        assert log.verify(OTHER).ok
        assert not log.verify(ORG).ok

    @given(batch=st.lists(st.tuples(st.sampled_from((ORG, OTHER)), st.integers(0, 9)), max_size=30))
    @small
    def test_any_sequence_of_appends_verifies(self, batch: list[tuple[str, int]]) -> None:
        """Single records, batches and idempotent repeats over two orgs all verify clean."""
        log = ActivityLog(integrity_key=KEY)
        for i, (org, op) in enumerate(batch):
            if op < 5:
                log.record(**records(1, org, i)[0])
            elif op < 8:
                log.record_many(records(op - 4, org, 100 + 10 * i))
            else:
                log.record(**records(1, org, 7)[0])  # idempotency key op-7: stored once
        for org in (ORG, OTHER):
            report = log.verify(org)
            assert report.ok, str(report)
            head = log.store.head(org)
            assert report.checked == (0 if head is None else head.seq)


class TestModified:
    @given(seq=positions, field=st.sampled_from(sorted(MUTATIONS)))
    @small
    def test_any_field_of_any_entry(self, pristine: list[Entry], seq: int, field: str) -> None:
        """Changing one field of one entry is reported as modified at its seq."""
        rows = list(pristine)
        rows[seq - 1] = MUTATIONS[field](rows[seq - 1])
        assert problem(log_of(rows)) == (Problem.MODIFIED, seq)

    @given(seq=positions, field=st.sampled_from(sorted(MUTATIONS)))
    @small
    def test_on_a_keyed_chain(self, pristine_keyed: list[Entry], seq: int, field: str) -> None:
        """The same holds for an HMAC chain."""
        rows = list(pristine_keyed)
        rows[seq - 1] = MUTATIONS[field](rows[seq - 1])
        assert problem(log_of(rows, KEY)) == (Problem.MODIFIED, seq)

    @given(seq=st.integers(2, N))
    @small
    def test_altered_prev_hash(self, pristine: list[Entry], seq: int) -> None:
        """Rewriting the link field of an entry is reported as modified at its seq."""
        rows = list(pristine)
        rows[seq - 1] = attrs.evolve(rows[seq - 1], prev_hash="0" * 63 + "1")
        assert problem(log_of(rows)) == (Problem.MODIFIED, seq)

    def test_entry_rehashed_without_relinking_the_next(self, pristine: list[Entry]) -> None:
        """On an unkeyed chain, an entry re-hashed after a change shows at the next entry."""
        rows = list(pristine)
        changed = attrs.evolve(rows[4], description="changed")
        rows[4] = attrs.evolve(changed, hash=sha256_link(changed.prev_hash or "", changed))
        rows[5] = attrs.evolve(rows[5], prev_hash=rows[4].hash)
        assert problem(log_of(rows)) == (Problem.MODIFIED, 6)


class TestMissing:
    @given(seq=positions)
    @small
    def test_deleted_entry_leaves_a_gap(self, pristine: list[Entry], seq: int) -> None:
        """Deleting an entry is reported as missing at its seq (the last one via the head)."""
        rows = list(pristine)
        del rows[seq - 1]
        log = log_of(pristine)
        put(log, rows)
        assert problem(log) == (Problem.MISSING, seq)

    @given(seq=st.integers(1, N - 1))
    @small
    def test_deleted_and_renumbered(self, pristine: list[Entry], seq: int) -> None:
        """Deleting an entry and renumbering the rest is still missing at that seq."""
        rows = list(pristine)
        del rows[seq - 1]
        log = log_of(pristine)
        put(log, renumber(rows))
        assert problem(log) == (Problem.MISSING, seq)

    @given(keep=st.integers(0, N - 1))
    @small
    def test_truncated_tail_behind_the_recorded_head(self, pristine: list[Entry], keep: int) -> None:
        """Cutting off the tail is missing at the first cut seq, through the recorded head."""
        log = log_of(pristine)
        put(log, pristine[:keep])
        assert problem(log) == (Problem.MISSING, keep + 1)

    def test_truncation_with_the_head_rewritten_needs_a_checkpoint(
        self, pristine: list[Entry]
    ) -> None:
        """A tail cut together with the head passes alone, but not against a checkpoint."""
        log = log_of(pristine)
        cp = log.checkpoint(ORG)
        put(log, pristine[:7], head=ChainHead(7, pristine[6].hash))
        assert problem(log) == (None, None)
        assert problem(log, since=cp) == (Problem.MISSING, 8)


class TestReordered:
    @given(pair=st.lists(positions, min_size=2, max_size=2, unique=True))
    @small
    def test_two_entries_swap_places(self, pristine: list[Entry], pair: list[int]) -> None:
        """Swapping the seq of two entries is reordered at the earlier seq."""
        i, j = sorted(pair)
        rows = list(pristine)
        rows[i - 1], rows[j - 1] = (
            attrs.evolve(rows[j - 1], seq=i),
            attrs.evolve(rows[i - 1], seq=j),
        )
        assert problem(log_of(rows)) == (Problem.REORDERED, i)

    @given(src=positions, dst=positions)
    @small
    def test_one_entry_moved(self, pristine: list[Entry], src: int, dst: int) -> None:
        """Moving one entry elsewhere is reordered at the first seq that changed."""
        rows = list(pristine)
        rows.insert(dst - 1, rows.pop(src - 1))
        expected = (None, None) if src == dst else (Problem.REORDERED, min(src, dst))
        assert problem(log_of(renumber(rows))) == expected

    def test_beyond_the_lookahead_window_reads_as_missing(
        self, pristine: list[Entry], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A swap farther apart than REORDER_WINDOW is still caught, as missing."""
        monkeypatch.setattr(integrity, "REORDER_WINDOW", 3)
        rows = list(pristine)
        rows[1], rows[9] = attrs.evolve(rows[9], seq=2), attrs.evolve(rows[1], seq=10)
        assert problem(log_of(rows)) == (Problem.MISSING, 2)


class TestInserted:
    @given(seq=st.integers(1, N + 1))
    @small
    def test_garbage_entry_renumbered_in(self, pristine: list[Entry], seq: int) -> None:
        """A made-up entry with made-up hashes, renumbered into place, is inserted at its seq."""
        rows = list(pristine)
        rows.insert(seq - 1, forged(pristine[0]))
        log = log_of(pristine)
        put(log, renumber(rows))
        assert problem(log) == (Problem.INSERTED, seq)

    @given(seq=st.integers(1, N + 1))
    @small
    def test_correctly_linked_forgery(self, pristine: list[Entry], seq: int) -> None:
        """A forgery linked and hashed correctly (unkeyed) is inserted: the chain skips it."""
        rows = list(pristine)
        prev = GENESIS if seq == 1 else rows[seq - 2].hash or ""
        fake = forged(pristine[0], prev_hash=prev, hash=None)
        rows.insert(seq - 1, attrs.evolve(fake, hash=sha256_link(prev, fake)))
        log = log_of(pristine)
        put(log, renumber(rows))
        assert problem(log) == (Problem.INSERTED, seq)

    @given(seq=st.integers(1, N + 1))
    @small
    def test_self_consistent_forgery_with_a_made_up_link(
        self, pristine: list[Entry], seq: int
    ) -> None:
        """A forgery whose hash matches its own made-up prev_hash is inserted at its seq."""
        rows = list(pristine)
        fake = forged(pristine[0], prev_hash="1" * 64, hash=None)
        rows.insert(seq - 1, attrs.evolve(fake, hash=sha256_link("1" * 64, fake)))
        log = log_of(pristine)
        put(log, renumber(rows))
        assert problem(log) == (Problem.INSERTED, seq)

    @given(seq=st.integers(1, N))
    @small
    def test_forgery_on_a_keyed_chain(self, pristine_keyed: list[Entry], seq: int) -> None:
        """On an HMAC chain a correctly linked SHA-256 forgery is inserted at its seq."""
        rows = list(pristine_keyed)
        prev = GENESIS if seq == 1 else rows[seq - 2].hash or ""
        fake = forged(pristine_keyed[0], prev_hash=prev, hash=None)
        rows.insert(seq - 1, attrs.evolve(fake, hash=sha256_link(prev, fake)))
        log = log_of(pristine_keyed, KEY)
        put(log, renumber(rows))
        assert problem(log) == (Problem.INSERTED, seq)

    def test_second_entry_with_the_same_seq(self, pristine: list[Entry]) -> None:
        """A copy of an entry under its seq is inserted at that seq."""
        rows = list(pristine)
        rows.insert(5, forged(rows[4], seq=5))
        log = log_of(pristine)
        put(log, rows)
        assert problem(log) == (Problem.INSERTED, 5)

    def test_entries_without_a_recorded_head(self, pristine: list[Entry]) -> None:
        """Entries the store records no head for are inserted from seq 1."""
        log = log_of(pristine)
        del memory(log)._heads[ORG]
        assert problem(log) == (Problem.INSERTED, 1)


class TestBadHash:
    @given(seq=positions, relink=st.booleans())
    @small
    def test_hash_recomputed_without_the_key(
        self, pristine_keyed: list[Entry], seq: int, relink: bool
    ) -> None:
        """A keyed entry changed and re-hashed with plain SHA-256 is a bad hash at its seq."""
        rows = list(pristine_keyed)
        changed = attrs.evolve(rows[seq - 1], description="changed")
        rows[seq - 1] = attrs.evolve(changed, hash=sha256_link(changed.prev_hash or "", changed))
        if relink and seq < N:
            rows[seq] = attrs.evolve(rows[seq], prev_hash=rows[seq - 1].hash)
        assert problem(log_of(rows, KEY)) == (Problem.BAD_HASH, seq)

    @given(seq=positions, value=st.sampled_from(("0" * 64, "A" * 64, "é" * 64, "ab", "")))
    @small
    def test_hash_overwritten(self, pristine: list[Entry], seq: int, value: str) -> None:
        """Any other value in the hash field, even non-hex or non-ASCII, is a bad hash."""
        rows = list(pristine)
        rows[seq - 1] = attrs.evolve(rows[seq - 1], hash=value)
        log = log_of(pristine)
        put(log, rows)
        assert problem(log) == (Problem.BAD_HASH, seq)

    @pytest.mark.parametrize("key", [None, b"wrong key"], ids=["no key", "wrong key"])
    def test_keyed_chain_read_with_the_wrong_key(
        self, pristine_keyed: list[Entry], key: bytes | None
    ) -> None:
        """A log opened without its key, or with another, reports a bad hash at seq 1."""
        assert problem(log_of(pristine_keyed, key)) == (Problem.BAD_HASH, 1)

    def test_entries_recorded_without_integrity(self) -> None:
        """Entries recorded with integrity off have no hash to verify."""
        log = ActivityLog(integrity=False)
        log.record_many(records(3))
        checking = ActivityLog(log.store)
        report = checking.verify(ORG)
        assert (report.problem, report.seq) == (Problem.BAD_HASH, 1)


class TestRewritten:
    def test_consistent_rewrite_is_caught_only_by_a_checkpoint(self, pristine: list[Entry]) -> None:
        """An unkeyed chain rewritten consistently, head included, fails only a checkpoint."""
        log = log_of(pristine)
        cp = log.checkpoint(ORG)
        rows = list(pristine)
        rows[3] = attrs.evolve(rows[3], description="Mallory was never here")
        rows, head = rehash(rows, HashChain())
        put(log, rows, head=head)
        assert problem(log) == (None, None)
        report = log.verify(ORG, since=cp)
        assert (report.problem, report.seq) == (Problem.REWRITTEN, N)
        assert "checkpoint" in report.detail

    def test_rewrite_behind_a_checkpoint_after_growth(self, pristine: list[Entry]) -> None:
        """A checkpoint taken earlier pins the prefix even after the log grew past it."""
        log = log_of(pristine[:6])
        cp = log.checkpoint(ORG)
        rows = list(pristine)
        rows[1] = attrs.evolve(rows[1], description="rewritten")
        rows, head = rehash(rows, HashChain())
        put(log, rows, head=head)
        assert problem(log, since=cp) == (Problem.REWRITTEN, 6)

    def test_rewrite_without_updating_the_head(self, pristine: list[Entry]) -> None:
        """A consistent rewrite that leaves the recorded head alone is rewritten at the head."""
        rows, _ = rehash([attrs.evolve(pristine[0], description="x"), *pristine[1:]], HashChain())
        log = log_of(pristine)
        put(log, rows)
        assert problem(log) == (Problem.REWRITTEN, N)

    def test_keyed_chain_cannot_be_rewritten_without_the_key(
        self, pristine_keyed: list[Entry]
    ) -> None:
        """Rewriting an HMAC chain without the key is a bad hash, no checkpoint needed."""
        rows, head = rehash(pristine_keyed, HashChain())
        log = log_of(pristine_keyed, KEY)
        put(log, rows, head=head)
        assert problem(log) == (Problem.BAD_HASH, 1)


class TestCheckpoint:
    def test_round_trips_through_json(self) -> None:
        """to_dict() is small JSON and from_dict() restores the same checkpoint."""
        log = make_log(3)
        cp = log.checkpoint(ORG)
        text = json.dumps(cp.to_dict())
        assert len(text) < 200
        assert Checkpoint.from_dict(json.loads(text)) == cp
        assert (cp.org_id, cp.seq, cp.hash) == (ORG, 3, stored(log)[-1].hash)

    def test_accepts_a_z_suffix(self) -> None:
        """A checkpoint time written with a Z suffix reads back as UTC."""
        cp = Checkpoint.from_dict({"org_id": ORG, "seq": 1, "hash": GENESIS, "at": BASE.isoformat()[:-6] + "Z"})
        assert cp.at == BASE

    @pytest.mark.parametrize(
        "change",
        [
            {"seq": -1},
            {"seq": "3"},
            {"seq": True},
            {"hash": "abc"},
            {"hash": "F" * 64},
            {"org_id": ""},
            {"at": "yesterday"},
            {"at": "2024-03-13T02:30:00"},
            {"at": None},
        ],
    )
    def test_malformed_is_refused(self, change: dict[str, Any]) -> None:
        """A damaged checkpoint raises InvalidQuery instead of verifying against garbage."""
        data = {"org_id": ORG, "seq": 3, "hash": GENESIS, "at": BASE.isoformat(), **change}
        with pytest.raises(InvalidQuery):
            Checkpoint.from_dict(data)

    def test_missing_key_is_refused(self) -> None:
        """A checkpoint without one of its fields raises InvalidQuery."""
        with pytest.raises(InvalidQuery, match="missing"):
            Checkpoint.from_dict({"org_id": ORG, "seq": 3, "at": BASE.isoformat()})

    def test_passes_when_the_log_only_grew(self) -> None:
        """Verifying since a checkpoint passes after more entries were appended."""
        log = make_log(10, key=KEY)
        cp = log.checkpoint(ORG)
        log.record_many(records(10, ORG, 10))
        report = log.verify(ORG, since=cp)
        assert (report.ok, report.checked) == (True, 20)
        assert log.verify(ORG, since=log.checkpoint(ORG)).ok

    def test_empty_organization_checkpoint(self) -> None:
        """The checkpoint of an empty organization is seq 0 at GENESIS and stays valid."""
        log = ActivityLog()
        cp = log.checkpoint(ORG)
        assert (cp.seq, cp.hash) == (0, GENESIS)
        log.record_many(records(3))
        assert log.verify(ORG, since=cp).ok

    @given(cut=st.integers(0, N - 1))
    @small
    def test_truncation_behind_it(self, pristine: list[Entry], cut: int) -> None:
        """Entries cut off behind a checkpoint are missing from the first cut seq."""
        log = log_of(pristine)
        cp = log.checkpoint(ORG)
        head = ChainHead(cut, pristine[cut - 1].hash) if cut else None
        put(log, pristine[:cut], head=head)
        if head is None:
            del memory(log)._heads[ORG]
        assert problem(log, since=cp) == (Problem.MISSING, cut + 1)

    def test_checkpoint_of_another_organization_is_refused(self) -> None:
        """Verifying one organization against another's checkpoint raises InvalidQuery."""
        log = make_log(3)
        with pytest.raises(InvalidQuery, match="globex"):
            log.verify(ORG, since=log.checkpoint(OTHER))


class _StreamingStore:
    """Wraps a memory store so chain() streams fresh copies page by page, as SQL stores do."""

    def __init__(self, inner: MemoryStore, page: int = 100) -> None:
        self.inner = inner
        self.page = page
        self.live = 0
        self.peak = 0
        self.pulled = 0
        self.on_pull: Callable[[int], None] = lambda n: None

    def _release(self) -> None:
        self.live -= 1

    def chain(self, org_id: str, after_seq: int = 0) -> Iterator[Entry]:
        while True:
            rows = list(islice(self.inner.chain(org_id, after_seq), self.page))
            if not rows:
                return
            for row in rows:
                after_seq = row.seq or 0
                copy = attrs.evolve(row)
                weakref.finalize(copy, self._release)
                self.live += 1
                self.peak = max(self.peak, self.live)
                self.pulled += 1
                self.on_pull(self.pulled)
                del row
                yield copy
                del copy
            del rows

    def head(self, org_id: str) -> ChainHead | None:
        return self.inner.head(org_id)


class TestStreaming:
    def test_clean_pass_holds_a_few_entries(self) -> None:
        """verify() keeps only a couple of entries alive while streaming a clean chain."""
        log = make_log(3000)
        streaming = _StreamingStore(memory(log))
        report = integrity.verify(streaming, ORG, HashChain())  # type: ignore[arg-type]
        assert report.ok
        assert streaming.peak <= 3

    def test_broken_link_looks_ahead_a_bounded_distance(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """After a broken link verify() reads at most REORDER_WINDOW entries ahead, then stops."""
        monkeypatch.setattr(integrity, "REORDER_WINDOW", 50)
        log = make_log(3000)
        rows = stored(log)
        del rows[10]
        put(log, renumber(rows))
        streaming = _StreamingStore(memory(log))
        report = integrity.verify(streaming, ORG, HashChain())  # type: ignore[arg-type]
        assert (report.problem, report.seq) == (Problem.MISSING, 11)
        assert streaming.peak <= 50 + 3
        assert streaming.pulled <= 11 + 50

    def test_appends_during_the_pass_are_not_damage(self) -> None:
        """Entries appended while verify() streams are verified or ignored, never reported."""
        log = make_log(500, key=KEY)
        streaming = _StreamingStore(memory(log), page=50)
        appended = []

        def append(pulled: int) -> None:
            if pulled % 100 == 0 and len(appended) < 8:
                appended.extend(log.record_many(records(5, ORG, 1000 + 10 * pulled)))

        streaming.on_pull = append
        report = integrity.verify(streaming, ORG, HashChain(KEY))  # type: ignore[arg-type]
        assert report.ok, str(report)
        assert report.checked >= 500 + len(appended) - 5


class TestConcurrency:
    def test_threads_appending_to_one_org_never_fork_the_chain(self) -> None:
        """Eight threads recording at once leave one gapless chain that verifies."""
        log = ActivityLog(integrity_key=KEY)
        start = threading.Barrier(8)

        def work(t: int) -> None:
            start.wait()
            for i in range(60):
                if i % 4 == 0:
                    log.record_many(records(3, ORG, 10_000 * t + 100 + i * 3))
                else:
                    log.record(**records(1, ORG, 10_000 * t + i)[0])

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rows = stored(log)
        assert [e.seq for e in rows] == list(range(1, 8 * (45 + 15 * 3) + 1))
        assert len({e.prev_hash for e in rows}) == len(rows)
        assert log.verify(ORG).ok


# -- the auditor's snippet -----------------------------------------------------------------


def snippet() -> str:
    """The auditor's verification script, exactly as docs/integrity.md shows it."""
    doc = (ROOT / "docs" / "integrity.md").read_text(encoding="utf-8")
    section = doc.split("## Verifying an export", 1)[1]
    match = re.search(r"```python\n(.*?)\n```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


def _plain(instance: Any, field: Any, value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    return value


def export_line(entry: Entry, tz: timezone = timezone.utc) -> str:
    """One JSON Lines record as the export writes it: every Entry attribute by name."""
    entry = attrs.evolve(entry, occurred_at=entry.occurred_at.astimezone(tz))
    return json.dumps(attrs.asdict(entry, value_serializer=_plain), ensure_ascii=False)


def write_export(path: Path, entries: list[Entry], tz: timezone = timezone.utc) -> Path:
    """A JSONL export file of ``entries``."""
    path.write_text("".join(export_line(e, tz) + "\n" for e in entries), encoding="utf-8")
    return path


def run_snippet(path: Path, key: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run the documented script on an export, as an auditor would."""
    env = {k: v for k, v in os.environ.items() if k != "INTEGRITY_KEY"}
    if key is not None:
        env["INTEGRITY_KEY"] = key.decode()
    return subprocess.run(
        [sys.executable, "-c", snippet(), str(path)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )


class TestAuditorSnippet:
    def test_snippet_is_short_and_standard_library_only(self) -> None:
        """The documented script is short and imports nothing outside the standard library."""
        code = snippet()
        imports = set(re.findall(r"^(?:import ([\w, ]+)|from (\w+) import)", code, re.MULTILINE))
        assert imports == {("hashlib, hmac, json, os, sys", ""), ("", "datetime")}
        assert len(code.splitlines()) <= 20

    def test_verifies_a_clean_export(self, tmp_path: Path) -> None:
        """A clean export of two organizations verifies and prints each head as checkpointed."""
        log = make_log(40)
        log.record_many(records(7, OTHER))
        rows = stored(log) + stored(log, OTHER)
        result = run_snippet(write_export(tmp_path / "export.jsonl", rows[::-1]))
        assert result.returncode == 0, result.stderr
        for org, n in ((ORG, 40), (OTHER, 7)):
            cp = log.checkpoint(org)
            assert f"{org}: {n} entries ok, head {cp.hash}" in result.stdout

    def test_keyed_export_needs_the_key(self, tmp_path: Path) -> None:
        """An HMAC chain verifies with INTEGRITY_KEY set and fails without it."""
        path = write_export(tmp_path / "export.jsonl", stored(make_log(5, key=KEY)))
        assert run_snippet(path, KEY).returncode == 0
        result = run_snippet(path)
        assert result.returncode == 1
        assert "acme: chain broken at seq 1" in result.stderr

    @pytest.mark.parametrize("field", ["description", "seq", "prev_hash", "hash", "drop"])
    def test_tampered_export_fails_at_the_right_seq(self, tmp_path: Path, field: str) -> None:
        """Changing any part of one exported line, or dropping it, breaks the chain there."""
        lines = [json.loads(export_line(e)) for e in stored(make_log(10))]
        if field == "drop":
            del lines[4]
        elif field == "seq":
            lines[4]["seq"] = 55
        else:
            lines[4][field] = lines[4][field][:-1] + ("0" if lines[4][field][-1] != "0" else "1")
        path = tmp_path / "export.jsonl"
        path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
        result = run_snippet(path)
        assert result.returncode == 1
        seq = 6 if field in ("seq", "drop") else 5  # lines are checked in seq order
        assert f"acme: chain broken at seq {seq}" in result.stderr

    @given(data=st.data())
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    def test_snippet_logic_agrees_with_verify(self, tmp_path: Path, data: st.DataObject) -> None:
        """On hostile content in any time zone, the script accepts exactly what verify() accepts."""
        log = ActivityLog()
        for _ in range(data.draw(st.integers(1, 4))):
            log.record(**data.draw(hostile_records()))
        tz = timezone(timedelta(minutes=data.draw(st.integers(-720, 840))))
        path = write_export(tmp_path / "export.jsonl", stored(log), tz)
        out = exec_snippet(path)
        assert out == f"{ORG}: {len(stored(log))} entries ok, head {log.checkpoint(ORG).hash}\n"


def exec_snippet(path: Path) -> str:
    """Run the documented script in this process (fast, for property tests); its output."""
    script = path.with_name("verify_export.py")
    script.write_text(snippet(), encoding="utf-8")
    buffer = io.StringIO()
    argv = sys.argv
    sys.argv = [str(script), str(path)]
    try:
        with contextlib.redirect_stdout(buffer):
            runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv
    return buffer.getvalue()


_chars = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(_chars, max_size=6),
)
_json = st.recursive(
    _leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(_chars, max_size=4), inner, max_size=3),
    max_leaves=6,
)
_text = st.text(_chars, min_size=1, max_size=12).filter(str.strip)


@st.composite
def hostile_records(draw: st.DrawFn) -> dict[str, Any]:
    """record() arguments with arbitrary Unicode, floats, big ints and optional parts (an API
    key only with the source ``api``, as the log requires)."""
    args = {
        "action": draw(st.sampled_from(ACTIONS)),
        "org_id": ORG,
        "actor": Actor(draw(_text), draw(_text), draw(st.none() | _text)),
        "target": draw(st.none() | st.builds(Target, st.just("lead"), _text, st.none() | _text)),
        "description": draw(st.none() | _text),
        "changes": draw(st.none() | st.dictionaries(_text, st.tuples(_leaf, _leaf), min_size=1, max_size=2)),
        "metadata": draw(st.dictionaries(st.text(_chars, max_size=5), _json, max_size=3)),
        "api_key": draw(st.none() | st.builds(ApiKeyRef, _text, _text)),
        "occurred_at": draw(
            st.datetimes(datetime(1970, 1, 2), datetime(2099, 12, 30), timezones=st.just(timezone.utc))
        ),
        "idempotency_key": draw(st.none() | _text),
        "source": draw(st.sampled_from(Source)),
    }
    if args["api_key"] is not None:
        args["source"] = Source.API
    if args["idempotency_key"] is not None:
        # A key stands for one request: reusing it for other content is refused by the log.
        content = repr(sorted((k, repr(v)) for k, v in args.items() if k != "idempotency_key"))
        args["idempotency_key"] += hashlib.sha256(content.encode("utf-8", "replace")).hexdigest()
    return args
