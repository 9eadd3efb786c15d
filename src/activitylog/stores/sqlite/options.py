"""The SQLite store's options: checked when the store is built, and read from its URL.

``sqlite:///relative.db``, ``sqlite:////absolute.db``, ``sqlite:///:memory:`` or ``sqlite://``
(with ``connection=``); options may come as a query string (``?synchronous=FULL&busy_timeout=10
&fts=0&mode=ro``), and keyword options win. Every wrong value raises
:class:`~activitylog.errors.ConfigurationError` naming the option.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any
from urllib.parse import parse_qsl

from ...errors import ConfigurationError
from . import schema

#: The options a store takes (``mode`` in a URL is ``readonly``).
KNOWN = frozenset({"synchronous", "busy_timeout", "fts", "connection", "readonly"})
#: The longest busy timeout, in seconds (a day): SQLite takes milliseconds as a 32-bit integer.
MAX_BUSY_TIMEOUT = 86_400


def checked(
    path: Any,
    synchronous: Any,
    busy_timeout: Any,
    *,
    connection: Any,
    fts: Any,
    readonly: Any,
) -> tuple[str | None, str]:
    """The file path (``None`` with a host's connection) and the ``synchronous`` level, once
    every option is checked."""
    sync = str(synchronous).upper() if isinstance(synchronous, str) else synchronous
    if sync not in ("NORMAL", "FULL"):
        raise ConfigurationError(f"synchronous must be 'NORMAL' or 'FULL', not {synchronous!r}")
    if (
        isinstance(busy_timeout, bool)
        or not isinstance(busy_timeout, (int, float))
        or not 0 <= busy_timeout <= MAX_BUSY_TIMEOUT
    ):
        raise ConfigurationError(
            f"busy_timeout must be a number of seconds from 0 to {MAX_BUSY_TIMEOUT}, "
            f"not {busy_timeout!r}"
        )
    if fts not in (None, True, False):
        raise ConfigurationError(f"fts must be True, False or None, not {fts!r}")
    if readonly not in (True, False):
        raise ConfigurationError(f"readonly must be True or False, not {readonly!r}")
    if connection is not None and path is not None:
        raise ConfigurationError("pass either a path or connection=, not both")
    if connection is None and path is None:
        raise ConfigurationError("SQLiteStore needs a path (or connection=)")
    if connection is not None and not isinstance(connection, sqlite3.Connection):
        raise ConfigurationError(
            f"connection must be an sqlite3.Connection, not {type(connection).__name__}"
        )
    if connection is not None and readonly:
        raise ConfigurationError("readonly applies to a file, not to a host's connection")
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise ConfigurationError(f"path must be a str or a path, not {type(path).__name__}")
        path = os.fspath(path)
        if not isinstance(path, str) or "\x00" in path:
            raise ConfigurationError(f"not a usable file path: {path!r}")
    if sqlite3.sqlite_version_info < schema.MIN_SQLITE:
        raise ConfigurationError(
            f"the SQLite store needs SQLite >= {'.'.join(map(str, schema.MIN_SQLITE))}; "
            f"this Python has {sqlite3.sqlite_version}"
        )
    return path, sync


def from_url(url: str, given: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The path a URL names (``None`` with ``connection=``) and its options, ``given`` winning."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "sqlite":
        raise ConfigurationError(f"not an sqlite:// URL: {url!r}")
    rest, _, query = rest.partition("?")
    if rest and not rest.startswith("/"):
        raise ConfigurationError(
            f"an sqlite URL has no host: {url!r} (use sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db)"
        )
    merged: dict[str, Any] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise ConfigurationError(f"malformed options in {url!r}") from None
    for key, value in pairs:
        name = "readonly" if key == "mode" else key
        if name in merged:
            raise ConfigurationError(f"option {key!r} given twice in {url!r}")
        merged[name] = _url_option(key, value, url)
    unknown = set(given) - KNOWN
    if unknown:
        raise ConfigurationError(
            f"unknown SQLite store option(s) {sorted(unknown)} (known: {sorted(KNOWN)})"
        )
    merged.update(given)
    path = rest[1:]
    if merged.get("connection") is not None:
        if path:
            raise ConfigurationError("with connection=, the URL must be 'sqlite://'")
        return None, merged
    return path or ":memory:", merged


def _url_option(key: str, value: str, url: str) -> Any:
    if key == "synchronous":
        return value
    if key == "busy_timeout":
        try:
            return float(value)
        except ValueError:
            raise ConfigurationError(f"busy_timeout must be a number in {url!r}") from None
    if key == "mode":
        modes = {"ro": True, "rw": False, "rwc": False}
        if value not in modes:
            raise ConfigurationError(f"mode must be ro, rw or rwc in {url!r}")
        return modes[value]
    if key == "readonly":
        flags = {"1": True, "true": True, "0": False, "false": False}
        if value.lower() not in flags:
            raise ConfigurationError(f"readonly must be 1 or 0 in {url!r}")
        return flags[value.lower()]
    if key == "fts":
        choices = {"1": True, "true": True, "0": False, "false": False, "auto": None}
        if value.lower() not in choices:
            raise ConfigurationError(f"fts must be 1, 0 or auto in {url!r}")
        return choices[value.lower()]
    raise ConfigurationError(
        f"unknown option {key!r} in {url!r} (known: synchronous, busy_timeout, fts, mode, readonly)"
    )
