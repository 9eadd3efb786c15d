"""The SQLite store (``sqlite:///path/to/activity.db``): one file, no server, WAL-journaled.

- :mod:`.store`: :class:`SQLiteStore`, its connections and transactions;
- :mod:`.schema`: what a database holds and its forward-only migrations;
- :mod:`.write`: appends; :mod:`.query`: pages and counts; :mod:`.search`: FTS5 planning;
- :mod:`.transaction`: transactions on the store's or a host's connection.

Rows become entries in :mod:`activitylog.stores._sql`, shared with every SQL store.
"""

from __future__ import annotations

from .store import SQLiteStore

__all__ = ["SQLiteStore"]
