"""The in-memory store: the reference every other store must match.

It is written for obviousness, not speed: every query filters and sorts the organization's
entries in plain Python, using the same definitions (:mod:`activitylog.search`,
:func:`~activitylog.stores.base.sort_key`) the SQL stores translate into SQL.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence

import attrs

from .. import ids, search
from ..errors import ConfigurationError
from ..models import Entry
from .base import GENESIS, Chain, ChainHead, QuerySpec, same_request, sort_key


class MemoryStore:
    """A thread-safe store that keeps everything in process memory (``memory://``)."""

    scheme = "memory"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._by_org: dict[str, list[Entry]] = {}
        self._ids: set[int] = set()
        self._idempotent: dict[tuple[str, str], Entry] = {}
        self._heads: dict[str, ChainHead] = {}

    @classmethod
    def from_url(cls, url: str, **options: object) -> MemoryStore:
        """``memory://`` (nothing after the scheme, and no options)."""
        if options:
            raise ConfigurationError(
                f"memory:// takes no options; got {', '.join(sorted(options))}"
            )
        if url.split("://", 1)[1]:
            raise ConfigurationError(f"memory:// takes nothing after the scheme, not {url!r}")
        return cls()

    def append(self, entries: Sequence[Entry], chain: Chain | None) -> list[Entry]:
        """See :meth:`Store.append`."""
        with self._lock:
            # Build everything first and commit at the end, so a failure stores nothing.
            staged: list[Entry] = []
            new_ids: set[int] = set()
            heads = dict(self._heads)
            keys: dict[tuple[str, str], Entry] = {}
            result: list[Entry] = []
            for entry in entries:
                if entry.idempotency_key is not None:
                    key = (entry.org_id, entry.idempotency_key)
                    seen = self._idempotent.get(key) or keys.get(key)
                    if seen is not None:
                        result.append(same_request(seen, entry))
                        continue
                number = ids.decode(entry.id)
                while number in self._ids or number in new_ids:
                    number = ids.move_up(number, entry.occurred_at)
                head = heads.get(entry.org_id)
                prev = GENESIS if head is None else (head.hash or GENESIS)
                stored = attrs.evolve(
                    entry,
                    id=ids.encode(number),
                    seq=1 if head is None else head.seq + 1,
                    prev_hash=prev,
                    hash=None,
                )
                if chain is not None:
                    stored = attrs.evolve(stored, hash=chain.link(prev, stored))
                heads[entry.org_id] = ChainHead(stored.seq or 0, stored.hash)
                new_ids.add(number)
                staged.append(stored)
                if entry.idempotency_key is not None:
                    keys[(entry.org_id, entry.idempotency_key)] = stored
                result.append(stored)
            for stored in staged:
                self._by_org.setdefault(stored.org_id, []).append(stored)
            self._ids |= new_ids
            self._idempotent.update(keys)
            self._heads = heads
            return result

    def _matching(self, spec: QuerySpec) -> list[Entry]:
        with self._lock:
            rows = list(self._by_org.get(spec.org_id, ()))
        since_id, until_id = spec.since_id, spec.until_id
        return [
            e
            for e in rows
            if (not spec.categories or e.category in spec.categories)
            # Date bounds apply to the millisecond (see QuerySpec).
            and (since_id is None or ids.floor_id(e.occurred_at) >= since_id)
            and (until_id is None or ids.floor_id(e.occurred_at) < until_id)
            and (spec.target is None or (
                e.target is not None and (e.target.type, e.target.id) == spec.target))
            and (spec.actor_id is None or e.actor.id == spec.actor_id)
            and search.matches(search.entry_haystack(e), spec.terms)
        ]

    def page(self, spec: QuerySpec) -> list[Entry]:
        """See :meth:`Store.page`."""
        rows = sorted(
            self._matching(spec), key=lambda e: sort_key(e, spec.sort), reverse=spec.descending
        )
        if spec.after is not None:
            after = spec.after
            if spec.descending:
                rows = [e for e in rows if sort_key(e, spec.sort) < after]
            else:
                rows = [e for e in rows if sort_key(e, spec.sort) > after]
        return rows[: spec.limit]

    def count(self, spec: QuerySpec) -> int:
        """See :meth:`Store.count`."""
        return len(self._matching(spec))

    def categories(self, org_id: str) -> dict[str, int]:
        """See :meth:`Store.categories`."""
        with self._lock:
            return dict(Counter(e.category for e in self._by_org.get(org_id, ())))

    def chain(self, org_id: str, after_seq: int = 0) -> Iterator[Entry]:
        """See :meth:`Store.chain`."""
        with self._lock:
            rows = list(self._by_org.get(org_id, ()))
        return iter(sorted((e for e in rows if (e.seq or 0) > after_seq), key=lambda e: e.seq or 0))

    def head(self, org_id: str) -> ChainHead | None:
        """See :meth:`Store.head`."""
        with self._lock:
            return self._heads.get(org_id)

    def org_ids(self) -> list[str]:
        """See :meth:`Store.org_ids`."""
        with self._lock:
            return sorted(self._by_org)

    def close(self) -> None:
        """Nothing to release."""
