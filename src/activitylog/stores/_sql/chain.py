"""The chain-record reader :func:`activitylog.integrity.verify` uses on SQL stores.

Contract: a store that reads its chain as rows (:mod:`.rows` format) offers
``chain_records(org_id, after_seq)``, yielding :func:`record` of each row in ``seq`` order
(:func:`records` does it for chunks of rows). A record is ``(seq, prev_hash, hash, content)``,
where ``content`` is either the row's values in ``integrity.RECORD_FIELDS`` order, when they
are exactly what the entry would hold, or the entry itself (built by :func:`.rows.decode` or,
for rows whose text may not be ``str``, :func:`.decode_checked`). Verification then skips
building entries for untampered rows, which was half its cost, and still sees a tampered row
as stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ... import ids
from .rows import (
    ENUM_CONVERTERS,
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
    chunks: Iterable[tuple[Sequence[Sequence[Any]], bool]], org_id: str
) -> Iterator[Record]:
    """The records of chunks of rows; each chunk says whether its text values are all ``str``
    (then :func:`record` reads them; otherwise every row is checked as an entry)."""
    for chunk, plain in chunks:
        if plain:
            for row in chunk:
                yield record(row, org_id)
        else:
            for row in chunk:
                yield row[1], row[-2], row[-1], decode_checked(row, org_id)
