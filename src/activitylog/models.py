"""Immutable value objects: who acted, on what, and the stored entry itself."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

import attrs

from .reltime import relative_text


class Kind(str, enum.Enum):
    """What an action does to its target, which decides the color of its label."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"

    @property
    def color(self) -> str:
        """The color class of the label: green creations, red deletions, gray the rest."""
        return _COLORS[self]


_COLORS = {Kind.CREATE: "green", Kind.UPDATE: "gray", Kind.DELETE: "red"}


class Source(str, enum.Enum):
    """Where an action came from."""

    DASHBOARD = "dashboard"
    API = "api"
    SYSTEM = "system"


class ActorKind(str, enum.Enum):
    """A person, or an automated process such as the AI pipeline."""

    USER = "user"
    SYSTEM = "system"


def _nonempty(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"{type(instance).__name__}.{attribute.name} must be a non-empty string")
    _check_text(f"{type(instance).__name__}.{attribute.name}", value)


def _optional_text(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise _invalid(f"{type(instance).__name__}.{attribute.name} must be a string or None")
    _check_text(f"{type(instance).__name__}.{attribute.name}", value)


def _check_text(where: str, value: str) -> None:
    """Reject text that no store can keep faithfully."""
    if "\x00" in value:
        raise _invalid(f"{where} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _invalid(f"{where} is not valid Unicode text ({exc.reason})") from None


def _invalid(message: str) -> Exception:
    from .errors import InvalidEntry

    return InvalidEntry(message)


def _actor_kind(value: object) -> ActorKind:
    try:
        return ActorKind(value)
    except (ValueError, TypeError):
        choices = ", ".join(k.value for k in ActorKind)
        raise _invalid(f"unknown actor kind {value!r} (choose {choices})") from None


def _id_text(value: object) -> object:
    # Integer and UUID primary keys read as text; anything else (None, True, a model object)
    # is left for the validator to refuse rather than stored as "None" or "<Lead object>".
    if isinstance(value, (int, uuid.UUID)) and not isinstance(value, bool):
        return str(value)
    return value


@attrs.frozen
class Actor:
    """A snapshot of who performed an action, as they were at that moment.

    ``id`` may be given as a string, an integer or a UUID (a Django primary key); it is kept as
    text.
    """

    id: str = attrs.field(converter=_id_text, validator=_nonempty)
    name: str = attrs.field(validator=_nonempty)
    avatar_url: str | None = attrs.field(default=None, validator=_optional_text)
    kind: ActorKind = attrs.field(default=ActorKind.USER, converter=_actor_kind)

    @classmethod
    def system(cls, name: str, id: str | None = None) -> Actor:
        """An automated actor, e.g. ``Actor.system("AI pipeline")``."""
        return cls(id=id or "system:" + name.lower().replace(" ", "-"), name=name,
                   kind=ActorKind.SYSTEM)


@attrs.frozen
class Target:
    """What an action was performed on: a type (``"lead"``), its id and a readable label.

    ``id`` may be given as a string, an integer or a UUID; it is kept as text.
    """

    type: str = attrs.field(validator=_nonempty)
    id: str = attrs.field(converter=_id_text, validator=_nonempty)
    label: str | None = attrs.field(default=None, validator=_optional_text)


@attrs.frozen
class ApiKeyRef:
    """A snapshot of the API key an action was made with, readable after the key is revoked.

    ``id`` may be given as a string, an integer or a UUID; it is kept as text.
    """

    id: str = attrs.field(converter=_id_text, validator=_nonempty)
    name: str = attrs.field(validator=_nonempty)


def _read_only(self: object, *args: object, **kwargs: object) -> Any:
    raise TypeError("an entry's metadata and changes are read-only")


class _FrozenList(list):  # type: ignore[type-arg]
    """A list that refuses changes; equal to, JSON-encoded and pickled as a plain list."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = extend = insert = pop = remove = clear = sort = reverse = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (list(self),))


class _FrozenDict(dict):  # type: ignore[type-arg]
    """A dict that refuses changes; equal to, JSON-encoded and pickled as a plain dict."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


def _deep_freeze(value: Any) -> Any:
    # The memory store hands out the very objects it keeps, so a nested list left mutable
    # would let a reader change the stored log (and break its hash chain).
    if isinstance(value, dict):
        return _FrozenDict({k: _deep_freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return _FrozenList(_deep_freeze(v) for v in value)
    if isinstance(value, tuple):
        return tuple(_deep_freeze(v) for v in value)
    return value


def _freeze_changes(value: Mapping[str, Any] | None) -> Mapping[str, tuple[Any, Any]] | None:
    if value is None:
        return None
    return MappingProxyType({k: (_deep_freeze(v[0]), _deep_freeze(v[1])) for k, v in value.items()})


def _freeze_metadata(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType({k: _deep_freeze(v) for k, v in (value or {}).items()})


@attrs.frozen(eq=True)
class Entry:
    """One immutable line of the Activity Log.

    ``label``, ``category`` and ``kind`` are snapshots of the action's registration, and
    ``actor``/``api_key``/``target`` snapshots of who and what, so an entry reads the same
    forever. ``seq``, ``prev_hash`` and ``hash`` are the entry's place in its organization's integrity
    chain, assigned by the store when the entry is appended (``None`` before that).
    """

    id: str
    org_id: str
    action: str
    label: str
    category: str
    kind: Kind = attrs.field(converter=Kind)
    actor: Actor
    description: str
    occurred_at: datetime
    source: Source = attrs.field(converter=Source)
    api_key: ApiKeyRef | None = None
    target: Target | None = None
    # Read-only mappings are unhashable, so the entry's hash leaves them out (equality doesn't).
    changes: Mapping[str, tuple[Any, Any]] | None = attrs.field(
        default=None, converter=_freeze_changes, hash=False
    )
    metadata: Mapping[str, Any] = attrs.field(
        factory=dict, converter=_freeze_metadata, hash=False
    )
    idempotency_key: str | None = None
    seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None

    @property
    def color(self) -> str:
        """``"green"``, ``"gray"`` or ``"red"``: the color class of the action label."""
        return self.kind.color

    def relative_time(self, now: datetime | None = None) -> str:
        """How long ago this happened, e.g. ``"2 hours ago"``.

        A moment ahead of ``now`` by at most :data:`~activitylog.reltime.CLOCK_SKEW` (clocks of two servers
        disagreeing) reads ``"just now"``; further ahead it reads ``"in 3 days"``.
        """
        if now is None:
            now = datetime.now(timezone.utc)
        elif not isinstance(now, datetime):
            raise _invalid(f"now must be a datetime, not {type(now).__name__}")
        elif now.tzinfo is None or now.utcoffset() is None:
            from .errors import NaiveDatetime

            raise NaiveDatetime("now")
        # Equal to humanize.naturaltime's wording, computed without it where that is exact.
        return relative_text(self.occurred_at, now)


@attrs.frozen
class Page:
    """One page of query results and the cursor of the next page (``None`` on the last)."""

    entries: tuple[Entry, ...]
    next_cursor: str | None

    def __iter__(self) -> Any:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)
