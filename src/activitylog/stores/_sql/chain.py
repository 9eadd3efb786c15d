"""The chain-record reader :func:`activitylog.integrity.verify` uses on SQL stores.

Contract: a store that reads its chain as rows (:mod:`.rows` format) offers
``chain_records(org_id, after_seq)``, yielding a record of each row in ``seq`` order
(:func:`records` makes them from chunks of rows). A record is ``(seq, prev_hash, hash,
content)``, where ``content`` is the entry's canonical text when the row holds exactly what an
entry would (:class:`_Texts` builds it straight from the row), or what :func:`record` makes of
any other row: the entry itself (built by :func:`.rows.decode` or, for rows whose text may not
be ``str``, :func:`.decode_checked`), so that verification still sees a tampered row as stored.
Building neither entries nor value tuples for untampered rows is most of verification's speed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from json.encoder import encode_basestring
from typing import Any

from ... import ids, search
from ...canonical import _API_KEY, _CANONICAL, _TARGET, _encode_json, _micros_timestamp
from ...reports import Altered
from .rows import (
    ENUM_CONVERTERS,
    FIELDS,
    KINDS,
    SOURCES,
    changes_pairs,
    decode,
    decode_checked,
    is_name,
    is_text,
    metadata_object,
    shared_actor,
)

#: ``(seq, prev_hash, hash, content)``.
Record = tuple[Any, Any, Any, Any]


def record(row: Sequence[Any], org_id: str) -> Record:
    """A chain record for :func:`~activitylog.integrity.verify`: ``(seq, prev_hash, hash,
    content)``, where content is the row's plain values in ``integrity.RECORD_FIELDS`` order.

    Only rows that :func:`~.rows.decode` builds without the validating path, whose text fields
    are text and whose ``changes`` are ``[old, new]`` pairs are handed over as values; any other
    row is handed over as its entry, so that verification reads it as it always did.
    """
    (id_, seq, action, label, category, kind, actor_id, actor_name, avatar, actor_kind,
     description, micros, source, key_id, key_name, target_type, target_id, target_label,
     changes, metadata, idempotency_key, prev_hash, hash_) = row  # fmt: skip
    if (
        ENUM_CONVERTERS
        and type(id_) is int
        and 0 <= id_ <= ids.MAX_ID
        and kind in KINDS
        and source in SOURCES
        and type(micros) is int
        and type(action) is str
        and type(label) is str
        and type(category) is str
        and type(description) is str
        and (idempotency_key is None or type(idempotency_key) is str)
        and shared_actor(actor_id, actor_name, avatar, actor_kind) is not None
        and ((key_id is None and key_name is None) or (is_name(key_id) and is_name(key_name)))
        and (
            (target_type is None and target_id is None and target_label is None)
            or (is_name(target_type) and is_name(target_id) and is_text(target_label))
        )
    ):
        decoded_changes = changes_pairs(changes)
        decoded_metadata = metadata_object(metadata)
        if decoded_changes is not False and decoded_metadata is not None:
            fields = (
                format(id_, "016x"), org_id, *row[2:18],
                decoded_changes, decoded_metadata, idempotency_key,
            )  # fmt: skip
            return seq, prev_hash, hash_, fields
    return seq, prev_hash, hash_, decode(row, org_id)


def records(
    chunks: Iterable[tuple[Sequence[Sequence[Any]], bool]],
    org_id: str,
    *,
    search_text: bool = False,
) -> Iterator[Record]:
    """The records of chunks of rows; each chunk says whether its text values are all ``str``
    (then each row's content is its canonical text, built by :class:`_Texts`, or what
    :func:`record` makes of a row of another shape; otherwise every row is checked as an
    entry).

    With ``search_text``, each row carries its stored search text last: a row whose search
    text is not the one its label, description and actor name give (edited to hide it from
    search, say) is handed over as :class:`~activitylog.reports.Altered`.
    """
    text = _Texts(org_id)
    derive = search.haystack
    for chunk, plain in chunks:
        for row in chunk:
            content: Any = text(row) if plain else None
            if content is None:
                entry = row[:_WIDTH]
                content = record(entry, org_id)[3] if plain else decode_checked(entry, org_id)
            if search_text:
                try:
                    same = row[_WIDTH] == derive(row[3], row[10], row[7])
                except (TypeError, AttributeError):
                    same = True  # fields of the wrong type: their hash already fails
                if not same:
                    content = _ALTERED
            yield row[1], row[21], row[22], content


_WIDTH = len(FIELDS)
_ALTERED = Altered("its search text no longer matches its fields")


class _Odd(Exception):
    """A row :func:`record` would not hand over as plain values."""


#: Fragments kept per cache (each is cleared when full); JSON texts longer than this are not kept.
_CACHE = 4096
_CACHED_JSON = 256
_ACTOR = '{"avatar_url":%s,"id":%s,"kind":%s,"name":%s}'
#: The canonical template with the actor filled in whole and the id written from its integer.
_ROW = _CANONICAL.replace(_ACTOR, "%s", 1).replace(',"id":%s,', ',"id":"%016x",', 1)
assert _ROW.count("%") == _CANONICAL.count("%") - 3, "the canonical template changed shape"
# JSON text that decodes and encodes again to itself: a string needing no escape, a short
# integer (not "-0"), a literal; objects of one key, so that no key order is in question.
_SCALAR = r'(?:"[^"\\\x00-\x1f]*"|0|-?[1-9][0-9]{0,15}|null|true|false)'
_KEY = r'"[^"\\\x00-\x1f]*"'
#: ``changes`` of one field already in canonical form (the usual shape: stored as is).
_CANONICAL_CHANGE = re.compile(rf"\{{{_KEY}:\[{_SCALAR},{_SCALAR}\]\}}")
#: ``metadata`` of one key with a plain value, already in canonical form.
_CANONICAL_ONE_VALUE = re.compile(rf"\{{{_KEY}:{_SCALAR}\}}")
_KIND_TEXT = {value: encode_basestring(value) for value in KINDS}
_SOURCE_TEXT = {value: encode_basestring(value) for value in SOURCES}


class _Texts:
    """The canonical text of a row (as ``integrity.fields_text`` of the plain values
    :func:`record` hands over), or ``None`` for a row :func:`record` would hand over as its
    entry.

    Straight from the row, without the tuple of values, and with the parts that recur from row
    to row (names, actors, API keys, ``changes`` and ``metadata`` by their stored text) encoded
    once: verification spent most of its time building these texts.
    """

    def __init__(self, org_id: str) -> None:
        self.org = encode_basestring(org_id)
        self.names: dict[str, str] = {}
        self.actors: dict[tuple[Any, ...], str] = {}
        self.keys: dict[tuple[Any, Any], str] = {}
        self.changes: dict[str, str] = {}
        self.metadata: dict[str, str] = {}

    def __call__(self, row: Sequence[Any]) -> str | None:
        (id_, _, action, label, category, kind, actor_id, actor_name, avatar, actor_kind,
         description, micros, source, key_id, key_name, target_type, target_id, target_label,
         changes, metadata, idempotency_key, *_) = row  # fmt: skip
        if not ENUM_CONVERTERS or type(id_) is not int or type(micros) is not int:
            return None
        names = self.names
        string = encode_basestring  # raises TypeError for anything but text
        try:
            if not 0 <= id_ <= ids.MAX_ID:
                raise _Odd
            actor = self.actors.get((actor_id, actor_name, avatar, actor_kind)) or self._actor(
                actor_id, actor_name, avatar, actor_kind
            )
            if key_id is None and key_name is None:
                key = "null"
            else:
                key = self.keys.get((key_id, key_name)) or self._key(key_id, key_name)
            if changes is None:
                changes_text = "null"
            else:
                changes_text = self.changes.get(changes) or self._changes(changes)
            if metadata == "{}":
                metadata_text = "{}"
            else:
                metadata_text = self.metadata.get(metadata) or self._metadata(metadata)
            if target_type is None and target_id is None and target_label is None:
                target = "null"
            elif is_name(target_type) and is_name(target_id) and is_text(target_label):
                target = _TARGET % (
                    string(target_id),
                    "null" if target_label is None else string(target_label),
                    string(target_type),
                )
            else:
                raise _Odd
            return _ROW % (
                names.get(action) or self._name(action),
                actor,
                key,
                names.get(category) or self._name(category),
                changes_text,
                string(description),
                id_,
                "null" if idempotency_key is None else string(idempotency_key),
                _KIND_TEXT[kind],
                names.get(label) or self._name(label),
                metadata_text,
                _micros_timestamp(micros),
                self.org,
                _SOURCE_TEXT[source],
                target,
            )
        except (_Odd, KeyError, TypeError, ValueError, OverflowError):
            return None

    def _name(self, value: Any) -> str:
        text = encode_basestring(value)
        _keep(self.names, value, text)
        return text

    def _actor(self, actor_id: Any, actor_name: Any, avatar: Any, actor_kind: Any) -> str:
        if shared_actor(actor_id, actor_name, avatar, actor_kind) is None:
            raise _Odd
        string = encode_basestring
        text = _ACTOR % (
            "null" if avatar is None else string(avatar),
            string(actor_id),
            string(actor_kind),
            string(actor_name),
        )
        _keep(self.actors, (actor_id, actor_name, avatar, actor_kind), text)
        return text

    def _key(self, key_id: Any, key_name: Any) -> str:
        if not (is_name(key_id) and is_name(key_name)):
            raise _Odd
        text = _API_KEY % (encode_basestring(key_id), encode_basestring(key_name))
        _keep(self.keys, (key_id, key_name), text)
        return text

    def _changes(self, stored: Any) -> str:
        if type(stored) is str and _CANONICAL_CHANGE.fullmatch(stored):
            return stored
        pairs = changes_pairs(stored)
        if pairs is False:
            raise _Odd
        text = "null" if pairs is None else _encode_json(pairs)
        if type(stored) is str and len(stored) <= _CACHED_JSON:
            _keep(self.changes, stored, text)
        return text

    def _metadata(self, stored: Any) -> str:
        if type(stored) is str and _CANONICAL_ONE_VALUE.fullmatch(stored):
            return stored
        value = metadata_object(stored)
        if value is None:
            raise _Odd
        text = _encode_json(value) if value else "{}"
        if type(stored) is str and len(stored) <= _CACHED_JSON:
            _keep(self.metadata, stored, text)
        return text


def _keep(cache: dict[Any, str], key: Any, text: str) -> None:
    if len(cache) >= _CACHE:
        cache.clear()
    cache[key] = text
