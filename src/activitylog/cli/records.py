"""Entries as the command line shows and exports them: JSON data, CSV rows, table rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .. import integrity
from ..models import Entry, Source

#: Characters that make a spreadsheet read a cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS = (
    "id", "occurred_at", "action", "label", "category", "kind",
    "actor_id", "actor_name", "actor_kind", "actor_avatar_url", "description",
    "source", "api_key_id", "api_key_name", "target_type", "target_id", "target_label",
    "changes", "metadata", "idempotency_key", "seq", "prev_hash", "hash",
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


_compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
#: One JSON Lines record (UTF-8 text kept as it is).
jsonl_json = json.JSONEncoder(ensure_ascii=False).encode


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
