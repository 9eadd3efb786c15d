"""Behaviour only the SQLite store has: files, schema versions, triggers, durability options,
host transactions, concurrent writers (threads and processes), crashes, and the search index.

What every store must do alike lives in ``test_conformance.py``.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, suppress
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activitylog import (
    ActivityLog,
    Actor,
    ApiKeyRef,
    ConfigurationError,
    Entry,
    HashChain,
    IdempotencyConflict,
    InvalidEntry,
    SchemaError,
    StoreError,
    Target,
    ids,
    integrity,
    open_store,
)
from activitylog.integrity import verify
from activitylog.stores._sql import chain as sql_chain
from activitylog.stores._sql import rows as sql_rows
from activitylog.stores.base import QuerySpec
from activitylog.stores.memory import MemoryStore
from activitylog.stores.sqlite import SQLiteStore, schema
from activitylog.stores.sqlite import query as sqlite_query
from activitylog.stores.sqlite import search as sqlite_search
from activitylog.stores.sqlite import store as sqlite_store
from activitylog.stores.sqlite import write as sqlite_write
from strategies import query_plans, record_batches

T0 = datetime(2024, 3, 13, 2, 30, tzinfo=timezone.utc)
ADA = Actor("u1", "Ada Lovelace")
CHAIN = HashChain()


class Ticker:
    """A clock that moves one second per reading, so entries get distinct, known times."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def raw(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection to ``path`` (autocommit), as an outsider would open it."""
    return sqlite3.connect(path, isolation_level=None)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Where a test's database file goes."""
    return tmp_path / "activity.db"


@pytest.fixture
def store(db: Path) -> Iterator[SQLiteStore]:
    """A fresh store on ``db``, closed after the test."""
    opened = SQLiteStore(db)
    yield opened
    opened.close()


def record(log: ActivityLog, n: int = 1, org_id: str = "acme", **fields: Any) -> list[Entry]:
    """Record ``n`` "lead.created" entries and return them as stored."""
    return [
        log.record("lead.created", org_id=org_id, actor=fields.pop("actor", ADA), **fields)
        for _ in range(n)
    ]


def all_of(store: SQLiteStore | MemoryStore, org_id: str = "acme") -> list[Entry]:
    """Every entry of an organization, newest first."""
    return store.page(QuerySpec(org_id, limit=10**6))


class TestOpening:
    """Creating, recognising and refusing database files."""

    def test_a_new_file_gets_the_current_schema_in_wal_mode(self, store: SQLiteStore, db: Path):
        """A new file is stamped with the application id and schema version and uses WAL."""
        conn = raw(db)
        try:
            assert conn.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID
            assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        finally:
            conn.close()
        assert {schema.ENTRIES, "activitylog_orgs", "activitylog_counts", schema.META} <= tables

    def test_reopening_keeps_entries(self, db: Path):
        """Entries written by one store are read back by the next one opened on the file."""
        with SQLiteStore(db) as first:
            written = record(ActivityLog(first, clock=Ticker()), 3)
        with SQLiteStore(db) as second:
            assert all_of(second) == written[::-1]

    def test_urls_follow_the_sqlalchemy_convention(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ):
        """``sqlite:///x.db`` is relative to the working directory, ``sqlite:////x`` absolute."""
        monkeypatch.chdir(tmp_path)
        relative = open_store("sqlite:///relative.db")
        absolute = open_store(f"sqlite:///{tmp_path / 'absolute.db'}")
        try:
            assert isinstance(relative, SQLiteStore)
            assert (tmp_path / "relative.db").exists()
            assert (tmp_path / "absolute.db").exists()
        finally:
            relative.close()
            absolute.close()
        assert f"sqlite:///{tmp_path / 'absolute.db'}".startswith("sqlite:////")

    @pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://"])
    def test_memory_urls_open_a_private_database(self, url: str):
        """``sqlite:///:memory:`` and ``sqlite://`` give a working, throwaway store."""
        store = SQLiteStore.from_url(url)
        try:
            entry = record(ActivityLog(store, clock=Ticker()))[0]
            assert all_of(store) == [entry]
        finally:
            store.close()

    def test_url_options_reach_the_store(self, db: Path):
        """Query-string options configure the store; keyword options take precedence."""
        store = SQLiteStore.from_url(f"sqlite:///{db}?fts=0&synchronous=FULL&busy_timeout=2")
        try:
            assert not store.searches_with_index
            assert store._conns.synchronous == "FULL"
            assert store._conns.timeout == 2.0
        finally:
            store.close()
        store = SQLiteStore.from_url(f"sqlite:///{db}?synchronous=FULL", synchronous="NORMAL")
        try:
            assert store._conns.synchronous == "NORMAL"
        finally:
            store.close()

    @pytest.mark.parametrize(
        "url",
        [
            "sqlite://host/x.db",
            "postgres:///x.db",
            "sqlite:///x.db?colour=blue",
            "sqlite:///x.db?fts=maybe",
            "sqlite:///x.db?busy_timeout=soon",
            "sqlite:///x.db?synchronous=OFF",
        ],
    )
    def test_bad_urls_raise_configuration_error(self, url: str, tmp_path: Path):
        """A host, another scheme, an unknown option or a bad value raises ConfigurationError."""
        with pytest.raises(ConfigurationError):
            SQLiteStore.from_url(url.replace("x.db", str(tmp_path / "x.db")))

    @pytest.mark.parametrize(
        "options",
        [
            {"synchronous": "OFF"},
            {"busy_timeout": -1},
            {"busy_timeout": "5"},
            {"fts": "yes"},
            {"connection": "not a connection"},
        ],
    )
    def test_bad_options_raise_configuration_error(self, db: Path, options: dict[str, Any]):
        """Invalid constructor options raise ConfigurationError before anything is opened."""
        path: Path | None = None if "connection" in options else db
        with pytest.raises(ConfigurationError):
            SQLiteStore(path, **options)
        assert not db.exists()

    def test_unknown_keyword_options_raise_configuration_error(self, db: Path):
        """``open_store`` with an option the SQLite store does not have says so."""
        with pytest.raises(ConfigurationError, match="colour"):
            open_store(f"sqlite:///{db}", colour="blue")

    def test_path_and_connection_together_are_refused(self, db: Path):
        """A store is either a file of its own or inside a host connection, not both."""
        conn = sqlite3.connect(":memory:")
        try:
            with pytest.raises(ConfigurationError):
                SQLiteStore(db, connection=conn)
        finally:
            conn.close()

    def test_a_missing_directory_raises_store_error(self, tmp_path: Path):
        """A path in a directory that does not exist raises StoreError with the driver's cause."""
        with pytest.raises(StoreError) as info:
            SQLiteStore(tmp_path / "nowhere" / "activity.db")
        assert isinstance(info.value.__cause__, sqlite3.Error)


class TestRefusals:
    """Files that are not activitylog databases are refused and left byte for byte untouched."""

    def test_a_text_file_is_refused_untouched(self, db: Path):
        """A random text file raises SchemaError and keeps its exact bytes."""
        db.write_text("name,email\nAda,ada@example.com\n" * 50)
        before = digest(db)
        with pytest.raises(SchemaError, match="not an SQLite database"):
            SQLiteStore(db)
        assert digest(db) == before

    def test_another_applications_database_is_refused_untouched(self, db: Path):
        """An SQLite file with foreign tables and no activitylog marker raises SchemaError."""
        conn = raw(db)
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers (name) VALUES ('Ada')")
        conn.close()
        before = digest(db)
        with pytest.raises(SchemaError, match="another application"):
            SQLiteStore(db)
        assert digest(db) == before

    def test_a_foreign_application_id_is_refused_untouched(self, db: Path):
        """An empty SQLite file stamped with another application id raises SchemaError."""
        conn = raw(db)
        conn.execute("PRAGMA application_id = 1234")
        conn.close()
        before = digest(db)
        with pytest.raises(SchemaError, match="another application"):
            SQLiteStore(db)
        assert digest(db) == before

    def test_a_newer_schema_version_is_refused_untouched(self, db: Path):
        """A database written by a newer activitylog raises SchemaError naming both versions."""
        with SQLiteStore(db) as store:
            record(ActivityLog(store, clock=Ticker()), 2)
        conn = raw(db)
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
        conn.close()
        before = digest(db)
        with pytest.raises(SchemaError, match="newer activitylog") as info:
            SQLiteStore(db)
        assert str(schema.SCHEMA_VERSION + 1) in str(info.value)
        assert digest(db) == before

    def test_our_tables_without_the_marker_are_refused(self, db: Path):
        """Tables named like ours but no marker (a half-copied database) raise SchemaError."""
        conn = raw(db)
        conn.execute(f"CREATE TABLE {schema.ENTRIES} (id INTEGER PRIMARY KEY)")
        conn.close()
        before = digest(db)
        with pytest.raises(SchemaError):
            SQLiteStore(db)
        assert digest(db) == before


class TestMigrations:
    """Schema versions move forward through ordered migrations."""

    def test_there_is_one_migration_per_version(self):
        """``MIGRATIONS[n]`` takes version n to n + 1, up to the current version."""
        assert len(schema.MIGRATIONS) == schema.SCHEMA_VERSION

    def test_an_older_database_is_upgraded_once_and_keeps_its_entries(
        self, db: Path, monkeypatch: pytest.MonkeyPatch
    ):
        """Opening a version-N file with code for N + 1 runs the next migration exactly once."""
        with SQLiteStore(db) as store:
            written = record(ActivityLog(store, clock=Ticker()), 2)
        runs: list[int] = []

        def add_notes(conn: sqlite3.Connection, search: bool) -> None:
            runs.append(1)
            conn.execute("CREATE TABLE activitylog_notes (id INTEGER PRIMARY KEY)")

        monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, add_notes))
        monkeypatch.setattr(schema, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
        for _ in range(2):
            with SQLiteStore(db) as store:
                assert all_of(store) == written[::-1]
        assert runs == [1]
        conn = raw(db)
        try:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
            assert conn.execute("SELECT count(*) FROM activitylog_notes").fetchone()[0] == 0
        finally:
            conn.close()

    def test_a_store_open_during_an_upgrade_refuses_to_write_old_rows(
        self, db: Path, monkeypatch: pytest.MonkeyPatch
    ):
        """When another process upgrades the file, a store opened before stops appending."""
        old = SQLiteStore(db)
        log = ActivityLog(old, clock=Ticker())
        record(log)

        def add_column(conn: sqlite3.Connection, search: bool) -> None:
            conn.execute(f"ALTER TABLE {schema.ENTRIES} ADD COLUMN extra TEXT")

        with monkeypatch.context() as patch:
            patch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, add_column))
            patch.setattr(schema, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
            SQLiteStore(db).close()
        with pytest.raises(StoreError, match="schema version"):
            record(log)
        assert len(all_of(old)) == 1
        old.close()

    def test_a_failed_migration_leaves_the_database_as_it_was(
        self, db: Path, monkeypatch: pytest.MonkeyPatch
    ):
        """A migration that raises rolls back completely; the old version still opens."""
        with SQLiteStore(db) as store:
            record(ActivityLog(store, clock=Ticker()), 2)

        def broken(conn: sqlite3.Connection, search: bool) -> None:
            conn.execute("CREATE TABLE activitylog_half (id INTEGER)")
            raise RuntimeError("boom")

        with monkeypatch.context() as patch:
            patch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, broken))
            patch.setattr(schema, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
            with pytest.raises(RuntimeError, match="boom"):
                SQLiteStore(db)
        with SQLiteStore(db) as store:
            assert len(all_of(store)) == 2
        conn = raw(db)
        try:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        finally:
            conn.close()
        assert "activitylog_half" not in names


class TestAppendOnly:
    """Entries cannot be changed or removed, not even with raw SQL."""

    @pytest.mark.parametrize(
        "sql",
        [
            f"UPDATE {schema.ENTRIES} SET description = 'nothing happened'",
            f"DELETE FROM {schema.ENTRIES}",
        ],
    )
    def test_raw_update_and_delete_are_rejected(self, store: SQLiteStore, db: Path, sql: str):
        """The triggers abort UPDATE and DELETE on entries with a message saying why."""
        written = record(ActivityLog(store, clock=Ticker()), 2)
        conn = raw(db)
        try:
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)
        finally:
            conn.close()
        assert all_of(store) == written[::-1]

    def test_the_store_has_no_update_or_delete_api(self):
        """The store offers appends and reads only."""
        names = {n for n in dir(SQLiteStore) if not n.startswith("_")}
        assert not {n for n in names if "update" in n or "delete" in n or "remove" in n}


class TestDurabilityOptions:
    """Pragmas applied to the store's own connections."""

    @pytest.mark.parametrize(("option", "level"), [("NORMAL", 1), ("FULL", 2), ("full", 2)])
    def test_synchronous_is_applied(self, db: Path, option: str, level: int):
        """``synchronous`` sets PRAGMA synchronous on the store's connections."""
        with SQLiteStore(db, synchronous=option) as store:
            record(ActivityLog(store, clock=Ticker()))
            assert store._conns.writer is not None
            assert store._conns.writer.execute("PRAGMA synchronous").fetchone()[0] == level

    def test_busy_timeout_is_applied(self, db: Path):
        """``busy_timeout`` (seconds) becomes PRAGMA busy_timeout (milliseconds)."""
        with SQLiteStore(db, busy_timeout=2.5) as store:
            assert store._conns.writer is not None
            assert store._conns.writer.execute("PRAGMA busy_timeout").fetchone()[0] == 2500

    def test_a_locked_database_raises_store_error_with_the_driver_cause(self, db: Path):
        """When another connection holds the write lock past the timeout, append raises
        StoreError chained to the sqlite3 error, and nothing is stored."""
        with SQLiteStore(db, busy_timeout=0) as store:
            log = ActivityLog(store, clock=Ticker())
            blocker = raw(db)
            blocker.execute("BEGIN IMMEDIATE")
            try:
                with pytest.raises(StoreError) as info:
                    record(log)
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            assert isinstance(info.value.__cause__, sqlite3.OperationalError)
            assert all_of(store) == []
            assert len(record(log)) == 1

    def test_a_closed_store_raises_store_error(self, db: Path):
        """Every call on a closed store raises StoreError; closing twice is harmless."""
        store = SQLiteStore(db)
        store.close()
        store.close()
        with pytest.raises(StoreError, match="closed"):
            store.page(QuerySpec("acme"))
        with pytest.raises(StoreError, match="closed"):
            store.append([], CHAIN) or record(ActivityLog(store, clock=Ticker()))


class TestHostTransactions:
    """``connection=``: the log commits and rolls back with the host's own transaction."""

    @pytest.fixture
    def host(self, tmp_path: Path) -> Iterator[sqlite3.Connection]:
        """A host application's connection (Python's default transaction handling)."""
        conn = sqlite3.connect(tmp_path / "app.db")
        conn.execute("CREATE TABLE leads (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        conn.commit()
        yield conn
        conn.close()

    def test_a_rolled_back_host_change_leaves_no_entry(self, host: sqlite3.Connection):
        """Rolling back the host's transaction removes the entry, its count and its chain head."""
        store = SQLiteStore(connection=host)
        log = ActivityLog(store, clock=Ticker())
        host.execute("INSERT INTO leads (name) VALUES ('Acme')")
        assert host.in_transaction
        record(log, target=Target("lead", "1", "Acme"))
        assert len(all_of(store)) == 1  # visible inside the host's transaction
        host.rollback()
        assert all_of(store) == []
        assert store.head("acme") is None
        assert store.categories("acme") == {}
        assert store.org_ids() == []
        assert host.execute("SELECT count(*) FROM leads").fetchone()[0] == 0

    def test_a_committed_host_change_always_has_its_entry(
        self, host: sqlite3.Connection, tmp_path: Path
    ):
        """Committing the host's transaction commits the entry with it, seen from elsewhere."""
        store = SQLiteStore(connection=host)
        log = ActivityLog(store, clock=Ticker())
        host.execute("INSERT INTO leads (name) VALUES ('Acme')")
        entry = record(log, target=Target("lead", "1", "Acme"))[0]
        assert host.in_transaction  # the store did not commit for the host
        host.commit()
        with SQLiteStore(tmp_path / "app.db") as outside:
            assert all_of(outside) == [entry]
            assert verify(outside, "acme", CHAIN).ok

    def test_after_a_rollback_the_chain_continues_from_the_committed_head(
        self, host: sqlite3.Connection
    ):
        """A rolled-back append does not advance seq: the next entry takes its place."""
        store = SQLiteStore(connection=host)
        log = ActivityLog(store, clock=Ticker())
        first = record(log)[0]
        host.execute("INSERT INTO leads (name) VALUES ('Acme')")
        record(log)
        host.rollback()
        again = record(log)[0]
        assert (first.seq, again.seq) == (1, 2)
        assert again.prev_hash == first.hash
        assert verify(store, "acme", CHAIN).ok

    def test_without_a_host_transaction_each_append_commits(
        self, host: sqlite3.Connection, tmp_path: Path
    ):
        """When the host has no open transaction the append commits on its own."""
        store = SQLiteStore(connection=host)
        entry = record(ActivityLog(store, clock=Ticker()))[0]
        assert not host.in_transaction
        with SQLiteStore(tmp_path / "app.db") as outside:
            assert all_of(outside) == [entry]

    def test_a_failed_append_rolls_back_only_its_savepoint(self, host: sqlite3.Connection):
        """An append that fails inside the host's transaction leaves the host's work intact."""
        store = SQLiteStore(connection=host)
        log = ActivityLog(store, clock=Ticker())
        host.execute("INSERT INTO leads (name) VALUES ('Acme')")

        class Broken:
            def link(self, prev_hash: str, entry: Entry) -> str:
                raise RuntimeError("no hashing today")

        entries = [log.build("lead.created", org_id="acme", actor=ADA) for _ in range(3)]
        with pytest.raises(RuntimeError):
            store.append(entries, Broken())
        assert host.in_transaction
        host.commit()
        assert host.execute("SELECT count(*) FROM leads").fetchone()[0] == 1
        assert all_of(store) == []

    def test_the_hosts_header_and_row_factory_are_respected(self, host: sqlite3.Connection):
        """The host keeps its user_version and application id, and its row_factory is fine."""
        host.execute("PRAGMA user_version = 42")
        host.row_factory = lambda cursor, row: {"row": row}
        store = SQLiteStore(connection=host)
        entry = record(ActivityLog(store, clock=Ticker()))[0]
        assert all_of(store) == [entry]
        assert store.categories("acme") == {"Leads": 1}
        host.row_factory = None
        assert host.execute("PRAGMA user_version").fetchone()[0] == 42
        assert host.execute("PRAGMA application_id").fetchone()[0] == 0
        version = host.execute(f"SELECT value FROM {schema.META} WHERE key = 'schema_version'")
        assert version.fetchone()[0] == str(schema.SCHEMA_VERSION)

    def test_closing_the_store_leaves_the_host_connection_open(self, host: sqlite3.Connection):
        """The host owns its connection: close() does not close it."""
        SQLiteStore(connection=host).close()
        assert host.execute("SELECT 1").fetchone() == (1,)


WRITER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timezone
    from activitylog import ActivityLog, Actor
    path, name, count, forever = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
    log = ActivityLog.open("sqlite:///" + path)
    actor = Actor(name, "Writer " + name)
    i = 0
    while forever or i < count:
        org = ("acme", "globex")[i % 2]
        if i % 7 == 3:
            entries = log.record_many(
                {"action": "task.created", "org_id": org, "actor": actor} for _ in range(20)
            )
        else:
            entries = [log.record("lead.created", org_id=org, actor=actor)]
        for entry in entries:
            print(entry.id, entry.org_id, entry.seq, flush=True)
        i += 1
    log.close()
    """
)


def spawn_writer(db: Path, name: str, count: int, forever: bool = False) -> subprocess.Popen[str]:
    """A separate Python process appending to ``db`` and printing each committed entry."""
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), name, str(count), "1" if forever else "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def check_chains(store: SQLiteStore, expected: dict[str, set[str]]) -> None:
    """Every expected entry is stored once, seqs run 1..n per org, and every chain verifies."""
    assert sorted(store.org_ids()) == sorted(expected)
    for org, wanted in expected.items():
        chain = list(store.chain(org))
        assert [e.seq for e in chain] == list(range(1, len(wanted) + 1))
        assert {e.id for e in chain} == wanted
        report = verify(store, org, CHAIN)
        assert report.ok, report


class TestConcurrency:
    """Many writers on one file: every entry written exactly once, chains never fork."""

    def test_threads_on_one_and_two_store_objects(self, db: Path):
        """Threads sharing a store, and threads on a second store of the same file, interleave
        appends without losing or duplicating an entry."""
        first, second = SQLiteStore(db), SQLiteStore(db)

        def work(store: SQLiteStore, name: str) -> list[Entry]:
            log = ActivityLog(store)
            actor = Actor(name, name)
            done: list[Entry] = []
            for i in range(40):
                org = ("acme", "globex")[i % 2]
                if i % 10 == 0:
                    done += log.record_many(
                        {"action": "task.created", "org_id": org, "actor": actor} for _ in range(5)
                    )
                else:
                    done.append(log.record("lead.created", org_id=org, actor=actor))
                store.page(QuerySpec(org, terms=(name.casefold(),), limit=5))
            return done

        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(work, first if i % 2 else second, f"t{i}") for i in range(8)]
            written = [entry for future in futures for entry in future.result()]
        expected: dict[str, set[str]] = {}
        for entry in written:
            expected.setdefault(entry.org_id, set()).add(entry.id)
        assert sum(len(v) for v in expected.values()) == len(written) == 8 * (36 + 4 * 5)
        check_chains(first, expected)
        assert first.categories("acme") == second.categories("acme")
        first.close()
        second.close()

    def test_processes_writing_one_file(self, db: Path):
        """Several processes appending to the same organizations never fork a chain."""
        SQLiteStore(db).close()
        writers = [spawn_writer(db, f"p{i}", 60) for i in range(3)]
        expected: dict[str, set[str]] = {}
        for writer in writers:
            out, err = writer.communicate(timeout=120)
            assert writer.returncode == 0, err
            for line in out.splitlines():
                entry_id, org, _ = line.split()
                expected.setdefault(org, set()).add(entry_id)
        assert sum(len(v) for v in expected.values()) == 3 * (51 + 9 * 20)
        with SQLiteStore(db) as store:
            check_chains(store, expected)

    def test_a_killed_writer_loses_no_committed_entry(self, db: Path):
        """SIGKILL in the middle of a stream of appends: every entry the writer reported as
        committed is there with its seq, and the database opens and verifies."""
        SQLiteStore(db).close()
        writer = spawn_writer(db, "victim", 0, forever=True)
        assert writer.stdout is not None
        seen: list[str] = []
        while len(seen) < 400:
            line = writer.stdout.readline()
            assert line, writer.stderr.read() if writer.stderr else "writer died"
            seen.append(line)
        os.kill(writer.pid, signal.SIGKILL)
        # Read the rest through the same buffered stream readline() used (communicate() reads
        # the pipe itself, losing what the stream had already buffered), and keep whole lines
        # only: the kill can land while a line is half written.
        with writer:  # closes its pipes
            rest = writer.stdout.read()
            writer.wait(timeout=60)
        assert writer.returncode == -signal.SIGKILL
        seen.extend(rest.split("\n")[:-1])
        with SQLiteStore(db) as store:
            stored = {e.id: (e.org_id, e.seq) for org in store.org_ids() for e in store.chain(org)}
            for line in seen:
                entry_id, org, seq = line.split()
                assert stored[entry_id] == (org, int(seq))
            for org in store.org_ids():
                assert verify(store, org, CHAIN).ok


class TestIds:
    """Taken ids move up within their millisecond's band, exactly as in the reference store."""

    def test_a_taken_id_moves_up_within_its_millisecond(self, store: SQLiteStore):
        """An entry whose id is taken (by any organization) gets the next free id."""
        log = ActivityLog(store, clock=Ticker())
        first = record(log, org_id="acme")[0]
        twin = attrs.evolve(log.build("lead.created", org_id="globex", actor=ADA), id=first.id)
        double = attrs.evolve(twin, org_id="acme")
        stored = store.append([twin, double], CHAIN)
        base = int(first.id, 16)
        assert [int(e.id, 16) for e in stored] == [base + 1, base + 2]
        reference = MemoryStore()
        reference.append([first], CHAIN)
        assert reference.append([twin, double], CHAIN) == stored

    def test_a_full_millisecond_raises_and_stores_nothing(self, store: SQLiteStore):
        """When every id of the millisecond's band above a taken one is used, append raises
        InvalidEntry (as the reference does) and the whole batch is discarded."""
        log = ActivityLog(store, clock=Ticker())
        entry = log.build("lead.created", org_id="acme", actor=ADA)
        top = (int(entry.id, 16) // ids.IDS_PER_MS + 1) * ids.IDS_PER_MS - 2
        last_two = [attrs.evolve(entry, id=format(top + i, "016x")) for i in range(2)]
        store.append(last_two, CHAIN)
        clash = attrs.evolve(entry, id=format(top, "016x"), org_id="globex")
        fine = log.build("lead.created", org_id="globex", actor=ADA)
        with pytest.raises(InvalidEntry, match="share the instant"):
            store.append([fine, clash], CHAIN)
        assert all_of(store, "globex") == []
        assert store.head("globex") is None

    def test_idempotency_keys_return_the_stored_entry(self, store: SQLiteStore):
        """A retry with a stored key (per organization) returns the first entry; another org
        may reuse the key; a key reused for another entry is refused, storing nothing."""
        log = ActivityLog(store, clock=Ticker())
        first = log.record("lead.created", org_id="acme", actor=ADA, idempotency_key="k")
        again = log.record("lead.created", org_id="acme", actor=ADA, idempotency_key="k")
        other = log.record("lead.created", org_id="globex", actor=ADA, idempotency_key="k")
        batch = log.record_many(
            [
                {"action": "task.created", "org_id": "acme", "actor": ADA, "idempotency_key": "b"},
                {"action": "task.created", "org_id": "acme", "actor": ADA, "idempotency_key": "b"},
            ]
        )
        with pytest.raises(IdempotencyConflict):
            log.record("lead.deleted", org_id="acme", actor=ADA, idempotency_key="k")
        assert again == first
        assert other.org_id == "globex" and other.seq == 1
        assert batch[0] == batch[1]
        assert len(all_of(store)) == 2

    def test_ids_beyond_sqlite_integers_are_refused_like_the_reference(self, store: SQLiteStore):
        """An id beyond SQLite's 64-bit signed integers fails as in the reference; nothing is
        stored."""
        log = ActivityLog(clock=Ticker())
        good = log.build("lead.created", org_id="acme", actor=ADA)
        bad = attrs.evolve(log.build("lead.created", org_id="acme", actor=ADA), id="f" * 16)
        with pytest.raises(ValueError) as expected:
            MemoryStore().append([good, bad], CHAIN)
        with pytest.raises(type(expected.value)):
            store.append([good, bad], CHAIN)
        assert all_of(store) == []


class TestRoundTrip:
    """What goes in comes back field for field."""

    def test_every_field_round_trips_exactly(self, db: Path):
        """A fully populated entry reads back equal, with an aware UTC microsecond timestamp."""
        with SQLiteStore(db) as store:
            log = ActivityLog(store, clock=lambda: T0 + timedelta(microseconds=123457))
            entry = log.record(
                "lead.status_changed",
                org_id="acme",
                actor=Actor("u9", 'Zoë 😀 "O\'Brien"', avatar_url="https://x/y.png"),
                target=Target("lead", 42, None),
                changes={"status": ["New", "Contacted"], "score": [None, 1.5], "n": [2**70, -1]},
                metadata={"ip": "10.0.0.1", "nested": {"list": [1, "two", None, True]}},
                api_key=ApiKeyRef("k1", "CI key"),
                idempotency_key="op-1",
            )
            system = log.record("file.embedding_failed", org_id="acme", actor=Actor.system("AI"))
        with SQLiteStore(db) as store:
            back = {e.id: e for e in all_of(store)}
        assert back[entry.id] == entry
        assert back[system.id] == system
        got = back[entry.id]
        assert got.occurred_at.tzinfo == timezone.utc and got.occurred_at.microsecond == 123457
        assert got.changes == {
            "status": ("New", "Contacted"),
            "score": (None, 1.5),
            "n": (2**70, -1),
        }
        assert got.target is not None and got.target.label is None
        assert back[system.id].api_key is None and back[system.id].target is None

    def test_chain_streams_in_chunks_and_resumes_after_a_seq(
        self, store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
    ):
        """chain() reads a few rows at a time (entries recorded meanwhile still appear) and
        starts after ``after_seq``."""
        monkeypatch.setattr(sqlite_store, "CHUNK", 3)
        log = ActivityLog(store, clock=Ticker())
        record(log, 7)
        stream = store.chain("acme")
        head = [next(stream) for _ in range(3)]
        record(log, 2)
        assert [e.seq for e in head + list(stream)] == list(range(1, 10))
        assert [e.seq for e in store.chain("acme", after_seq=5)] == [6, 7, 8, 9]
        assert list(store.chain("nobody")) == []

    def test_tampered_rows_come_back_as_stored(self, store: SQLiteStore, db: Path):
        """With the triggers dropped and rows edited, chain() returns the edited rows (even
        ones that no longer validate) and verification reports the damage."""
        record(ActivityLog(store, clock=Ticker()), 4)
        conn = raw(db)
        try:
            conn.execute("DROP TRIGGER activitylog_entries_no_update")
            conn.execute(f"UPDATE {schema.ENTRIES} SET description = 'edited' WHERE seq = 2")
            conn.execute(f"UPDATE {schema.ENTRIES} SET actor_name = '', kind = 'x' WHERE seq = 3")
            conn.execute(f"UPDATE {schema.ENTRIES} SET metadata = '{{oops' WHERE seq = 4")
        finally:
            conn.close()
        rows = list(store.chain("acme"))
        assert [e.seq for e in rows] == [1, 2, 3, 4]
        assert rows[1].description == "edited"
        assert rows[2].actor.name == "" and rows[2].kind == "x"
        report = verify(store, "acme", CHAIN)
        assert not report.ok and report.seq == 2


def shape(value: Any) -> Any:
    """``value`` with the type of every part spelled out, so that equal-but-different values
    (a tuple and a list, a dict and a read-only mapping, an enum and its text) compare unequal."""
    if attrs.has(type(value)):
        fields = attrs.fields(type(value))
        return (type(value), tuple((f.name, shape(getattr(value, f.name))) for f in fields))
    if isinstance(value, Mapping):
        return (type(value), tuple((k, shape(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value), tuple(shape(v) for v in value))
    return (type(value), value)


def stored_rows(db: Path) -> list[tuple[Any, ...]]:
    """Every entry row as the store selects it, in chain order."""
    with closing(raw(db)) as conn:
        return conn.execute(
            f"SELECT {sqlite_search.COLUMNS}, o.org_id FROM {schema.ENTRIES} e "
            "JOIN activitylog_orgs o ON o.code = e.org ORDER BY e.org, e.seq"
        ).fetchall()


def assert_read_like_the_constructors(db: Path) -> None:
    """Each row reads back as the validating constructors build it, and its chain record holds
    the canonical text of that entry (or the entry itself)."""
    for *row, org_id in stored_rows(db):
        fast = sql_rows.decode(row, org_id)
        checked = sql_rows.decode_checked(row, org_id)
        assert shape(fast) == shape(checked)
        seq, prev_hash, hash_, content = sql_chain.record(row, org_id)
        assert (seq, prev_hash, hash_) == (checked.seq, checked.prev_hash, checked.hash)
        if type(content) is tuple:
            assert encoded(integrity.fields_text, content) == encoded(
                integrity._canonical_text, checked
            )
        else:
            assert shape(content) == shape(checked)


def encoded(encode: Any, value: Any) -> str:
    """The canonical text of ``value``, or ``"unencodable"`` where verification finds none."""
    try:
        text: str = encode(value)
    except (TypeError, ValueError, AttributeError, OverflowError):
        return "unencodable"
    return text


#: Edits to one stored row: values no entry holds, and values that only some paths accept.
ROW_EDITS = [
    "kind = 'bogus'", "source = 'fax'", "actor_kind = 'robot'", "actor_name = ''",
    "actor_name = '   '", "actor_id = 'a' || char(0) || 'b'", "actor_avatar_url = ''",
    "actor_avatar_url = 'x' || char(0)", "actor_id = x'41'", "description = x'00ff'",
    "action = x'41'", "label = 5", "idempotency_key = x'00'",
    "api_key_id = NULL, api_key_name = 'k'", "api_key_id = 'k', api_key_name = NULL",
    "api_key_id = 'k', api_key_name = ' '",
    "target_type = NULL, target_id = '1', target_label = NULL",
    "target_type = 'lead', target_id = NULL", "target_label = char(0)",
    "target_type = NULL, target_id = NULL, target_label = 'x'",
    "changes = 'null'", "changes = '[]'", """changes = '{"a":[1,2,3]}'""",
    """changes = '{"a":"xy"}'""", """changes = '{"a":[1]}'""", "changes = 'oops'",
    """changes = '{"a":{"0":1,"1":2}}'""", "changes = x'7b7d'",
    "metadata = '[]'", "metadata = 'null'", "metadata = '5'", """metadata = '"ab"'""",
    """metadata = '[["a",1]]'""", "metadata = 'oops'", """metadata = '{"x":NaN}'""",
    "metadata = x'7b7d'", "occurred_at = 'yesterday'", "occurred_at = -1",
    "occurred_at = 1e20", "occurred_at = 253402300800000000", "id = -5",
    "seq = 'x'", "hash = NULL", "prev_hash = 'zz'",
    """actor_name = '', changes = '{"a":[1,2,3]}'""", """actor_id = ' ', metadata = '[]'""",
    "target_id = '', occurred_at = 253402300800000000",
]  # fmt: skip


class TestReadSnapshots:
    """A read of several statements runs in one read transaction; a read of one does not."""

    def traced(self, store: SQLiteStore) -> list[str]:
        """The statements the store's (single, pooled) reading connection runs from now on."""
        with store._reading() as conn:
            pass
        seen: list[str] = []
        conn.set_trace_callback(seen.append)
        return seen

    def test_plain_pages_and_counts_run_one_statement(self, store: SQLiteStore) -> None:
        """Without search words a page or a count is one statement: no BEGIN and COMMIT."""
        log = ActivityLog(store, clock=Ticker())
        record(log, 3)
        seen = self.traced(store)
        assert len(store.page(QuerySpec("acme", limit=2))) == 2
        assert store.count(QuerySpec("acme", categories=("Leads",))) == 3
        assert len(seen) == 2
        assert not any(sql.startswith(("BEGIN", "COMMIT")) for sql in seen)

    def test_searches_read_one_snapshot(self, store: SQLiteStore) -> None:
        """A search reads the index and the pending search rows in one read transaction, so
        an append moving rows from one to the other cannot be counted twice or missed."""
        log = ActivityLog(store, clock=Ticker())
        record(log, 3)
        seen = self.traced(store)
        assert store.count(QuerySpec("acme", terms=("lead",))) == 3
        assert len(store.page(QuerySpec("acme", terms=("lead",), limit=2))) == 2
        assert [sql for sql in seen if sql in ("BEGIN", "COMMIT")] == ["BEGIN", "COMMIT"] * 2


class TestReadingRows:
    """Rows are read without re-running validation, yet exactly as validation would read them."""

    def test_enum_fields_are_read_by_lookup(self) -> None:
        """The entry's enum fields still convert by their enums' values, so rows are read by
        looking their members up: a converter of another kind sends every row read down the
        slow path (pages measured 2.3x slower)."""
        assert sql_rows.ENUM_CONVERTERS

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(batch=record_batches(max_size=15))
    def test_recorded_rows_read_like_the_constructors(
        self, tmp_path_factory: pytest.TempPathFactory, batch: list[dict[str, Any]]
    ):
        """Entries of any shape record() makes read back as the validating path builds them."""
        db = tmp_path_factory.mktemp("rows") / "activity.db"
        with SQLiteStore(db) as store:
            store.append(build_entries(batch), CHAIN)
        assert_read_like_the_constructors(db)

    def test_entries_read_back_share_nothing_changeable(self, store: SQLiteStore):
        """Rows with the same actor, changes and metadata read back as equal values that refuse
        changes, so entries that share them (read-back caches) cannot affect each other."""
        log = ActivityLog(store, clock=Ticker())
        fields = {"changes": {"tags": [["a"], {"b": [1]}]}, "metadata": {"ids": [1, [2]]}}
        record(log, 3, **fields)
        first, second, third = store.page(QuerySpec("acme"))
        assert first.actor == second.actor == third.actor == ADA
        assert first.changes == second.changes == {"tags": (["a"], {"b": [1]})}
        assert first.metadata == third.metadata == {"ids": [1, [2]]}
        for entry in (first, second):
            with pytest.raises(TypeError):
                entry.metadata["ids"].append(3)  # type: ignore[index]
            with pytest.raises(TypeError):
                entry.metadata["ids"][1].append(3)  # type: ignore[index]
            with pytest.raises(TypeError):
                entry.changes["tags"][1]["b"].append(2)  # type: ignore[index]
        assert store.page(QuerySpec("acme"))[0].metadata == {"ids": [1, [2]]}

    @pytest.mark.parametrize("edit", ROW_EDITS)
    def test_edited_rows_read_and_verify_like_the_constructors(self, db: Path, edit: str):
        """A row edited behind the store's back reads as the validating path reads it, and
        verifying through chain records reports what verifying entries reports."""
        with SQLiteStore(db) as store:
            log = ActivityLog(store, clock=Ticker())
            log.record_many(
                [
                    {"action": "lead.status_changed", "org_id": "acme", "actor": ADA,
                     "target": Target("lead", 7, "Acme"), "changes": {"status": ["a", "b"]},
                     "metadata": {"n": 1}, "api_key": ApiKeyRef("k1", "CI")},
                    {"action": "lead.created", "org_id": "acme", "actor": ADA,
                     "idempotency_key": "op-1"},
                    {"action": "lead.deleted", "org_id": "acme", "actor": ADA},
                ] * 2
            )  # fmt: skip
        with closing(raw(db)) as conn:
            conn.execute("DROP TRIGGER activitylog_entries_no_update")
            for seq in (1, 2, 3):
                with suppress(sqlite3.IntegrityError):
                    conn.execute(f"UPDATE {schema.ENTRIES} SET {edit} WHERE seq = ?", (seq,))
        assert_read_like_the_constructors(db)
        with SQLiteStore(db) as store:
            by_records = verify(store, "acme", CHAIN)
            store.chain_records = None  # type: ignore[assignment,method-assign]
            by_entries = verify(store, "acme", CHAIN)
        assert by_records == by_entries


def build_entries(batch: list[dict[str, Any]]) -> list[Entry]:
    """Entries (not yet stored) for a list of ``record()`` argument dicts."""
    log = ActivityLog()
    return [log.build(a["action"], **{k: v for k, v in a.items() if k != "action"}) for a in batch]


def spec_variants(plan: Any, org: str) -> list[QuerySpec]:
    """The store-level queries of a random query plan, in every sort."""
    from activitylog import Role, Viewer

    log = ActivityLog(clock=lambda: T0)
    query = plan.apply(log, org, Viewer("u-owner", org, Role.OWNER))
    base = query.spec(now=T0)
    return [
        attrs.evolve(base, sort=sort, descending=descending, limit=limit)
        for sort in ("date", "action")
        for descending in (True, False)
        for limit in (2, 10**6)
    ]


SEARCH_WORDS = [
    "deleted", "lead", "ada", "ad", "li", "a", "%", "_", '"', "'", "\\", "é", "e\u0301",
    "strasse", "ß", "ﬃ", "ffi", "😀", "zz", "lovelace ada", "d\n", "\x00", "ı",
    "li lovelace", "ad acme", "zz lead", "a li",
]  # fmt: skip


class TestSearchIndex:
    """The FTS5 trigram index answers exactly what a scan (and the reference) answers."""

    @pytest.fixture(autouse=True, params=["sort matches", "walk labels", "walk few entries"])
    def always_use_the_index(self, request: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        """Small test logs would be scanned: make every search use the index, and take each
        way a search can go: sorted by action, sorting the matches or walking the label index
        for 3 rows and then by ids; by date with a two-character word, checking a few entries
        (one, or two) row by row before asking the index for the rest, or all of them."""
        monkeypatch.setattr(sqlite_search, "SCAN_BELOW", 0)
        monkeypatch.setattr(sqlite_query, "LABEL_WALK", 3)
        walk = request.param == "walk labels"
        monkeypatch.setattr(sqlite_query, "SORT_MATCHES_BELOW", 0 if walk else 10**9)
        few = {"sort matches": 10**9, "walk labels": 1, "walk few entries": 2}[request.param]
        monkeypatch.setattr(sqlite_query, "SHORT_WORD_WALK", few)
        # Search rows of small appends wait in the pending table: index every row at once,
        # index them three at a time (some indexed, some pending), or keep them all pending.
        below, limit = {"sort matches": (0, 1), "walk labels": (10**9, 3)}.get(
            request.param, (10**9, 10**9)
        )
        monkeypatch.setattr(sqlite_write, "PENDING_BELOW", below)
        monkeypatch.setattr(sqlite_write, "PENDING_LIMIT", limit)

    @pytest.fixture
    def trio(self, tmp_path: Path) -> Iterator[tuple[MemoryStore, SQLiteStore, SQLiteStore]]:
        """The reference, an indexed SQLite store and a scanning SQLite store."""
        indexed = SQLiteStore(tmp_path / "fts.db")
        scanning = SQLiteStore(tmp_path / "scan.db", fts=False)
        yield MemoryStore(), indexed, scanning
        indexed.close()
        scanning.close()

    def test_fts_false_builds_no_index_and_scans(self, trio: tuple[Any, SQLiteStore, SQLiteStore]):
        """``fts=False`` creates no search table; the default uses the index."""
        _, indexed, scanning = trio
        assert indexed.searches_with_index and not scanning.searches_with_index
        names = {r[0] for r in scanning._conns.writer.execute("SELECT name FROM sqlite_master")}  # type: ignore[union-attr]
        assert schema.SEARCH not in names

    def test_tricky_words_match_identically(
        self, trio: tuple[MemoryStore, SQLiteStore, SQLiteStore]
    ):
        """Metacharacters, quotes, accents, ß/ﬃ folding, emoji, short words and words at the
        very end of the text give the same pages and counts with and without the index."""
        names = ["Ada Lovelace", "Li", 'Zoë "Z" O\'Brien', "Straße 😀", "oﬃce ﬁle", "100%_\\ok"]
        log = ActivityLog(clock=Ticker())
        entries = [
            log.build(
                action,
                org_id=org,
                actor=Actor(f"u{i}", name),
                target=Target("lead", str(i), label),
            )
            for i, (name, label, action, org) in enumerate(
                (n, lbl, a, o)
                for n in names
                for lbl in (None, 'Acme "Q" 50%', "ﬃ Straße", "Ωmega ı")
                for a in ("lead.deleted", "task.created", "member.invited")
                for o in ("acme", "globex")
            )
        ]
        for store in trio:
            store.append(entries, CHAIN)
        for word in SEARCH_WORDS:
            for categories in ((), ("Leads",), ("Leads", "Members"), ("Nope",)):
                spec = QuerySpec(
                    "acme", terms=tuple(word.casefold().split()), categories=categories
                )
                results = [(s.page(spec), s.count(spec)) for s in trio]
                assert results[0] == results[1] == results[2], (word, categories)

    def test_reopening_without_fts_false_builds_the_index(self, tmp_path: Path):
        """A database written without an index gets one on the next default open, and answers
        the same."""
        path = tmp_path / "later.db"
        with SQLiteStore(path, fts=False) as scanning:
            record(ActivityLog(scanning, clock=Ticker()), 5, actor=Actor("u2", "Grace Hopper"))
            before = scanning.page(QuerySpec("acme", terms=("hopper",)))
        with SQLiteStore(path) as indexed:
            assert indexed.searches_with_index
            assert indexed.page(QuerySpec("acme", terms=("hopper",))) == before
            more = record(ActivityLog(indexed, clock=Ticker(T0 + timedelta(days=1))), 1,
                          actor=Actor("u2", "Grace Hopper"))  # fmt: skip
            assert indexed.page(QuerySpec("acme", terms=("hopper",)))[0] == more[0]

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data(), batch=record_batches(max_size=20))
    def test_random_queries_answer_like_the_reference(self, data: st.DataObject, batch: Any):
        """For random logs and random queries, indexed search, scanning search and the
        reference return the same pages and counts in every sort."""
        entries = build_entries(batch)
        stores = (MemoryStore(), SQLiteStore(":memory:"), SQLiteStore(":memory:", fts=False))
        try:
            for store in stores:
                store.append(entries, CHAIN)
            for _ in range(3):
                plan = data.draw(query_plans(entries))
                org = data.draw(st.sampled_from(sorted({e.org_id for e in entries} | {"acme"})))
                for spec in spec_variants(plan, org):
                    answers = [(s.page(spec), s.count(spec)) for s in stores]
                    assert answers[0] == answers[1] == answers[2], spec
        finally:
            for store in stores:
                store.close()

    def test_an_index_of_whole_haystacks_answers_alongside_new_rows(self, tmp_path: Path):
        """A search index holding whole haystacks (as files written before indexed distinct
        words) answers like the reference once new rows of distinct words join it."""
        path = tmp_path / "mixed.db"
        names = ["Ada Lovelace", "Li", 'Zoë "Z" O\'Brien', "Straße 😀", "oﬃce ﬁle"]
        log = ActivityLog(clock=Ticker())
        entries = [
            log.build(action, org_id="acme", actor=Actor(f"u{i}", name),
                      target=Target("lead", str(i), "Lead “Acme”"))
            for i, (name, action) in enumerate(
                (n, a) for n in names for a in ("lead.deleted", "member.invited", "task.created")
            )
        ]  # fmt: skip
        with SQLiteStore(path, fts=False) as store:
            store.append(entries[:8], CHAIN)
        with closing(raw(path)) as conn:
            conn.execute("BEGIN")
            for statement in schema._split(schema._SEARCH_INDEX):
                conn.execute(statement)
            conn.create_function("activitylog_token", 1, schema.token)
            conn.execute(
                "INSERT OR IGNORE INTO activitylog_categories (name) "
                "SELECT DISTINCT category FROM activitylog_counts"
            )
            conn.execute(
                f"INSERT INTO {schema.SEARCH} (rowid, org, category, haystack) "
                "SELECT e.id, activitylog_token(e.org), activitylog_token(c.code), "
                f"e.haystack || char(10) FROM {schema.ENTRIES} e "
                "JOIN activitylog_categories c ON c.name = e.category"
            )
            conn.execute("COMMIT")
        reference = MemoryStore()
        reference.append(entries, CHAIN)
        with SQLiteStore(path) as store:
            assert store.searches_with_index
            store.append(entries[8:], CHAIN)
            for word in [*SEARCH_WORDS, "lovelace", "o'brien", "acme”", "d\nl", "“acme"]:
                spec = QuerySpec("acme", terms=tuple(word.casefold().split()))
                assert (store.page(spec), store.count(spec)) == (
                    reference.page(spec),
                    reference.count(spec),
                ), word


class TestSearchText:
    """What the search index holds, and how the index is set up."""

    @settings(max_examples=300, deadline=None)
    @given(
        text=st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
        word=st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=4),
    )
    def test_a_word_is_in_the_haystack_exactly_when_in_the_index_text(self, text: str, word: str):
        """Distinct words joined by newlines hold every whitespace-free word of the haystack,
        and every occurrence of one starts a trigram (two more characters follow it)."""
        indexed = schema.search_text(text)
        for term in word.split():
            assert (term in text) == (term in indexed)
            at = indexed.find(term)
            while at >= 0:
                assert at + 3 <= len(indexed)
                at = indexed.find(term, at + 1)

    def test_indexes_of_distinct_words_are_marked_and_take_one_character_words(
        self, db: Path, monkeypatch: pytest.MonkeyPatch
    ):
        """A search index built of search_text() rows is marked as such, and only then are
        one-character words looked up in it; an index without the mark checks them row by
        row, and rebuilding it marks it."""
        monkeypatch.setattr(sqlite_search, "SCAN_BELOW", 0)
        with SQLiteStore(db) as store:
            record(ActivityLog(store, clock=Ticker()), 3)
            later = ActivityLog(store, clock=Ticker(T0 + timedelta(days=1)))
            record(later, 1, actor=Actor("u2", "Søren Ж"))
            assert store._layout.search_words
            with store._reading() as conn:
                plan = sqlite_search.plan(store._context(conn), 1, QuerySpec("acme", terms=("ж",)))
            assert plan is not None and plan.match is not None and not plan.scan_terms
        with closing(raw(db)) as conn:
            conn.execute(f"DELETE FROM {schema.META} WHERE key = ?", (schema.SEARCH_TEXT_KEY,))
        with SQLiteStore(db) as store:
            assert store.searches_with_index and not store._layout.search_words
            with store._reading() as conn:
                plan = sqlite_search.plan(store._context(conn), 1, QuerySpec("acme", terms=("ж",)))
            assert plan is not None and plan.match is None and plan.scan_terms == ("ж",)
            assert len(store.page(QuerySpec("acme", terms=("ж",)))) == 1
        path = db.parent / "later.db"
        with SQLiteStore(path, fts=False) as scanning:
            assert not scanning._layout.search_words
        with SQLiteStore(path) as indexed:
            assert indexed._layout.search_words

    def test_new_indexes_buffer_sixteen_mebibytes(self, store: SQLiteStore, db: Path):
        """A new search index collects 16 MiB of index data before writing a segment."""
        with closing(raw(db)) as conn:
            config = dict(conn.execute(f"SELECT k, v FROM {schema.SEARCH}_config").fetchall())
        assert config["hashsize"] == schema.HASHSIZE == 16 * 1024 * 1024
        assert config["automerge"] == 8

    def test_only_the_writer_gets_a_larger_page_cache(self, store: SQLiteStore):
        """The writing connection caches 8 MiB of pages; readers keep SQLite's default."""
        record(ActivityLog(store, clock=Ticker()), 1)
        assert store.page(QuerySpec("acme"))
        assert store._conns.writer is not None
        assert store._conns.writer.execute("PRAGMA cache_size").fetchone()[0] == -8192
        with closing(sqlite3.connect(":memory:")) as plain:
            default = plain.execute("PRAGMA cache_size").fetchone()[0]
        assert (
            store._conns.pool
            and store._conns.pool[0].execute("PRAGMA cache_size").fetchone()[0] == default
        )


class TestPendingSearchRows:
    """Search rows of small appends wait in a pending table; searches see them all the same."""

    @pytest.fixture(autouse=True)
    def small_tables(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Use the index for every search, and move pending rows into it four at a time."""
        monkeypatch.setattr(sqlite_search, "SCAN_BELOW", 0)
        monkeypatch.setattr(sqlite_write, "PENDING_LIMIT", 4)

    def test_small_appends_wait_and_move_into_the_index_together(self, db: Path):
        """One-entry appends leave their search rows pending until four are there, then the
        append that makes four moves them into the search index; a large batch goes straight
        to the index."""
        with SQLiteStore(db) as store:
            log = ActivityLog(store, clock=Ticker())
            counts = []
            for _ in range(5):
                record(log)
                with closing(raw(db)) as conn:
                    pending = conn.execute(f"SELECT count(*) FROM {schema.PENDING}").fetchone()
                counts.append(pending[0])
            assert counts == [1, 2, 3, 0, 1]
            log.record_many([{"action": "lead.created", "org_id": "acme", "actor": ADA}] * 70)
            with closing(raw(db)) as conn:
                assert conn.execute(f"SELECT count(*) FROM {schema.PENDING}").fetchone()[0] == 1
                indexed = conn.execute(
                    f"SELECT count(*) FROM {schema.SEARCH}(?)",
                    (f'org : "{schema.token(1)}"',),
                ).fetchone()[0]
            assert indexed == 74

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data(), batch=record_batches(max_size=25))
    def test_pending_and_indexed_rows_answer_like_the_reference(
        self, data: st.DataObject, batch: Any
    ):
        """Appended in random small batches, so that some search rows are indexed and some
        pending, random queries answer as the reference does, in every sort."""
        entries = build_entries(batch)
        reference, store = MemoryStore(), SQLiteStore(":memory:")
        try:
            reference.append(entries, CHAIN)
            start = 0
            while start < len(entries):
                size = data.draw(st.integers(1, 3))
                store.append(entries[start : start + size], CHAIN)
                start += size
            for _ in range(3):
                plan = data.draw(query_plans(entries))
                org = data.draw(st.sampled_from(sorted({e.org_id for e in entries} | {"acme"})))
                for spec in spec_variants(plan, org):
                    answer = (store.page(spec), store.count(spec))
                    assert answer == (reference.page(spec), reference.count(spec)), spec
        finally:
            store.close()

    @pytest.mark.parametrize("walk", [True, False])
    def test_tricky_words_with_pending_rows(self, walk: bool, monkeypatch: pytest.MonkeyPatch):
        """Short and long words, categories and both sorts (sorting matches or walking the
        label index) count and page alike with rows both indexed and pending."""
        monkeypatch.setattr(sqlite_query, "LABEL_WALK", 3)
        monkeypatch.setattr(sqlite_query, "SORT_MATCHES_BELOW", 0 if walk else 10**9)
        monkeypatch.setattr(sqlite_query, "SHORT_WORD_WALK", 1)
        log = ActivityLog(clock=Ticker())
        names = ["Ada Lovelace", "Li", "Zoë O'Brien", "Straße 😀", "qx"]
        entries = [
            log.build(action, org_id="acme", actor=Actor(f"u{i}", name),
                      target=Target("lead", str(i), "Acme"))
            for i, (name, action) in enumerate(
                (n, a) for n in names for a in ("lead.deleted", "member.invited", "task.created")
            )
        ]  # fmt: skip
        reference, store = MemoryStore(), SQLiteStore(":memory:")
        try:
            reference.append(entries, CHAIN)
            for entry in entries:
                store.append([entry], CHAIN)
            for word in [*SEARCH_WORDS, "qx", "qx lead", "😀 strasse", "o'b"]:
                for categories in ((), ("Leads",), ("Leads", "Members")):
                    for sort in ("date", "action"):
                        spec = QuerySpec(
                            "acme", terms=tuple(word.casefold().split()),
                            categories=categories, sort=sort, limit=4,
                        )  # fmt: skip
                        answer = (store.page(spec), store.count(spec))
                        assert answer == (reference.page(spec), reference.count(spec)), spec
        finally:
            store.close()
