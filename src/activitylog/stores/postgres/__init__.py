"""The PostgreSQL store (``postgresql://``): psycopg 3 and psycopg_pool, from the ``postgres`` extra.

Importing this package imports psycopg; ``import activitylog`` never does (the store is
imported when a ``postgresql://`` URL is opened).
"""

from __future__ import annotations

from ...errors import ConfigurationError

try:
    import psycopg  # noqa: F401
    import psycopg_pool  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ConfigurationError(
        "the PostgreSQL store needs psycopg 3 and psycopg_pool: "
        "pip install 'activitylog[postgres]'"
    ) from exc

from .store import PostgresStore

__all__ = ["PostgresStore"]
