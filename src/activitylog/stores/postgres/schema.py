"""The PostgreSQL store's schema: its tables, their versions and the forward-only migrations.

Everything lives in one PostgreSQL schema (``activitylog`` unless configured), so it never
mixes with the host's tables:

- ``entries``: one row per entry, primary key ``(org_id, id)``; ``(org_id, seq)`` is unique,
  so two writers can never both store the same place in a chain. ``occurred_at`` is a
  ``timestamptz``; ``changes`` and ``metadata`` are the exact JSON text the entry was hashed
  with (``jsonb`` would reorder keys and rewrite numbers such as ``1e300``); ``haystack`` is
  the normalized search text (:mod:`activitylog.search`), indexed by pg_trgm.
- ``heads``: each organization's chain head; its row lock serializes the organization's writers.
- ``category_counts``: entries per organization and category, kept by each append, so the
  category filter's counts never scan entries.
- ``activitylog_version``: one row per applied migration (no key: it is not per organization).

Every primary key and unique constraint starts with ``org_id`` and no statement joins two
organizations, so the tables can be distributed by ``org_id`` (``docs/scaling.md``).
Append-only is enforced by statement triggers that refuse ``UPDATE``, ``DELETE`` and
``TRUNCATE`` of entries through any SQL path (only the owner could drop them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ...errors import ConfigurationError, SchemaError

#: The schema version this code writes; ``MIGRATIONS[n]`` upgrades version ``n`` to ``n + 1``.
SCHEMA_VERSION = 1
#: Advisory lock class for activitylog ("ALog"); object 0 serializes migrations, objects
#: ``1 + k`` guard the ids of one microsecond bucket ``k`` (see :data:`ID_LOCKS`).
LOCK_CLASS = 0x414C6F67
#: Ids are unique across organizations; writers of different organizations take one of this
#: many transaction-scoped advisory locks per microsecond they write, so two of them can never
#: both claim one id. Few enough that a large batch never fills the server's lock table.
ID_LOCKS = 64
#: The tables a version-1 schema holds.
TABLES = ("entries", "heads", "category_counts", "activitylog_version")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def check_name(schema: str) -> str:
    """``schema`` if it is a plain identifier (letters, digits, ``_``); ConfigurationError if not."""
    if not isinstance(schema, str) or not _NAME.fullmatch(schema):
        raise ConfigurationError(
            f"schema must be a plain identifier (letters, digits and _, at most 63), not {schema!r}"
        )
    return schema


def quoted(schema: str) -> str:
    """The schema name as a quoted SQL identifier."""
    return f'"{check_name(schema)}"'


def _version_1(execute: Callable[[str], Any], s: str, trgm: str) -> None:
    statements = [
        f"CREATE SCHEMA IF NOT EXISTS {s}",
        f"""CREATE TABLE {s}.entries (
            org_id text COLLATE "C" NOT NULL,
            id bigint NOT NULL,
            seq bigint NOT NULL,
            action text NOT NULL,
            label text COLLATE "C" NOT NULL,
            category text NOT NULL,
            kind text NOT NULL,
            actor_id text NOT NULL,
            actor_name text NOT NULL,
            actor_avatar_url text,
            actor_kind text NOT NULL,
            description text NOT NULL,
            occurred_at timestamptz NOT NULL,
            source text NOT NULL,
            api_key_id text,
            api_key_name text,
            target_type text,
            target_id text,
            target_label text,
            changes text,
            metadata text NOT NULL,
            idempotency_key text,
            prev_hash text NOT NULL,
            hash text,
            haystack text NOT NULL,
            CONSTRAINT entries_pkey PRIMARY KEY (org_id, id),
            CONSTRAINT entries_seq UNIQUE (org_id, seq)
        )""",
        (f"CREATE UNIQUE INDEX entries_idempotency ON {s}.entries (org_id, idempotency_key) "
        "WHERE idempotency_key IS NOT NULL"),
        # Ids are unique across organizations (as in every store); this finds a taken one.
        f"CREATE INDEX entries_id ON {s}.entries (id)",
        f"CREATE INDEX entries_category ON {s}.entries (org_id, category, id)",
        f"CREATE INDEX entries_label ON {s}.entries (org_id, label, id)",
        f"CREATE INDEX entries_target ON {s}.entries (org_id, target_type, target_id, id)",
        f"CREATE INDEX entries_actor ON {s}.entries (org_id, actor_id, id)",
        f"CREATE INDEX entries_search ON {s}.entries USING gin (haystack {trgm}.gin_trgm_ops)",
        f"""CREATE TABLE {s}.heads (
            org_id text COLLATE "C" NOT NULL,
            seq bigint NOT NULL,
            hash text,
            CONSTRAINT heads_pkey PRIMARY KEY (org_id)
        )""",
        f"""CREATE TABLE {s}.category_counts (
            org_id text COLLATE "C" NOT NULL,
            category text NOT NULL,
            n bigint NOT NULL,
            CONSTRAINT category_counts_pkey PRIMARY KEY (org_id, category)
        )""",
        f"""CREATE FUNCTION {s}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'activitylog entries are append-only: % of %.% refused',
                TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
                USING ERRCODE = 'restrict_violation';
        END
        $$""",
        (f"CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
        f"ON {s}.entries FOR EACH STATEMENT EXECUTE FUNCTION {s}.refuse_change()"),
        (f"CREATE TRIGGER heads_no_delete BEFORE DELETE OR TRUNCATE "
        f"ON {s}.heads FOR EACH STATEMENT EXECUTE FUNCTION {s}.refuse_change()"),
        (f"CREATE TRIGGER counts_no_delete BEFORE DELETE OR TRUNCATE "
        f"ON {s}.category_counts FOR EACH STATEMENT EXECUTE FUNCTION {s}.refuse_change()"),
        f"""CREATE TABLE {s}.activitylog_version (
            version integer NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )""",
        f"COMMENT ON TABLE {s}.activitylog_version IS 'activitylog schema versions'",
    ]
    for statement in statements:
        execute(statement)


#: ``MIGRATIONS[n](execute, quoted schema, pg_trgm's quoted schema)`` upgrades version ``n``.
MIGRATIONS: list[Callable[[Callable[[str], Any], str, str], None]] = [_version_1]
assert len(MIGRATIONS) == SCHEMA_VERSION

_INSPECT = """
SELECT n.oid IS NOT NULL,
       (SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c
         WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')),
       (SELECT n2.nspname::text FROM pg_extension x JOIN pg_namespace n2 ON n2.oid = x.extnamespace
         WHERE x.extname = 'pg_trgm')
FROM (SELECT %s::name AS nspname) wanted LEFT JOIN pg_namespace n USING (nspname)
"""


def inspect(cursor: Any, schema: str, where: str) -> tuple[int, str | None]:
    """The schema's activitylog version (0: absent or empty) and pg_trgm's schema (if any).

    Raises :class:`SchemaError` for a schema that holds other tables and no activitylog
    version, or one written by a newer activitylog; nothing is written either way.
    """
    exists, tables, trgm = cursor.execute(_INSPECT, (schema,)).fetchone()
    tables = tables or []
    if not exists or not tables:
        return 0, trgm
    if "activitylog_version" not in tables:
        raise SchemaError(
            f"schema {schema!r} in {where} holds tables of another application "
            f"({', '.join(tables[:5])}) and no activitylog version: choose another schema"
        )
    version = cursor.execute(
        f"SELECT max(version) FROM {quoted(schema)}.activitylog_version"
    ).fetchone()[0]
    version = int(version or 0)
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"schema {schema!r} in {where} has activitylog schema version {version}, newer than "
            f"this activitylog knows ({SCHEMA_VERSION}): upgrade activitylog"
        )
    return version, trgm


def upgrade(conn: Any, schema: str, where: str) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION`; concurrent first opens upgrade it once.

    The check is repeated under a transaction-scoped advisory lock, inside the transaction
    that migrates: DDL is transactional, so a failing step leaves the old version whole.
    """
    version, _ = inspect(conn.cursor(), schema, where)
    if version == SCHEMA_VERSION:
        return
    with conn.transaction():
        cursor = conn.cursor()
        cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_CLASS,))
        version, trgm = inspect(cursor, schema, where)
        if version == SCHEMA_VERSION:
            return
        if trgm is None:
            try:
                with conn.transaction():
                    cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            except Exception as exc:
                raise ConfigurationError(
                    f"the PostgreSQL store needs the pg_trgm extension in {where}: run "
                    f"'CREATE EXTENSION pg_trgm' as a privileged user ({exc})"
                ) from exc
            version, trgm = inspect(cursor, schema, where)
            assert trgm is not None
        s = quoted(schema)
        for step in range(version, SCHEMA_VERSION):
            MIGRATIONS[step](cursor.execute, s, f'"{trgm}"')
            cursor.execute(
                f"INSERT INTO {s}.activitylog_version (version) VALUES (%s)", (step + 1,)
            )
