"""``ActivityLog``: record entries, read them back, prove they are untouched."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone, tzinfo
from typing import Any, TypeVar

from . import access, context, decorator, ids
from .decorator import Call
from .errors import (
    ConfigurationError,
    InvalidEntry,
    InvalidQuery,
    MetadataError,
    MissingContext,
    NaiveDatetime,
)
from .integrity import Checkpoint, HashChain, VerifyReport, verify
from .models import Actor, ActorKind, ApiKeyRef, Entry, Source, Target, _check_text
from .query import Query, resolve_tz, resolve_week_start
from .registry import ActionRegistry
from .stores.base import GENESIS, Store, same_request
from .values import MAX_CHANGES_BYTES, MAX_METADATA_BYTES, MAX_NESTING, _json_copy

__all__ = ["MAX_CHANGES_BYTES", "MAX_METADATA_BYTES", "MAX_NESTING", "ActivityLog", "Call"]

F = TypeVar("F", bound=Callable[..., Any])


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _Batch:
    """Entries recorded inside ``with log.batch():``, written in one transaction at the end."""

    def __init__(self, log: ActivityLog) -> None:
        self.log = log
        self.pending: list[Entry] = []
        self.entries: list[Entry] = []
        self.open = True
        self.keys: dict[tuple[str, str], Entry] = {}

    def add(self, entries: Iterable[Entry]) -> list[Entry]:
        """Queue ``entries`` (all or none); a retry of a key queued before returns that entry."""
        keys = dict(self.keys)
        queued: list[Entry] = []
        result: list[Entry] = []
        for entry in entries:
            if entry.idempotency_key is not None:
                key = (entry.org_id, entry.idempotency_key)
                seen = keys.get(key)
                if seen is not None:
                    result.append(same_request(seen, entry))
                    continue
                keys[key] = entry
            queued.append(entry)
            result.append(entry)
        self.keys = keys
        self.pending.extend(queued)
        return result


# The open batches of this context, innermost last. A batch belongs to one log (another log
# recording inside it writes to its own store), and an asyncio task that outlives the block
# it was started in sees the batch closed and writes directly instead of into a dead list.
_batches: contextvars.ContextVar[tuple[_Batch, ...]] = contextvars.ContextVar(
    "activitylog_batches", default=()
)


def _open_batch(log: ActivityLog) -> _Batch | None:
    for candidate in reversed(_batches.get()):
        if candidate.log is log and candidate.open:
            return candidate
    return None


class ActivityLog:
    """The Activity Log of a host application.

    ``ActivityLog()`` keeps entries in memory; pass ``store=`` (or use :meth:`open` with a URL)
    for a durable one. ``registry`` defaults to the built-in catalogue, ``clock`` to the current
    UTC time, and ``integrity_key`` turns the hash chain into an HMAC chain.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        registry: ActionRegistry | None = None,
        clock: Callable[[], datetime] = _utc_now,
        integrity_key: bytes | str | None = None,
        policy: access.Policy = access.owners_and_admins,
        integrity: bool = True,
    ) -> None:
        if store is None:
            from .stores.memory import MemoryStore

            store = MemoryStore()
        elif not isinstance(store, Store):
            raise ConfigurationError(
                f"store must be a Store (e.g. open_store('sqlite:///activity.db')), "
                f"not {type(store).__name__}"
            )
        if registry is not None and not isinstance(registry, ActionRegistry):
            raise ConfigurationError(
                f"registry must be an ActionRegistry, not {type(registry).__name__}"
            )
        if not callable(clock) or isinstance(clock, type):
            raise ConfigurationError(
                f"clock must be a function returning an aware datetime, not {type(clock).__name__}"
            )
        if not isinstance(integrity, bool):
            raise ConfigurationError(f"integrity must be True or False, not {integrity!r}")
        self.store = store
        self.registry = registry if registry is not None else ActionRegistry()
        self.clock = clock
        self.policy = access.checked_policy(policy)
        self.chain: HashChain | None = (
            HashChain(_checked_key(integrity_key)) if integrity else None
        )
        self._ids = ids.IdGenerator()

    @classmethod
    def open(cls, url: str, **options: Any) -> ActivityLog:
        """A log on the store named by ``url``: ``memory://`` or ``sqlite:///path/to/file.db``.

        Options other than the log's own (``registry``, ``clock``, ``integrity_key``,
        ``policy``, ``integrity``) go to the store.
        """
        from .stores import open_store

        own = {k: options.pop(k) for k in list(options) if k in _LOG_OPTIONS}
        return cls(open_store(url, **options), **own)

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def bind(self, connection: Any) -> AbstractContextManager[Any]:
        """Record and read through the host's own database ``connection`` inside the block.

        Entries then commit and roll back with the host's transaction, and a recording error
        is raised before the host commits. Stores that can share a connection offer it (the
        PostgreSQL store takes a psycopg 3 connection); others raise ConfigurationError.
        """
        bind = getattr(self.store, "bind", None)
        if bind is None:
            from .errors import ConfigurationError

            raise ConfigurationError(
                f"{type(self.store).__name__} cannot record inside a host's connection"
            )
        manager: AbstractContextManager[Any] = bind(connection)
        return manager

    def __enter__(self) -> ActivityLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- recording --------------------------------------------------------------------------

    def context(
        self,
        *,
        org_id: str | None = None,
        actor: Actor | None = None,
        source: Source | str | None = None,
        api_key: ApiKeyRef | context._Unset | None = context.UNSET,
    ) -> AbstractContextManager[context.Snapshot]:
        """Supply org, actor, source and API key to every ``record()`` in the block.

        Nested blocks override only what they name; threads and asyncio tasks are isolated.
        Setting ``api_key`` implies ``source="api"``; ``api_key=None``, or a source other than
        ``"api"``, clears an inherited key. An API key with another source is refused.
        """
        return context.bound(org_id=org_id, actor=actor, source=source, api_key=api_key)

    def build(
        self,
        action: str,
        *,
        org_id: str | None = None,
        actor: Actor | None = None,
        target: Target | None = None,
        changes: Mapping[str, Any] | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        source: Source | str | None = None,
        api_key: ApiKeyRef | None = None,
        occurred_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Entry:
        """Validate and build an entry without storing it (``record()`` minus the write)."""
        action_type = self.registry.get(action)
        ambient_org, ambient_actor, ambient_source, ambient_key = context.ambient()
        org_id = org_id if org_id is not None else ambient_org
        if org_id is None:
            raise MissingContext("org_id")
        if not isinstance(org_id, str) or not org_id.strip():
            raise InvalidEntry(f"org_id must be a non-empty string, not {org_id!r}")
        _check_text("org_id", org_id)
        actor = actor if actor is not None else ambient_actor
        if actor is None:
            raise MissingContext("actor")
        if not isinstance(actor, Actor):
            raise InvalidEntry(f"actor must be an Actor, not {type(actor).__name__}")
        if target is not None and not isinstance(target, Target):
            raise InvalidEntry(f"target must be a Target, not {type(target).__name__}")
        if api_key is not None and not isinstance(api_key, ApiKeyRef):
            raise InvalidEntry(f"api_key must be an ApiKeyRef, not {type(api_key).__name__}")
        if api_key is None and (source is None or source == Source.API):
            # An explicit other source means "not through the API": the ambient key stays out.
            api_key = ambient_key
        if source is None:
            source = ambient_source
        if source is None:
            if api_key is not None:
                source = Source.API
            elif actor.kind is ActorKind.SYSTEM:
                source = Source.SYSTEM
            else:
                source = Source.DASHBOARD
        source = context._to_source(source)
        assert source is not None
        if api_key is not None:
            context.check_api_source(source)
        if occurred_at is None:
            occurred_at = _clock_time(self.clock)
        elif not isinstance(occurred_at, datetime):
            raise InvalidEntry(f"occurred_at must be a datetime, not {type(occurred_at).__name__}")
        elif occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
            raise NaiveDatetime("occurred_at")
        else:
            try:
                occurred_at = occurred_at.astimezone(timezone.utc)
            except OverflowError:
                raise InvalidEntry(
                    f"occurred_at {occurred_at!r} is outside the supported range "
                    f"{ids.EPOCH.year}..{ids.MAX_TIME.year - 1}"
                ) from None
        if changes is not None:
            if not isinstance(changes, Mapping):
                raise MetadataError("changes must map field names to (old, new) pairs")
            for field, pair in changes.items():
                if not isinstance(field, str) or not field:
                    raise MetadataError(f"changes: field names must be non-empty strings: {field!r}")
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise MetadataError(f"changes[{field!r}] must be an (old, new) pair")
            changes = _json_copy(
                {k: list(v) for k, v in changes.items()}, "changes", MAX_CHANGES_BYTES
            )
        if metadata is not None and not isinstance(metadata, Mapping):
            raise MetadataError(f"metadata must be a mapping, not {type(metadata).__name__}")
        meta = _json_copy(dict(metadata or {}), "metadata", MAX_METADATA_BYTES)
        if description is None:
            description = action_type.describe(actor, target, changes, meta)
        elif not isinstance(description, str) or not description.strip():
            raise InvalidEntry("description must be a non-empty string")
        else:
            _check_text("description", description)
        if idempotency_key is not None:
            if not isinstance(idempotency_key, str) or not idempotency_key.strip():
                raise InvalidEntry("idempotency_key must be a non-empty string")
            _check_text("idempotency_key", idempotency_key)
        return Entry(
            id=ids.encode(self._ids.next(occurred_at)),
            org_id=org_id,
            action=action_type.key,
            label=action_type.label,
            category=action_type.category,
            kind=action_type.kind,
            actor=actor,
            description=description,
            occurred_at=occurred_at,
            source=source,
            api_key=api_key,
            target=target,
            changes=changes,
            metadata=meta,
            idempotency_key=idempotency_key,
        )

    def record(self, action: str, **fields: Any) -> Entry:
        """Record one action and return the stored entry.

        Keyword arguments: ``org_id``, ``actor``, ``target``, ``changes``, ``description``,
        ``metadata``, ``source``, ``api_key``, ``occurred_at``, ``idempotency_key``. Org, actor,
        source and API key default to the active :meth:`context`. Inside :meth:`batch` the entry
        is written when the batch ends and the unstored entry is returned.
        """
        _check_fields(fields)
        entry = self.build(action, **fields)
        pending = _open_batch(self)
        if pending is not None:
            return pending.add([entry])[0]
        return self.store.append([entry], self.chain)[0]

    async def arecord(self, action: str, **fields: Any) -> Entry:
        """``record()`` for ``async`` code: the store write runs in a worker thread.

        The entry is built (and checked) at once, with the calling task's context; only the
        write, which may wait for a disk or a database lock, leaves the event loop, through
        :func:`asyncio.to_thread` (which carries the context along). Inside :meth:`batch` the
        entry joins the batch, as with ``record()``.
        """
        _check_fields(fields)
        entry = self.build(action, **fields)
        pending = _open_batch(self)
        if pending is not None:
            return pending.add([entry])[0]
        stored = await asyncio.to_thread(self.store.append, [entry], self.chain)
        return stored[0]

    async def arecord_many(self, records: Iterable[Mapping[str, Any]]) -> list[Entry]:
        """``record_many()`` for ``async`` code: the store write runs in a worker thread."""
        entries = self._build_many(records)
        pending = _open_batch(self)
        if pending is not None:
            return pending.add(entries)
        if not entries:
            return []
        return await asyncio.to_thread(self.store.append, entries, self.chain)

    def _build_many(self, records: Iterable[Mapping[str, Any]]) -> list[Entry]:
        if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Iterable):
            raise InvalidEntry(
                f"record_many() takes an iterable of mappings, not {type(records).__name__}"
            )
        entries = []
        for item in records:
            if not isinstance(item, Mapping):
                raise InvalidEntry(f"each record must be a mapping, not {type(item).__name__}")
            fields = dict(item)
            try:
                action = fields.pop("action")
            except KeyError:
                raise InvalidEntry("each record needs an 'action'") from None
            _check_fields(fields)
            entries.append(self.build(action, **fields))
        return entries

    def record_many(self, records: Iterable[Mapping[str, Any]]) -> list[Entry]:
        """Record many actions in one transaction: each item holds ``record()``'s arguments.

        If any item is invalid, nothing is stored. Inside :meth:`batch` the entries join the
        batch.
        """
        entries = self._build_many(records)
        pending = _open_batch(self)
        if pending is not None:
            return pending.add(entries)
        return self.store.append(entries, self.chain) if entries else []

    @contextmanager
    def batch(self) -> Iterator[_Batch]:
        """Collect every ``record()`` in the block and write them in one transaction at its end.

        If the block raises, nothing is written. After the block, ``batch.entries`` holds the
        stored entries. A batch nested in another batch of the same log joins it: its entries
        are written (or dropped) with the outermost one, and its ``entries`` are then the
        entries as built, not yet stored.
        """
        outer = _open_batch(self)
        current = _Batch(self)
        token = _batches.set((*_batches.get(), current))
        try:
            yield current
        finally:
            current.open = False
            _batches.reset(token)
        if outer is not None:
            current.entries = outer.add(current.pending)
        elif current.pending:
            current.entries = self.store.append(current.pending, self.chain)

    def records(
        self,
        action: str,
        *,
        target: Target | Callable[[Call], Target | None] | None = None,
        metadata: Mapping[str, Any] | Callable[[Call], Mapping[str, Any] | None] | None = None,
        description: str | Callable[[Call], str | None] | None = None,
        changes: Mapping[str, Any] | Callable[[Call], Mapping[str, Any] | None] | None = None,
        when: Callable[[Call], bool] | None = None,
    ) -> Callable[[F], F]:
        """Decorate a service function so each successful call records ``action``.

        ``target``, ``metadata``, ``description`` and ``changes`` are values or callables
        taking a :class:`Call` (the bound arguments as ``call.args`` or attributes, the return
        value as ``call.result``). ``when`` can skip recording for some calls. The entry is
        recorded after the function returns; an exception propagates unchanged and records
        nothing. Works on plain and ``async`` functions; on ``async`` ones the entry is written
        with :meth:`arecord`, off the event loop.
        """
        return decorator.records(
            self, action, target=target, metadata=metadata, description=description,
            changes=changes, when=when,
        )

    # -- reading ----------------------------------------------------------------------------

    def query(
        self,
        org_id: str,
        *,
        viewer: access.Viewer | None,
        tz: str | tzinfo = "UTC",
        week_start: int | str = 0,
    ) -> Query:
        """A query over one organization's log, for a viewer the access policy allows."""
        _check_org(org_id)
        access.check(self.policy, viewer, org_id)
        return Query(
            store=self.store,
            registry=self.registry,
            clock=self.clock,
            org_id=org_id,
            tz=resolve_tz(tz),
            week_start=resolve_week_start(week_start),
        )

    def categories(self, org_id: str, *, viewer: access.Viewer | None) -> list[tuple[str, int]]:
        """The categories that have entries in this organization, in catalogue order, with counts.

        Categories a custom registry no longer knows come last, alphabetically.
        """
        _check_org(org_id)
        access.check(self.policy, viewer, org_id)
        counts = self.store.categories(org_id)
        order = {name: i for i, name in enumerate(self.registry.categories)}
        names = sorted(counts, key=lambda n: (order.get(n, len(order)), n))
        return [(name, counts[name]) for name in names if counts[name] > 0]

    # -- integrity --------------------------------------------------------------------------

    def _chain(self) -> HashChain:
        if self.chain is None:
            raise InvalidEntry("this log was opened with integrity=False")
        return self.chain

    def verify(
        self, org_id: str, *, since: Checkpoint | None = None, viewer: access.Viewer | None = None
    ) -> VerifyReport:
        """Verify an organization's hash chain (and, with ``since``, that it extends a checkpoint).

        Verification is an operator's task: a ``viewer`` is checked when given.
        """
        _check_org(org_id)
        if since is not None and not isinstance(since, Checkpoint):
            raise InvalidQuery(f"since must be a Checkpoint, not {type(since).__name__}")
        if viewer is not None:
            access.check(self.policy, viewer, org_id)
        return verify(self.store, org_id, self._chain(), since)

    def checkpoint(self, org_id: str) -> Checkpoint:
        """The current head of an organization's chain, to store somewhere safe.

        Take it after a clean :meth:`verify`, so that it vouches for a chain known to be intact.
        """
        _check_org(org_id)
        self._chain()  # without a chain there is nothing a checkpoint could vouch for
        head = self.store.head(org_id)
        now = _clock_time(self.clock)
        if head is None:
            return Checkpoint(org_id, 0, GENESIS, now)
        return Checkpoint(org_id, head.seq, head.hash or GENESIS, now)


def _check_fields(fields: Mapping[Any, Any]) -> None:
    if not all(isinstance(name, str) for name in fields):
        raise InvalidEntry("the keys of a record must be argument names (strings)")
    unknown = sorted(set(fields) - _RECORD_FIELDS)
    if unknown:
        raise InvalidEntry(
            f"unknown record argument(s) {', '.join(unknown)}; "
            f"use {', '.join(sorted(_RECORD_FIELDS))}"
        )


def _check_org(org_id: object) -> None:
    if not isinstance(org_id, str) or not org_id.strip():
        raise InvalidQuery(f"org_id must be a non-empty string, not {org_id!r}")
    # Text no entry can hold (NUL, a lone surrogate) is a valid question with an empty answer.


def _checked_key(key: object) -> bytes | str | None:
    """``integrity_key`` when it is usable: None, or non-empty bytes or text."""
    if key is None:
        return None
    if not isinstance(key, (bytes, str)):
        raise ConfigurationError(
            f"integrity_key must be bytes or text (a secret), not {type(key).__name__}"
        )
    if not key:
        raise ConfigurationError("integrity_key must not be empty")
    if isinstance(key, str):
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigurationError("integrity_key is not valid Unicode text") from None
    return key


def _clock_time(clock: Callable[[], datetime]) -> datetime:
    """The clock's time, checked: an aware datetime in UTC."""
    moment = clock()
    if not isinstance(moment, datetime):
        raise ConfigurationError(f"the clock returned {type(moment).__name__}, not a datetime")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveDatetime("the clock's time")
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        raise InvalidEntry(f"the clock's time {moment!r} is outside the supported range") from None


#: The keyword arguments of ``record()`` (and of each ``record_many()`` item besides "action").
_RECORD_FIELDS = frozenset(inspect.signature(ActivityLog.build).parameters) - {"self", "action"}

_LOG_OPTIONS = frozenset({"registry", "clock", "integrity_key", "policy", "integrity"})
