"""The SQLite store: connections, transactions and the Store contract over one file.

Layout (see ``docs/sqlite.md`` and :mod:`.schema`): entries are keyed by their integer id,
which is time-ordered, so every date query is an id range on an index that starts with the
organization. Each organization gets a small integer code; its chain head lives beside it and
per-category counts live in a count table, both updated in the transaction that appends
(:mod:`.write`). Pages and counts are planned in :mod:`.query`, searches in :mod:`.search`
(an FTS5 ``trigram`` index whose rowid is the entry id, so the newest matches come first
without sorting; without FTS5 the store scans, with identical results). Rows become entries
in :mod:`activitylog.stores._sql.rows`, shared with every SQL store.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal
from urllib.parse import parse_qsl

from ...errors import ConfigurationError, SchemaError, StoreError
from ...models import Entry
from .._sql.chain import Record, records
from .._sql.plan import storable
from .._sql.rows import decode, decode_checked, encode
from ..base import Chain, ChainHead, QuerySpec
from . import query, schema, search, write
from .search import COLUMNS
from .transaction import Transaction, plain_cursor

Synchronous = Literal["NORMAL", "FULL"]

#: How many rows one statement of a streamed read fetches.
CHUNK = 500
#: Page cache of the writing connection, in KiB (SQLite's default is 2,000): bulk appends,
#: which touch every index of every organization in a batch, measured 9% faster with 8 MiB.
#: Readers keep the default, which scanned faster than larger caches.
WRITER_CACHE_KIB = 8192
_OPTIONS = frozenset({"synchronous", "busy_timeout", "fts", "connection"})


class SQLiteStore:
    """A store in one SQLite file (``sqlite:///path/to/activity.db``), or inside a host's database.

    ``path`` names the file (created on first open; ``":memory:"`` for a throwaway database).
    ``synchronous`` is ``"NORMAL"`` (the default: a committed entry survives a crash of the
    process; a power loss may drop the last transactions) or ``"FULL"`` (also survives power
    loss, at a cost per commit). ``busy_timeout`` is how many seconds a writer waits for
    another process's write transaction. ``fts`` chooses the search strategy: ``None`` uses the
    FTS5 trigram index when this SQLite has it, ``False`` never creates or uses one (searches
    scan), ``True`` requires it.

    ``connection`` makes the store write inside a host application's own SQLite connection: its
    tables are created in the host's database and each append runs in a SAVEPOINT, so it
    commits or rolls back with the host's transaction.
    """

    scheme = "sqlite"

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        synchronous: Synchronous | str = "NORMAL",
        busy_timeout: float = 30.0,
        connection: sqlite3.Connection | None = None,
        fts: bool | None = None,
    ) -> None:
        sync = str(synchronous).upper()
        if sync not in ("NORMAL", "FULL"):
            raise ConfigurationError(f"synchronous must be 'NORMAL' or 'FULL', not {synchronous!r}")
        if (
            isinstance(busy_timeout, bool)
            or not isinstance(busy_timeout, (int, float))
            or busy_timeout < 0
        ):
            raise ConfigurationError(
                f"busy_timeout must be a number of seconds >= 0, not {busy_timeout!r}"
            )
        if fts not in (None, True, False):
            raise ConfigurationError(f"fts must be True, False or None, not {fts!r}")
        if connection is not None and path is not None:
            raise ConfigurationError("pass either a path or connection=, not both")
        if connection is None and path is None:
            raise ConfigurationError("SQLiteStore needs a path (or connection=)")
        if connection is not None and not isinstance(connection, sqlite3.Connection):
            raise ConfigurationError(
                f"connection must be an sqlite3.Connection, not {type(connection).__name__}"
            )
        if sqlite3.sqlite_version_info < schema.MIN_SQLITE:
            raise ConfigurationError(
                f"the SQLite store needs SQLite >= {'.'.join(map(str, schema.MIN_SQLITE))}; "
                f"this Python has {sqlite3.sqlite_version}"
            )
        self._synchronous = sync
        self._timeout = float(busy_timeout)
        self._host = connection is not None
        self._closed = False
        self._lock = threading.RLock()  # guards the single connection, the pool and caches
        self._write_lock = threading.Lock()  # one writer per process; processes use the lock
        self._pool: list[sqlite3.Connection] = []
        self._writer: sqlite3.Connection | None = None
        self._org_codes: dict[str, int] = {}
        self._category_codes: dict[str, int] = {}
        self._single: sqlite3.Connection | None
        self._path: str | None
        if connection is not None:
            self._path = None
            self._where = "the host's database"
            self._single = connection
        else:
            assert path is not None
            self._path = os.fspath(path)
            self._where = repr(self._path)
            memory = self._path == ":memory:" or self._path == ""
            self._single = self._connect() if memory else None
        try:
            self._open(fts)
        except BaseException:
            self._close_connections()
            raise

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SQLiteStore:
        """Open ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or ``sqlite:///:memory:``.

        As in SQLAlchemy, the path follows the third slash. Options may also come as a query
        string (``?synchronous=FULL&busy_timeout=10&fts=0``); keyword options win.
        """
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
            merged[key] = _url_option(key, value, url)
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ConfigurationError(
                f"unknown SQLite store option(s) {sorted(unknown)} (known: {sorted(_OPTIONS)})"
            )
        merged.update(options)
        path = rest[1:]
        if merged.get("connection") is not None:
            if path:
                raise ConfigurationError("with connection=, the URL must be 'sqlite://'")
            return cls(**merged)
        return cls(path or ":memory:", **merged)

    # -- connections ------------------------------------------------------------------------

    def _connect(self, *, writer: bool = False) -> sqlite3.Connection:
        assert self._path is not None
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=self._timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self._where}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            if writer:
                conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
        except sqlite3.Error as exc:
            conn.close()
            if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
                raise SchemaError(f"{self._where} is not an SQLite database ({exc})") from exc
            raise StoreError(f"cannot open {self._where}: {exc}") from exc
        return conn

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"{doing} {self._where} failed: {exc}") from exc

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A connection whose statements all read one snapshot."""
        if self._single is not None:
            with self._lock:
                self._check_open()
                conn = self._single
                if conn.in_transaction:  # the host's transaction is our snapshot
                    yield conn
                    return
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    if conn.in_transaction:
                        conn.execute("COMMIT")
            return
        with self._lock:
            self._check_open()
            pooled = self._pool.pop() if self._pool else None
        conn = pooled if pooled is not None else self._connect()
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        with self._lock:
            if self._closed:
                conn.close()
            else:
                self._pool.append(conn)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store on {self._where} is closed")

    def _close_connections(self) -> None:
        conns = list(self._pool)
        self._pool.clear()
        if self._writer is not None:
            conns.append(self._writer)
            self._writer = None
        if self._single is not None and not self._host:
            conns.append(self._single)
        for conn in conns:
            conn.close()

    def close(self) -> None:
        """Close every connection the store opened (a host's connection stays open)."""
        with self._write_lock, self._lock:
            if self._closed:
                return
            self._closed = True
            self._close_connections()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema -----------------------------------------------------------------------------

    def _open(self, fts: bool | None) -> None:
        conn = self._single if self._single is not None else self._connect(writer=True)
        if self._single is None:
            self._writer = conn
        owned_file = not self._host
        with self._errors("opening"):
            trigram = schema.has_trigram(conn)
            if fts is True and not trigram:
                raise ConfigurationError(
                    f"fts=True, but this SQLite ({sqlite3.sqlite_version}) lacks FTS5 with the "
                    "trigram tokenizer (SQLite >= 3.34)"
                )
            layout, claim = schema.inspect(conn, owned_file=owned_file, where=self._where)
            if layout.search_index and not trigram:
                raise ConfigurationError(
                    f"{self._where} has a search index that needs FTS5 with the trigram "
                    f"tokenizer, which this SQLite ({sqlite3.sqlite_version}) lacks"
                )
            if claim and self._path not in (":memory:", ""):
                # Only now, once the file is known to be ours: WAL is a persistent setting.
                conn.execute("PRAGMA journal_mode = WAL")
            want_index = trigram and fts is not False
            if (
                layout.version < schema.SCHEMA_VERSION
                or (want_index and not layout.search_index)
                or not layout.search_current
            ):
                self._upgrade(conn, claim=claim, search=want_index)
                layout, _ = schema.inspect(conn, owned_file=owned_file, where=self._where)
            self._layout = layout
            self._search = layout.search_index and fts is not False

    def _upgrade(self, conn: sqlite3.Connection, *, claim: bool, search: bool) -> None:
        with Transaction(conn, nested=self._host):
            # Read again under the write lock: another process may have done it meanwhile.
            layout, may_claim = schema.inspect(conn, owned_file=not self._host, where=self._where)
            if layout.version < schema.SCHEMA_VERSION:
                schema.upgrade(conn, layout, claim=claim and may_claim, search=search)
                return
            if search and not layout.search_index:
                schema.create_search_index(conn)
            if not layout.search_current:
                schema.rebuild_search(conn)

    def _check_layout(self, conn: sqlite3.Connection, cookie: int) -> schema.Layout:
        """Inside a write transaction: notice a schema changed by another process since open
        (``cookie`` is the ``schema_version`` read in that transaction)."""
        if cookie == self._layout.cookie:
            return self._layout
        layout, _ = schema.inspect(conn, owned_file=not self._host, where=self._where)
        if layout.version != schema.SCHEMA_VERSION:
            raise StoreError(f"{self._where} changed to schema version {layout.version} while open")
        self._layout = layout
        return layout

    # -- codes ------------------------------------------------------------------------------
    def _org_code(self, conn: sqlite3.Connection, org_id: str) -> int | None:
        code = self._org_codes.get(org_id)
        if code is None:
            if not storable(org_id):
                return None
            row = (
                plain_cursor(conn)
                .execute("SELECT code FROM activitylog_orgs WHERE org_id = ?", (org_id,))
                .fetchone()
            )
            if row is None:
                return None
            code = int(row[0])
            if not self._host:  # a host may still roll the row back
                self._org_codes[org_id] = code
        return code

    def _category_code(
        self, conn: sqlite3.Connection, name: str, created: dict[str, int] | None = None
    ) -> int | None:
        code = self._category_codes.get(name)
        if code is None and created is not None:
            code = created.get(name)
        if code is not None:
            return code
        cursor = plain_cursor(conn)
        row = cursor.execute(
            "SELECT code FROM activitylog_categories WHERE name = ?", (name,)
        ).fetchone()
        if row is not None:
            code = int(row[0])
            if not self._host and created is None:
                self._category_codes[name] = code
            elif created is not None:
                created[name] = code
            return code
        if created is None:
            return None
        cursor.execute("INSERT INTO activitylog_categories (name) VALUES (?)", (name,))
        assert cursor.lastrowid is not None
        created[name] = cursor.lastrowid
        return cursor.lastrowid

    # -- writing ----------------------------------------------------------------------------

    def append(self, entries: Sequence[Entry], chain: Chain | None) -> list[Entry]:
        """See :meth:`Store.append`: one ``BEGIN IMMEDIATE`` transaction (or SAVEPOINT)."""
        batch = list(entries)
        if not batch:
            return []
        statics = [encode(entry) for entry in batch]
        new_orgs: dict[str, int] = {}
        new_categories: dict[str, int] = {}
        # Threads of one process take turns on one writer connection; other processes wait
        # on SQLite's lock (busy_timeout). No generator context managers: one-entry appends
        # spent a measurable part of their time entering and leaving them.
        try:
            if self._single is not None:
                with self._lock:
                    self._check_open()
                    with Transaction(self._single, nested=self._host):
                        result = write.append(
                            self._single, batch, statics, chain, new_orgs, new_categories,
                            check_layout=self._check_layout, category_code=self._category_code,
                        )  # fmt: skip
            else:
                with self._write_lock:
                    with self._lock:
                        self._check_open()
                        if self._writer is None:
                            self._writer = self._connect(writer=True)
                        conn = self._writer
                    with Transaction(conn, nested=False):
                        result = write.append(
                            conn, batch, statics, chain, new_orgs, new_categories,
                            check_layout=self._check_layout, category_code=self._category_code,
                        )  # fmt: skip
        except sqlite3.Error as exc:
            raise StoreError(f"writing to {self._where} failed: {exc}") from exc
        if not self._host:
            with self._lock:
                self._org_codes.update(new_orgs)
                self._category_codes.update(new_categories)
        return result

    # -- reading ----------------------------------------------------------------------------

    def page(self, spec: QuerySpec) -> list[Entry]:
        """See :meth:`Store.page`."""
        with self._errors("reading"), self._reading() as conn:
            code = self._org_code(conn, spec.org_id)
            if code is None:
                return []
            rows = query.page_rows(self._context(conn), code, spec)
            build = decode if conn.text_factory is str else decode_checked
        return [build(row, spec.org_id) for row in rows]

    def count(self, spec: QuerySpec) -> int:
        """See :meth:`Store.count`."""
        with self._errors("reading"), self._reading() as conn:
            code = self._org_code(conn, spec.org_id)
            return 0 if code is None else query.count(self._context(conn), code, spec)

    def _context(self, conn: sqlite3.Connection) -> search.Context:
        return search.Context(
            conn,
            self._search,
            self._layout.search_words,
            functools.partial(self._category_code, conn),
        )

    def categories(self, org_id: str) -> dict[str, int]:
        """See :meth:`Store.categories`: read from the count table, never by scanning entries."""
        with self._errors("reading"), self._reading() as conn:
            code = self._org_code(conn, org_id)
            if code is None:
                return {}
            rows = (
                plain_cursor(conn)
                .execute(
                    "SELECT category, n FROM activitylog_counts WHERE org = ? AND n > 0",
                    (code,),
                )
                .fetchall()
            )
        return {name: int(n) for name, n in rows}

    def chain(self, org_id: str, after_seq: int = 0) -> Iterator[Entry]:
        """See :meth:`Store.chain`: streamed in chunks of :data:`CHUNK` rows, keyset on seq."""
        for rows, plain in self._chain_rows(org_id, after_seq):
            build = decode if plain else decode_checked
            for row in rows:
                yield build(row, org_id)

    def chain_records(self, org_id: str, after_seq: int = 0) -> Iterator[Record]:
        """:meth:`chain` as ``(seq, prev_hash, hash, content)`` records for verification.

        An optional capability that :func:`~activitylog.integrity.verify` uses when a store
        has it: ``content`` is the row's values in ``integrity.RECORD_FIELDS`` order when they
        are exactly what the entry would hold, otherwise the entry itself. Verifying then
        skips building entries (and their validation), which was half its cost.
        """
        return records(self._chain_rows(org_id, after_seq), org_id)

    def _chain_rows(self, org_id: str, after_seq: int) -> Iterator[tuple[list[Any], bool]]:
        """The chain's rows in chunks, each read in its own short read transaction, and
        whether the connection reads text the default way (see :func:`_name`)."""
        last: tuple[int, int] = (after_seq, 2**63 - 1)
        while True:
            with self._errors("reading"), self._reading() as conn:
                code = self._org_code(conn, org_id)
                if code is None:
                    return
                rows = (
                    plain_cursor(conn)
                    .execute(
                        f"SELECT {COLUMNS} FROM {schema.ENTRIES} e "
                        "WHERE e.org = ? AND (e.seq, e.id) > (?, ?) "
                        "ORDER BY e.seq, e.id LIMIT ?",
                        (code, *last, CHUNK),
                    )
                    .fetchall()
                )
                plain = conn.text_factory is str
            yield rows, plain
            if len(rows) < CHUNK:
                return
            last = (rows[-1][1], rows[-1][0])

    def head(self, org_id: str) -> ChainHead | None:
        """See :meth:`Store.head`."""
        if not storable(org_id):
            return None
        with self._errors("reading"), self._reading() as conn:
            row = (
                plain_cursor(conn)
                .execute(
                    "SELECT head_seq, head_hash FROM activitylog_orgs WHERE org_id = ?",
                    (org_id,),
                )
                .fetchone()
            )
        return None if row is None else ChainHead(int(row[0]), row[1])

    def org_ids(self) -> list[str]:
        """See :meth:`Store.org_ids`."""
        with self._errors("reading"), self._reading() as conn:
            rows = (
                plain_cursor(conn)
                .execute("SELECT org_id FROM activitylog_orgs WHERE head_seq > 0")
                .fetchall()
            )
        return sorted(row[0] for row in rows)

    @property
    def searches_with_index(self) -> bool:
        """Whether searches use the FTS5 trigram index (``False``: they scan)."""
        return self._search


def _url_option(key: str, value: str, url: str) -> Any:
    if key == "synchronous":
        return value
    if key == "busy_timeout":
        try:
            return float(value)
        except ValueError:
            raise ConfigurationError(f"busy_timeout must be a number in {url!r}") from None
    if key == "fts":
        choices = {"1": True, "true": True, "0": False, "false": False, "auto": None}
        if value.lower() not in choices:
            raise ConfigurationError(f"fts must be 1, 0 or auto in {url!r}")
        return choices[value.lower()]
    raise ConfigurationError(
        f"unknown option {key!r} in {url!r} (known: synchronous, busy_timeout, fts)"
    )
