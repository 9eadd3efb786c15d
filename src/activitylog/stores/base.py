"""The store interface: the small contract every backend implements.

A store keeps entries append-only and answers the Activity Log's queries. The query layer turns
a user's query into a :class:`QuerySpec` (already validated and normalized), so a SQL store can
push filtering, sorting and keyset paging into the database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

from .. import ids
from ..errors import IdempotencyConflict
from ..models import Entry

SortField = Literal["date", "action"]
SortKey = tuple[Any, ...]


@attrs.frozen
class QuerySpec:
    """A normalized Activity Log query for one organization.

    - ``terms``: casefolded search words; every one must occur in the entry's haystack
      (:mod:`activitylog.search`).
    - ``categories``: keep entries in any of these categories (empty: all).
    - ``since`` (inclusive) and ``until`` (exclusive): aware datetimes bounding ``occurred_at``,
      applied to the millisecond: an entry matches when its ``occurred_at`` with the
      sub-millisecond part dropped is in ``[since, until)`` likewise truncated. A SQL store
      compares ids with :attr:`since_id`/:attr:`until_id`, which is exactly that, because every
      id lies in the band of its entry's millisecond (:mod:`activitylog.ids`).
    - ``sort``/``descending``: ``"date"`` orders by id (ids are time-ordered, so this is date
      order with a deterministic tie-break); ``"action"`` orders by label, then id, in the same
      direction.
    - ``target``: keep entries about this one record, ``(target type, target id)`` (``None``: all).
    - ``actor_id``: keep entries made by this actor (``None``: all).
    - ``after``: the :func:`sort_key` of the last entry of the previous page; the page holds
      entries strictly after it in the sort order.
    - ``limit``: the largest number of entries to return.
    """

    org_id: str
    terms: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    sort: SortField = "date"
    descending: bool = True
    target: tuple[str, str] | None = None
    actor_id: str | None = None
    after: SortKey | None = None
    limit: int = 50

    @property
    def since_id(self) -> int | None:
        """The smallest id an entry in or after the millisecond of ``since`` can have."""
        return None if self.since is None else ids.floor_id(self.since)

    @property
    def until_id(self) -> int | None:
        """Every entry before the millisecond of ``until`` has an id below this one."""
        return None if self.until is None else ids.floor_id(self.until)


def sort_key(entry: Entry, sort: SortField) -> SortKey:
    """The keyset an entry is ordered and paged by: ``(id,)`` or ``(label, id)`` (id as int)."""
    if sort == "date":
        return (ids.decode(entry.id),)
    return (entry.label, ids.decode(entry.id))


#: What makes two entries the same request for an idempotency key: everything the caller chose.
#: ``occurred_at`` is left out (a retry made later is still a retry), and so is everything the
#: log or the store assigns (id, label, category, kind, chain fields).
RETRY_FIELDS = (
    "action", "actor", "target", "description", "changes", "metadata", "source", "api_key",
)


def same_request(stored: Entry, entry: Entry) -> Entry:
    """``stored`` when ``entry`` is a retry of it; raise when the key was reused for another entry.

    Every store calls this when an entry's ``(org_id, idempotency_key)`` is already stored (or
    earlier in the same append), inside its write transaction, and returns what it returns.
    Raises :class:`~activitylog.errors.IdempotencyConflict` naming the fields that differ
    (:data:`RETRY_FIELDS`).
    """
    differ = [name for name in RETRY_FIELDS if getattr(stored, name) != getattr(entry, name)]
    if differ:
        raise IdempotencyConflict(entry.idempotency_key or "", differ)
    return stored


@attrs.frozen
class ChainHead:
    """The last link of an organization's integrity chain as the store recorded it."""

    seq: int
    hash: str | None


class Chain(Protocol):
    """Computes integrity links; the store calls it inside its write transaction."""

    def link(self, prev_hash: str, entry: Entry) -> str:
        """The hash of ``entry`` chained after ``prev_hash``."""


@runtime_checkable
class Store(Protocol):
    """What activitylog needs from a storage backend.

    Implementations must be safe to call from several threads at once.
    """

    def append(self, entries: Sequence[Entry], chain: Chain | None) -> list[Entry]:
        """Store ``entries`` atomically (all or none) and return them as stored.

        For each entry, in order: when it has an ``idempotency_key`` already stored for its
        organization (or earlier in this call), :func:`same_request` decides: the stored entry
        is returned in its place and nothing is written for a retry, and
        :class:`~activitylog.errors.IdempotencyConflict` is raised (storing nothing) otherwise. Otherwise the store assigns the organization's next ``seq``
        (gapless from 1), the previous entry's hash as ``prev_hash`` (``GENESIS`` for the first
        one) and ``hash = chain.link(prev_hash, entry)`` (``None`` when ``chain`` is ``None``),
        all inside one write transaction so that concurrent writers never fork a chain. An id
        that is already taken (by any organization) is replaced by
        :func:`activitylog.ids.move_up` until it is free; ``move_up`` raises
        :class:`~activitylog.errors.InvalidEntry` when the millisecond has no id left. Raises
        :class:`~activitylog.errors.StoreError` on failure, having stored nothing.
        """

    def page(self, spec: QuerySpec) -> list[Entry]:
        """Up to ``spec.limit`` matching entries in sort order, strictly after ``spec.after``."""

    def count(self, spec: QuerySpec) -> int:
        """How many entries match ``spec``, ignoring ``after`` and ``limit``."""

    def categories(self, org_id: str) -> dict[str, int]:
        """Entry counts per category for one organization; categories without entries omitted."""

    def chain(self, org_id: str, after_seq: int = 0) -> Iterator[Entry]:
        """The organization's entries with ``seq > after_seq`` in ``seq`` order, streamed.

        Must not hold every entry in memory, and must return stored rows as they are (a
        tampered row is returned tampered, so that verification can see it).
        """

    def head(self, org_id: str) -> ChainHead | None:
        """The chain head recorded at the last append, or ``None`` for an empty organization."""

    def org_ids(self) -> list[str]:
        """Every organization with at least one entry, sorted."""

    def close(self) -> None:
        """Release resources; the store is unusable afterwards."""


#: ``prev_hash`` of each organization's first entry.
GENESIS = "0" * 64
