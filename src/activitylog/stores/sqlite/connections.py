"""The SQLite store's connections: a pool of readers, one writer per process, or a single one.

A file is read through pooled connections, each statement group in its own read transaction
(WAL readers never wait for the writer). Threads of one process take turns on one writing
connection; other processes wait on SQLite's own lock. ``:memory:`` and a host's connection
are one connection, shared under a lock.

Busy timeout is a total: a write waits at most ``timeout`` seconds from the moment it asks,
first for this process's write lock, then (with what is left) for SQLite's lock.

Read-only (``readonly=True``): connections open the file with ``mode=ro``, which never creates
or changes a database. When no ``-wal`` file is beside it, no connection is open on it (the last
one to close removes it), and each new connection reads it ``immutable``: SQLite then creates
no ``-wal`` or ``-shm`` file, which a read-only mount or an unwritable folder could not hold.
With a live writer (a ``-wal`` file), readers share its ``-shm`` index as usual; if that cannot
be opened and the ``-wal`` holds nothing, the file is read ``immutable`` too.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from ...errors import SchemaError, StoreError

#: Page cache of the writing connection, in KiB (SQLite's default is 2,000): bulk appends,
#: which touch every index of every organization in a batch, measured 9% faster with 8 MiB.
#: Readers keep the default, which scanned faster than larger caches.
WRITER_CACHE_KIB = 8192
#: A write that got this process's lock within this many seconds keeps the connection's
#: busy timeout as it is (setting it costs a statement per append).
_PROMPT = 0.001


class Connections:
    """Opens, pools and closes the connections of one store."""

    def __init__(
        self,
        path: str | None,
        *,
        host: sqlite3.Connection | None,
        timeout: float,
        synchronous: str,
        readonly: bool,
    ) -> None:
        self.path = path
        self.timeout = timeout
        self.synchronous = synchronous
        self.readonly = readonly
        self.host = host is not None
        self.closed = False
        self.lock = threading.RLock()  # guards the single connection, the pool and caches
        self.write_lock = threading.Lock()  # one writer per process; processes use SQLite's
        self.pool: list[sqlite3.Connection] = []
        self.writer: sqlite3.Connection | None = None
        self.immutable = False
        self.retimed = False  # the writer's busy timeout is shortened for this write
        self.single: sqlite3.Connection | None
        if host is not None:
            self.where = "the host's database"
            self.single = host
        else:
            assert path is not None
            self.where = repr(path)
            self.single = self.connect() if self.memory else None

    @property
    def memory(self) -> bool:
        """Whether this is a throwaway in-memory database."""
        return self.path in (":memory:", "")

    def connect(self, *, writer: bool = False) -> sqlite3.Connection:
        """A new connection to the file with the store's settings."""
        assert self.path is not None
        target, uri = self.path, False
        if self.readonly and not self.memory:
            target, uri = self._readonly_uri(), True
        try:
            conn = sqlite3.connect(
                target,
                timeout=self.timeout,
                isolation_level=None,
                check_same_thread=False,
                uri=uri,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.where}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            if writer:
                conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
            if self.readonly:
                # Opening is lazy: read the header now, so that a file that cannot be read
                # this way fails here, where it can be opened another way.
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            conn.close()
            if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
                raise SchemaError(f"{self.where} is not an SQLite database ({exc})") from exc
            if self.readonly and not self.immutable and self._may_be_immutable():
                self.immutable = True
                return self.connect(writer=writer)
            raise StoreError(f"cannot open {self.where} read-only: {exc}") from exc
        return conn

    def _readonly_uri(self) -> str:
        assert self.path is not None
        path = Path(self.path)
        if not path.exists():
            raise StoreError(
                f"cannot open {self.where} read-only: there is no such file (reading never "
                "creates one)"
            )
        # Without a -wal file no connection is open on the file (SQLite removes it when the
        # last one closes), so there is nothing to coordinate with and it is read as it is:
        # a read-only WAL reader would otherwise create -wal and -shm files beside it.
        immutable = self.immutable or not Path(f"{self.path}-wal").exists()
        suffix = "?mode=ro&immutable=1" if immutable else "?mode=ro"
        return "file:" + quote(os.fspath(path.resolve())) + suffix

    def _may_be_immutable(self) -> bool:
        """Whether nothing but the file itself holds committed entries (no WAL content)."""
        wal = Path(f"{self.path}-wal")
        return not wal.exists() or wal.stat().st_size == 0

    @contextmanager
    def reading(self, *, snapshot: bool = True) -> Iterator[sqlite3.Connection]:
        """A connection whose statements all read one snapshot. ``snapshot=False`` is for a
        read of one statement, which is its own snapshot: it spares a BEGIN and a COMMIT."""
        if self.single is not None:
            with self.lock:
                self.check_open()
                conn = self.single
                if conn.in_transaction or not snapshot:  # the host's transaction is ours
                    yield conn
                    return
                with _snapshot(conn):
                    yield conn
            return
        with self.lock:
            self.check_open()
            pooled = self.pool.pop() if self.pool else None
        conn = pooled if pooled is not None else self.connect()
        try:
            if snapshot:
                with _snapshot(conn):
                    yield conn
            else:
                yield conn
        except BaseException:
            conn.close()
            raise
        with self.lock:
            if self.closed:
                conn.close()
            else:
                self.pool.append(conn)

    def acquire_writer(self, since: float | None = None) -> sqlite3.Connection:
        """The writing connection, this process's turn to write taken (release it with
        :meth:`release_writer`). Raises :class:`StoreError` when the turn does not come
        within the timeout, counted from ``since`` (a ``time.monotonic()`` reading; by
        default now); what is left of it is SQLite's busy timeout for this write."""
        if self.readonly:
            raise StoreError(f"{self.where} is open read-only: appending is not allowed")
        start = time.monotonic() if since is None else since
        lock = self.lock if self.single is not None else self.write_lock
        if not lock.acquire(timeout=max(self.timeout - (time.monotonic() - start), 0.0)):
            raise StoreError(
                f"writing to {self.where} failed: another thread kept it busy for "
                f"{self.timeout:g} s (busy_timeout)"
            )
        try:
            self.check_open()
            if self.single is not None:
                return self.single
            with self.lock:
                if self.writer is None:
                    self.writer = self.connect(writer=True)
                conn = self.writer
            waited = time.monotonic() - start
            if waited > _PROMPT:
                left = max(self.timeout - waited, 0.0)
                conn.execute(f"PRAGMA busy_timeout = {int(left * 1000)}")
                self.retimed = True
            return conn
        except BaseException:
            lock.release()
            raise

    def release_writer(self, conn: sqlite3.Connection) -> None:
        """End this process's turn to write (and restore the writer's busy timeout)."""
        if self.single is not None:
            self.lock.release()
            return
        try:
            if self.retimed:
                self.retimed = False
                conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        except sqlite3.Error:
            pass
        finally:
            self.write_lock.release()

    def check_open(self) -> None:
        """Raise :class:`StoreError` when the store was closed."""
        if self.closed:
            raise StoreError(f"the store on {self.where} is closed")

    def close_all(self) -> None:
        """Close every connection opened here (a host's connection stays open)."""
        conns = list(self.pool)
        self.pool.clear()
        if self.writer is not None:
            conns.append(self.writer)
            self.writer = None
        if self.single is not None and not self.host:
            conns.append(self.single)
        for conn in conns:
            conn.close()

    def close(self) -> None:
        """Close the store's connections once; later calls do nothing."""
        with self.write_lock, self.lock:
            if self.closed:
                return
            self.closed = True
            self.close_all()


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A read transaction: every statement inside reads one snapshot."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")
