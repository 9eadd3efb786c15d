"""The demo CRM's data: records kept in memory, and the operations every record type shares."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import attrs

from ..log import ActivityLog, Call
from ..models import Target


@attrs.define
class Record:
    """One CRM object (a lead, a task, a file...): its type, id, display name and fields."""

    type: str
    id: str
    name: str
    fields: dict[str, Any] = attrs.field(factory=dict)

    @property
    def target(self) -> Target:
        """How the Activity Log refers to this object."""
        return Target(self.type, self.id, self.name)


@attrs.frozen
class Changed:
    """What an update returns: the record and each changed field as an ``(old, new)`` pair."""

    record: Record
    changes: dict[str, tuple[Any, Any]]


@attrs.frozen
class Bulk:
    """What a bulk operation returns: the ids it touched and the changes it made."""

    ids: list[str]
    changes: dict[str, tuple[Any, Any]] | None = None


def record_target(call: Call) -> Target:
    """The target of a call's result (a record, or an update's record)."""
    result = call.result
    record = result.record if isinstance(result, Changed) else result
    return record.target


def record_changes(call: Call) -> dict[str, tuple[Any, Any]] | None:
    """The changes a call's result carries."""
    return call.result.changes  # type: ignore[no-any-return]


def changed_something(call: Call) -> bool:
    """Whether a call changed any field (unchanged edits are not logged)."""
    return bool(call.result.changes)


def bulk_ids(call: Call) -> dict[str, Any]:
    """A bulk call's metadata: the ids it touched."""
    return {"ids": list(call.result.ids)}


class Data:
    """The CRM's own tables, kept in memory: records by id, and a counter for new ids."""

    def __init__(self) -> None:
        self.records: dict[str, Record] = {}
        self._ids = itertools.count(1)

    def add(self, type: str, name: str, **fields: Any) -> Record:
        """Create and keep a new record."""
        record = Record(type, f"{type[:3]}_{next(self._ids)}", name, dict(fields))
        self.records[record.id] = record
        return record

    def get(self, record_id: str) -> Record:
        """A record by id; ``KeyError`` when there is none."""
        return self.records[record_id]

    def remove(self, record_id: str) -> Record:
        """Forget a record and return it."""
        return self.records.pop(record_id)

    def update(self, record_id: str, **fields: Any) -> Changed:
        """Set fields (``name`` renames) and return what actually changed."""
        record = self.get(record_id)
        changes: dict[str, tuple[Any, Any]] = {}
        for field, new in fields.items():
            old = record.name if field == "name" else record.fields.get(field)
            if old == new:
                continue
            changes[field] = (old, new)
            if field == "name":
                record.name = new
            else:
                record.fields[field] = new
        return Changed(record, changes)

    def bulk_set(self, record_ids: Sequence[str], field: str, value: Any) -> Bulk:
        """Set one field on many records; the old value is shown when they all shared it."""
        olds = {repr(self.get(i).fields.get(field)) for i in record_ids}
        first = self.get(record_ids[0]).fields.get(field) if record_ids else None
        old = first if len(olds) == 1 else "various"
        for record_id in record_ids:
            self.get(record_id).fields[field] = value
        return Bulk(list(record_ids), {field: (old, value)})

    def of_type(self, type: str) -> list[Record]:
        """Every live record of one type, oldest first."""
        return [r for r in self.records.values() if r.type == type]


class Collection:
    """Create, update, delete and bulk-delete for one record type (``"lead"``, ``"task"``...).

    The action keys follow the catalogue: ``lead.created``, ``lead.updated``...
    """

    def __init__(self, log: ActivityLog, data: Data, type: str) -> None:
        self.data = data
        self.type = type

        @log.records(f"{type}.created", target=record_target)
        def create(name: str, **fields: Any) -> Record:
            """Add a new record."""
            return data.add(type, name, **fields)

        @log.records(f"{type}.updated", target=record_target, changes=record_changes, when=changed_something)
        def update(record_id: str, **fields: Any) -> Changed:
            """Edit fields; an edit that changes nothing is not logged."""
            return data.update(record_id, **fields)

        @log.records(f"{type}.deleted", target=record_target)
        def delete(record_id: str) -> Record:
            """Delete one record."""
            return data.remove(record_id)

        @log.records(f"{type}.bulk_deleted", metadata=bulk_ids)
        def bulk_delete(record_ids: list[str]) -> Bulk:
            """Delete several records at once."""
            for record_id in record_ids:
                data.remove(record_id)
            return Bulk(list(record_ids))

        self.create = create
        self.update = update
        self.delete = delete
        self.bulk_delete = bulk_delete

    def all(self) -> list[Record]:
        """Every live record of this type."""
        return self.data.of_type(self.type)
