"""Entries as the command line shows and exports them: JSON data, CSV rows, table rows; and
exports' pages, straight from a SQLite store's rows (see "straight from stored rows" below)."""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from .. import ids, integrity
from ..canonical import _micros_timestamp
from ..models import Entry, Source
from ..query import MAX_PAGE_SIZE, Query
from ..stores._sql import rows
from ..stores.sqlite import SQLiteStore, stream

#: Characters that make a spreadsheet read a cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS = (
    "id",
    "occurred_at",
    "action",
    "label",
    "category",
    "kind",
    "actor_id",
    "actor_name",
    "actor_kind",
    "actor_avatar_url",
    "description",
    "source",
    "api_key_id",
    "api_key_name",
    "target_type",
    "target_id",
    "target_label",
    "changes",
    "metadata",
    "idempotency_key",
    "seq",
    "prev_hash",
    "hash",
)

ENTRY_HEADERS = ("ACTION", "USER", "DESCRIPTION", "DATE")


def entry_record(entry: Entry) -> dict[str, Any]:
    """Every stored field of an entry as JSON-ready data (nested like the integrity encoding)."""
    data = integrity.canonical_dict(entry)
    del data["v"]
    data["seq"] = entry.seq
    data["prev_hash"] = entry.prev_hash
    data["hash"] = entry.hash
    return data


def one_encoder(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """``encoder.encode`` through one C encoder made once (``encode`` makes one per call, a
    good part of the cost of a small record); the same text, checked on a sample."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None or encoder.indent is not None or encoder.sort_keys:
        return encoder.encode
    try:
        # No circularity check (entries hold JSON round-trip copies, which cannot be
        # circular): a check's markers would also outlive a failed call of a shared encoder.
        chunks = make(None, encoder.default,
                      json.encoder.encode_basestring if not encoder.ensure_ascii
                      else json.encoder.encode_basestring_ascii,
                      None, encoder.key_separator, encoder.item_separator, False,
                      encoder.skipkeys, encoder.allow_nan)  # fmt: skip
    except (TypeError, ValueError):  # a C encoder with another signature
        return encoder.encode

    def encode(value: Any) -> str:
        return "".join(chunks(value, 0))

    sample = {"b": [1, 2.5, None, True, -0.0, 'é\n"\u2028'], "a": {"x": 10**20}, "": []}
    return encode if encode(sample) == encoder.encode(sample) else encoder.encode


_compact_json = one_encoder(json.JSONEncoder(ensure_ascii=False, separators=(",", ":")))
#: One JSON Lines record (UTF-8 text kept as it is).
jsonl_json = one_encoder(json.JSONEncoder(ensure_ascii=False))


def csv_safe(value: str) -> str:
    """A cell a spreadsheet will not run as a formula: risky first characters get a quote."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def csv_row(entry: Entry) -> list[str]:
    """One CSV row in :data:`CSV_COLUMNS` order; ``changes``/``metadata`` as compact JSON."""
    # Built from the entry's fields directly: exports call this for every entry, and going
    # through entry_record() costs a third of the export's time.
    actor, key, target, changes = entry.actor, entry.api_key, entry.target, entry.changes
    values = (
        entry.id, integrity.timestamp(entry.occurred_at), entry.action, entry.label,
        entry.category, entry.kind.value, actor.id, actor.name, actor.kind.value,
        actor.avatar_url, entry.description, entry.source.value,
        None if key is None else key.id, None if key is None else key.name,
        None if target is None else target.type, None if target is None else target.id,
        None if target is None else target.label,
        None if changes is None else _compact_json({k: list(v) for k, v in changes.items()}),
        _compact_json(dict(entry.metadata)), entry.idempotency_key,
        None if entry.seq is None else str(entry.seq), entry.prev_hash,
        entry.hash,
    )  # fmt: skip
    return ["" if v is None else csv_safe(v) for v in values]


def user_cell(entry: Entry) -> str:
    """Who acted, and through what when it was not the dashboard."""
    if entry.source is Source.API:
        return f"{entry.actor.name} · API"
    return entry.actor.name


def entry_rows(entries: Sequence[Entry], now: datetime) -> list[list[tuple[str, str | None]]]:
    """Table rows: colored action label, user, description, relative date."""
    return [
        [
            (e.label, e.color),
            (user_cell(e), None),
            (e.description, None),
            (e.relative_time(now), "dim"),
        ]
        for e in entries
    ]


# -- straight from stored rows ------------------------------------------------------------------
# Exports from a SQL store write their records from the stored rows (``_sql.rows.FIELDS``
# order) instead of building an Entry for each: a row that ``rows.decode`` builds from its
# values as they are gives the very cells (and JSON record) its entry gives; any other row goes
# through the entry. Building entries was a third of an export's time.

#: A cell that starts with a formula character, in cells each preceded by a line break (a line
#: break inside a cell may match too: then each cell is checked on its own). Starting with the
#: line break lets the search skip to each one.
_RISKY_CELL = re.compile("\n[=+\\-@\t\r]")
_KINDS, _SOURCES, _MAX_ID = rows.KINDS, rows.SOURCES, ids.MAX_ID
_is_name, _is_text, _shared_actor = rows.is_name, rows.is_text, rows.shared_actor
#: Actors ``decode`` has accepted (and shares), by their stored values.
_actors = rows.actors


def _plain(row: Sequence[Any]) -> bool:
    """Whether ``rows.decode`` builds this row's entry from its values as they are (its
    fields are then the row's values, but ``changes`` and ``metadata``: see :class:`_JsonTexts`)."""
    (id_, _, _, _, _, kind, actor_id, actor_name, avatar, actor_kind, _, micros, source,
     key_id, key_name, target_type, target_id, target_label, _, _, _, _, _) = row  # fmt: skip
    return (
        rows.ENUM_CONVERTERS
        and kind in _KINDS
        and source in _SOURCES
        and type(id_) is int
        and 0 <= id_ <= _MAX_ID
        and type(micros) is int
        and (
            (actor_id, actor_name, avatar, actor_kind) in _actors
            or _shared_actor(actor_id, actor_name, avatar, actor_kind) is not None
        )
        and ((key_id is None and key_name is None) or (_is_name(key_id) and _is_name(key_name)))
        # Checked, not looked up: an export meets most targets once.
        and (
            (target_type is None and target_id is None and target_label is None)
            or (_is_name(target_type) and _is_name(target_id) and _is_text(target_label))
        )
    )


class _JsonTexts:
    """The JSON texts ``csv_row`` (or ``entry_record`` encoded) gives for an entry's
    ``changes`` and ``metadata`` as ``rows.decode`` builds them from their stored texts,
    encoded by ``encode`` and remembered by stored text (short ones)."""

    def __init__(self, encode: Callable[[Any], str]) -> None:
        self.encode = encode
        self.changes: dict[Any, str | None] = {}
        self.metadata: dict[Any, str] = {}

    def __call__(self, changes: Any, metadata: Any) -> tuple[str | None, str] | None:
        """The texts of ``changes`` (``None`` for none) and ``metadata``; ``None`` when
        ``decode`` would not build the entry itself."""
        if changes is None:
            changes_text = None
        else:
            changes_text = self.changes.get(changes, _MISSING)
            if changes_text is _MISSING:
                changes_text = self._changes(changes)
                if changes_text is _MISSING:
                    return None
        metadata_text = self.metadata.get(metadata)
        if metadata_text is None:
            value = rows.metadata_object(metadata)
            if value is None:
                return None
            # Frozen, the values encode as these do (frozen dicts and lists are dicts and
            # lists).
            metadata_text = rows.remember(self.metadata, metadata, self.encode(value))
        return changes_text, metadata_text

    def _changes(self, text: Any) -> Any:
        value = rows.loads(text)
        if type(value) is dict and all(type(v) is list and len(v) == 2 for v in value.values()):
            # The entry's converter makes each pair a tuple of frozen copies, which encode as
            # these lists do.
            return rows.remember(self.changes, text, self.encode(value))
        try:  # any other value: exactly as the entry's converter reads it, if it does
            both = rows.frozen(text, "{}")
        except rows.UNREADABLE:
            return _MISSING
        if both is None:
            return _MISSING
        if both[0] is None:
            return rows.remember(self.changes, text, None)
        pairs = {k: [old, new] for k, (old, new) in both[0].items()}
        return rows.remember(self.changes, text, self.encode(pairs))


_MISSING: Any = object()


_csv_json = _JsonTexts(_compact_json)
_jsonl_json = _JsonTexts(jsonl_json)


def stored_csv_rows(stored: Sequence[Sequence[Any]], org_id: str, plain: bool) -> list[list[str]]:
    """:func:`csv_row` of the entries of stored rows (``plain``: their text was read as usual;
    otherwise each is built with ``rows.decode_checked``)."""
    made: list[list[str]] = []
    for row in stored:
        cells = _cells(row) if plain and _plain(row) else None
        if cells is None:
            cells = csv_row((rows.decode if plain else rows.decode_checked)(row, org_id))
        made.append(cells)
    return made


def _cells(row: Sequence[Any]) -> list[str] | None:
    (id_, seq, action, label, category, kind, actor_id, actor_name, avatar, actor_kind,
     description, micros, source, key_id, key_name, target_type, target_id, target_label,
     changes, metadata, idempotency_key, prev_hash, hash_) = row  # fmt: skip
    json_texts = _csv_json(changes, metadata)
    if json_texts is None:
        return None
    try:
        stamp = _micros_timestamp(micros)
    except rows.UNREADABLE:
        return None
    # None where an entry holds None is an empty cell; anywhere else (tampered) it makes the
    # join fail, and the row goes through its entry.
    cells = [
        "%016x" % id_, stamp, action, label, category, kind, actor_id, actor_name,  # noqa: UP031
        actor_kind, "" if avatar is None else avatar, description, source,
        "" if key_id is None else key_id, "" if key_name is None else key_name,
        "" if target_type is None else target_type, "" if target_id is None else target_id,
        "" if target_label is None else target_label,
        "" if json_texts[0] is None else json_texts[0], json_texts[1],
        "" if idempotency_key is None else idempotency_key, "" if seq is None else str(seq),
        "" if prev_hash is None else prev_hash, "" if hash_ is None else hash_,
    ]  # fmt: skip
    try:
        joined = "\n" + "\n".join(cells)
    except TypeError:  # a value that is not text (tampered): as the entry's cells fail
        return None
    if _RISKY_CELL.search(joined) is not None:
        return [csv_safe(v) for v in cells]
    return cells


def stored_jsonl(stored: Sequence[Sequence[Any]], org_id: str, plain: bool) -> list[str]:
    """The JSON Lines records (:func:`entry_record`, one line each) of stored rows."""
    made: list[str] = []
    org_text = _text(org_id)
    for row in stored:
        line = _record_line(row, org_text) if plain and _plain(row) else None
        if line is None:
            entry = (rows.decode if plain else rows.decode_checked)(row, org_id)
            line = jsonl_json(entry_record(entry)) + "\n"
        made.append(line)
    return made


_text = json.encoder.encode_basestring  # a JSON string, as jsonl_json writes it
#: :func:`entry_record`'s keys in order, as :data:`jsonl_json` writes them; every value is
#: JSON already (``kind``, ``source``, the actor's kind and ``occurred_at`` need no escaping).
_RECORD = (
    '{"id": "%016x", "org_id": %s, "action": %s, "label": %s, "category": %s, "kind": "%s", '
    '"actor": {"id": %s, "name": %s, "avatar_url": %s, "kind": "%s"}, "description": %s, '
    '"occurred_at": "%s", "source": "%s", "api_key": %s, "target": %s, "changes": %s, '
    '"metadata": %s, "idempotency_key": %s, "seq": %s, "prev_hash": %s, "hash": %s}\n'
)

_KEY = '{"id": %s, "name": %s}'
_TARGET = '{"type": %s, "id": %s, "label": %s}'


def _record_line(row: Sequence[Any], org_text: str) -> str | None:
    (id_, seq, action, label, category, kind, actor_id, actor_name, avatar, actor_kind,
     description, micros, source, key_id, key_name, target_type, target_id, target_label,
     changes, metadata, idempotency_key, prev_hash, hash_) = row  # fmt: skip
    if seq is not None and type(seq) is not int:
        return None
    json_texts = _jsonl_json(changes, metadata)
    if json_texts is None:
        return None
    try:
        return _RECORD % (
            id_, org_text, _text(action), _text(label), _text(category), kind,
            _text(actor_id), _text(actor_name), "null" if avatar is None else _text(avatar),
            actor_kind, _text(description), _micros_timestamp(micros), source,
            "null" if key_id is None
            else _KEY % (_text(key_id), _text(key_name)),
            "null" if target_type is None
            else _TARGET % (
                _text(target_type), _text(target_id),
                "null" if target_label is None else _text(target_label),
            ),
            "null" if json_texts[0] is None else json_texts[0], json_texts[1],
            "null" if idempotency_key is None else _text(idempotency_key),
            "null" if seq is None else seq,
            "null" if prev_hash is None else _text(prev_hash),
            "null" if hash_ is None else _text(hash_),
        )  # fmt: skip
    except (TypeError, *rows.UNREADABLE):
        # A value that is not text where text belongs (tampered), or an instant out of
        # range: as its entry does.
        return None


def export_chunks(query: Query, fmt: str) -> Iterator[Sequence[Any]]:
    """The CSV rows (:func:`csv_row`) or JSON lines (:func:`entry_record`) of ``query``'s
    entries, a page at a time; from the stored rows when the store is SQLite."""
    if isinstance(query.store, SQLiteStore):
        org_id = query.org_id
        made = stored_csv_rows if fmt == "csv" else stored_jsonl
        for stored, plain in stream.pages(query.store, query.spec(), MAX_PAGE_SIZE):
            yield made(stored, org_id, plain)
        return
    entries = iter(query)
    while chunk := list(itertools.islice(entries, MAX_PAGE_SIZE)):
        if fmt == "csv":
            yield [csv_row(entry) for entry in chunk]
        else:
            yield [jsonl_json(entry_record(entry)) + "\n" for entry in chunk]


def csv_pages(query: Query) -> Iterator[tuple[str, int]]:
    """The CSV text of ``query``'s entries (the header first), a page at a time, each with
    how many entries it holds."""
    lines: list[str] = []
    # A list for the writer to append to: joined once per page (a StringIO that is emptied
    # keeps growing a four-byte-per-character buffer).
    writer = csv.writer(SimpleNamespace(write=lines.append), lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for chunk in export_chunks(query, "csv"):
        writer.writerows(chunk)
        yield "".join(lines), len(chunk)
        lines.clear()
    if lines:  # the header of an empty export
        yield "".join(lines), 0
