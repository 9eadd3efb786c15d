"""SQLite transactions and cursors as the store uses them, on its own or a host's connection."""

from __future__ import annotations

import sqlite3
from contextlib import suppress


def plain_cursor(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """A cursor returning plain tuples: a host's ``row_factory`` must not reshape our rows."""
    cursor = conn.cursor()
    cursor.row_factory = None
    return cursor


class Transaction:
    """``BEGIN IMMEDIATE``/``COMMIT``, or with ``nested`` inside an open transaction a SAVEPOINT
    that is released into it (the owner of the transaction commits or rolls back).

    A class rather than a generator: one-entry appends run it for every entry.
    """

    __slots__ = ("conn", "savepoint")

    def __init__(self, conn: sqlite3.Connection, *, nested: bool) -> None:
        self.conn = conn
        self.savepoint = nested and conn.in_transaction

    def __enter__(self) -> None:
        self.conn.execute("SAVEPOINT activitylog" if self.savepoint else "BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        conn = self.conn
        if self.savepoint:
            if exc_type is None:
                conn.execute("RELEASE activitylog")
            else:
                quietly(conn, "ROLLBACK TO activitylog")
                quietly(conn, "RELEASE activitylog")
            return
        if exc_type is None:
            commit(conn)
        elif conn.in_transaction:
            quietly(conn, "ROLLBACK")


def commit(conn: sqlite3.Connection) -> None:
    """``COMMIT``; when it fails, roll back what SQLite left open and raise its error."""
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            quietly(conn, "ROLLBACK")
        raise


def quietly(conn: sqlite3.Connection, sql: str) -> None:
    """Run a cleanup statement whose failure must not hide the error being handled."""
    with suppress(sqlite3.Error):
        conn.execute(sql)
