"""Storage backends, chosen by URL: ``memory://`` or ``sqlite:///path/to/file.db``."""

from __future__ import annotations

import importlib
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ..errors import ConfigurationError
from .base import GENESIS, ChainHead, QuerySpec, Store, sort_key

#: The entry-point group in which other distributions register store URL schemes.
ENTRY_POINT_GROUP = "activitylog.stores"

#: URL scheme -> "module:Class"; modules are imported only when their scheme is used.
SCHEMES: dict[str, str] = {
    "memory": "activitylog.stores.memory:MemoryStore",
    "sqlite": "activitylog.stores.sqlite:SQLiteStore",
    "postgresql": "activitylog.stores.postgres:PostgresStore",
    "postgres": "activitylog.stores.postgres:PostgresStore",
}


def open_store(url: str, **options: Any) -> Store:
    """Open the store a URL names; raises :class:`ConfigurationError` for an unknown scheme."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(
            f"not a store URL: {url!r} (try 'sqlite:///path/to/activity.db' or 'memory://')"
        )
    if "\x00" in url:
        raise ConfigurationError(f"a store URL cannot hold a NUL character: {url!r}")
    try:
        url.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigurationError(f"a store URL must be valid Unicode text: {url!r}") from None
    scheme = url.split("://", 1)[0].lower()
    target = SCHEMES.get(scheme)
    if target is not None:
        module_name, class_name = target.split(":")
        cls = getattr(importlib.import_module(module_name), class_name)
    else:
        cls = _plugin_store(scheme, url)
    store: Store = cls.from_url(url, **options)
    return store


def plugin_schemes() -> dict[str, EntryPoint]:
    """URL schemes that installed distributions register in the ``activitylog.stores`` group.

    A third-party store declares its scheme in its own packaging metadata, e.g. in
    ``pyproject.toml``::

        [project.entry-points."activitylog.stores"]
        redis = "activitylog_redis:RedisStore"

    The entry point names a :class:`Store` class with a ``from_url(url, **options)``
    classmethod; it is imported only when a URL with its scheme is opened. The built-in
    schemes (:data:`SCHEMES`) cannot be taken over.
    """
    return {ep.name.lower(): ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _plugin_store(scheme: str, url: str) -> Any:
    plugin = plugin_schemes().get(scheme)
    if plugin is None:
        known = ", ".join(f"{s}://" for s in sorted({*SCHEMES, *plugin_schemes()}))
        raise ConfigurationError(f"unknown store scheme {scheme!r} in {url!r} (known: {known})")
    try:
        return plugin.load()
    except Exception as exc:  # a broken plug-in is a configuration problem, named as such
        raise ConfigurationError(
            f"the store for {scheme}:// ({plugin.value}, from the {ENTRY_POINT_GROUP!r} entry "
            f"points) cannot be loaded: {type(exc).__name__}: {exc}"
        ) from exc


__all__ = [
    "ENTRY_POINT_GROUP",
    "GENESIS",
    "SCHEMES",
    "ChainHead",
    "QuerySpec",
    "Store",
    "open_store",
    "plugin_schemes",
    "sort_key",
]
