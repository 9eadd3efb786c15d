"""The canonical encoding of an entry, and the hash chain that links entries by it.

``hash = SHA-256(prev_hash + "\\n" + canonical(entry))`` (HMAC-SHA-256 with the log's
``integrity_key`` when one is set), where ``canonical`` is the versioned encoding documented in
``docs/integrity.md``. ``seq`` is not part of the encoding: an entry's place is fixed by its
``prev_hash`` link. :mod:`activitylog.integrity` verifies chains and re-exports these names.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from json.encoder import encode_basestring
from typing import Any

from . import ids
from .models import ActorKind, Entry, Kind, Source

#: Version of the canonical encoding; part of every encoded entry (``"v"``).
ENCODING_VERSION = 1

#: The fields of :class:`~activitylog.models.Entry` the chain stores rather than hashes.
CHAIN_FIELDS = ("seq", "prev_hash", "hash")

#: ``occurred_at`` as encoded: what ``isoformat(timespec="microseconds")`` writes, plus a ``Z``.
_TIMESTAMP = "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ"


def timestamp(moment: datetime) -> str:
    """An aware instant as the encoding writes it: UTC, microseconds, ``Z``."""
    if type(moment) is datetime and moment.tzinfo is timezone.utc:
        # The common case, formatted from the fields: twice as fast as converting first.
        return _TIMESTAMP % (
            moment.year, moment.month, moment.day,
            moment.hour, moment.minute, moment.second, moment.microsecond,
        )  # fmt: skip
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("occurred_at must be timezone-aware to be encoded")
    utc = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MAX_MICROS = ids.to_micros(ids.MAX_TIME)
_HOUR = 3_600_000_000
#: ``"MM:SS."`` of each second of an hour.
_MINUTE_SECOND = tuple("%02d:%02d." % divmod(second, 60) for second in range(3600))  # noqa: UP031
_hours: dict[int, str] = {}


def _micros_timestamp(micros: int) -> str:
    """``timestamp`` of the instant ``micros`` microseconds after the epoch.

    Computed from the number instead of through a ``datetime``, with the ``"YYYY-MM-DDTHH:"``
    of each hour cached: verification formats one per entry.
    """
    if not 0 <= micros <= _MAX_MICROS:
        return timestamp(ids.from_micros(micros))
    hours, rest = divmod(micros, _HOUR)
    second, fraction = divmod(rest, 1_000_000)
    prefix = _hours.get(hours)
    if prefix is None:
        day, hour = divmod(hours, 24)
        prefix = "%sT%02d:" % (date.fromordinal(_EPOCH_ORDINAL + day).isoformat(), hour)  # noqa: UP031
        if len(_hours) >= 4096:
            _hours.clear()
        _hours[hours] = prefix
    return "%s%s%06dZ" % (prefix, _MINUTE_SECOND[second], fraction)  # noqa: UP031


def canonical_dict(entry: Entry) -> dict[str, Any]:
    """The fields an entry's hash covers, as JSON-ready values (every field but seq/prev_hash/hash)."""
    actor, key, target, changes = entry.actor, entry.api_key, entry.target, entry.changes
    kind, source, actor_kind = entry.kind, entry.source, actor.kind
    return {
        "v": ENCODING_VERSION,
        "id": entry.id,
        "org_id": entry.org_id,
        "action": entry.action,
        "label": entry.label,
        "category": entry.category,
        # ``_value_`` is what ``value`` returns, without the descriptor call (exports build
        # this dict for every entry).
        "kind": kind._value_ if type(kind) is Kind else kind.value,
        "actor": {
            "id": actor.id,
            "name": actor.name,
            "avatar_url": actor.avatar_url,
            "kind": actor_kind._value_ if type(actor_kind) is ActorKind else actor_kind.value,
        },
        "description": entry.description,
        "occurred_at": timestamp(entry.occurred_at),
        "source": source._value_ if type(source) is Source else source.value,
        "api_key": None if key is None else {"id": key.id, "name": key.name},
        "target": None
        if target is None
        else {"type": target.type, "id": target.id, "label": target.label},
        "changes": None
        if changes is None
        else {k: [old, new] for k, (old, new) in changes.items()},
        "metadata": dict(entry.metadata),
        "idempotency_key": entry.idempotency_key,
    }


def _unmappable(value: object) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


# Entries hold JSON round-trip copies, which cannot be circular; skipping that check makes
# encoding a third faster.
_ENCODER = json.JSONEncoder(
    sort_keys=True,
    separators=(",", ":"),
    ensure_ascii=False,
    allow_nan=False,
    check_circular=False,
    default=_unmappable,
)


def _c_encoder() -> Callable[[Any], str]:
    """``_ENCODER.encode`` for dicts and lists, without making a new C encoder at each call."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the _json accelerator
        return _ENCODER.encode
    # The arguments JSONEncoder.iterencode passes for _ENCODER's settings.
    chunks = make(None, _unmappable, encode_basestring, None, ":", ",", True, False,
                            False)  # fmt: skip

    def encode(value: Any) -> str:
        return "".join(chunks(value, 0))

    return encode


_encode_json = _c_encoder()

#: The canonical object with its keys already in sorted order, filled in by ``%``.
_CANONICAL = (
    '{"action":%s,"actor":{"avatar_url":%s,"id":%s,"kind":%s,"name":%s},"api_key":%s,'
    '"category":%s,"changes":%s,"description":%s,"id":%s,"idempotency_key":%s,"kind":%s,'
    '"label":%s,"metadata":%s,"occurred_at":"%s","org_id":%s,"source":%s,"target":%s,"v":1}'
)
_API_KEY = '{"id":%s,"name":%s}'
_TARGET = '{"id":%s,"label":%s,"type":%s}'
_ENCODING_ERRORS = (TypeError, ValueError, AttributeError, OverflowError)


def _canonical_text(entry: Entry) -> str:
    """``canonical(entry)`` before UTF-8 encoding.

    Entries of the usual shape (text fields, real enum members, a UTC ``occurred_at``) are
    written straight into the sorted template, each string by the JSON encoder's own string
    routine: the same text as encoding :func:`canonical_dict`, at about half the cost. Any
    other entry, or one the template cannot encode, goes through :func:`canonical_dict`, so
    that what is encoded, and what is refused, never differs between the two.
    """
    try:
        actor = entry.actor
        kind, source, actor_kind = entry.kind, entry.source, actor.kind
        if type(kind) is Kind and type(source) is Source and type(actor_kind) is ActorKind:
            string = encode_basestring  # raises TypeError for anything but text
            key, target, changes = entry.api_key, entry.target, entry.changes
            avatar, idempotency_key = actor.avatar_url, entry.idempotency_key
            metadata = dict(entry.metadata)
            return _CANONICAL % (
                string(entry.action),
                "null" if avatar is None else string(avatar),
                string(actor.id),
                string(actor_kind),  # a str enum member encodes as its value
                string(actor.name),
                "null" if key is None else _API_KEY % (string(key.id), string(key.name)),
                string(entry.category),
                "null"
                if changes is None
                else _encode_json({k: [old, new] for k, (old, new) in changes.items()}),
                string(entry.description),
                string(entry.id),
                "null" if idempotency_key is None else string(idempotency_key),
                string(kind),
                string(entry.label),
                _encode_json(metadata) if metadata else "{}",
                timestamp(entry.occurred_at),
                string(entry.org_id),
                string(source),
                "null"
                if target is None
                else _TARGET
                % (
                    string(target.id),
                    "null" if target.label is None else string(target.label),
                    string(target.type),
                ),
            )
    except _ENCODING_ERRORS:
        pass  # the reference path below raises its own error, or encodes what it can
    return _ENCODER.encode(canonical_dict(entry))


def canonical(entry: Entry) -> bytes:
    """The canonical encoding: compact JSON, keys sorted, UTF-8, no ASCII escaping."""
    return _canonical_text(entry).encode("utf-8")


#: The plain values a store may hand to :func:`verify` instead of an entry (see
#: :func:`fields_text`), in this order.
RECORD_FIELDS = (
    "id", "org_id", "action", "label", "category", "kind", "actor.id", "actor.name",
    "actor.avatar_url", "actor.kind", "description", "occurred_at", "source", "api_key.id",
    "api_key.name", "target.type", "target.id", "target.label", "changes", "metadata",
    "idempotency_key",
)  # fmt: skip


def fields_text(fields: tuple[Any, ...]) -> str:
    """The canonical encoding (as text) of an entry given as plain values (RECORD_FIELDS order).

    A store that reads rows can verify them without building entries: ``kind``, ``source`` and
    ``actor.kind`` are the enum values as text, ``occurred_at`` is microseconds since the
    epoch, ``api_key``/``target`` are absent when their ``id``/``type`` is ``None``,
    ``changes`` is ``None`` or maps fields to ``(old, new)`` pairs and ``metadata`` is a
    mapping. The store vouches that these are the values the stored entry holds; then the
    text is exactly that of :func:`canonical`. Raises ``TypeError`` when a text field is not
    text, ``OverflowError`` for an instant no datetime holds.
    """
    (id_, org_id, action, label, category, kind, actor_id, actor_name, avatar, actor_kind,
     description, micros, source, key_id, key_name, target_type, target_id, target_label,
     changes, metadata, idempotency_key) = fields  # fmt: skip
    string = encode_basestring
    return _CANONICAL % (
        string(action),
        "null" if avatar is None else string(avatar),
        string(actor_id),
        string(actor_kind),
        string(actor_name),
        "null" if key_id is None else _API_KEY % (string(key_id), string(key_name)),
        string(category),
        "null" if changes is None else _encode_json(changes),
        string(description),
        string(id_),
        "null" if idempotency_key is None else string(idempotency_key),
        string(kind),
        string(label),
        _encode_json(metadata) if metadata else "{}",
        _micros_timestamp(micros),
        string(org_id),
        string(source),
        "null"
        if target_type is None
        else _TARGET
        % (
            string(target_id),
            "null" if target_label is None else string(target_label),
            string(target_type),
        ),
    )


class HashChain:
    """Links entries with SHA-256, or HMAC-SHA-256 when given a secret ``key``."""

    def __init__(self, key: bytes | str | None = None) -> None:
        if isinstance(key, str):
            key = key.encode("utf-8")
        if key is not None and not key:
            raise ValueError("integrity_key must not be empty")
        self._key = key

    @property
    def keyed(self) -> bool:
        """Whether links are HMACs (forging them needs the key)."""
        return self._key is not None

    def link(self, prev_hash: str, entry: Entry) -> str:
        """The hash of ``entry`` chained after ``prev_hash`` (both lowercase hex)."""
        return self.digest(prev_hash, _canonical_text(entry))

    def digest(self, prev_hash: str, canonical_text: str) -> str:
        """The link of an entry given by its canonical encoding as text (see fields_text())."""
        message = prev_hash.encode("ascii") + b"\n" + canonical_text.encode("utf-8")
        if self._key is None:
            return hashlib.sha256(message).hexdigest()
        # The one-shot C HMAC: the same digest as hmac.new(...).hexdigest(), three times faster.
        return hmac.digest(self._key, message, "sha256").hex()

    def ascii_digest(self) -> Callable[[str, str], str]:
        """:meth:`digest` as a plain function for a ``prev_hash`` known to be ASCII (a hash the
        caller verified): one encoding of the message instead of two, once per entry verified."""
        key = self._key
        if key is None:
            sha256 = hashlib.sha256

            def plain(prev_hash: str, canonical_text: str) -> str:
                return sha256(f"{prev_hash}\n{canonical_text}".encode()).hexdigest()

            return plain
        keyed_digest = hmac.digest

        def keyed(prev_hash: str, canonical_text: str) -> str:
            return keyed_digest(key, f"{prev_hash}\n{canonical_text}".encode(), "sha256").hex()

        return keyed
