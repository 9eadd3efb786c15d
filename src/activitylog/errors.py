"""Every error activitylog raises on purpose derives from :class:`ActivityLogError`."""

from __future__ import annotations

from collections.abc import Iterable


class ActivityLogError(Exception):
    """Base class of every error raised by activitylog."""


class InvalidEntry(ActivityLogError, ValueError):
    """The arguments given to ``record()`` cannot make a valid entry; nothing was stored."""


class MissingContext(InvalidEntry):
    """``org_id`` or ``actor`` was given neither as an argument nor by the active context."""

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(
            f"no {field} for this entry: pass {field}= to record() "
            f"or set it with `with log.context({field}=...)`"
        )


class NaiveDatetime(InvalidEntry):
    """A datetime without a time zone was given where an aware one is required."""

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(
            f"{field} must be timezone-aware (e.g. datetime.now(timezone.utc)); got a naive datetime"
        )


class IdempotencyConflict(InvalidEntry):
    """An idempotency key was reused for a different action, target or content.

    Only a true retry (the same request again) returns the stored entry; a key reused for
    something else is refused, as payment APIs do, so that nothing is silently dropped.
    """

    def __init__(self, key: str, fields: Iterable[str]) -> None:
        self.key = key
        self.fields = tuple(fields)
        super().__init__(
            f"idempotency key {key!r} was already used for a different entry "
            f"(differs in: {', '.join(self.fields)}); use a new key for a new action"
        )


class MetadataError(InvalidEntry):
    """Metadata or changes are not JSON-serializable or exceed the documented size limit."""


class RegistryError(ActivityLogError):
    """Base class for action-registry errors."""


class UnknownAction(RegistryError, LookupError):
    """An action key is not in the registry."""

    def __init__(self, key: str, known: Iterable[str] = ()) -> None:
        import difflib

        self.key = key
        self.suggestion = next(iter(difflib.get_close_matches(key, list(known), n=1)), None)
        hint = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        super().__init__(f"unknown action {key!r}{hint}")

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownCategory(RegistryError, LookupError):
    """A category name is not in the registry."""

    def __init__(self, name: str, known: Iterable[str] = ()) -> None:
        import difflib

        known = list(known)
        self.name = name
        self.suggestion = next(iter(difflib.get_close_matches(name, known, n=1)), None)
        hint = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        super().__init__(f"unknown category {name!r}{hint} (known: {', '.join(known)})")

    def __str__(self) -> str:
        return str(self.args[0])


class DuplicateAction(RegistryError, ValueError):
    """An action key or category name is registered twice."""


class InvalidAction(RegistryError, ValueError):
    """An action or category definition is malformed (empty key, unknown kind, bad template)."""


class PermissionDenied(ActivityLogError, PermissionError):
    """The viewer may not read this organization's Activity Log."""


class InvalidQuery(ActivityLogError, ValueError):
    """A query was built with arguments that make no sense (bad sort, page size, range...)."""


class InvalidCursor(InvalidQuery):
    """A paging cursor is malformed, or belongs to a different query, sort or organization."""


class StoreError(ActivityLogError):
    """The storage backend failed; the underlying driver error is chained as ``__cause__``."""


class SchemaError(StoreError):
    """A database file is not an activitylog database, or was written by a newer version."""


class ConfigurationError(ActivityLogError, ValueError):
    """The library was configured wrongly (unknown store URL scheme, bad option...)."""
