"""Stored rows <-> entries, for every SQL store (the contract below is what stores rely on).

A *row* is a sequence of the values of :data:`FIELDS`, in that order, as a SQL driver returns
them for ``SELECT`` of :func:`columns`:

- ``id``: the entry id as an integer (:func:`activitylog.ids.decode`), ``seq`` an integer;
- ``kind``, ``actor_kind``, ``source``: the enum values as text;
- ``occurred_at``: integer microseconds since :data:`activitylog.ids.EPOCH` (UTC);
- ``changes``: JSON text of ``{field: [old, new]}`` or ``NULL``; ``metadata``: JSON text of an
  object (``"{}"`` when empty), both as :data:`json_text` writes them;
- every other value as text (or ``NULL`` where the entry allows ``None``).

Writing: :func:`encode` gives an entry's place-independent values (id as an integer, the values
from ``action`` to ``idempotency_key`` in :data:`FIELDS` order, and the search haystack) and
raises :class:`~activitylog.errors.InvalidEntry` / :class:`~activitylog.errors.MetadataError`
for what no store can hold; :func:`placed` is the entry at its ``seq`` and ``prev_hash``, and
:func:`set_hash` completes it (only while it is still private to the appending call).

Reading: :func:`decode` builds the entry a row holds, the same entry the validating
constructors would build, without running them again for rows that pass cheap checks (most of
the cost of a page); :func:`decode_checked` always validates and :func:`decode_raw` holds a
tampered row's values as stored. No decoder raises for a tampered row: verification must see it.
``decode`` assumes text values are valid text (``str``); a driver that may hand over anything
else (bytes, for one) must use ``decode_checked``.

Decoded actors, ``changes`` and ``metadata`` are shared between entries read back (they are
immutable), in bounded caches.
"""

from __future__ import annotations

import enum
import functools
import json
import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from types import MemberDescriptorType
from typing import Any, Literal

import attrs

from ... import ids, search
from ...errors import ActivityLogError, InvalidEntry, MetadataError
from ...models import Actor, ActorKind, ApiKeyRef, Entry, Kind, Source, Target

#: The stored fields of an entry, in row order (the organization is stored as the store likes).
FIELDS = (
    "id", "seq", "action", "label", "category", "kind", "actor_id", "actor_name",
    "actor_avatar_url", "actor_kind", "description", "occurred_at", "source", "api_key_id",
    "api_key_name", "target_type", "target_id", "target_label", "changes", "metadata",
    "idempotency_key", "prev_hash", "hash",
)  # fmt: skip


def columns(alias: str = "e") -> str:
    """The select list of a row: :data:`FIELDS` qualified by a table alias."""
    return ", ".join(f"{alias}.{name}" for name in FIELDS)


#: Compact JSON with keys in insertion order, as ``changes`` and ``metadata`` are stored.
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

        sample = {"b": [1, 2.5, None, True, 'é\n"'], "a": {"x": float("inf")}}
        if encode(sample) == _JSON.encode(sample):
            return encode
    except (TypeError, ValueError):  # a C encoder with another signature
        pass
    return _JSON.encode


json_text = _compact_json()


#: The columns of an entry that do not depend on its place in the log: its id as an integer,
#: the row's values from ``action`` to ``idempotency_key``, and its search haystack.
Encoded = tuple[int, tuple[Any, ...], str]


def encode(entry: Entry) -> Encoded:
    moment = entry.occurred_at
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidEntry(f"entry {entry.id}: occurred_at must be timezone-aware")
    changes = entry.changes
    try:
        changes_text = (
            None
            if changes is None
            else json_text({k: [old, new] for k, (old, new) in changes.items()})
        )
        metadata = entry.metadata
        metadata_text = json_text(metadata) if metadata else "{}"
    except (TypeError, ValueError, RecursionError) as exc:
        raise MetadataError(f"entry {entry.id}: metadata and changes must be JSON: {exc}") from None
    actor, key, target = entry.actor, entry.api_key, entry.target
    description, label = entry.description, entry.label
    actor_name = actor.name
    # ``_value_`` rather than ``value``: the same string, without the enum property's call.
    return (
        ids.decode(entry.id),
        (
            entry.action,
            label,
            entry.category,
            entry.kind._value_,
            actor.id,
            actor_name,
            actor.avatar_url,
            actor.kind._value_,
            description,
            ids.to_micros(moment),
            entry.source._value_,
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


def placed(entry: Entry, id_: str, seq: int, prev_hash: str) -> Entry:
    """``entry`` at its place in the log (hash still ``None``).

    Equivalent to ``attrs.evolve`` but without re-running validators and converters on an
    entry that already passed them: bulk appends spend a good part of their time there.
    """
    if type(entry) is not Entry:
        return attrs.evolve(entry, id=id_, seq=seq, prev_hash=prev_hash, hash=None)
    (_, org_id, action, label, category, kind, actor, description, occurred_at, source, api_key,
     target, changes, metadata, idempotency_key, _, _, _) = _entry_values(entry)  # fmt: skip
    moved = object.__new__(Entry)
    _set_id(moved, id_)
    _set_org_id(moved, org_id)
    _set_action(moved, action)
    _set_label(moved, label)
    _set_category(moved, category)
    _set_kind(moved, kind)
    _set_actor(moved, actor)
    _set_description(moved, description)
    _set_occurred_at(moved, occurred_at)
    _set_source(moved, source)
    _set_api_key(moved, api_key)
    _set_target(moved, target)
    _set_changes(moved, changes)
    _set_metadata(moved, metadata)
    _set_idempotency_key(moved, idempotency_key)
    _set_seq(moved, seq)
    _set_prev_hash(moved, prev_hash)
    set_hash(moved, None)
    return moved


def loads(text: str | None) -> Any:
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
UNREADABLE = (ValueError, TypeError, AttributeError, OverflowError, LookupError)
KINDS = {kind.value: kind for kind in Kind}
SOURCES = {source.value: source for source in Source}
_ACTOR_KINDS = {kind.value: kind for kind in ActorKind}
_EPOCH = ids.EPOCH


def _converter(cls: type[Any], name: str) -> Any:
    return getattr(attrs.fields_dict(cls)[name], "converter", None)


# The entry's own converters, so that rows read back hold exactly what a constructed entry
# holds (read-only, deeply frozen values).
_FREEZE_CHANGES: Callable[[Any], Any] = _converter(Entry, "changes")
_FREEZE_METADATA: Callable[[Any], Any] = _converter(Entry, "metadata")


def _by_value(cls: type[Any], name: str, enum: type[enum.Enum]) -> bool:
    """Whether the field's converter turns each value of ``enum`` (and each member) into that
    member, as a lookup by value does; the converter may refuse anything else its own way."""
    convert = _converter(cls, name)
    if convert is None:
        return False
    try:
        return all(convert(m.value) is m and convert(m) is m for m in enum)
    except (ValueError, TypeError, ActivityLogError):  # refuses a member: no shortcut
        return False


#: Whether the enum fields convert by their enum's values: then the member looked up by value
#: is what the converter returns.
ENUM_CONVERTERS = (
    _by_value(Entry, "kind", Kind)
    and _by_value(Entry, "source", Source)
    and _by_value(Actor, "kind", ActorKind)
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
 _set_metadata, _set_idempotency_key, _set_seq, _set_prev_hash, set_hash) = (
    _SET_ENTRY[name] for name in (
        "id", "org_id", "action", "label", "category", "kind", "actor", "description",
        "occurred_at", "source", "api_key", "target", "changes", "metadata", "idempotency_key",
        "seq", "prev_hash", "hash",
    )
)  # fmt: skip
assert len(_SET_ENTRY) == 18, "Entry gained a field: the row readers below must set it"


def is_name(value: Any) -> bool:
    """Whether the validators of a required name would accept ``value`` read from SQLite.

    Text read through ``sqlite3`` (with its default ``text_factory``) is always valid UTF-8,
    so only emptiness and NUL are left to check.
    """
    return type(value) is str and value != "" and not value.isspace() and "\x00" not in value


def is_text(value: Any) -> bool:
    """Whether an optional text would be accepted (``None`` included)."""
    return value is None or (type(value) is str and "\x00" not in value)


def changes_pairs(text: Any) -> dict[str, list[Any]] | Literal[False] | None:
    """Stored ``changes`` decoded when every value is an ``[old, new]`` pair (then it encodes
    as the entry's frozen pairs do); ``False`` if not."""
    if text is None:
        return None
    value = loads(text)
    if type(value) is not dict:
        return False if value is not None else None
    for pair in value.values():
        if type(pair) is not list or len(pair) != 2:
            return False
    return value


def metadata_object(text: Any) -> dict[str, Any] | None:
    """Stored ``metadata`` decoded when it is an object; ``None`` if not."""
    value = {} if text == "{}" else loads(text)
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


def remember(cache: dict[Any, Any], text: Any, frozen: Any) -> Any:
    """``frozen``, kept in ``cache`` under ``text`` when the text is short (a full cache is
    emptied first: recurring texts come back soon enough)."""
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
#: The actors decoded rows share, by their stored values (each accepted as the validating
#: constructor would).
actors = _actors


def shared_actor(actor_id: Any, actor_name: Any, avatar: Any, actor_kind: Any) -> Actor | None:
    """The actor the validating constructor would build from these stored values (shared);
    ``None`` when it would refuse them."""
    actor_key = (actor_id, actor_name, avatar, actor_kind)
    actor = _actors.get(actor_key)
    if actor is None:
        actor_kind_member = _ACTOR_KINDS.get(actor_kind)
        if actor_kind_member is None or not (
            is_name(actor_id) and is_name(actor_name) and is_text(avatar)
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


def frozen(changes: Any, metadata: Any) -> tuple[Any, Any] | None:
    """``changes`` and ``metadata`` as the entry's converters freeze them (shared);
    ``None`` when the metadata is not an object. Raises what the converters raise."""
    frozen_changes = _NO_CHANGES if changes is None else _frozen_changes.get(changes)
    if frozen_changes is None and changes is not None:
        frozen_changes = remember(_frozen_changes, changes, _FREEZE_CHANGES(loads(changes)))
    frozen_metadata = _frozen_metadata.get(metadata)
    if frozen_metadata is None:
        decoded_metadata = metadata_object(metadata)
        if decoded_metadata is None:
            return None
        frozen_metadata = remember(_frozen_metadata, metadata, _FREEZE_METADATA(decoded_metadata))
    return frozen_changes, frozen_metadata


_set_target_type, _set_target_id, _set_target_label = (
    _SET_TARGET["type"],
    _SET_TARGET["id"],
    _SET_TARGET["label"],
)
_set_key_id, _set_key_name = _SET_KEY["id"], _SET_KEY["name"]
# Bound once: a page calls each of these for every row.
_new = object.__new__
_get_kind, _get_source, _get_actor = KINDS.get, SOURCES.get, _actors.get
_get_changes, _get_metadata = _frozen_changes.get, _frozen_metadata.get
_MAX_ID = ids.MAX_ID
_MAX_MICROS = ids.to_micros(ids.MAX_TIME)
_timedelta = timedelta
_from_timestamp = datetime.fromtimestamp
_UTC = timezone.utc


def decode(row: Sequence[Any], org_id: str) -> Entry:
    """An entry from a stored row: the same entry the validating constructors would build.

    Stored rows were validated when they were written, so a row whose values pass the cheap
    checks below is assembled without running validators and converters again (they were most
    of the cost of a page). Any other row, a tampered one say, takes :func:`decode_checked`.
    """
    (id_, seq, action, label, category, kind, actor_id, actor_name, avatar, actor_kind,
     description, micros, source, key_id, key_name, target_type, target_id, target_label,
     changes, metadata, idempotency_key, prev_hash, hash_) = row  # fmt: skip
    kind_member = _get_kind(kind)
    source_member = _get_source(source)
    if (
        kind_member is None
        or source_member is None
        or type(id_) is not int
        or not 0 <= id_ <= _MAX_ID
        or type(micros) is not int
        or not ENUM_CONVERTERS
    ):
        return decode_checked(row, org_id)
    # Cache hits first: most rows' actor, changes and metadata were seen before.
    actor = _get_actor((actor_id, actor_name, avatar, actor_kind))
    if actor is None:
        actor = shared_actor(actor_id, actor_name, avatar, actor_kind)
        if actor is None:
            return decode_checked(row, org_id)
    if target_type is None and target_id is None and target_label is None:
        target = None
    elif is_name(target_type) and is_name(target_id) and is_text(target_label):
        target = _new(Target)
        _set_target_type(target, target_type)
        _set_target_id(target, target_id)
        _set_target_label(target, target_label)
    else:
        return decode_checked(row, org_id)
    if key_id is None and key_name is None:
        key = None
    elif is_name(key_id) and is_name(key_name):
        key = _new(ApiKeyRef)
        _set_key_id(key, key_id)
        _set_key_name(key, key_name)
    else:
        return decode_checked(row, org_id)
    frozen_metadata = _get_metadata(metadata)
    if changes is None:
        frozen_changes = _NO_CHANGES
        missing = frozen_metadata is None
    else:
        frozen_changes = _get_changes(changes)
        missing = frozen_changes is None or frozen_metadata is None
    try:
        if missing:
            both = frozen(changes, metadata)
            if both is None:
                return decode_checked(row, org_id)
            frozen_changes, frozen_metadata = both
        # Within the years ids cover, a float of seconds is within a quarter microsecond of
        # the instant, so fromtimestamp (which rounds to the microsecond) is exact, and faster.
        if 0 <= micros <= _MAX_MICROS:
            moment = _from_timestamp(micros / 1e6, _UTC)
        else:
            moment = _EPOCH + _timedelta(0, 0, micros)
    except UNREADABLE:
        return decode_checked(row, org_id)
    entry = _new(Entry)
    _set_id(entry, "%016x" % id_)  # noqa: UP031 (the fastest of the three spellings)
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
    _set_changes(entry, frozen_changes)
    _set_metadata(entry, frozen_metadata)
    _set_idempotency_key(entry, idempotency_key)
    _set_seq(entry, seq)
    _set_prev_hash(entry, prev_hash)
    set_hash(entry, hash_)
    return entry


def decode_checked(row: Sequence[Any], org_id: str) -> Entry:
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
            changes=loads(changes),
            metadata=loads(metadata),
            idempotency_key=idempotency_key,
            seq=seq,
            prev_hash=prev_hash,
            hash=hash_,
        )
    except UNREADABLE:
        # A tampered row: hand it to verification as it is stored.
        return decode_raw(row, org_id)


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


def decode_raw(row: Sequence[Any], org_id: str) -> Entry:
    (id_, seq, action, label, category, kind, actor_id, actor_name, avatar, actor_kind,
     description, micros, source, key_id, key_name, target_type, target_id, target_label,
     changes, metadata, idempotency_key, prev_hash, hash_) = row  # fmt: skip
    decoded_changes = loads(changes)
    decoded_metadata = loads(metadata)
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
