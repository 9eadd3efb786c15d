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
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Literal, TypeVar

from ... import search as text_search
from ...errors import ConfigurationError, SchemaError, StoreError
from ...models import Entry
from .._sql.chain import Record, records
from .._sql.plan import storable
from .._sql.rows import Encoded, decode, decode_checked, encode
from ..base import Chain, ChainHead, QuerySpec
from . import options, query, schema, search, write
from .connections import Connections
from .group import GroupCommit
from .search import COLUMNS
from .transaction import Transaction, plain_cursor

Synchronous = Literal["NORMAL", "FULL"]
T = TypeVar("T")

#: How many rows one statement of a streamed read fetches.
CHUNK = 500
_CHAIN_CHUNK = (
    f"SELECT {COLUMNS} FROM {schema.ENTRIES} e "
    "WHERE e.org = ? AND (e.seq, e.id) > (?, ?) ORDER BY e.seq, e.id LIMIT ?"
)
#: The same with the derived search text last, which verification checks.
_CHAIN_CHUNK_CHECKED = _CHAIN_CHUNK.replace(" FROM ", ", e.haystack FROM ", 1)


class SQLiteStore:
    """A store in one SQLite file (``sqlite:///path/to/activity.db``), or inside a host's database.

    ``path`` names the file (created on first open; ``":memory:"`` for a throwaway database).
    ``synchronous`` is ``"NORMAL"`` (the default: a committed entry survives a crash of the
    process; a power loss may drop the last transactions) or ``"FULL"`` (also survives power
    loss, at a cost per commit). ``busy_timeout`` is how many seconds an append may wait in
    total, for this process's other writers and then for another process's write transaction.
    ``readonly`` reads an existing file without creating or changing anything. ``fts`` chooses the search strategy: ``None`` uses the
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
        readonly: bool = False,
    ) -> None:
        path, sync = options.checked(
            path, synchronous, busy_timeout, connection=connection, fts=fts, readonly=readonly
        )
        self._host = connection is not None
        self._readonly = bool(readonly)
        self._org_codes: dict[str, int] = {}
        self._category_codes: dict[str, int] = {}
        self._conns = Connections(
            path, host=connection, timeout=float(busy_timeout), synchronous=sync, readonly=readonly
        )
        self._where = self._conns.where
        # Threads appending to a file share write transactions; a host's connection and
        # ":memory:" are one connection, written under its lock a call at a time.
        self._group = (
            None
            if self._conns.single is not None or self._readonly
            else GroupCommit(self._conns, self._where, self._write, self._merge_codes)
        )
        try:
            self._open(fts)
        except BaseException:
            self._conns.close_all()
            raise

    @classmethod
    def from_url(cls, url: str, **given: Any) -> SQLiteStore:
        """Open ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or ``sqlite:///:memory:``.

        As in SQLAlchemy, the path follows the third slash. Options may also come as a query
        string (``?synchronous=FULL&busy_timeout=10&fts=0``); keyword options win.
        """
        path, merged = options.from_url(url, given)
        if path is None:
            return cls(**merged)
        return cls(path, **merged)

    # -- connections ------------------------------------------------------------------------

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"{doing} {self._where} failed: {exc}") from exc

    def _reading(self, *, snapshot: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        """A connection whose statements all read one snapshot (see ``Connections.reading``)."""
        return self._conns.reading(snapshot=snapshot)

    def close(self) -> None:
        """Close every connection the store opened (a host's connection stays open)."""
        self._conns.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema -----------------------------------------------------------------------------

    def _open(self, fts: bool | None) -> None:
        conns = self._conns
        if conns.single is not None:
            conn = conns.single
        elif self._readonly:
            conn = conns.connect()
            conns.pool.append(conn)
        else:
            conn = conns.writer = conns.connect(writer=True)
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
            if self._readonly:
                self._layout = self._readable(layout)
                self._search = layout.search_index and fts is not False and layout.search_current
                return
            if claim and not conns.memory:
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

    def _readable(self, layout: schema.Layout) -> schema.Layout:
        """A layout a read-only store can read as it is (it cannot migrate anything)."""
        if layout.version == 0:
            raise SchemaError(
                f"{self._where} holds no activitylog database (opened read-only, so nothing "
                "was created)"
            )
        return layout

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
        """See :meth:`Store.append`: one ``BEGIN IMMEDIATE`` transaction (or SAVEPOINT).

        Appends from several threads at once share transactions (see :mod:`.group`): each
        call runs in its own SAVEPOINT of its group's transaction and returns once that
        transaction has committed.
        """
        batch = list(entries)
        if not batch:
            return []
        statics = [encode(entry) for entry in batch]
        try:
            if self._group is not None:
                return self._group.append(batch, statics, chain)
            # No generator context managers: one-entry appends spent a measurable part of
            # their time entering and leaving them.
            new_orgs: dict[str, int] = {}
            new_categories: dict[str, int] = {}
            conns = self._conns
            conn = conns.acquire_writer()
            try:
                with Transaction(conn, nested=self._host):
                    result = self._write(conn, batch, statics, chain, new_orgs, new_categories)
            finally:
                conns.release_writer(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"writing to {self._where} failed: {exc}") from exc
        if not self._host:  # a host may still roll the rows back
            self._merge_codes(new_orgs, new_categories)
        return result

    def _write(
        self,
        conn: sqlite3.Connection,
        batch: list[Entry],
        statics: list[Encoded],
        chain: Chain | None,
        new_orgs: dict[str, int],
        new_categories: dict[str, int],
    ) -> list[Entry]:
        """One append inside the open write transaction (see :func:`.write.append`)."""
        return write.append(
            conn, batch, statics, chain, new_orgs, new_categories,
            check_layout=self._check_layout, category_code=self._category_code,
        )  # fmt: skip

    def _merge_codes(self, new_orgs: dict[str, int], new_categories: dict[str, int]) -> None:
        """Cache the codes an append created, once its transaction has committed."""
        if new_orgs or new_categories:
            with self._conns.lock:
                self._org_codes.update(new_orgs)
                self._category_codes.update(new_categories)

    # -- reading ----------------------------------------------------------------------------

    def page(self, spec: QuerySpec) -> list[Entry]:
        """See :meth:`Store.page`."""
        rows, plain = self.page_rows(spec)
        build = decode if plain else decode_checked
        return [build(row, spec.org_id) for row in rows]

    def page_rows(self, spec: QuerySpec) -> tuple[list[Any], bool]:
        """The stored rows of one page of ``spec``, undecoded (``_sql.rows.FIELDS`` order), and
        whether their text was read as usual: when not (a tampered byte), build them with
        ``decode_checked``. Exports write their cells from these rows (:mod:`.stream`)."""
        # Without search words a page is one statement (organization and category codes,
        # which never change once made, aside): no snapshot needed. A search also reads the
        # pending search rows, which an append may move into the index meanwhile.
        with self._errors("reading"), self._reading(snapshot=bool(spec.terms)) as conn:
            code = self._org_code(conn, spec.org_id)
            if code is None:
                return [], True
            ctx = self._context(conn)
            return _tolerant(conn, lambda: query.page_rows(ctx, code, spec), _shown)

    def count(self, spec: QuerySpec) -> int:
        """See :meth:`Store.count`."""
        with self._errors("reading"), self._reading(snapshot=bool(spec.terms)) as conn:
            code = self._org_code(conn, spec.org_id)
            return 0 if code is None else query.count(self._context(conn), code, spec)

    def _context(self, conn: sqlite3.Connection) -> search.Context:
        haystack = "e.haystack"
        if not self._layout.search_current:
            # Read-only, on a file whose search text an older version derived: derive it
            # again for each row scanned, so that searches answer as this version's do.
            conn.create_function("activitylog_haystack", 3, _derived, deterministic=True)
            haystack = "activitylog_haystack(e.label, e.description, e.actor_name)"
        return search.Context(
            conn,
            self._search,
            self._layout.search_words,
            functools.partial(self._category_code, conn),
            haystack,
        )

    def categories(self, org_id: str) -> dict[str, int]:
        """See :meth:`Store.categories`: read from the count table, never by scanning entries."""
        with self._errors("reading"), self._reading() as conn:
            code = self._org_code(conn, org_id)
            if code is None:
                return {}
            sql = "SELECT category, n FROM activitylog_counts WHERE org = ? AND n > 0"
            rows, _ = _tolerant(conn, lambda: plain_cursor(conn).execute(sql, (code,)).fetchall())
        return {name: int(n) for name, n in rows}

    def chain(self, org_id: str, after_seq: int = 0) -> Iterator[Entry]:
        """See :meth:`Store.chain`: streamed in chunks of :data:`CHUNK` rows, keyset on seq."""
        for rows, plain in self._chain_rows(org_id, after_seq, _shown):
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
        if not self._layout.search_current:
            # A file read-only whose search text an older version derived: it differs from
            # what this version derives without having been tampered with, so it is not checked.
            return records(self._chain_rows(org_id, after_seq, _verified), org_id)
        chunks = self._chain_rows(org_id, after_seq, _verified, _CHAIN_CHUNK_CHECKED)
        return records(chunks, org_id, search_text=True)

    def derived_problem(self, org_id: str, upto_seq: int) -> tuple[int, str] | None:
        """For :func:`~activitylog.integrity.verify`, once the chain verified up to
        ``upto_seq``: the first entry the search index no longer holds, as ``(seq, what)``
        (see :func:`.search.index_problem`); ``None`` when there is none."""
        if not self._layout.search_index:
            return None
        with self._errors("verifying"), self._reading() as conn:
            code = self._org_code(conn, org_id)
            return None if code is None else search.index_problem(conn, code, upto_seq)

    def _chain_rows(
        self,
        org_id: str,
        after_seq: int,
        lenient: Callable[[bytes], str],
        sql: str = _CHAIN_CHUNK,
    ) -> Iterator[tuple[list[Any], bool]]:
        """The chain's rows in chunks, each read in its own short read transaction, and
        whether every text value was read as valid text (``lenient`` reads a chunk that holds
        text that is not valid UTF-8)."""
        last: tuple[int, int] = (after_seq, 2**63 - 1)
        while True:
            with self._errors("reading"), self._reading() as conn:
                code = self._org_code(conn, org_id)
                if code is None:
                    return
                read = functools.partial(_all, conn, sql, (code, *last, CHUNK))
                rows, plain = _tolerant(conn, read, lenient)
            yield rows, plain
            if len(rows) < CHUNK:
                return
            last = (rows[-1][1], rows[-1][0])

    def head(self, org_id: str) -> ChainHead | None:
        """See :meth:`Store.head`."""
        if not storable(org_id):
            return None
        sql = "SELECT head_seq, head_hash FROM activitylog_orgs WHERE org_id = ?"
        with self._errors("reading"), self._reading() as conn:
            found, _ = _tolerant(
                conn, lambda: plain_cursor(conn).execute(sql, (org_id,)).fetchall()
            )
        return ChainHead(int(found[0][0]), found[0][1]) if found else None

    def org_ids(self) -> list[str]:
        """See :meth:`Store.org_ids`."""
        sql = "SELECT org_id FROM activitylog_orgs WHERE head_seq > 0"
        with self._errors("reading"), self._reading() as conn:
            rows, _ = _tolerant(conn, lambda: plain_cursor(conn).execute(sql).fetchall())
        return sorted(row[0] for row in rows)

    @property
    def searches_with_index(self) -> bool:
        """Whether searches use the FTS5 trigram index (``False``: they scan)."""
        return self._search


def _derived(label: Any, description: Any, actor_name: Any) -> str | None:
    """The search text of stored fields (``None`` for fields of the wrong type)."""
    try:
        return text_search.haystack(label, description, actor_name)
    except (TypeError, AttributeError):
        return None


def _all(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Every row of a statement as plain tuples."""
    return plain_cursor(conn).execute(sql, params).fetchall()


def _shown(data: bytes) -> str:
    """Text that is not valid UTF-8 (only in a tampered row) as entries show it: with U+FFFD."""
    return data.decode("utf-8", "replace")


def _verified(data: bytes) -> str:
    """Text that is not valid UTF-8 as verification reads it: its bytes kept as lone
    surrogates, which no valid text equals and no hash covers, so the row reads as modified."""
    return data.decode("utf-8", "surrogateescape")


def _tolerant(
    conn: sqlite3.Connection, run: Callable[[], T], lenient: Callable[[bytes], str] = _shown
) -> tuple[T, bool]:
    """``run()``, and whether it read every text value the connection's usual way; when a value
    is not valid UTF-8 (Python cannot decode it, so the read fails), ``run()`` again reading
    text with ``lenient``: reading never aborts on a tampered byte."""
    plain = conn.text_factory is str
    try:
        return run(), plain
    except sqlite3.OperationalError as exc:
        if "decode" not in str(exc):
            raise
    usual = conn.text_factory
    conn.text_factory = lenient
    try:
        return run(), False
    finally:
        conn.text_factory = usual
