"""Group commit: concurrent appends of one process share write transactions.

A call that finds no group being written leads one at once, alone: a lone caller pays no
hand-off to another thread. Calls that arrive while a group is being written wait in a queue;
once that group's transaction has ended, the first of them leads the next group, made of every
call queued by then (the leader of a finished group returns at once rather than leading on).

A group is written in one ``BEGIN IMMEDIATE`` transaction. Its calls are first written as one
append (an append of several entries costs less per entry than one append each); the result
is the same as writing them one after the other, since an append handles ids, chains and
idempotency keys within its batch as it does across transactions. When that fails, the
transaction is rolled back and begun again, each call in its own SAVEPOINT: a call that fails
is rolled back to it and gets its own error, the others are kept.
A failed ``COMMIT`` (or an error that made SQLite abandon the transaction) fails every call of
the group not failed already. Each call returns only once the transaction holding its entries
has committed, with the connection's ``synchronous`` durability: one ``COMMIT`` (and with
``synchronous=FULL`` one sync of the write-ahead log) serves the whole group. A call waits in
the queue at most the store's busy timeout, then leaves it with :class:`StoreError`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable

from ...errors import StoreError
from ...models import Entry
from .._sql.rows import Encoded
from ..base import Chain
from .connections import Connections
from .transaction import commit, quietly

#: Writes an append inside the open transaction (:func:`.write.append` with the store's
#: callbacks): connection, entries, their encoded values, chain, and the dicts that collect the
#: codes of organizations and categories it creates.
Writer = Callable[
    [
        sqlite3.Connection,
        list[Entry],
        list[Encoded],
        "Chain | None",
        dict[str, int],
        dict[str, int],
    ],
    list[Entry],
]
#: Takes the codes created by calls that committed into the store's caches.
Merge = Callable[[dict[str, int], dict[str, int]], None]


class _Call:
    """One caller's append, its outcome and how its thread is woken."""

    __slots__ = (
        "batch", "categories", "chain", "committed", "error", "lead", "orgs", "result", "since",
        "statics", "wake",
    )  # fmt: skip

    def __init__(self, batch: list[Entry], statics: list[Encoded], chain: Chain | None) -> None:
        self.batch = batch
        self.statics = statics
        self.chain = chain
        self.since = time.monotonic()  # the busy timeout counts from here
        self.result: list[Entry] | None = None
        self.error: BaseException | None = None
        self.orgs: dict[str, int] = {}
        self.categories: dict[str, int] = {}
        self.wake: threading.Lock | None = None
        self.lead = False
        self.committed = False  # its transaction committed: its result stands whatever follows


class GroupCommit:
    """Runs the appends of one store's threads, grouped into shared write transactions."""

    def __init__(self, conns: Connections, where: str, writer: Writer, merge: Merge) -> None:
        self._conns = conns
        self._where = where
        self._writer = writer
        self._merge = merge
        self._mutex = threading.Lock()  # guards the queue and whether a group is being written
        self._queue: list[_Call] = []
        self._writing = False
        #: Transactions committed, and calls whose entries they held (for tests and tuning).
        self.commits = 0
        self.committed_calls = 0

    def append(
        self, batch: list[Entry], statics: list[Encoded], chain: Chain | None
    ) -> list[Entry]:
        """``batch`` appended in a write transaction, perhaps shared with other threads'
        calls: the entries as stored once it has committed, or the error that kept them out.
        Raises :class:`sqlite3.Error` or :class:`StoreError` for a failure of the database,
        and :class:`StoreError` when the call waited ``busy_timeout`` seconds in the queue."""
        call = _Call(batch, statics, chain)
        with self._mutex:
            waiting = self._writing
            if waiting:
                wake = call.wake = threading.Lock()
                wake.acquire()
                self._queue.append(call)
            else:
                self._writing = True
        if waiting:
            self._wait(call)
            if not call.lead:
                return _outcome(call)
        # From here this thread leads a group: whatever interrupts it, the calls it took are
        # woken and the lead passes on (or nobody is writing any more).
        group: list[_Call] = []
        try:
            if waiting:
                with self._mutex:
                    group, self._queue = self._queue, []
            else:
                group = [call]
            self._write(group)
        finally:
            for other in group[1:]:
                if other.result is None and other.error is None:  # the leader was interrupted
                    other.error = StoreError(
                        f"writing to {self._where} failed: the thread writing its group was "
                        "interrupted before writing it"
                    )
                assert other.wake is not None
                other.wake.release()
            self._hand_over(call if not group else None)
        return _outcome(call)

    def _wait(self, call: _Call) -> None:
        """Wait until ``call`` is done or leads a group. Raises :class:`StoreError` (out of
        the queue) when that takes more than the busy timeout, counted from the call."""
        assert call.wake is not None
        left = self._conns.timeout - (time.monotonic() - call.since)
        try:
            if call.wake.acquire(timeout=max(left, 0.0)):
                return
            with self._mutex:
                if call in self._queue and not call.lead:
                    self._queue.remove(call)
                    raise StoreError(
                        f"writing to {self._where} failed: other threads kept it busy for "
                        f"{self._conns.timeout:g} s (busy_timeout)"
                    )
            # Taken into a group being written, or just given the lead: that ends soon.
            call.wake.acquire()
        except StoreError:
            raise
        except BaseException:
            self._leave(call)  # interrupted (KeyboardInterrupt) while waiting
            raise

    def _leave(self, call: _Call) -> None:
        """Take a call whose wait was interrupted out of the queue, passing on the lead it
        may have been given. (A call already taken into a group is written all the same.)"""
        with self._mutex:
            if call not in self._queue:
                return
            self._queue.remove(call)
            if not call.lead:
                return
        self._hand_over()

    def _hand_over(self, leaving: _Call | None = None) -> None:
        """Let the first queued call lead the next group, or note that none is written;
        ``leaving`` (a leader interrupted before it took its group) leaves the queue first."""
        with self._mutex:
            if leaving is not None and leaving in self._queue:
                self._queue.remove(leaving)
            if self._queue:
                first = self._queue[0]
                first.lead = True
                assert first.wake is not None
                first.wake.release()
            else:
                self._writing = False

    def _write(self, group: list[_Call]) -> None:
        """Write a group in one transaction and settle every call's outcome (the caller wakes
        the others). A failure of the group as a whole is raised only in the leader's thread
        (group[0]); calls whose transaction had committed keep their results."""
        try:
            self._transaction(group)
            for call in group:
                if call.error is None:
                    self._merge(call.orgs, call.categories)
        except BaseException as exc:
            leader = group[0]
            if leader.error is None and not leader.committed:
                leader.error = exc
            for call in group[1:]:
                if call.error is None and not call.committed:
                    call.error = _for_another_thread(exc, self._where)
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt and the like: the leader's thread stops

    def _transaction(self, group: list[_Call]) -> None:
        conns = self._conns
        conn = conns.acquire_writer(since=group[0].since)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if len(group) == 1:
                    # Alone: no SAVEPOINT, the transaction is the call's own (as without groups).
                    call = group[0]
                    call.result = self._writer(
                        conn, call.batch, call.statics, call.chain, call.orgs, call.categories
                    )
                elif not self._together(conn, group):
                    if not conn.in_transaction:
                        conn.execute("BEGIN IMMEDIATE")
                    for call in group:
                        self._alone(conn, call)
            except BaseException as exc:
                if conn.in_transaction:
                    quietly(conn, "ROLLBACK")
                if len(group) == 1 and isinstance(exc, Exception):
                    group[0].error = exc  # the call's own error: nothing else to fail
                    return
                raise
            commit(conn)
            for call in group:
                call.committed = True
            self.commits += 1
            self.committed_calls += sum(1 for call in group if call.error is None)
        finally:
            conns.release_writer(conn)

    def _together(self, conn: sqlite3.Connection, group: list[_Call]) -> bool:
        """Write every call of the group as one append; ``False`` when that failed (the
        transaction then rolled back) or the calls do not share a chain (nothing written).

        No SAVEPOINT around it: SQLite copies every page a savepoint's statements change into
        a statement journal, which cost 8 threads about a fifth of their rate; a failure
        rolls the whole transaction back instead, and the caller begins it again."""
        chain = group[0].chain
        if any(call.chain is not chain for call in group):
            return False
        batch = [entry for call in group for entry in call.batch]
        statics = [static for call in group for static in call.statics]
        orgs: dict[str, int] = {}
        categories: dict[str, int] = {}
        try:
            stored = self._writer(conn, batch, statics, chain, orgs, categories)
        except Exception:  # noqa: BLE001 - any failure: find the calls it belongs to
            quietly(conn, "ROLLBACK")
            return False  # one of the calls fails: each is written on its own to know which
        start = 0
        for call in group:
            end = start + len(call.batch)
            call.result = stored[start:end]
            call.orgs, call.categories = orgs, categories
            start = end
        return True

    def _alone(self, conn: sqlite3.Connection, call: _Call) -> None:
        """One call of a group, in its own SAVEPOINT: rolled back to it when it fails."""
        conn.execute("SAVEPOINT activitylog_call")
        try:
            call.result = self._writer(
                conn, call.batch, call.statics, call.chain, call.orgs, call.categories
            )
        except Exception as exc:  # noqa: BLE001 - whatever it is, it is this call's outcome
            call.error = exc
            self._undo(conn, "activitylog_call", exc)
        else:
            conn.execute("RELEASE activitylog_call")

    def _undo(self, conn: sqlite3.Connection, savepoint: str, exc: Exception) -> None:
        """Roll back to ``savepoint``; raise when SQLite abandoned the whole transaction (an
        I/O error, a full disk), which loses the calls written before in it too."""
        quietly(conn, f"ROLLBACK TO {savepoint}")
        quietly(conn, f"RELEASE {savepoint}")
        if not conn.in_transaction:
            raise StoreError(
                f"writing to {self._where} failed: the transaction shared with other calls "
                f"was rolled back by the error of one of them ({exc})"
            ) from exc


def _outcome(call: _Call) -> list[Entry]:
    """The call's result, or its error raised in the caller's thread."""
    if call.error is not None:
        raise call.error
    assert call.result is not None
    return call.result


def _for_another_thread(exc: BaseException, where: str) -> StoreError:
    """The error a group's failure gives each waiting caller: its own exception object, since
    one object raised in several threads at once would mix their tracebacks."""
    if isinstance(exc, StoreError):
        error = StoreError(str(exc))
    elif isinstance(exc, sqlite3.Error):
        error = StoreError(f"writing to {where} failed: {exc}")
    else:
        error = StoreError(
            f"writing to {where} failed: its group's transaction was abandoned "
            f"({type(exc).__name__}: {exc})"
        )
    error.__cause__ = exc
    return error
