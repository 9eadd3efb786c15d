"""activitylog: an embeddable, searchable, tamper-evident Activity Log for your application.

>>> from activitylog import ActivityLog, Actor, Target
>>> log = ActivityLog()
>>> entry = log.record("lead.deleted", org_id="acme", actor=Actor("u1", "Ada Lovelace"),
...                    target=Target("lead", "42", "Acme Corp"))
>>> entry.description
'Ada Lovelace deleted lead “Acme Corp”'
"""

from __future__ import annotations

from .access import Policy, Role, Viewer, owners_and_admins
from .context import Snapshot, capture
from .copying import CopyError, CopyProgress, CopyReport, copy_log
from .errors import (
    ActivityLogError,
    ConfigurationError,
    DuplicateAction,
    IdempotencyConflict,
    InvalidAction,
    InvalidCursor,
    InvalidEntry,
    InvalidQuery,
    MetadataError,
    MissingContext,
    NaiveDatetime,
    PermissionDenied,
    RegistryError,
    SchemaError,
    StoreError,
    UnknownAction,
    UnknownCategory,
)
from .integrity import Checkpoint, HashChain, Problem, VerifyReport
from .log import MAX_CHANGES_BYTES, MAX_METADATA_BYTES, MAX_NESTING, ActivityLog, Call
from .models import Actor, ActorKind, ApiKeyRef, Entry, Kind, Page, Source, Target
from .query import DateBucket, Query
from .registry import ActionRegistry, ActionType
from .search import MAX_SEARCH_CHARS, MAX_SEARCH_WORDS
from .stores import Store, open_store


def __getattr__(name: str) -> str:
    # The version has one source, the package metadata (pyproject.toml's `version`), read only
    # when asked for, as structlog does.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("activitylog")
        except PackageNotFoundError:  # a source tree on sys.path without being installed
            return "0+unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "MAX_CHANGES_BYTES",
    "MAX_METADATA_BYTES",
    "MAX_NESTING",
    "MAX_SEARCH_CHARS",
    "MAX_SEARCH_WORDS",
    "ActionRegistry",
    "ActionType",
    "ActivityLog",
    "ActivityLogError",
    "Actor",
    "ActorKind",
    "ApiKeyRef",
    "Call",
    "Checkpoint",
    "ConfigurationError",
    "CopyError",
    "CopyProgress",
    "CopyReport",
    "DateBucket",
    "DuplicateAction",
    "Entry",
    "HashChain",
    "IdempotencyConflict",
    "InvalidAction",
    "InvalidCursor",
    "InvalidEntry",
    "InvalidQuery",
    "Kind",
    "MetadataError",
    "MissingContext",
    "NaiveDatetime",
    "Page",
    "PermissionDenied",
    "Policy",
    "Problem",
    "Query",
    "RegistryError",
    "Role",
    "SchemaError",
    "Snapshot",
    "Source",
    "Store",
    "StoreError",
    "Target",
    "UnknownAction",
    "UnknownCategory",
    "VerifyReport",
    "Viewer",
    "capture",
    "copy_log",
    "open_store",
    "owners_and_admins",
]
