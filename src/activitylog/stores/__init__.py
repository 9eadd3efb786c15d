"""Storage backends, chosen by URL: ``memory://`` or ``sqlite:///path/to/file.db``."""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import ConfigurationError
from .base import GENESIS, ChainHead, QuerySpec, Store, sort_key

#: URL scheme -> "module:Class"; modules are imported only when their scheme is used.
SCHEMES: dict[str, str] = {
    "memory": "activitylog.stores.memory:MemoryStore",
    "sqlite": "activitylog.stores.sqlite:SQLiteStore",
}


def open_store(url: str, **options: Any) -> Store:
    """Open the store a URL names; raises :class:`ConfigurationError` for an unknown scheme."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(
            f"not a store URL: {url!r} (try 'sqlite:///path/to/activity.db' or 'memory://')"
        )
    scheme = url.split("://", 1)[0].lower()
    target = SCHEMES.get(scheme)
    if target is None:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise ConfigurationError(f"unknown store scheme {scheme!r} in {url!r} (known: {known})")
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    store: Store = cls.from_url(url, **options)
    return store


__all__ = ["GENESIS", "SCHEMES", "ChainHead", "QuerySpec", "Store", "open_store", "sort_key"]
