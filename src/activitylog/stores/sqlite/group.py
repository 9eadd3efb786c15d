"""Group commit: concurrent appends of one process share write transactions.

A call that finds no group being written leads one at once, alone: a lone caller pays no
hand-off to another thread. Calls that arrive while a group is being written wait in a queue;
once that group's transaction has ended, the first of them leads the next group, made of every
call queued by then (the leader of a finished group returns at once rather than leading on).

Inside a group's ``BEGIN IMMEDIATE`` each call runs in its own SAVEPOINT: a call that fails
is rolled back to it and gets its own error while the others are kept; a failed ``COMMIT`` (or
an error that made SQLite abandon the transaction) fails every call of the group that was not
failed already. Each call returns only once the transaction holding its entries has committed,
with the connection's ``synchronous`` durability. One ``BEGIN``/``COMMIT`` (and with
``synchronous=FULL`` one sync of the write-ahead log) then serves a whole group.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from ...errors import StoreError
from .connections import Connections
from .transaction import quietly

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]


class _Call(Generic[T]):
    """One caller's append, its outcome and how its thread is woken."""

    __slots__ = ("error", "lead", "result", "since", "wake", "work")

    def __init__(self, work: Work[T]) -> None:
        self.work = work
        self.since = time.monotonic()  # the busy timeout counts from here
        self.result: T | None = None
        self.error: BaseException | None = None
        self.wake: threading.Lock | None = None
        self.lead = False


class GroupCommit:
    """Runs the appends of one store's threads, grouped into shared write transactions."""

    def __init__(self, conns: Connections, where: str) -> None:
        self._conns = conns
        self._where = where
        self._mutex = threading.Lock()  # guards the queue and whether a group is being written
        self._queue: list[_Call[object]] = []
        self._writing = False
        #: Transactions committed, and calls whose entries they held (for tests and tuning).
        self.commits = 0
        self.committed_calls = 0

    def run(self, work: Work[T]) -> T:
        """``work(conn)`` inside a write transaction, perhaps shared with other threads' calls;
        its result once that transaction has committed, or the error that kept its writes out.

        ``work`` must leave the transaction as it found it (no ``COMMIT``/``ROLLBACK``); a
        failure inside it is undone to the call's SAVEPOINT.
        """
        call: _Call[T] = _Call(work)
        with self._mutex:
            waiting = self._writing
            if waiting:
                wake = call.wake = threading.Lock()
                wake.acquire()
                self._queue.append(call)  # type: ignore[arg-type]
            else:
                self._writing = True
        if waiting:
            assert call.wake is not None
            call.wake.acquire()  # released when this call is done, or is to lead a group
            if not call.lead:
                return _outcome(call)
            with self._mutex:
                group, self._queue = self._queue, []
        else:
            group = [call]  # type: ignore[list-item]
        try:
            self._write(group)
        finally:
            self._hand_over()
        return _outcome(call)

    def _hand_over(self) -> None:
        """Let the first queued call lead the next group, or note that none is written."""
        with self._mutex:
            if self._queue:
                first = self._queue[0]
                first.lead = True
                assert first.wake is not None
                first.wake.release()
            else:
                self._writing = False

    def _write(self, group: list[_Call[object]]) -> None:
        """Write a group in one transaction and settle every call's outcome; wake the
        others. A failure of the group as a whole is raised only to the leader (group[0])."""
        try:
            self._transaction(group)
        except BaseException as exc:
            leader = group[0]
            if leader.error is None:
                leader.error = exc
            for call in group[1:]:
                if call.error is None:
                    call.error = _for_another_thread(exc, self._where)
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt and the like: the leader's thread stops
        finally:
            for call in group[1:]:
                assert call.wake is not None
                call.wake.release()

    def _transaction(self, group: list[_Call[object]]) -> None:
        conns = self._conns
        conn = conns.acquire_writer(since=group[0].since)
        try:
            if len(group) == 1:
                # Alone: no SAVEPOINT, the transaction is the call's own (today's cost).
                call = group[0]
                conn.execute("BEGIN IMMEDIATE")
                try:
                    call.result = call.work(conn)
                except BaseException as exc:
                    call.error = exc
                    quietly(conn, "ROLLBACK")
                    if not isinstance(exc, Exception):
                        raise
                    return
                self._commit(conn, group)
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                for call in group:
                    self._savepoint(conn, call)
            except BaseException:
                if conn.in_transaction:
                    quietly(conn, "ROLLBACK")
                raise
            self._commit(conn, group)
        finally:
            conns.release_writer(conn)

    def _savepoint(self, conn: sqlite3.Connection, call: _Call[object]) -> None:
        """One call of a group, in its own SAVEPOINT: rolled back to it when it fails."""
        conn.execute("SAVEPOINT activitylog_call")
        try:
            call.result = call.work(conn)
        except Exception as exc:
            call.error = exc
            quietly(conn, "ROLLBACK TO activitylog_call")
            quietly(conn, "RELEASE activitylog_call")
            if not conn.in_transaction:
                # SQLite abandoned the whole transaction (an I/O error, a full disk): the
                # calls kept before this one are lost with it.
                raise StoreError(
                    f"writing to {self._where} failed: the transaction shared with other "
                    f"calls was rolled back by the error of one of them ({exc})"
                ) from exc
        else:
            conn.execute("RELEASE activitylog_call")

    def _commit(self, conn: sqlite3.Connection, group: list[_Call[object]]) -> None:
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                quietly(conn, "ROLLBACK")
            raise
        self.commits += 1
        self.committed_calls += sum(1 for call in group if call.error is None)


def _outcome(call: _Call[T]) -> T:
    """The call's result, or its error raised in the caller's thread."""
    if call.error is not None:
        raise call.error
    return call.result  # type: ignore[return-value]


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
