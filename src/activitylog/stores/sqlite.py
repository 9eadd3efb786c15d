"""The SQLite store: one file, no server, WAL-journaled, fast at millions of entries.

Layout (see ``docs/sqlite.md`` and :mod:`._sqlite_schema`): entries are keyed by their integer
id, which is time-ordered, so every date query is an id range on an index that starts with the
organization. Each organization gets a small integer code; its chain head lives beside it and
per-category counts live in a count table, both updated in the transaction that appends. Search
runs on an FTS5 ``trigram`` index whose rowid is the entry id, so the newest matches come first
without sorting. Without FTS5 the store scans, with identical results.
"""

from __future__ import annotations

import functools
import json
import operator
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import timedelta
from types import MemberDescriptorType
from typing import Any, Literal
from urllib.parse import parse_qsl

import attrs

from .. import ids, search
from ..errors import ConfigurationError, InvalidEntry, MetadataError, SchemaError, StoreError
from ..models import Actor, ActorKind, ApiKeyRef, Entry, Kind, Source, Target
from . import _sqlite_schema as schema
from .base import GENESIS, Chain, ChainHead, QuerySpec

Synchronous = Literal["NORMAL", "FULL"]

#: How many rows one statement of a streamed read fetches.
CHUNK = 500
#: A one- or two-character search word is looked up as the trigrams that start with it when
#: there are at most this many; beyond that it is checked on each candidate row instead.
MAX_EXPANSION = 256
#: Organizations with fewer entries than this are searched by walking their index: measured
#: faster than the search index below a few thousand entries.
SCAN_BELOW = 3000
#: A search sorted by action sorts its matches when there are fewer than this; otherwise it
#: walks the label index, checking the text of at most LABEL_WALK rows before the ids.
SORT_MATCHES_BELOW = 5000
LABEL_WALK = 4000
#: A date-sorted search with a one- or two-character word first checks this many entries of
#: the range row by row (see ``_walk_newest``).
SHORT_WORD_WALK = 500
#: Appends of fewer entries than this put their search rows in the pending table rather than
#: the search index: FTS5 writes a new index segment at every commit, most of the cost of a
#: one-entry commit, and a few hundred rows index together for the cost of a few.
PENDING_BELOW = 64
#: When the pending table holds this many rows, the append that filled it moves them into the
#: search index. Searches check pending rows one by one (there are never more than this).
PENDING_LIMIT = 256
_ID_BATCH = 500
#: Page cache of the writing connection, in KiB (SQLite's default is 2,000): bulk appends,
#: which touch every index of every organization in a batch, measured 9% faster with 8 MiB.
#: Readers keep the default, which scanned faster than larger caches.
WRITER_CACHE_KIB = 8192
#: SQLite's integer range; ids and cursor keys beyond it are compared as the reference does.
_MAX_INT = 2**63 - 1
_MIN_INT = -(2**63)

_COLUMNS = (
    "e.id, e.seq, e.action, e.label, e.category, e.kind, e.actor_id, e.actor_name, "
    "e.actor_avatar_url, e.actor_kind, e.description, e.occurred_at, e.source, e.api_key_id, "
    "e.api_key_name, e.target_type, e.target_id, e.target_label, e.changes, e.metadata, "
    "e.idempotency_key, e.prev_hash, e.hash"
)
_INSERT_ENTRY = (
    f"INSERT INTO {schema.ENTRIES} (id, org, seq, action, label, category, kind, actor_id, "
    "actor_name, actor_avatar_url, actor_kind, description, occurred_at, source, api_key_id, "
    "api_key_name, target_type, target_id, target_label, changes, metadata, idempotency_key, "
    "prev_hash, hash, haystack) VALUES (" + ", ".join("?" * 25) + ")"
)
_INSERT_SEARCH = f"INSERT INTO {schema.SEARCH} (rowid, org, category, haystack) VALUES (?, ?, ?, ?)"
_INSERT_PENDING = f"INSERT INTO {schema.PENDING} (id, org, category, text) VALUES (?, ?, ?, ?)"
_COUNT_PENDING = f"SELECT count(*) FROM {schema.PENDING}"
_INDEX_PENDING = (
    f"INSERT INTO {schema.SEARCH} (rowid, org, category, haystack) "
    f"SELECT id, org, category, text FROM {schema.PENDING} ORDER BY id"
)
_UPSERT_COUNT = (
    "INSERT INTO activitylog_counts (org, category, n) VALUES (?, ?, ?) "
    "ON CONFLICT (org, category) DO UPDATE SET n = n + excluded.n"
)
_UPDATE_HEAD = "UPDATE activitylog_orgs SET head_seq = ?, head_hash = ? WHERE code = ?"
_START = (
    "SELECT (SELECT schema_version FROM pragma_schema_version), o.code, o.head_seq, "
    f"o.head_hash, EXISTS (SELECT 1 FROM {schema.ENTRIES} WHERE id = ?) "
    "FROM (SELECT 1) LEFT JOIN activitylog_orgs o ON o.org_id = ?"
)
_OPTIONS = frozenset({"synchronous", "busy_timeout", "fts", "connection"})

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=dict)


def _compact_json() -> Callable[[Any], str]:
    """``_JSON.encode`` (compact, keys in insertion order) through one C encoder made once.

    ``JSONEncoder.encode`` makes a new C encoder at every call, a good part of the cost for
    the small values of ``changes`` and ``metadata``. Stored values are JSON round-trip copies,
    so they cannot be circular and the circularity check is left out; a value that is not JSON
    fails the same way (and a cycle with RecursionError, reported as MetadataError below).
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _JSON.encode
    try:
        chunks = make(None, dict, json.encoder.encode_basestring, None, ":", ",", False, False,
                      True)  # fmt: skip

        def encode(value: Any) -> str:
            return "".join(chunks(value, 0))

        sample = {"b": [1, 2.5, None, True, "é\n\""], "a": {"x": float("inf")}}
        if encode(sample) == _JSON.encode(sample):
            return encode
    except (TypeError, ValueError):  # a C encoder with another signature
        pass
    return _JSON.encode


_json = _compact_json()


def _fts_string(text: str) -> str:
    """``text`` as an FTS5 string literal: every character literal, ``"`` doubled."""
    return '"' + text.replace('"', '""') + '"'


#: The columns of an entry that do not depend on its place in the log: its id as an integer,
#: the row's values from ``action`` to ``idempotency_key``, and its search haystack.
_Static = tuple[int, tuple[Any, ...], str]


def _static(entry: Entry) -> _Static:
    moment = entry.occurred_at
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidEntry(f"entry {entry.id}: occurred_at must be timezone-aware")
    changes = entry.changes
    try:
        changes_text = (
            None if changes is None else _json({k: [old, new] for k, (old, new) in changes.items()})
        )
        metadata = entry.metadata
        metadata_text = _json(metadata) if metadata else "{}"
    except (TypeError, ValueError, RecursionError) as exc:
        raise MetadataError(f"entry {entry.id}: metadata and changes must be JSON: {exc}") from None
    actor, key, target = entry.actor, entry.api_key, entry.target
    description, label = entry.description, entry.label
    actor_name = actor.name
    return (
        ids.decode(entry.id),
        (
            entry.action,
            label,
            entry.category,
            entry.kind.value,
            actor.id,
            actor_name,
            actor.avatar_url,
            actor.kind.value,
            description,
            ids.to_micros(moment),
            entry.source.value,
            None if key is None else key.id,
            None if key is None else key.name,
            None if target is None else target.type,
            None if target is None else target.id,
            None if target is None else target.label,
            changes_text,
            metadata_text,
            entry.idempotency_key,
        ),
        search.haystack(label, description, actor_name),
    )


_ENTRY_FIELDS = tuple(field.name for field in attrs.fields(Entry))
_entry_values = operator.attrgetter(*_ENTRY_FIELDS)


def _placed(entry: Entry, id_: str, seq: int, prev_hash: str) -> Entry:
    """``entry`` at its place in the log (hash still ``None``).

    Equivalent to ``attrs.evolve`` but without re-running validators and converters on an
    entry that already passed them: bulk appends spend a good part of their time there.
    """
    if type(entry) is not Entry:
        return attrs.evolve(entry, id=id_, seq=seq, prev_hash=prev_hash, hash=None)
    (_, org_id, action, label, category, kind, actor, description, occurred_at, source, api_key,
     target, changes, metadata, idempotency_key, _, _, _) = _entry_values(entry)  # fmt: skip
    placed = object.__new__(Entry)
    _set_id(placed, id_)
    _set_org_id(placed, org_id)
    _set_action(placed, action)
    _set_label(placed, label)
    _set_category(placed, category)
    _set_kind(placed, kind)
    _set_actor(placed, actor)
    _set_description(placed, description)
    _set_occurred_at(placed, occurred_at)
    _set_source(placed, source)
    _set_api_key(placed, api_key)
    _set_target(placed, target)
    _set_changes(placed, changes)
    _set_metadata(placed, metadata)
    _set_idempotency_key(placed, idempotency_key)
    _set_seq(placed, seq)
    _set_prev_hash(placed, prev_hash)
    _set_hash(placed, None)
    return placed


def _loads(text: str | None) -> Any:
    """Stored JSON; text that is not JSON (only in a tampered row) comes back wrapped as
    ``{"unreadable": text}``, so that verification reports a difference, not an exception."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return {"unreadable": text}


#: What building an entry from a tampered row can raise (``changes`` of ``{"a": [1]}`` raise
#: IndexError in the converter, for one).
_UNREADABLE = (ValueError, TypeError, AttributeError, OverflowError, LookupError)
_KINDS = {kind.value: kind for kind in Kind}
_SOURCES = {source.value: source for source in Source}
_ACTOR_KINDS = {kind.value: kind for kind in ActorKind}
_EPOCH = ids.EPOCH


def _converter(cls: type[Any], name: str) -> Any:
    return getattr(attrs.fields_dict(cls)[name], "converter", None)


# The entry's own converters, so that rows read back hold exactly what a constructed entry
# holds (read-only, deeply frozen values).
_FREEZE_CHANGES: Callable[[Any], Any] = _converter(Entry, "changes")
_FREEZE_METADATA: Callable[[Any], Any] = _converter(Entry, "metadata")
#: Whether the enum fields still convert by their enum: then the member looked up by value is
#: what the converter returns.
_ENUM_CONVERTERS = (
    _converter(Entry, "kind") is Kind
    and _converter(Entry, "source") is Source
    and _converter(Actor, "kind") is ActorKind
)


def _setters(cls: type[Any]) -> dict[str, Callable[[Any, Any], None]]:
    """Per attribute of an attrs class, a function that sets it on an instance, unvalidated.

    For slotted classes these are the slots' own setters: about twice as fast as
    ``object.__setattr__`` with the name.
    """
    setters: dict[str, Callable[[Any, Any], None]] = {}
    for field in attrs.fields(cls):
        slot = cls.__dict__.get(field.name)
        if isinstance(slot, MemberDescriptorType):
            setters[field.name] = slot.__set__
        else:
            setters[field.name] = functools.partial(_set_named, field.name)
    return setters


def _set_named(name: str, instance: Any, value: Any) -> None:
    object.__setattr__(instance, name, value)


_SET_ENTRY = _setters(Entry)
_SET_ACTOR = _setters(Actor)
_SET_TARGET = _setters(Target)
_SET_KEY = _setters(ApiKeyRef)
(_set_id, _set_org_id, _set_action, _set_label, _set_category, _set_kind, _set_actor,
 _set_description, _set_occurred_at, _set_source, _set_api_key, _set_target, _set_changes,
 _set_metadata, _set_idempotency_key, _set_seq, _set_prev_hash, _set_hash) = (
    _SET_ENTRY[name] for name in (
        "id", "org_id", "action", "label", "category", "kind", "actor", "description",
        "occurred_at", "source", "api_key", "target", "changes", "metadata", "idempotency_key",
        "seq", "prev_hash", "hash",
    )
)  # fmt: skip
assert len(_SET_ENTRY) == 18, "Entry gained a field: the row readers below must set it"


def _name(value: Any) -> bool:
    """Whether the validators of a required name would accept ``value`` read from SQLite.

    Text read through ``sqlite3`` (with its default ``text_factory``) is always valid UTF-8,
    so only emptiness and NUL are left to check.
    """
    return type(value) is str and value != "" and not value.isspace() and "\x00" not in value


def _text(value: Any) -> bool:
    """Whether an optional text would be accepted (``None`` included)."""
    return value is None or (type(value) is str and "\x00" not in value)


def _changes(text: Any) -> dict[str, list[Any]] | Literal[False] | None:
    """Stored ``changes`` decoded when every value is an ``[old, new]`` pair (then it encodes
    as the entry's frozen pairs do); ``False`` if not."""
    if text is None:
        return None
    value = _loads(text)
    if type(value) is not dict:
        return False if value is not None else None
    for pair in value.values():
        if type(pair) is not list or len(pair) != 2:
            return False
    return value


def _metadata(text: Any) -> dict[str, Any] | None:
    """Stored ``metadata`` decoded when it is an object; ``None`` if not."""
    value = {} if text == "{}" else _loads(text)
    return value if type(value) is dict else None


#: ``changes`` and ``metadata`` read back, by their stored JSON text. The entry's converters
#: freeze them all the way down, so entries can share them; the same changes and the same
#: small metadata recur across many entries, and decoding and freezing them was a good part
#: of reading a row.
_frozen_changes: dict[Any, Any] = {}
_frozen_metadata: dict[Any, Any] = {}
_JSON_CACHE = 2048
_NO_CHANGES = _FREEZE_CHANGES(None)


#: Only short texts are kept (metadata may be 64 KiB): the recurring ones are short.
_CACHED_TEXT = 256


def _remember(cache: dict[Any, Any], text: Any, frozen: Any) -> Any:
    if len(text) <= _CACHED_TEXT:
        if len(cache) >= _JSON_CACHE:
            cache.clear()
        cache[text] = frozen
    return frozen


#: Actors read back, by their stored values: a log has few people and many entries, and
#: actors are immutable, so entries read back share them (as the entries recorded with one
#: Actor object do).
_actors: dict[tuple[Any, Any, Any, Any], Actor] = {}
_ACTOR_CACHE = 4096


def _actor(actor_id: Any, actor_name: Any, avatar: Any, actor_kind: Any) -> Actor | None:
    """The actor the validating constructor would build from these stored values (shared);
    ``None`` when it would refuse them."""
    actor_key = (actor_id, actor_name, avatar, actor_kind)
    actor = _actors.get(actor_key)
    if actor is None:
        actor_kind_member = _ACTOR_KINDS.get(actor_kind)
        if actor_kind_member is None or not (
            _name(actor_id) and _name(actor_name) and _text(avatar)
        ):
            return None
        actor = object.__new__(Actor)
        _SET_ACTOR["id"](actor, actor_id)
        _SET_ACTOR["name"](actor, actor_name)
        _SET_ACTOR["avatar_url"](actor, avatar)
        _SET_ACTOR["kind"](actor, actor_kind_member)
        if len(_actors) >= _ACTOR_CACHE:
            _actors.clear()
        _actors[actor_key] = actor
    return actor


def _frozen(changes: Any, metadata: Any) -> tuple[Any, Any] | None:
    """``changes`` and ``metadata`` as the entry's converters freeze them (shared);
    ``None`` when the metadata is not an object. Raises what the converters raise."""
    frozen_changes = _NO_CHANGES if changes is None else _frozen_changes.get(changes)
    if frozen_changes is None and changes is not None:
        frozen_changes = _remember(_frozen_changes, changes, _FREEZE_CHANGES(_loads(changes)))
    frozen_metadata = _frozen_metadata.get(metadata)
    if frozen_metadata is None:
        decoded_metadata = _metadata(metadata)
        if decoded_metadata is None:
            return None
        frozen_metadata = _remember(
            _frozen_metadata, metadata, _FREEZE_METADATA(decoded_metadata)
        )
    return frozen_changes, frozen_metadata


def _entry(row: Sequence[Any], org_id: str) -> Entry:
    """An entry from a stored row: the same entry the validating constructors would build.

    Stored rows were validated when they were written, so a row whose values pass the cheap
    checks below is assembled without running validators and converters again (they were most
    of the cost of a page). Any other row, a tampered one say, takes :func:`_checked_entry`.
    """
    (id_, seq, action, label, category, kind, actor_id, actor_name, avatar, actor_kind,
     description, micros, source, key_id, key_name, target_type, target_id, target_label,
     changes, metadata, idempotency_key, prev_hash, hash_) = row  # fmt: skip
    kind_member = _KINDS.get(kind)
    source_member = _SOURCES.get(source)
    if (
        not _ENUM_CONVERTERS
        or kind_member is None
        or source_member is None
        or type(id_) is not int
        or not 0 <= id_ <= ids.MAX_ID
        or type(micros) is not int
    ):
        return _checked_entry(row, org_id)
    actor = _actor(actor_id, actor_name, avatar, actor_kind)
    if actor is None:
        return _checked_entry(row, org_id)
    if key_id is None and key_name is None:
        key = None
    elif _name(key_id) and _name(key_name):
        key = object.__new__(ApiKeyRef)
        _SET_KEY["id"](key, key_id)
        _SET_KEY["name"](key, key_name)
    else:
        return _checked_entry(row, org_id)
    if target_type is None and target_id is None and target_label is None:
        target = None
    elif _name(target_type) and _name(target_id) and _text(target_label):
        target = object.__new__(Target)
        _SET_TARGET["type"](target, target_type)
        _SET_TARGET["id"](target, target_id)
        _SET_TARGET["label"](target, target_label)
    else:
        return _checked_entry(row, org_id)
    try:
        moment = _EPOCH + timedelta(0, 0, micros)
        frozen = _frozen(changes, metadata)
    except _UNREADABLE:
        return _checked_entry(row, org_id)
    if frozen is None:
        return _checked_entry(row, org_id)
    entry = object.__new__(Entry)
    _set_id(entry, format(id_, "016x"))
    _set_org_id(entry, org_id)
    _set_action(entry, action)
    _set_label(entry, label)
    _set_category(entry, category)
    _set_kind(entry, kind_member)
    _set_actor(entry, actor)
    _set_description(entry, description)
    _set_occurred_at(entry, moment)
    _set_source(entry, source_member)
    _set_api_key(entry, key)
    _set_target(entry, target)
    _set_changes(entry, frozen[0])
    _set_metadata(entry, frozen[1])
    _set_idempotency_key(entry, idempotency_key)
    _set_seq(entry, seq)
    _set_prev_hash(entry, prev_hash)
    _set_hash(entry, hash_)
    return entry


def _record(row: Sequence[Any], org_id: str) -> tuple[Any, Any, Any, Any]:
    """A chain record for :func:`~activitylog.integrity.verify`: ``(seq, prev_hash, hash,
    content)``, where content is the row's plain values in ``integrity.RECORD_FIELDS`` order.

    Only rows that :func:`_entry` builds without the validating path, whose text fields are
    text and whose ``changes`` are ``[old, new]`` pairs are handed over as values; any
    other row is handed over as its entry, so that verification reads it as it always did.
    """
    (id_, seq, action, label, category, kind, actor_id, actor_name, avatar, actor_kind,
     description, micros, source, key_id, key_name, target_type, target_id, target_label,
     changes, metadata, idempotency_key, prev_hash, hash_) = row  # fmt: skip
    if (
        _ENUM_CONVERTERS
        and type(id_) is int
        and 0 <= id_ <= ids.MAX_ID
        and kind in _KINDS
        and source in _SOURCES
        and type(micros) is int
        and type(action) is str
        and type(label) is str
        and type(category) is str
        and type(description) is str
        and (idempotency_key is None or type(idempotency_key) is str)
        and _actor(actor_id, actor_name, avatar, actor_kind) is not None
        and ((key_id is None and key_name is None) or (_name(key_id) and _name(key_name)))
        and (
            (target_type is None and target_id is None and target_label is None)
            or (_name(target_type) and _name(target_id) and _text(target_label))
        )
    ):
        decoded_changes = _changes(changes)
        decoded_metadata = _metadata(metadata)
        if decoded_changes is not False and decoded_metadata is not None:
            fields = (
                format(id_, "016x"), org_id, *row[2:18],
                decoded_changes, decoded_metadata, idempotency_key,
            )  # fmt: skip
            return seq, prev_hash, hash_, fields
    return seq, prev_hash, hash_, _entry(row, org_id)


def _checked_entry(row: Sequence[Any], org_id: str) -> Entry:
    """An entry from a stored row through the validating constructors; a row that fails
    validation comes back as stored."""
    (id_, seq, action, label, category, kind, actor_id, actor_name, avatar, actor_kind,
     description, micros, source, key_id, key_name, target_type, target_id, target_label,
     changes, metadata, idempotency_key, prev_hash, hash_) = row  # fmt: skip
    try:
        return Entry(
            id=ids.encode(id_),
            org_id=org_id,
            action=action,
            label=label,
            category=category,
            kind=kind,
            actor=Actor(actor_id, actor_name, avatar, actor_kind),
            description=description,
            occurred_at=ids.from_micros(micros),
            source=source,
            api_key=None if key_id is None and key_name is None else ApiKeyRef(key_id, key_name),
            target=(
                None
                if target_type is None and target_id is None and target_label is None
                else Target(target_type, target_id, target_label)
            ),
            changes=_loads(changes),
            metadata=_loads(metadata),
            idempotency_key=idempotency_key,
            seq=seq,
            prev_hash=prev_hash,
            hash=hash_,
        )
    except _UNREADABLE:
        # A tampered row: hand it to verification as it is stored.
        return _raw_entry(row, org_id)


def _raw(cls: type[Any], **values: Any) -> Any:
    """An attrs instance holding ``values`` without running validators or converters."""
    instance = object.__new__(cls)
    for name, value in values.items():
        object.__setattr__(instance, name, value)
    return instance


def _enum(cls: type[Any], value: Any) -> Any:
    try:
        return cls(value)
    except ValueError:
        return value


def _instant(micros: Any) -> Any:
    try:
        return ids.from_micros(micros)
    except (TypeError, ValueError, OverflowError):
        return micros


def _raw_entry(row: Sequence[Any], org_id: str) -> Entry:
    (id_, seq, action, label, category, kind, actor_id, actor_name, avatar, actor_kind,
     description, micros, source, key_id, key_name, target_type, target_id, target_label,
     changes, metadata, idempotency_key, prev_hash, hash_) = row  # fmt: skip
    decoded_changes = _loads(changes)
    decoded_metadata = _loads(metadata)
    entry: Entry = _raw(
        Entry,
        id=ids.encode(id_) if isinstance(id_, int) and id_ >= 0 else str(id_),
        org_id=org_id,
        action=action,
        label=label,
        category=category,
        kind=_enum(Kind, kind),
        actor=_raw(
            Actor,
            id=actor_id,
            name=actor_name,
            avatar_url=avatar,
            kind=_enum(ActorKind, actor_kind),
        ),
        description=description,
        occurred_at=_instant(micros),
        source=_enum(Source, source),
        api_key=None
        if key_id is None and key_name is None
        else _raw(ApiKeyRef, id=key_id, name=key_name),
        target=None
        if target_type is None and target_id is None and target_label is None
        else _raw(Target, type=target_type, id=target_id, label=target_label),
        changes=decoded_changes,
        metadata=decoded_metadata if isinstance(decoded_metadata, Mapping) else {},
        idempotency_key=idempotency_key,
        seq=seq,
        prev_hash=prev_hash,
        hash=hash_,
    )
    return entry


@attrs.frozen
class _Filter:
    """How one query runs: the FTS5 match (or none) and the words checked row by row.

    With a match, rows still pending (not in the search index yet) are checked row by row for
    every word (``terms``); ``indexed_none`` says the index itself can match nothing (a short
    word none of its trigrams starts), so that only pending rows can.
    """

    match: str | None
    scan_terms: tuple[str, ...]
    category_names: tuple[str, ...]
    terms: tuple[str, ...] = ()
    indexed_none: bool = False


class SQLiteStore:
    """A store in one SQLite file (``sqlite:///path/to/activity.db``), or inside a host's database.

    ``path`` names the file (created on first open; ``":memory:"`` for a throwaway database).
    ``synchronous`` is ``"NORMAL"`` (the default: a committed entry survives a crash of the
    process; a power loss may drop the last transactions) or ``"FULL"`` (also survives power
    loss, at a cost per commit). ``busy_timeout`` is how many seconds a writer waits for
    another process's write transaction. ``fts`` chooses the search strategy: ``None`` uses the
    FTS5 trigram index when this SQLite has it, ``False`` never creates or uses one (searches
    scan), ``True`` requires it.

    ``connection`` makes the store write inside a host application's own SQLite connection: its
    tables are created in the host's database and each append runs in a SAVEPOINT, so it
    commits or rolls back with the host's transaction.
    """

    scheme = "sqlite"

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        synchronous: Synchronous | str = "NORMAL",
        busy_timeout: float = 30.0,
        connection: sqlite3.Connection | None = None,
        fts: bool | None = None,
    ) -> None:
        sync = str(synchronous).upper()
        if sync not in ("NORMAL", "FULL"):
            raise ConfigurationError(f"synchronous must be 'NORMAL' or 'FULL', not {synchronous!r}")
        if (
            isinstance(busy_timeout, bool)
            or not isinstance(busy_timeout, (int, float))
            or busy_timeout < 0
        ):
            raise ConfigurationError(
                f"busy_timeout must be a number of seconds >= 0, not {busy_timeout!r}"
            )
        if fts not in (None, True, False):
            raise ConfigurationError(f"fts must be True, False or None, not {fts!r}")
        if connection is not None and path is not None:
            raise ConfigurationError("pass either a path or connection=, not both")
        if connection is None and path is None:
            raise ConfigurationError("SQLiteStore needs a path (or connection=)")
        if connection is not None and not isinstance(connection, sqlite3.Connection):
            raise ConfigurationError(
                f"connection must be an sqlite3.Connection, not {type(connection).__name__}"
            )
        if sqlite3.sqlite_version_info < schema.MIN_SQLITE:
            raise ConfigurationError(
                f"the SQLite store needs SQLite >= {'.'.join(map(str, schema.MIN_SQLITE))}; "
                f"this Python has {sqlite3.sqlite_version}"
            )
        self._synchronous = sync
        self._timeout = float(busy_timeout)
        self._host = connection is not None
        self._closed = False
        self._lock = threading.RLock()  # guards the single connection, the pool and caches
        self._write_lock = threading.Lock()  # one writer per process; processes use the lock
        self._pool: list[sqlite3.Connection] = []
        self._writer: sqlite3.Connection | None = None
        self._org_codes: dict[str, int] = {}
        self._category_codes: dict[str, int] = {}
        self._single: sqlite3.Connection | None
        self._path: str | None
        if connection is not None:
            self._path = None
            self._where = "the host's database"
            self._single = connection
        else:
            assert path is not None
            self._path = os.fspath(path)
            self._where = repr(self._path)
            memory = self._path == ":memory:" or self._path == ""
            self._single = self._connect() if memory else None
        try:
            self._open(fts)
        except BaseException:
            self._close_connections()
            raise

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SQLiteStore:
        """Open ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or ``sqlite:///:memory:``.

        As in SQLAlchemy, the path follows the third slash. Options may also come as a query
        string (``?synchronous=FULL&busy_timeout=10&fts=0``); keyword options win.
        """
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() != "sqlite":
            raise ConfigurationError(f"not an sqlite:// URL: {url!r}")
        rest, _, query = rest.partition("?")
        if rest and not rest.startswith("/"):
            raise ConfigurationError(
                f"an sqlite URL has no host: {url!r} (use sqlite:///relative/path.db or "
                "sqlite:////absolute/path.db)"
            )
        merged: dict[str, Any] = {}
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
        except ValueError:
            raise ConfigurationError(f"malformed options in {url!r}") from None
        for key, value in pairs:
            merged[key] = _url_option(key, value, url)
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ConfigurationError(
                f"unknown SQLite store option(s) {sorted(unknown)} (known: {sorted(_OPTIONS)})"
            )
        merged.update(options)
        path = rest[1:]
        if merged.get("connection") is not None:
            if path:
                raise ConfigurationError("with connection=, the URL must be 'sqlite://'")
            return cls(**merged)
        return cls(path or ":memory:", **merged)

    # -- connections ------------------------------------------------------------------------

    def _connect(self, *, writer: bool = False) -> sqlite3.Connection:
        assert self._path is not None
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=self._timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self._where}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            if writer:
                conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
        except sqlite3.Error as exc:
            conn.close()
            if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
                raise SchemaError(f"{self._where} is not an SQLite database ({exc})") from exc
            raise StoreError(f"cannot open {self._where}: {exc}") from exc
        return conn

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"{doing} {self._where} failed: {exc}") from exc

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A connection whose statements all read one snapshot."""
        if self._single is not None:
            with self._lock:
                self._check_open()
                conn = self._single
                if conn.in_transaction:  # the host's transaction is our snapshot
                    yield conn
                    return
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    if conn.in_transaction:
                        conn.execute("COMMIT")
            return
        with self._lock:
            self._check_open()
            pooled = self._pool.pop() if self._pool else None
        conn = pooled if pooled is not None else self._connect()
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        with self._lock:
            if self._closed:
                conn.close()
            else:
                self._pool.append(conn)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store on {self._where} is closed")

    def _close_connections(self) -> None:
        conns = list(self._pool)
        self._pool.clear()
        if self._writer is not None:
            conns.append(self._writer)
            self._writer = None
        if self._single is not None and not self._host:
            conns.append(self._single)
        for conn in conns:
            conn.close()

    def close(self) -> None:
        """Close every connection the store opened (a host's connection stays open)."""
        with self._write_lock, self._lock:
            if self._closed:
                return
            self._closed = True
            self._close_connections()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema -----------------------------------------------------------------------------

    def _open(self, fts: bool | None) -> None:
        conn = self._single if self._single is not None else self._connect(writer=True)
        if self._single is None:
            self._writer = conn
        owned_file = not self._host
        with self._errors("opening"):
            trigram = schema.has_trigram(conn)
            if fts is True and not trigram:
                raise ConfigurationError(
                    f"fts=True, but this SQLite ({sqlite3.sqlite_version}) lacks FTS5 with the "
                    "trigram tokenizer (SQLite >= 3.34)"
                )
            layout, claim = schema.inspect(conn, owned_file=owned_file, where=self._where)
            if layout.search_index and not trigram:
                raise ConfigurationError(
                    f"{self._where} has a search index that needs FTS5 with the trigram "
                    f"tokenizer, which this SQLite ({sqlite3.sqlite_version}) lacks"
                )
            if claim and self._path not in (":memory:", ""):
                # Only now, once the file is known to be ours: WAL is a persistent setting.
                conn.execute("PRAGMA journal_mode = WAL")
            want_index = trigram and fts is not False
            if layout.version < schema.SCHEMA_VERSION or (want_index and not layout.search_index):
                self._upgrade(conn, claim=claim, search=want_index)
                layout, _ = schema.inspect(conn, owned_file=owned_file, where=self._where)
            self._layout = layout
            self._search = layout.search_index and fts is not False

    def _upgrade(self, conn: sqlite3.Connection, *, claim: bool, search: bool) -> None:
        with _Transaction(conn, nested=self._host):
            # Read again under the write lock: another process may have done it meanwhile.
            layout, may_claim = schema.inspect(conn, owned_file=not self._host, where=self._where)
            if layout.version < schema.SCHEMA_VERSION:
                schema.upgrade(conn, layout, claim=claim and may_claim, search=search)
            elif search and not layout.search_index:
                schema.create_search_index(conn)

    def _check_layout(self, conn: sqlite3.Connection, cookie: int) -> None:
        """Inside a write transaction: notice a schema changed by another process since open
        (``cookie`` is the ``schema_version`` read in that transaction)."""
        if cookie == self._layout.cookie:
            return
        layout, _ = schema.inspect(conn, owned_file=not self._host, where=self._where)
        if layout.version != schema.SCHEMA_VERSION:
            raise StoreError(f"{self._where} changed to schema version {layout.version} while open")
        self._layout = layout

    # -- codes ------------------------------------------------------------------------------

    def _cursor(self, conn: sqlite3.Connection) -> sqlite3.Cursor:
        cursor = conn.cursor()
        cursor.row_factory = None  # a host's row_factory must not reshape our rows
        return cursor

    def _org_code(self, conn: sqlite3.Connection, org_id: str) -> int | None:
        code = self._org_codes.get(org_id)
        if code is None:
            if not _storable(org_id):
                return None
            row = (
                self._cursor(conn)
                .execute("SELECT code FROM activitylog_orgs WHERE org_id = ?", (org_id,))
                .fetchone()
            )
            if row is None:
                return None
            code = int(row[0])
            if not self._host:  # a host may still roll the row back
                self._org_codes[org_id] = code
        return code

    def _category_code(
        self, conn: sqlite3.Connection, name: str, created: dict[str, int] | None = None
    ) -> int | None:
        code = self._category_codes.get(name)
        if code is None and created is not None:
            code = created.get(name)
        if code is not None:
            return code
        cursor = self._cursor(conn)
        row = cursor.execute(
            "SELECT code FROM activitylog_categories WHERE name = ?", (name,)
        ).fetchone()
        if row is not None:
            code = int(row[0])
            if not self._host and created is None:
                self._category_codes[name] = code
            elif created is not None:
                created[name] = code
            return code
        if created is None:
            return None
        cursor.execute("INSERT INTO activitylog_categories (name) VALUES (?)", (name,))
        assert cursor.lastrowid is not None
        created[name] = cursor.lastrowid
        return cursor.lastrowid

    # -- writing ----------------------------------------------------------------------------

    def append(self, entries: Sequence[Entry], chain: Chain | None) -> list[Entry]:
        """See :meth:`Store.append`: one ``BEGIN IMMEDIATE`` transaction (or SAVEPOINT)."""
        batch = list(entries)
        if not batch:
            return []
        statics = [_static(entry) for entry in batch]
        new_orgs: dict[str, int] = {}
        new_categories: dict[str, int] = {}
        # Threads of one process take turns on one writer connection; other processes wait
        # on SQLite's lock (busy_timeout). No generator context managers: one-entry appends
        # spent a measurable part of their time entering and leaving them.
        try:
            if self._single is not None:
                with self._lock:
                    self._check_open()
                    with _Transaction(self._single, nested=self._host):
                        result = self._append(
                            self._single, batch, statics, chain, new_orgs, new_categories
                        )
            else:
                with self._write_lock:
                    with self._lock:
                        self._check_open()
                        if self._writer is None:
                            self._writer = self._connect(writer=True)
                        conn = self._writer
                    with _Transaction(conn, nested=False):
                        result = self._append(conn, batch, statics, chain, new_orgs, new_categories)
        except sqlite3.Error as exc:
            raise StoreError(f"writing to {self._where} failed: {exc}") from exc
        if not self._host:
            with self._lock:
                self._org_codes.update(new_orgs)
                self._category_codes.update(new_categories)
        return result

    def _append(
        self,
        conn: sqlite3.Connection,
        batch: list[Entry],
        statics: list[_Static],
        chain: Chain | None,
        new_orgs: dict[str, int],
        new_categories: dict[str, int],
    ) -> list[Entry]:
        cursor = self._cursor(conn)
        # One statement for what every append needs first: the schema cookie, the first
        # organization's head and whether the first id is taken.
        first = batch[0].org_id
        cookie, first_code, first_seq, first_hash, first_taken = cursor.execute(
            _START, (statics[0][0], first)
        ).fetchone()
        self._check_layout(conn, cookie)
        indexed = self._layout.search_index
        if len(statics) == 1:
            checked = {statics[0][0]}
            taken = checked.copy() if first_taken else set()
        else:
            taken, checked = self._taken_ids(cursor, statics)
        heads: dict[str, list[Any]] = {}  # org_id -> [code, seq, hash, search-index token]
        if first_code is not None:
            org_token = schema.token(first_code) if indexed else ""
            heads[first] = [first_code, first_seq, first_hash, org_token]
        category_tokens: dict[str, str] = {}
        keys: dict[tuple[str, str], Entry] = {}
        new_ids: set[int] = set()
        rows: list[tuple[Any, ...]] = []
        search_rows: list[tuple[int, str, str, str]] = []
        counts: dict[tuple[int, str], int] = {}
        result: list[Entry] = []
        link = None if chain is None else chain.link
        for entry, (number, values, haystack) in zip(batch, statics, strict=True):
            org_id = entry.org_id
            head = heads.get(org_id)
            if head is None:
                code, seq, hash_ = self._head_for_write(cursor, org_id, new_orgs)
                head = heads[org_id] = [code, seq, hash_, schema.token(code) if indexed else ""]
            code = head[0]
            idempotency_key = entry.idempotency_key
            if idempotency_key is not None:
                key = (org_id, idempotency_key)
                seen = keys.get(key) or self._stored_by_key(cursor, code, key)
                if seen is not None:
                    result.append(seen)
                    continue
            wanted = number
            while (
                number in new_ids
                or number in taken
                or (number not in checked and self._id_taken(cursor, number, taken, checked))
            ):
                number += 1
                if number % ids.SEQ_LIMIT == 0:
                    raise InvalidEntry(
                        f"more than {ids.SEQ_LIMIT} entries share the instant "
                        f"{entry.occurred_at.isoformat()}"
                    )
            seq = head[1] + 1
            prev_hash = GENESIS if head[2] is None else head[2]
            stored = _placed(
                entry, entry.id if number == wanted else ids.encode(number), seq, prev_hash
            )
            hash_ = None
            if link is not None:
                # ``stored`` is still private to this call: completing it in place saves a copy.
                hash_ = link(prev_hash, stored)
                _set_hash(stored, hash_)
            head[1] = seq
            head[2] = hash_
            new_ids.add(number)
            rows.append((number, code, seq, *values, prev_hash, hash_, haystack))
            category = entry.category
            if indexed:
                token = category_tokens.get(category)
                if token is None:
                    category_code = self._category_code(conn, category, new_categories)
                    assert category_code is not None
                    token = category_tokens[category] = schema.token(category_code)
                search_rows.append((number, head[3], token, schema.search_text(haystack)))
            counted = (code, category)
            counts[counted] = counts.get(counted, 0) + 1
            if idempotency_key is not None:
                keys[(org_id, idempotency_key)] = stored
            result.append(stored)
        if rows:
            # execute() for a single row: executemany() costs a few microseconds more per call,
            # which one-entry appends pay four times.
            count_rows = [(code, category, n) for (code, category), n in counts.items()]
            head_rows = [(seq, hash_, code) for code, seq, hash_, _ in heads.values()]
            pending = 0 < len(search_rows) < PENDING_BELOW
            writes: list[tuple[str, Sequence[tuple[Any, ...]]]] = [
                (_INSERT_ENTRY, rows),
                (_INSERT_PENDING if pending else _INSERT_SEARCH, search_rows),
                (_UPSERT_COUNT, count_rows),
                (_UPDATE_HEAD, head_rows),
            ]
            for sql, params in writes:
                if len(params) == 1:
                    cursor.execute(sql, params[0])
                elif params:
                    cursor.executemany(sql, params)
            if pending and cursor.execute(_COUNT_PENDING).fetchone()[0] >= PENDING_LIMIT:
                cursor.execute(_INDEX_PENDING)
                cursor.execute(f"DELETE FROM {schema.PENDING}")
        return result

    def _head_for_write(
        self, cursor: sqlite3.Cursor, org_id: str, new_orgs: dict[str, int]
    ) -> tuple[int, int, str | None]:
        row = cursor.execute(
            "SELECT code, head_seq, head_hash FROM activitylog_orgs WHERE org_id = ?", (org_id,)
        ).fetchone()
        if row is not None:
            code, seq, hash_ = row
            return int(code), int(seq), hash_
        cursor.execute(
            "INSERT INTO activitylog_orgs (org_id, head_seq, head_hash) VALUES (?, 0, NULL)",
            (org_id,),
        )
        assert cursor.lastrowid is not None
        new_orgs[org_id] = cursor.lastrowid
        return cursor.lastrowid, 0, None

    def _stored_by_key(
        self, cursor: sqlite3.Cursor, code: int, key: tuple[str, str]
    ) -> Entry | None:
        row = cursor.execute(
            f"SELECT {_COLUMNS} FROM {schema.ENTRIES} e WHERE e.org = ? AND e.idempotency_key = ?",
            (code, key[1]),
        ).fetchone()
        if row is None:
            return None
        return (_entry if cursor.connection.text_factory is str else _checked_entry)(row, key[0])

    def _taken_ids(
        self, cursor: sqlite3.Cursor, statics: list[_Static]
    ) -> tuple[set[int], set[int]]:
        """Which of the batch's ids are already stored (and the set that was checked)."""
        wanted = sorted({static[0] for static in statics})
        taken: set[int] = set()
        for start in range(0, len(wanted), _ID_BATCH):
            chunk = wanted[start : start + _ID_BATCH]
            marks = ", ".join("?" * len(chunk))
            taken.update(
                row[0]
                for row in cursor.execute(
                    f"SELECT id FROM {schema.ENTRIES} WHERE id IN ({marks})", chunk
                )
            )
        return taken, set(wanted)

    def _id_taken(
        self, cursor: sqlite3.Cursor, number: int, taken: set[int], checked: set[int]
    ) -> bool:
        if number not in checked:
            checked.add(number)
            row = cursor.execute(
                f"SELECT 1 FROM {schema.ENTRIES} WHERE id = ?", (number,)
            ).fetchone()
            if row is not None:
                taken.add(number)
        return number in taken

    # -- reading ----------------------------------------------------------------------------

    def page(self, spec: QuerySpec) -> list[Entry]:
        """See :meth:`Store.page`."""
        with self._errors("reading"), self._reading() as conn:
            rows = self._page_rows(conn, spec)
            build = _entry if conn.text_factory is str else _checked_entry
        return [build(row, spec.org_id) for row in rows]

    def count(self, spec: QuerySpec) -> int:
        """See :meth:`Store.count`."""
        with self._errors("reading"), self._reading() as conn:
            return self._count(conn, spec)

    def _filter(
        self, conn: sqlite3.Connection, code: int, spec: QuerySpec, *, page: bool = False
    ) -> _Filter | None:
        """How to run ``spec``'s search and category filter; ``None`` when nothing can match.

        For a ``page``, a one- or two-character word is checked on the matches of the longer
        words when there are any: looking it up in the index reads every trigram that starts
        with it, which costs more than checking the few rows a page needs. A count keeps the
        lookup, which spares it joining every match with its row.
        """
        names = tuple(n for n in dict.fromkeys(spec.categories) if _storable(n))
        if spec.categories and not names:
            return None
        if not all(_storable(term) for term in spec.terms):
            return None  # no stored text contains a lone surrogate
        # The search index takes words of three characters or more, and shorter ones as the
        # trigrams that start with them (see _expand): two characters always, one character
        # in indexes whose every row holds search_text(). NUL never reaches it, as FTS5 query
        # strings cannot carry one.
        shortest = 1 if self._layout.search_words else 2
        indexable = [t for t in spec.terms if len(t) >= shortest and "\x00" not in t]
        long_terms = [t for t in indexable if len(t) >= 3]
        short_terms = [t for t in spec.terms if t not in long_terms]
        if not self._search or not indexable or self._org_size(conn, code) < SCAN_BELOW:
            return _Filter(None, tuple(spec.terms), names)
        parts = [f"org : {_fts_string(schema.token(code))}"]
        if names:
            codes = [c for c in (self._category_code(conn, n) for n in names) if c is not None]
            if not codes:
                return None
            parts.append(
                "category : (" + " OR ".join(_fts_string(schema.token(c)) for c in codes) + ")"
            )
        words = [f"haystack : {_fts_string(term)}" for term in long_terms]
        scan: list[str] = []
        indexed_none = False
        for term in short_terms:
            expand = term in indexable and not (page and long_terms)
            trigrams = self._expand(conn, term) if expand else None
            if trigrams is None:
                scan.append(term)
            elif not trigrams:
                indexed_none = True  # only rows not indexed yet can hold it
            else:
                words.append("haystack : (" + " OR ".join(_fts_string(t) for t in trigrams) + ")")
        if not words and not indexed_none:
            # Nothing for the index to narrow: walk the organization's index.
            return _Filter(None, tuple(spec.terms), names)
        match = " AND ".join(parts + (words or ["haystack : \"\""]))
        return _Filter(match, tuple(scan), names, tuple(spec.terms), indexed_none)

    def _org_size(self, conn: sqlite3.Connection, code: int) -> int:
        row = (
            self._cursor(conn)
            .execute("SELECT coalesce(sum(n), 0) FROM activitylog_counts WHERE org = ?", (code,))
            .fetchone()
        )
        return int(row[0])

    def _expand(self, conn: sqlite3.Connection, term: str) -> list[str] | None:
        """The indexed trigrams that start with a one- or two-character word, or ``None`` if
        there are too many.

        The index holds each word followed by newlines (:func:`schema.search_text`), so every
        occurrence of the word starts a trigram: the rows matching any of them are exactly the
        rows containing it.
        """
        rows = (
            self._cursor(conn)
            .execute(
                f"SELECT term FROM {schema.SEARCH_TERMS} WHERE term > ? AND term <= ? LIMIT ?",
                (term, term + "\U0010ffff", MAX_EXPANSION + 1),
            )
            .fetchall()
        )
        if len(rows) > MAX_EXPANSION:
            return None
        return [row[0] for row in rows]

    def _page_rows(self, conn: sqlite3.Connection, spec: QuerySpec) -> list[Any]:
        code = self._org_code(conn, spec.org_id)
        if code is None or spec.limit <= 0:
            return []
        if (
            spec.sort == "date"
            and self._search
            and any(len(t) <= 2 and "\x00" not in t for t in spec.terms)
        ):
            walked, bound = self._walk_newest(conn, code, spec)
            if bound is None or len(walked) >= spec.limit:
                return walked[: spec.limit]
            rest = attrs.evolve(spec, after=(bound,), limit=spec.limit - len(walked))
            plan = self._filter(conn, code, rest, page=True)
            if plan is None:
                return walked
            return walked + self._select_page(conn, code, rest, plan)
        plan = self._filter(conn, code, spec, page=True)
        if plan is None:
            return []
        if plan.match is not None and spec.sort == "action":
            return self._action_search_rows(conn, code, spec, plan)
        return self._select_page(conn, code, spec, plan)

    def _walk_newest(
        self, conn: sqlite3.Connection, code: int, spec: QuerySpec
    ) -> tuple[list[Any], int | None]:
        """A date-sorted search with a one- or two-character word: its matches among the first
        :data:`SHORT_WORD_WALK` entries of the range, and the id of the last of those entries
        (``None`` when the range holds no more).

        Looking a short word up in the index reads every trigram that starts with it, which
        costs most for the most common ones (and a common letter has too many to look up);
        yet those fill a page within a few hundred entries. So the organization's index is
        walked first, checking each entry's text, and only what remains of the page is asked
        of the index, after the walked entries.
        """
        names = tuple(n for n in dict.fromkeys(spec.categories) if _storable(n))
        bounds = _id_bounds(spec, "e.id")
        keyset = _keyset(spec, "e.id")
        if (
            (spec.categories and not names)
            or not all(_storable(term) for term in spec.terms)
            or bounds is None
            or keyset is None
        ):
            return [], None
        direction = "DESC" if spec.descending else "ASC"
        where = ["e.org = ?", *bounds[0], *keyset[0]]
        params: list[Any] = [code, *bounds[1], *keyset[1]]
        table = f"{schema.ENTRIES} e INDEXED BY activitylog_entries_org_id"
        cursor = self._cursor(conn)
        row = cursor.execute(
            f"SELECT e.id FROM {table} WHERE {' AND '.join(where)} "
            f"ORDER BY e.id {direction} LIMIT 1 OFFSET ?",
            [*params, SHORT_WORD_WALK - 1],
        ).fetchone()
        bound = None if row is None else int(row[0])
        if bound is not None:
            where.append(f"e.id {'>=' if spec.descending else '<='} ?")
            params.append(bound)
        if names:
            where.append("e.category IN (" + ", ".join("?" * len(names)) + ")")
            params.extend(names)
        for term in spec.terms:
            where.append("instr(e.haystack, ?) > 0")
            params.append(term)
        rows = cursor.execute(
            f"SELECT {_COLUMNS} FROM {table} WHERE {' AND '.join(where)} "
            f"ORDER BY e.id {direction} LIMIT ?",
            [*params, spec.limit],
        ).fetchall()
        return rows, bound

    def _action_search_rows(
        self, conn: sqlite3.Connection, code: int, spec: QuerySpec, plan: _Filter
    ) -> list[Any]:
        """A search sorted by action.

        The search index yields matches in id order, so sorting them by label costs as much as
        there are matches. When there are few (fewer than :data:`SORT_MATCHES_BELOW`), their
        rows are read by id and sorted. Otherwise the label index is walked: first at most :data:`LABEL_WALK` rows
        checking each row's text (quick when matches are dense), then the rest of the index
        checking ids against the search index's matches (bounded by the organization's size,
        and reading only the index).
        """
        bounds = _id_bounds(spec, "rowid")
        keyset = _keyset(spec, "e.id")
        if bounds is None or keyset is None:
            return []
        where = " AND ".join(["1", *bounds[0]])
        cursor = self._cursor(conn)
        found = (
            []
            if plan.indexed_none
            else cursor.execute(
                f"SELECT rowid FROM {schema.SEARCH}(?) WHERE {where} LIMIT ?",
                [plan.match, *bounds[1], SORT_MATCHES_BELOW],
            ).fetchall()
        )
        if len(found) < SORT_MATCHES_BELOW:
            pending_sql, pending_params = self._pending_sql(
                code, attrs.evolve(spec, after=None), plan, columns="e.id", ordered=False
            )
            if pending_sql is not None:
                found += cursor.execute(pending_sql, pending_params).fetchall()
            if not found:
                return []
            conditions = ["e.id IN (" + ", ".join("?" * len(found)) + ")", *keyset[0]]
            params: list[Any] = [row[0] for row in found] + keyset[1]
            for term in plan.scan_terms:
                conditions.append("instr(e.haystack, ?) > 0")
                params.append(term)
            direction = "DESC" if spec.descending else "ASC"
            return cursor.execute(
                f"SELECT {_COLUMNS} FROM {schema.ENTRIES} e WHERE {' AND '.join(conditions)} "
                f"ORDER BY e.label {direction}, e.id {direction} LIMIT ?",
                [*params, spec.limit],
            ).fetchall()
        walk = _Filter(None, spec.terms, plan.category_names)
        bound = self._walk_bound(conn, code, spec, walk)
        if bound is None:
            return self._select_page(conn, code, spec, walk)
        first = self._select_page(conn, code, spec, walk, upto=bound)
        if len(first) >= spec.limit:
            return first
        rest = attrs.evolve(spec, after=bound, limit=spec.limit - len(first))
        return first + self._select_page(conn, code, rest, plan, via_labels=True)

    def _walk_bound(
        self, conn: sqlite3.Connection, code: int, spec: QuerySpec, walk: _Filter
    ) -> tuple[str, int] | None:
        """The (label, id) of the last row a bounded label walk visits; ``None`` if it ends."""
        sql, params = self._select_sql(code, spec, walk, columns="e.label, e.id")
        if sql is None:
            return None
        row = (
            self._cursor(conn)
            .execute(sql.removesuffix(" LIMIT ?") + " LIMIT 1 OFFSET ?", [*params, LABEL_WALK - 1])
            .fetchone()
        )
        return None if row is None else (row[0], row[1])

    def _select_page(
        self,
        conn: sqlite3.Connection,
        code: int,
        spec: QuerySpec,
        plan: _Filter,
        upto: tuple[str, int] | None = None,
        via_labels: bool = False,
    ) -> list[Any]:
        sql, params = self._select_sql(code, spec, plan, upto=upto, via_labels=via_labels)
        if sql is None:
            return []
        cursor = self._cursor(conn)
        if plan.match is None or via_labels:
            return cursor.execute(sql, [*params, spec.limit]).fetchall()
        rows = [] if plan.indexed_none else cursor.execute(sql, [*params, spec.limit]).fetchall()
        pending_sql, pending_params = self._pending_sql(code, spec, plan, upto=upto)
        if pending_sql is None:
            return rows
        pending = cursor.execute(pending_sql, [*pending_params, spec.limit]).fetchall()
        if not pending:
            return rows
        # Label order in SQLite (UTF-8 bytes) is code point order, as in Python.
        key: Callable[[Any], Any] = (
            operator.itemgetter(0) if spec.sort == "date" else operator.itemgetter(3, 0)
        )
        return sorted(rows + pending, key=key, reverse=spec.descending)[: spec.limit]

    def _pending_sql(
        self,
        code: int,
        spec: QuerySpec,
        plan: _Filter,
        columns: str = _COLUMNS,
        upto: tuple[str, int] | None = None,
        ordered: bool = True,
    ) -> tuple[str | None, list[Any]]:
        """The SQL (ending in ``LIMIT ?`` when ``ordered``) for the pending rows that match an
        index plan: the few rows of small appends not in the search index yet, each checked
        for every word."""
        bounds = _id_bounds(spec, "e.id")
        keyset = _keyset(spec, "e.id")
        if bounds is None or keyset is None:
            return None, []
        where = ["e.org = ?", *bounds[0], *keyset[0]]
        params: list[Any] = [code, *bounds[1], *keyset[1]]
        if upto is not None:
            where.append(f"(e.label, e.id) {'>=' if spec.descending else '<='} (?, ?)")
            params.extend(upto)
        if plan.category_names:
            where.append("e.category IN (" + ", ".join("?" * len(plan.category_names)) + ")")
            params.extend(plan.category_names)
        for term in plan.terms:
            where.append("instr(e.haystack, ?) > 0")
            params.append(term)
        sql = (
            f"SELECT {columns} FROM {schema.PENDING} p "
            f"CROSS JOIN {schema.ENTRIES} e ON e.id = p.id WHERE " + " AND ".join(where)
        )
        if ordered:
            direction = "DESC" if spec.descending else "ASC"
            order = (
                f"e.id {direction}"
                if spec.sort == "date"
                else f"e.label {direction}, e.id {direction}"
            )
            sql += f" ORDER BY {order} LIMIT ?"
        return sql, params

    def _select_sql(
        self,
        code: int,
        spec: QuerySpec,
        plan: _Filter,
        columns: str = _COLUMNS,
        upto: tuple[str, int] | None = None,
        via_labels: bool = False,
    ) -> tuple[str | None, list[Any]]:
        """One page's SQL (ending in ``LIMIT ?``) and its parameters but the limit.

        ``upto`` (action sort only) also stops at that (label, id), inclusive. ``via_labels``
        (action sort only) walks the label index and keeps the ids the search index matches.
        """
        direction = "DESC" if spec.descending else "ASC"
        from_index = plan.match is not None and not via_labels
        id_col = "s.rowid" if from_index else "e.id"
        bounds = _id_bounds(spec, id_col)
        keyset = _keyset(spec, id_col)
        if bounds is None or keyset is None:
            return None, []
        where = [*bounds[0], *keyset[0]]
        params = [*bounds[1], *keyset[1]]
        if upto is not None:
            where.append(f"(e.label, e.id) {'>=' if spec.descending else '<='} (?, ?)")
            params.extend(upto)
        for term in plan.scan_terms:
            where.append("instr(e.haystack, ?) > 0")
            params.append(term)
        if spec.sort == "date":
            order = f"{id_col} {direction}"
        else:
            order = f"e.label {direction}, e.id {direction}"
        if from_index:
            # CROSS JOIN keeps the search index as the outer loop: the planner may otherwise
            # walk entries and run the full-text match once per row.
            sql = (
                f"SELECT {columns} FROM {schema.SEARCH}(?) s "
                f"CROSS JOIN {schema.ENTRIES} e ON e.id = s.rowid"
            )
            if where:
                sql += " WHERE " + " AND ".join(where)
            return f"{sql} ORDER BY {order} LIMIT ?", [plan.match, *params]
        if via_labels:
            # The search index's matches, or rows still pending that hold every word.
            pending = " AND ".join(
                [f"e.id IN (SELECT id FROM {schema.PENDING})"]
                + ["instr(e.haystack, ?) > 0"] * len(plan.terms)
            )
            if plan.indexed_none:
                where.append(f"({pending})")
            else:
                where.append(f"(e.id IN (SELECT rowid FROM {schema.SEARCH}(?)) OR ({pending}))")
                params.append(plan.match)
            params.extend(plan.terms)
        names = plan.category_names
        if spec.sort == "date" and len(names) > 1:
            # One ordered index range per category, merged: never more than limit * len(names)
            # rows, however rare the categories are.
            arms = []
            arm_params: list[Any] = []
            for name in names:
                arm_where = " AND ".join(["e.org = ?", "e.category = ?", *where])
                arms.append(
                    f"SELECT * FROM (SELECT {columns} FROM {schema.ENTRIES} e "
                    f"WHERE {arm_where} ORDER BY {order} LIMIT ?)"
                )
                arm_params.extend([code, name, *params, spec.limit])
            sql = " UNION ALL ".join(arms) + f" ORDER BY 1 {direction} LIMIT ?"
            return sql, arm_params
        head = ["e.org = ?"]
        head_params: list[Any] = [code]
        if names:
            head.append("e.category IN (" + ", ".join("?" * len(names)) + ")")
            head_params.extend(names)
        table = f"{schema.ENTRIES} e"
        if via_labels:
            table += " INDEXED BY activitylog_entries_org_label"
        sql = (
            f"SELECT {columns} FROM {table} WHERE "
            + " AND ".join(head + where)
            + f" ORDER BY {order} LIMIT ?"
        )
        return sql, [*head_params, *params]

    def _count(self, conn: sqlite3.Connection, spec: QuerySpec) -> int:
        code = self._org_code(conn, spec.org_id)
        if code is None:
            return 0
        plan = self._filter(conn, code, spec)
        if plan is None:
            return 0
        cursor = self._cursor(conn)
        names = plan.category_names
        ranged = spec.since_id is not None or spec.until_id is not None
        if plan.match is None and not plan.scan_terms and not ranged:
            sql = "SELECT coalesce(sum(n), 0) FROM activitylog_counts WHERE org = ?"
            params: list[Any] = [code]
            if names:
                sql += " AND category IN (" + ", ".join("?" * len(names)) + ")"
                params.extend(names)
            return int(cursor.execute(sql, params).fetchone()[0])
        pending = 0
        if plan.match is not None:
            pending_sql, pending_params = self._pending_sql(
                code, attrs.evolve(spec, after=None), plan, columns="count(*)", ordered=False
            )
            if pending_sql is None:
                return 0
            pending = int(cursor.execute(pending_sql, pending_params).fetchone()[0])
            if plan.indexed_none:
                return pending
        where: list[str] = []
        params = []
        if plan.match is None:
            id_col = "e.id"
            where.append("e.org = ?")
            params.append(code)
            if names:
                where.append("e.category IN (" + ", ".join("?" * len(names)) + ")")
                params.extend(names)
            source = f"{schema.ENTRIES} e"
        else:
            id_col = "s.rowid"
            params.append(plan.match)
            source = f"{schema.SEARCH}(?) s"
            if plan.scan_terms:
                source += f" CROSS JOIN {schema.ENTRIES} e ON e.id = s.rowid"
        bounds = _id_bounds(spec, id_col)
        if bounds is None:
            return 0
        where.extend(bounds[0])
        params.extend(bounds[1])
        for term in plan.scan_terms:
            where.append("instr(e.haystack, ?) > 0")
            params.append(term)
        sql = f"SELECT count(*) FROM {source}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return pending + int(cursor.execute(sql, params).fetchone()[0])

    def categories(self, org_id: str) -> dict[str, int]:
        """See :meth:`Store.categories`: read from the count table, never by scanning entries."""
        with self._errors("reading"), self._reading() as conn:
            code = self._org_code(conn, org_id)
            if code is None:
                return {}
            rows = (
                self._cursor(conn)
                .execute(
                    "SELECT category, n FROM activitylog_counts WHERE org = ? AND n > 0",
                    (code,),
                )
                .fetchall()
            )
        return {name: int(n) for name, n in rows}

    def chain(self, org_id: str, after_seq: int = 0) -> Iterator[Entry]:
        """See :meth:`Store.chain`: streamed in chunks of :data:`CHUNK` rows, keyset on seq."""
        for rows, plain in self._chain_rows(org_id, after_seq):
            build = _entry if plain else _checked_entry
            for row in rows:
                yield build(row, org_id)

    def chain_records(self, org_id: str, after_seq: int = 0) -> Iterator[tuple[Any, Any, Any, Any]]:
        """:meth:`chain` as ``(seq, prev_hash, hash, content)`` records for verification.

        An optional capability that :func:`~activitylog.integrity.verify` uses when a store
        has it: ``content`` is the row's values in ``integrity.RECORD_FIELDS`` order when they
        are exactly what the entry would hold, otherwise the entry itself. Verifying then
        skips building entries (and their validation), which was half its cost.
        """
        for rows, plain in self._chain_rows(org_id, after_seq):
            if plain:
                for row in rows:
                    yield _record(row, org_id)
            else:
                for row in rows:
                    yield row[1], row[-2], row[-1], _checked_entry(row, org_id)

    def _chain_rows(self, org_id: str, after_seq: int) -> Iterator[tuple[list[Any], bool]]:
        """The chain's rows in chunks, each read in its own short read transaction, and
        whether the connection reads text the default way (see :func:`_name`)."""
        last: tuple[int, int] = (after_seq, 2**63 - 1)
        while True:
            with self._errors("reading"), self._reading() as conn:
                code = self._org_code(conn, org_id)
                if code is None:
                    return
                rows = (
                    self._cursor(conn)
                    .execute(
                        f"SELECT {_COLUMNS} FROM {schema.ENTRIES} e "
                        "WHERE e.org = ? AND (e.seq, e.id) > (?, ?) "
                        "ORDER BY e.seq, e.id LIMIT ?",
                        (code, *last, CHUNK),
                    )
                    .fetchall()
                )
                plain = conn.text_factory is str
            yield rows, plain
            if len(rows) < CHUNK:
                return
            last = (rows[-1][1], rows[-1][0])

    def head(self, org_id: str) -> ChainHead | None:
        """See :meth:`Store.head`."""
        if not _storable(org_id):
            return None
        with self._errors("reading"), self._reading() as conn:
            row = (
                self._cursor(conn)
                .execute(
                    "SELECT head_seq, head_hash FROM activitylog_orgs WHERE org_id = ?",
                    (org_id,),
                )
                .fetchone()
            )
        return None if row is None else ChainHead(int(row[0]), row[1])

    def org_ids(self) -> list[str]:
        """See :meth:`Store.org_ids`."""
        with self._errors("reading"), self._reading() as conn:
            rows = (
                self._cursor(conn)
                .execute("SELECT org_id FROM activitylog_orgs WHERE head_seq > 0")
                .fetchall()
            )
        return sorted(row[0] for row in rows)

    @property
    def searches_with_index(self) -> bool:
        """Whether searches use the FTS5 trigram index (``False``: they scan)."""
        return self._search


class _Transaction:
    """``BEGIN IMMEDIATE``/``COMMIT``, or with ``nested`` inside an open transaction a SAVEPOINT
    that is released into it (the owner of the transaction commits or rolls back).

    A class rather than a generator: one-entry appends run it for every entry.
    """

    __slots__ = ("conn", "savepoint")

    def __init__(self, conn: sqlite3.Connection, *, nested: bool) -> None:
        self.conn = conn
        self.savepoint = nested and conn.in_transaction

    def __enter__(self) -> None:
        self.conn.execute("SAVEPOINT activitylog" if self.savepoint else "BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        conn = self.conn
        if self.savepoint:
            if exc_type is None:
                conn.execute("RELEASE activitylog")
            else:
                _quietly(conn, "ROLLBACK TO activitylog")
                _quietly(conn, "RELEASE activitylog")
            return
        if exc_type is None:
            try:
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    _quietly(conn, "ROLLBACK")
                raise
        elif conn.in_transaction:
            _quietly(conn, "ROLLBACK")


def _quietly(conn: sqlite3.Connection, sql: str) -> None:
    """Run a cleanup statement whose failure must not hide the error being handled."""
    with suppress(sqlite3.Error):
        conn.execute(sql)


def _id_bounds(spec: QuerySpec, column: str) -> tuple[list[str], list[Any]] | None:
    """``since``/``until`` as conditions on the id column; ``None`` when nothing can match."""
    where: list[str] = []
    params: list[Any] = []
    if spec.since_id is not None:
        if spec.since_id > _MAX_INT:
            return None
        where.append(f"{column} >= ?")
        params.append(spec.since_id)
    if spec.until_id is not None and spec.until_id <= _MAX_INT:
        where.append(f"{column} < ?")
        params.append(spec.until_id)
    return where, params


def _keyset(spec: QuerySpec, id_col: str) -> tuple[list[str], list[Any]] | None:
    """The condition "strictly after ``spec.after``"; ``None`` when nothing can match.

    Keys come from cursors, which a client can edit: integers beyond SQLite's range and labels
    that are not valid text are rewritten to equivalent conditions instead of failing.
    """
    if spec.after is None:
        return [], []
    before = spec.descending
    number = spec.after[-1]
    if spec.sort == "date":
        if number > _MAX_INT:
            return ([], []) if before else None
        if number < _MIN_INT:
            return None if before else ([], [])
        return [f"{id_col} {'<' if before else '>'} ?"], [number]
    label = spec.after[0]
    strict = True
    if not _storable(label):
        # No stored label equals it: cut it before its first unstorable character and bump
        # that position just past every surrogate, which orders the same against valid text.
        cut = next(i for i, ch in enumerate(label) if not _storable(ch))
        label = label[:cut] + "\ue000"
        number, strict = _MIN_INT, before
    if number > _MAX_INT:
        number, strict = _MAX_INT, not before
    elif number < _MIN_INT:
        number, strict = _MIN_INT, before
    operator = ("<" if strict else "<=") if before else (">" if strict else ">=")
    return [f"(e.label, e.id) {operator} (?, ?)"], [label, number]


def _storable(text: str) -> bool:
    """Whether SQLite can hold ``text`` exactly (valid UTF-8, so no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _url_option(key: str, value: str, url: str) -> Any:
    if key == "synchronous":
        return value
    if key == "busy_timeout":
        try:
            return float(value)
        except ValueError:
            raise ConfigurationError(f"busy_timeout must be a number in {url!r}") from None
    if key == "fts":
        choices = {"1": True, "true": True, "0": False, "false": False, "auto": None}
        if value.lower() not in choices:
            raise ConfigurationError(f"fts must be 1, 0 or auto in {url!r}")
        return choices[value.lower()]
    raise ConfigurationError(
        f"unknown option {key!r} in {url!r} (known: synchronous, busy_timeout, fts)"
    )
