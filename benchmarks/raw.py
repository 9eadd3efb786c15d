"""The baseline: the same work done by hand with ``sqlite3`` on the same schema and data.

Every function here returns plain tuples, as hand-written code would, and does only what the
schema needs: no validation, no entry objects, no hashing (hashes are copied from the rows the
store wrote). The ratio ours/raw is therefore what activitylog adds on top of SQLite itself.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from activitylog.stores.sqlite import SQLiteStore, schema
from activitylog.stores.sqlite.write import (
    COUNT_PENDING,
    INDEX_PENDING,
    INSERT_PENDING,
    PENDING_LIMIT,
)

ENTRIES = schema.ENTRIES
SEARCH = schema.SEARCH
#: The columns a page reads (every stored field of an entry; not the org code or haystack).
COLUMNS = (
    "e.id, e.seq, e.action, e.label, e.category, e.kind, e.actor_id, e.actor_name, "
    "e.actor_avatar_url, e.actor_kind, e.description, e.occurred_at, e.source, e.api_key_id, "
    "e.api_key_name, e.target_type, e.target_id, e.target_label, e.changes, e.metadata, "
    "e.idempotency_key, e.prev_hash, e.hash"
)
COUNT_INSERT = "INSERT INTO activitylog_counts (org, category, n) VALUES (?, ?, ?)"
#: The schema refuses conflicting inserts on the count table (so no upsert): counts grow by
#: an UPDATE, and start with an INSERT.
COUNT_ADD = "UPDATE activitylog_counts SET n = n + 1 WHERE org = ? AND category = ?"


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the store's settings (WAL is already set in the file)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


class Prepared:
    """Every row the store wrote for the workload, read back once, to be inserted again by hand."""

    def __init__(self, source: Path) -> None:
        conn = sqlite3.connect(source)
        conn.create_function("activitylog_token", 1, schema.token, deterministic=True)
        conn.create_function("activitylog_search_text", 1, schema.search_text, deterministic=True)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        self.orgs = conn.execute("SELECT code, org_id, head_seq, head_hash FROM activitylog_orgs").fetchall()
        self.categories = conn.execute("SELECT code, name FROM activitylog_categories").fetchall()
        self.entries = conn.execute(f"SELECT * FROM {ENTRIES} ORDER BY id").fetchall()
        self.width = len(self.entries[0]) if self.entries else 0
        # The search rows exactly as the store derives them (see activitylog.stores.sqlite.schema).
        self.search = (
            conn.execute(
                "SELECT e.id, activitylog_token(e.org), activitylog_token(c.code), "
                f"activitylog_search_text(e.haystack) FROM {ENTRIES} e "
                "JOIN activitylog_categories c ON c.name = e.category ORDER BY e.id"
            ).fetchall()
            if SEARCH in tables
            else []
        )
        self.counts = conn.execute("SELECT org, category, n FROM activitylog_counts").fetchall()
        conn.close()
        self.category_token = {name: schema.token(code) for code, name in self.categories}

    @property
    def insert_entry(self) -> str:
        """The INSERT of one entries row."""
        return f"INSERT INTO {ENTRIES} VALUES ({', '.join('?' * self.width)})"


def empty_database(path: Path) -> None:
    """A new file with the store's schema (made by the store itself, so it is the same)."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    SQLiteStore(path).close()


def ingest(path: Path, data: Prepared) -> float:
    """Insert every prepared row in one transaction with ``executemany``; the seconds it took."""
    empty_database(path)
    conn = connect(path)
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO activitylog_orgs VALUES (?, ?, ?, ?)", data.orgs)
    conn.executemany("INSERT INTO activitylog_categories VALUES (?, ?)", data.categories)
    conn.executemany(data.insert_entry, data.entries)
    if data.search:
        conn.executemany(
            f"INSERT INTO {SEARCH} (rowid, org, category, haystack) VALUES (?, ?, ?, ?)",
            data.search,
        )
    conn.executemany(COUNT_INSERT, data.counts)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def _one_per_commit(conn: sqlite3.Connection, data: Prepared, rows: Sequence[int],
                    lock: threading.Lock | None) -> None:  # fmt: skip
    """Each row in its own transaction: the entry, its count, its org's head and its search row,
    which waits in the pending table and enters the index ``PENDING_LIMIT`` at a time, as the
    store's small appends do."""
    insert = data.insert_entry
    for i in rows:
        row = data.entries[i]
        if lock is not None:
            lock.acquire()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(insert, row)
            if conn.execute(COUNT_ADD, (row[1], row[5])).rowcount == 0:
                conn.execute(COUNT_INSERT, (row[1], row[5], 1))
            conn.execute(
                "UPDATE activitylog_orgs SET head_seq = ?, head_hash = ? WHERE code = ?",
                (row[2], row[-2], row[1]),
            )
            if data.search:
                # The store's own statements: the same SQL, written once.
                conn.execute(INSERT_PENDING, data.search[i])
                if conn.execute(COUNT_PENDING).fetchone()[0] >= PENDING_LIMIT:
                    conn.execute(INDEX_PENDING)
                    conn.execute(f"DELETE FROM {schema.PENDING}")
            conn.execute("COMMIT")
        finally:
            if lock is not None:
                lock.release()


def record_per_commit(path: Path, data: Prepared, n: int, threads: int = 1) -> float:
    """Insert the first ``n`` rows one transaction each, from ``threads`` threads sharing one
    connection (as the store does); the seconds it took."""
    empty_database(path)
    conn = connect(path)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO activitylog_orgs VALUES (?, ?, 0, NULL)", [o[:2] for o in data.orgs]
    )
    conn.executemany("INSERT INTO activitylog_categories VALUES (?, ?)", data.categories)
    conn.execute("COMMIT")
    if threads == 1:
        start = time.perf_counter()
        _one_per_commit(conn, data, range(n), None)
        elapsed = time.perf_counter() - start
    else:
        lock = threading.Lock()
        workers = [
            threading.Thread(target=_one_per_commit, args=(conn, data, range(t, n, threads), lock))
            for t in range(threads)
        ]
        start = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


class Reader:
    """Hand-written read queries on the store's file, returning tuples."""

    def __init__(self, path: Path) -> None:
        self.conn = connect(path)

    def org_code(self, org_id: str) -> int:
        """The organization's integer code."""
        return int(
            self.conn.execute(
                "SELECT code FROM activitylog_orgs WHERE org_id = ?", (org_id,)
            ).fetchone()[0]
        )

    def page(self, org: int, limit: int, *, before: int | None = None,
             since: int | None = None, until: int | None = None) -> list[Any]:  # fmt: skip
        """Newest first, optionally below an id (keyset) and within an id range."""
        where, params = ["e.org = ?"], [org]
        for cond, value in (("e.id < ?", before), ("e.id >= ?", since), ("e.id < ?", until)):
            if value is not None:
                where.append(cond)
                params.append(value)
        return self.conn.execute(
            f"SELECT {COLUMNS} FROM {ENTRIES} e WHERE {' AND '.join(where)} "
            "ORDER BY e.id DESC LIMIT ?",
            (*params, limit),
        ).fetchall()

    def history(self, org: int, limit: int, *, target: tuple[str, str] | None = None,
                actor: str | None = None) -> list[Any]:  # fmt: skip
        """Newest first, one record's entries (``target``) or one person's (``actor``)."""
        where, params = ["e.org = ?"], [org]
        if target is not None:
            where += ["e.target_type = ?", "e.target_id = ?"]
            params += list(target)
        if actor is not None:
            where.append("e.actor_id = ?")
            params.append(actor)
        return self.conn.execute(
            f"SELECT {COLUMNS} FROM {ENTRIES} e WHERE {' AND '.join(where)} "
            "ORDER BY e.id DESC LIMIT ?",
            (*params, limit),
        ).fetchall()

    def busiest(self, org: int, columns: str) -> tuple[Any, ...]:
        """The value of ``columns`` (a target or an actor) with the most entries in the org."""
        row = self.conn.execute(
            f"SELECT {columns} FROM {ENTRIES} WHERE org = ? AND {columns.split(',')[0]} IS NOT "
            f"NULL GROUP BY {columns} ORDER BY count(*) DESC, {columns} LIMIT 1",
            (org,),
        ).fetchone()
        return tuple(row)

    def count_range(self, org: int, since: int | None, until: int | None) -> int:
        """How many entries of the org lie in an id range."""
        where, params = ["org = ?"], [org]
        if since is not None:
            where.append("id >= ?")
            params.append(since)
        if until is not None:
            where.append("id < ?")
            params.append(until)
        sql = f"SELECT count(*) FROM {ENTRIES} WHERE {' AND '.join(where)}"
        return int(self.conn.execute(sql, params).fetchone()[0])

    def by_action(self, org: int, limit: int) -> list[Any]:
        """Sorted by label A to Z, then id."""
        return self.conn.execute(
            f"SELECT {COLUMNS} FROM {ENTRIES} e WHERE e.org = ? "
            "ORDER BY e.label, e.id LIMIT ?",
            (org, limit),
        ).fetchall()

    def categories(self, org: int) -> list[Any]:
        """Per-category counts from the count table."""
        return self.conn.execute(
            "SELECT category, n FROM activitylog_counts WHERE org = ? AND n > 0", (org,)
        ).fetchall()

    # -- search ------------------------------------------------------------------------------

    def _match(self, org: int, terms: Sequence[str]) -> tuple[str | None, list[str]]:
        """An FTS5 query for the terms (two-character ones expanded to the trigrams starting
        with them), and the terms left to check row by row."""
        parts = [f'org : "{schema.token(org)}"']
        scan: list[str] = []
        for term in terms:
            quoted = term.replace('"', '""')
            if len(term) >= 3:
                parts.append(f'haystack : "{quoted}"')
                continue
            grams = [
                row[0]
                for row in self.conn.execute(
                    f"SELECT term FROM {schema.SEARCH_TERMS} WHERE term > ? AND term <= ? "
                    "LIMIT 257",
                    (term, term + "\U0010ffff"),
                )
            ]
            if len(term) < 2 or len(grams) > 256:
                scan.append(term)
            else:
                parts.append(
                    "haystack : (" + " OR ".join('"' + g.replace('"', '""') + '"' for g in grams)
                    + ")"
                )
        return " AND ".join(parts), scan

    def search_page(self, org: int, terms: Sequence[str], limit: int) -> list[Any]:
        """Newest matches through the FTS5 index."""
        match, scan = self._match(org, terms)
        extra = "".join(" AND instr(e.haystack, ?) > 0" for _ in scan)
        return self.conn.execute(
            f"SELECT {COLUMNS} FROM {SEARCH}(?) s JOIN {ENTRIES} e ON e.id = s.rowid "
            f"WHERE 1{extra} ORDER BY s.rowid DESC LIMIT ?",
            (match, *scan, limit),
        ).fetchall()

    def search_count(self, org: int, terms: Sequence[str]) -> int:
        """How many entries match, through the FTS5 index."""
        match, scan = self._match(org, terms)
        if not scan:
            return int(
                self.conn.execute(f"SELECT count(*) FROM {SEARCH}(?)", (match,)).fetchone()[0]
            )
        extra = "".join(" AND instr(e.haystack, ?) > 0" for _ in scan)
        return int(
            self.conn.execute(
                f"SELECT count(*) FROM {SEARCH}(?) s JOIN {ENTRIES} e ON e.id = s.rowid "
                f"WHERE 1{extra}",
                (match, *scan),
            ).fetchone()[0]
        )

    def like_page(self, org: int, terms: Sequence[str], limit: int) -> list[Any]:
        """Newest matches by ``LIKE '%term%'`` on the stored haystack (a scan)."""
        likes = " AND ".join("e.haystack LIKE ?" for _ in terms)
        return self.conn.execute(
            f"SELECT {COLUMNS} FROM {ENTRIES} e WHERE e.org = ? AND {likes} "
            "ORDER BY e.id DESC LIMIT ?",
            (org, *(f"%{t}%" for t in terms), limit),
        ).fetchall()

    def like_count(self, org: int, terms: Sequence[str]) -> int:
        """How many entries match by ``LIKE '%term%'``."""
        likes = " AND ".join("haystack LIKE ?" for _ in terms)
        return int(
            self.conn.execute(
                f"SELECT count(*) FROM {ENTRIES} WHERE org = ? AND {likes}",
                (org, *(f"%{t}%" for t in terms)),
            ).fetchone()[0]
        )

    # -- streaming ---------------------------------------------------------------------------

    def chain_rows(self, org: int) -> int:
        """Read every row of the org in chain order (the floor of any verification)."""
        n = 0
        cursor = self.conn.execute(
            f"SELECT {COLUMNS} FROM {ENTRIES} e WHERE e.org = ? ORDER BY e.seq", (org,)
        )
        while rows := cursor.fetchmany(1000):
            n += len(rows)
        return n

    def export(self, org: int, fmt: str, stream: TextIO) -> int:
        """Write every row of the org, oldest first, as CSV or JSON Lines."""
        cursor = self.conn.execute(
            f"SELECT {COLUMNS} FROM {ENTRIES} e WHERE e.org = ? ORDER BY e.id", (org,)
        )
        n = 0
        if fmt == "csv":
            writer = csv.writer(stream, lineterminator="\r\n")
            while rows := cursor.fetchmany(1000):
                writer.writerows(rows)
                n += len(rows)
        else:
            while rows := cursor.fetchmany(1000):
                stream.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
                n += len(rows)
        return n

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
