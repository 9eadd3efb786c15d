"""The PostgreSQL store: connections (a psycopg pool, or the host's own), reads and binding.

SQL comes from :mod:`.query` (pages and counts), :mod:`.write` (appends) and :mod:`.schema`
(tables and migrations); rows are decoded by :mod:`.._sql.rows`.
"""

from __future__ import annotations

import contextvars
import struct
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import psycopg_pool
from psycopg.adapt import Loader
from psycopg.rows import tuple_row

from ...errors import ConfigurationError, StoreError
from ...models import Entry
from .._sql import chain as sql_chain
from .._sql import rows
from ..base import Chain, ChainHead, QuerySpec
from . import query, write
from . import schema as pg_schema

#: Rows one statement of a streamed chain read fetches.
CHUNK = 2000
#: ``timestamptz`` in binary is microseconds since 2000-01-01 UTC.
_PG_EPOCH_MICROS = 946_684_800_000_000
_INT8 = struct.Struct("!q")
_TIMESTAMPTZ_OID = 1184
_OPTIONS = frozenset({"schema", "min_size", "max_size", "timeout"})


class _MicrosLoader(Loader):
    """Loads a binary ``timestamptz`` as integer microseconds since the Unix epoch, the form
    :mod:`.._sql.rows` reads (exact, and cheaper than building a datetime first)."""

    format = psycopg.pq.Format.BINARY

    def load(self, data: Any) -> int:
        return int(_INT8.unpack_from(data)[0]) + _PG_EPOCH_MICROS


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.adapters.register_loader(_TIMESTAMPTZ_OID, _MicrosLoader)
    # Every statement is planned for its own values (a generic plan cannot tell a large
    # organization or a common search word from a small one).
    conn.execute("SET plan_cache_mode = force_custom_plan")


#: The host connections bound in this context: ``((store, connection), ...)``.
_bound: contextvars.ContextVar[tuple[tuple[Any, Any], ...]] = contextvars.ContextVar(
    "activitylog_postgres_bound", default=()
)


class PostgresStore:
    """A store in a PostgreSQL database (``postgresql://user@host/db?schema=activitylog``).

    ``conninfo`` is a libpq connection string or URL. The store keeps its tables in its own
    ``schema`` (created on first open), and its connections in a pool of ``min_size`` to
    ``max_size`` connections; ``timeout`` is how many seconds a call waits for one. Inside
    :meth:`bind`, calls use the host's connection and transaction instead.
    """

    scheme = "postgresql"

    def __init__(
        self,
        conninfo: str = "",
        *,
        schema: str = "activitylog",
        min_size: int = 1,
        max_size: int = 8,
        timeout: float = 30.0,
    ) -> None:
        self._schema = pg_schema.check_name(schema)
        for name, value in (("min_size", min_size), ("max_size", max_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigurationError(f"{name} must be an integer >= 0, not {value!r}")
        if max_size < max(min_size, 1):
            raise ConfigurationError(f"max_size ({max_size}) must be >= min_size and >= 1")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigurationError(f"timeout must be a number of seconds > 0, not {timeout!r}")
        self._where = _describe(conninfo)
        s = pg_schema.quoted(self._schema)
        self._entries = f"{s}.entries"
        self._counts = f"{s}.category_counts"
        self._heads = f"{s}.heads"
        self._sql = write.Statements(s)
        self._lock = threading.Lock()
        self._closed = False
        try:
            first = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to {self._where}: {exc}") from exc
        try:
            with first:
                pg_schema.upgrade(first, self._schema, self._where)
        except psycopg.Error as exc:
            raise StoreError(f"opening {self._where} failed: {exc}") from exc
        self._pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True},
            configure=_configure,
            timeout=float(timeout),
            open=True,
            name=f"activitylog {self._schema}",
        )

    @classmethod
    def from_url(cls, url: str, **options: Any) -> PostgresStore:
        """Open ``postgresql://`` (or ``postgres://``) URLs as libpq does.

        The store's own options may come in the query string (``?schema=audit&max_size=4``);
        the other parameters go to libpq (``sslmode``, ``connect_timeout``...). Keyword
        options win.
        """
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("postgresql", "postgres"):
            raise ConfigurationError(f"not a postgresql:// URL: {parts.scheme}://...")
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ConfigurationError(
                f"unknown PostgreSQL store option(s) {sorted(unknown)} (known: {sorted(_OPTIONS)})"
            )
        try:
            pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        except ValueError:
            raise ConfigurationError(f"malformed options in {_describe(url)}") from None
        own: dict[str, Any] = {}
        passed: list[tuple[str, str]] = []
        for key, value in pairs:
            if key == "schema":
                own[key] = value
            elif key in ("min_size", "max_size"):
                own[key] = _number(key, value, int)
            elif key == "timeout":
                own[key] = _number(key, value, float)
            else:
                passed.append((key, value))
        own.update(options)
        conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(passed), ""))
        return cls(conninfo, **own)

    # -- connections ------------------------------------------------------------------------

    @contextmanager
    def bind(self, connection: Any) -> Iterator[PostgresStore]:
        """Make every call in the block (in this thread or task) use the host's ``connection``.

        Appends then join the host's open transaction (as a savepoint, committed or rolled
        back with it) and reads see its uncommitted entries. With the connection in autocommit
        and no transaction open, each append commits on its own. A failing append raises
        :class:`StoreError` at once, with the host's transaction left as it was before it.
        """
        if not isinstance(connection, psycopg.Connection):
            raise ConfigurationError(
                "bind() needs a psycopg 3 Connection (Django: connection.connection; "
                "SQLAlchemy: session.connection().connection.driver_connection), "
                f"not {type(connection).__name__}"
            )
        token = _bound.set((*_bound.get(), (self, connection)))
        try:
            yield self
        finally:
            _bound.reset(token)

    def _host(self) -> Any:
        for store, connection in reversed(_bound.get()):
            if store is self:
                return connection
        return None

    @contextmanager
    def _connection(self, doing: str) -> Iterator[tuple[Any, bool]]:
        """A connection (and whether it is the host's), with driver errors as StoreError."""
        if self._closed:
            raise StoreError(f"the store on {self._where} is closed")
        host = self._host()
        try:
            if host is not None:
                yield host, True
                return
            with self._pool.connection() as conn:
                yield conn, False
        except psycopg.Error as exc:
            raise StoreError(f"{doing} {self._where} failed: {exc}") from exc
        except psycopg_pool.PoolTimeout as exc:
            raise StoreError(f"{doing} {self._where} failed: {exc}") from exc

    def _cursor(self, conn: Any, host: bool) -> Any:
        cursor = psycopg.Cursor(conn, row_factory=tuple_row)
        if host:  # the host's adapters stay the host's: ours are set on our cursors only
            cursor.adapters.register_loader(_TIMESTAMPTZ_OID, _MicrosLoader)
        return cursor

    def _fetch(self, doing: str, sql: query.Sql | str, params: Sequence[Any] = ()) -> list[Any]:
        if isinstance(sql, str):
            sql = query.Sql(sql, list(params), False)
        with self._connection(doing) as (conn, host):
            cursor = self._cursor(conn, host)
            prepare = False if host or sql.searches else None
            cursor.execute(sql.text, sql.params, prepare=prepare, binary=True)
            result: list[Any] = cursor.fetchall()
            return result

    def close(self) -> None:
        """Close the pool (a bound host connection stays open)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema(self) -> str:
        """The PostgreSQL schema holding the store's tables."""
        return self._schema

    # -- writing ----------------------------------------------------------------------------

    def append(self, entries: Sequence[Entry], chain: Chain | None) -> list[Entry]:
        """See :meth:`Store.append`: one transaction (a savepoint in a host's transaction)."""
        batch = list(entries)
        if not batch:
            return []
        with self._connection("writing to") as (conn, host):
            if host and not conn.autocommit and conn.info.transaction_status == _IDLE:
                # The host's transaction has not sent a statement yet: start it, so that ours
                # is a savepoint inside it rather than a transaction committed on its own.
                self._cursor(conn, host).execute("SELECT 1", prepare=False)

            def cursor() -> Any:
                return self._cursor(conn, host)

            if len(batch) > write.COPY_ABOVE:
                with conn.transaction():
                    return write.append(conn, cursor, self._sql, batch, chain, rows.decode)
            if host and conn.info.transaction_status != _IDLE:
                return self._append_pipelined(conn, cursor, batch, chain, _SAVEPOINT)
            return self._append_pipelined(conn, cursor, batch, chain, _TRANSACTION)

    def _append_pipelined(
        self,
        conn: Any,
        cursor: Any,
        batch: list[Entry],
        chain: Chain | None,
        steps: tuple[str, str, tuple[str, ...]],
    ) -> list[Entry]:
        """A small append in two round trips: the start (BEGIN, or a SAVEPOINT inside a host's
        transaction) and the reads, then the writes and the end, each sent as one pipeline.

        psycopg's own ``transaction()`` would sync the pipeline on entering and leaving it
        (four more round trips), so the statements are sent here; ``steps`` holds them.
        """
        start, end, undo = steps
        try:
            with conn.pipeline():
                control = cursor()
                control.execute(start, prepare=False)
                result = write.append(conn, cursor, self._sql, batch, chain, rows.decode)
                control.execute(end, prepare=False)
        except BaseException:
            # The error being raised is the one to report. Undo what this append did; if even
            # that fails, a pooled connection is rolled back (or discarded) by the pool.
            with suppress(psycopg.Error):
                if not conn.closed and conn.info.transaction_status != _IDLE:
                    for statement in undo:
                        cursor().execute(statement, prepare=False)
            raise
        return result

    # -- reading ----------------------------------------------------------------------------

    def page(self, spec: QuerySpec) -> list[Entry]:
        """See :meth:`Store.page`."""
        sql = query.page_sql(self._entries, spec)
        if sql is None:
            return []
        decode = rows.decode
        return [decode(row, spec.org_id) for row in self._fetch("reading", sql)]

    def count(self, spec: QuerySpec) -> int:
        """See :meth:`Store.count`."""
        sql = query.count_sql(self._entries, self._counts, spec)
        if sql is None:
            return 0
        return int(self._fetch("reading", sql)[0][0])

    def categories(self, org_id: str) -> dict[str, int]:
        """See :meth:`Store.categories`: read from the count table, never by scanning entries."""
        if not query.storable(org_id):
            return {}
        found = self._fetch(
            "reading",
            f"SELECT category, n FROM {self._counts} WHERE org_id = %s AND n > 0",
            (org_id,),
        )
        return {name: int(n) for name, n in found}

    def chain(self, org_id: str, after_seq: int = 0) -> Iterator[Entry]:
        """See :meth:`Store.chain`: streamed in chunks of :data:`CHUNK` rows, keyset on seq."""
        for chunk in self._chain_rows(org_id, after_seq):
            for row in chunk:
                yield rows.decode(row, org_id)

    def chain_records(self, org_id: str, after_seq: int = 0) -> Iterator[sql_chain.Record]:
        """:meth:`chain` as ``(seq, prev_hash, hash, content)`` records for verification
        (see :mod:`.._sql.chain`)."""
        return sql_chain.records(((chunk, True) for chunk in self._chain_rows(org_id, after_seq)),
                                 org_id)  # fmt: skip

    def _chain_rows(self, org_id: str, after_seq: int) -> Iterator[list[Any]]:
        if not query.storable(org_id):
            return
        last = after_seq
        while True:
            chunk = self._fetch(
                "reading",
                f"SELECT {query.COLUMNS} FROM {self._entries} e "
                "WHERE e.org_id = %s AND e.seq > %s ORDER BY e.seq LIMIT %s",
                (org_id, last, CHUNK),
            )
            if chunk:
                yield chunk
            if len(chunk) < CHUNK:
                return
            last = chunk[-1][1]

    def head(self, org_id: str) -> ChainHead | None:
        """See :meth:`Store.head`."""
        if not query.storable(org_id):
            return None
        found = self._fetch(
            "reading", f"SELECT seq, hash FROM {self._heads} WHERE org_id = %s AND seq > 0",
            (org_id,),
        )  # fmt: skip
        return None if not found else ChainHead(int(found[0][0]), found[0][1])

    def org_ids(self) -> list[str]:
        """See :meth:`Store.org_ids`."""
        found = self._fetch(
            "reading", f"SELECT org_id FROM {self._heads} WHERE seq > 0 ORDER BY org_id"
        )
        return [row[0] for row in found]


_IDLE = psycopg.pq.TransactionStatus.IDLE
#: How a pipelined append starts, ends and is undone: its own transaction, or a savepoint in
#: the host's.
_TRANSACTION = ("BEGIN", "COMMIT", ("ROLLBACK",))
_SAVEPOINT = (
    "SAVEPOINT activitylog_append",
    "RELEASE SAVEPOINT activitylog_append",
    ("ROLLBACK TO SAVEPOINT activitylog_append", "RELEASE SAVEPOINT activitylog_append"),
)


def _number(key: str, value: str, kind: type[Any]) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ConfigurationError(f"{key} must be a number, not {value!r}") from None


def _describe(conninfo: str) -> str:
    """The connection target for messages, without its password."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.Error:
        return "the PostgreSQL database"
    host = params.get("host") or "localhost"
    port = params.get("port") or "5432"
    return f"PostgreSQL database {params.get('dbname') or params.get('user') or '?'!r} at {host}:{port}"
