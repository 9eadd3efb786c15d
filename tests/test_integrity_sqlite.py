"""Tamper evidence on a real SQLite file, tampered with through the raw ``sqlite3`` module.

Each test copies a prepared database file, drops the append-only triggers, changes the file the
way someone with write access to it would, reopens it with :class:`ActivityLog` and checks that
verification reports the right :class:`Problem` at the right ``seq``.
"""

from __future__ import annotations

import itertools
import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest

from activitylog import ActivityLog, Checkpoint, HashChain, Problem, search
from activitylog.stores.base import GENESIS
from test_integrity import KEY, ORG, OTHER, lean_records, records, run_snippet

N = 12
TABLE = "activitylog_entries"
ROOT = Path(__file__).resolve().parent.parent


def url(path: Path) -> str:
    """The store URL of a database file."""
    return f"sqlite:///{path}"


def build(path: Path, n: int, key: bytes | None = None) -> Path:
    """A database file holding ``n`` varied entries of ``ORG`` (and a few of ``OTHER``)."""
    with ActivityLog.open(url(path), integrity_key=key) as log:
        log.record_many(records(n))
        log.record_many(records(3, OTHER))
    return path


@pytest.fixture(scope="module")
def plain_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-entry unkeyed database, built once per module."""
    return build(tmp_path_factory.mktemp("plain") / "activity.db", N)


@pytest.fixture(scope="module")
def keyed_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-entry HMAC-keyed database, built once per module."""
    return build(tmp_path_factory.mktemp("keyed") / "activity.db", N, KEY)


def copy(template: Path, folder: Path) -> Path:
    """A private copy of a database file (the store closed it, so there is no WAL to copy)."""
    assert not Path(f"{template}-wal").exists() or Path(f"{template}-wal").stat().st_size == 0
    target = folder / "copy.db"
    shutil.copyfile(template, target)
    return target


@pytest.fixture
def db(plain_file: Path, tmp_path: Path) -> Path:
    """A fresh copy of the unkeyed database."""
    return copy(plain_file, tmp_path)


@pytest.fixture
def keyed_db(keyed_file: Path, tmp_path: Path) -> Path:
    """A fresh copy of the keyed database."""
    return copy(keyed_file, tmp_path)


@contextmanager
def tamper(path: Path) -> Iterator[sqlite3.Connection]:
    """A raw connection to the file with every append-only trigger dropped, in one transaction."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.row_factory = sqlite3.Row
        conn.execute("BEGIN IMMEDIATE")
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        ).fetchall():
            conn.execute(f"DROP TRIGGER {name}")
        yield conn
        conn.execute("COMMIT")


def org_code(conn: sqlite3.Connection, org: str = ORG) -> int:
    """The organization's integer code in the file."""
    code: int = conn.execute(
        "SELECT code FROM activitylog_orgs WHERE org_id = ?", (org,)
    ).fetchone()[0]
    return code


def update(conn: sqlite3.Connection, seq: int, assignment: str, *args: Any) -> None:
    """Run ``UPDATE ... SET <assignment>`` on the ORG entry with this seq."""
    cursor = conn.execute(
        f"UPDATE {TABLE} SET {assignment} WHERE org = ? AND seq = ?", (*args, org_code(conn), seq)
    )
    assert cursor.rowcount == 1


def shift(conn: sqlite3.Connection, from_seq: int, by: int) -> None:
    """Add ``by`` to every seq >= from_seq, in two steps so the unique (org, seq) index holds."""
    code = org_code(conn)
    conn.execute(
        f"UPDATE {TABLE} SET seq = -(seq + ?) WHERE org = ? AND seq >= ?", (by, code, from_seq)
    )
    conn.execute(f"UPDATE {TABLE} SET seq = -seq WHERE org = ? AND seq < 0", (code,))


def row(conn: sqlite3.Connection, seq: int) -> dict[str, Any]:
    """The stored row of the ORG entry with this seq, by column name."""
    found = conn.execute(
        f"SELECT * FROM {TABLE} WHERE org = ? AND seq = ?", (org_code(conn), seq)
    ).fetchone()
    return dict(found)


def free_id(conn: sqlite3.Connection, after: int) -> int:
    """The first id above ``after`` that no row holds (entries of one millisecond have
    consecutive ids, so ``after + 1`` may be taken)."""
    taken = {r[0] for r in conn.execute(f"SELECT id FROM {TABLE} WHERE id > ?", (after,))}
    candidate = after + 1
    while candidate in taken:
        candidate += 1
    return candidate


def insert(conn: sqlite3.Connection, values: dict[str, Any]) -> None:
    """Insert a raw row."""
    names = ", ".join(values)
    marks = ", ".join("?" * len(values))
    conn.execute(f"INSERT INTO {TABLE} ({names}) VALUES ({marks})", tuple(values.values()))


def report(path: Path, key: bytes | None = None, since: Checkpoint | None = None) -> Any:
    """Open the file as the application would and verify ORG."""
    with ActivityLog.open(url(path), integrity_key=key) as log:
        return log.verify(ORG, since=since)


def problem(path: Path, key: bytes | None = None, since: Checkpoint | None = None) -> Any:
    """The kind and seq of the first problem (``(None, None)`` when the chain verifies)."""
    result = report(path, key, since)
    assert result.ok == (result.problem is None)
    return result.problem, result.seq


def checkpoint(path: Path, key: bytes | None = None) -> Checkpoint:
    """A checkpoint of ORG, passed through JSON as it would be when kept elsewhere."""
    with ActivityLog.open(url(path), integrity_key=key) as log:
        return Checkpoint.from_dict(json.loads(json.dumps(log.checkpoint(ORG).to_dict())))


def stored_entry(path: Path, seq: int) -> Any:
    """The ORG entry with this seq as the store reads it back."""
    with ActivityLog.open(url(path)) as log:
        return next(e for e in log.store.chain(ORG, seq - 1))


#: SQL that changes one column of an entry (the last ones store values no entry can hold).
FIELD_TAMPERING = {
    "description": "description = description || '.'",
    "actor_name": "actor_name = 'Mallory'",
    "actor_avatar_url": "actor_avatar_url = 'https://evil.example/a.png'",
    "actor_kind": "actor_kind = 'system'",
    "label": "label = label || ' '",
    "action": "action = 'lead.deleted'",
    "category": "category = 'Other'",
    "kind": "kind = CASE kind WHEN 'delete' THEN 'create' ELSE 'delete' END",
    "occurred_at": "occurred_at = occurred_at + 1",
    "id": "id = id + 1",
    "source": "source = 'system'",
    "target_label": "target_label = 'Someone else'",
    "api_key": "api_key_id = 'k9', api_key_name = 'stolen key'",
    "changes": "changes = '{\"status\":[\"new\",\"won\"]}'",
    "metadata": "metadata = '{\"n\":-1}'",
    "idempotency_key": "idempotency_key = 'forged'",
    "kind (invalid)": "kind = 'bogus'",
    "occurred_at (text)": "occurred_at = 'yesterday'",
    "metadata (not JSON)": "metadata = 'not json'",
    "actor_name (empty)": "actor_name = ''",
}


class TestModified:
    @pytest.mark.parametrize("seq", [1, 6, N])
    @pytest.mark.parametrize("column", sorted(FIELD_TAMPERING))
    def test_one_field_of_one_entry(self, db: Path, column: str, seq: int) -> None:
        """Changing one column of one stored entry is modified at its seq."""
        with tamper(db) as conn:
            update(conn, seq, FIELD_TAMPERING[column])
        assert problem(db) == (Problem.MODIFIED, seq)

    def test_on_a_keyed_file(self, keyed_db: Path) -> None:
        """A changed field of an HMAC chain is modified too."""
        with tamper(keyed_db) as conn:
            update(conn, 5, FIELD_TAMPERING["description"])
        assert problem(keyed_db, KEY) == (Problem.MODIFIED, 5)

    def test_triggers_are_restored_without_hiding_it(self, db: Path) -> None:
        """Recreating the append-only triggers after tampering changes nothing."""
        with closing(sqlite3.connect(db)) as conn:
            triggers = conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger'"
            ).fetchall()
        with tamper(db) as conn:
            update(conn, 3, FIELD_TAMPERING["actor_name"])
            for (sql,) in triggers:
                conn.execute(sql)
        with closing(sqlite3.connect(db)) as conn, pytest.raises(sqlite3.DatabaseError):
            conn.execute(f"DELETE FROM {TABLE}")
        assert problem(db) == (Problem.MODIFIED, 3)


class TestMissing:
    @pytest.mark.parametrize("seq", [1, 6, N - 1])
    def test_middle_entry_deleted(self, db: Path, seq: int) -> None:
        """Deleting an entry is missing at its seq."""
        with tamper(db) as conn:
            conn.execute(f"DELETE FROM {TABLE} WHERE org = ? AND seq = ?", (org_code(conn), seq))
        assert problem(db) == (Problem.MISSING, seq)

    @pytest.mark.parametrize("seq", [1, 6, N - 1])
    def test_deleted_and_renumbered(self, db: Path, seq: int) -> None:
        """Deleting an entry and closing the seq gap is still missing at that seq."""
        with tamper(db) as conn:
            conn.execute(f"DELETE FROM {TABLE} WHERE org = ? AND seq = ?", (org_code(conn), seq))
            shift(conn, seq + 1, -1)
        assert problem(db) == (Problem.MISSING, seq)

    def test_moved_to_another_organization(self, db: Path) -> None:
        """An entry moved to another organization is missing from its own."""
        with tamper(db) as conn:
            update(conn, 4, "org = ?", org_code(conn, OTHER))
        assert problem(db) == (Problem.MISSING, 4)

    @pytest.mark.parametrize("keep", [0, 7, N - 1])
    def test_tail_deleted(self, db: Path, keep: int) -> None:
        """Deleting the tail is missing at the first deleted seq, behind the recorded head."""
        with tamper(db) as conn:
            conn.execute(f"DELETE FROM {TABLE} WHERE org = ? AND seq > ?", (org_code(conn), keep))
        assert problem(db) == (Problem.MISSING, keep + 1)

    def test_tail_and_head_rewritten_needs_a_checkpoint(self, db: Path) -> None:
        """Cutting the tail and moving the head back passes alone, but not against a checkpoint."""
        cp = checkpoint(db)
        with tamper(db) as conn:
            code = org_code(conn)
            conn.execute(f"DELETE FROM {TABLE} WHERE org = ? AND seq > 7", (code,))
            conn.execute(
                "UPDATE activitylog_orgs SET head_seq = 7, head_hash = ? WHERE code = ?",
                (row(conn, 7)["hash"], code),
            )
        assert problem(db) == (None, None)
        assert problem(db, since=cp) == (Problem.MISSING, 8)


class TestReordered:
    @pytest.mark.parametrize(("i", "j"), [(1, 2), (3, 9), (5, 6), (1, N), (N - 1, N)])
    def test_two_entries_swap_seq(self, db: Path, i: int, j: int) -> None:
        """Swapping the seq values of two entries is reordered at the earlier seq."""
        with tamper(db) as conn:
            update(conn, i, "seq = -1")
            update(conn, j, "seq = ?", i)
            update(conn, -1, "seq = ?", j)
        assert problem(db) == (Problem.REORDERED, i)


class TestInserted:
    @pytest.mark.parametrize("seq", [1, 6, N, N + 1])
    @pytest.mark.parametrize("linked", [False, True], ids=["made-up hash", "valid link"])
    def test_forged_entry_renumbered_in(self, db: Path, seq: int, linked: bool) -> None:
        """A forged row put in at seq (later seqs renumbered) is inserted at that seq."""
        with tamper(db) as conn:
            forged = row(conn, min(seq, N))
            prev = GENESIS if seq == 1 else row(conn, seq - 1)["hash"]
            shift(conn, seq, 1)
            forged.update(id=free_id(conn, forged["id"]), seq=seq, description="Mallory did nothing")
            forged.update(prev_hash=prev, hash="e" * 64, idempotency_key=None)
            insert(conn, forged)
        if linked:
            fake = stored_entry(db, seq)
            with tamper(db) as conn:
                update(conn, seq, "hash = ?", HashChain().link(prev, fake))
        assert problem(db) == (Problem.INSERTED, seq)

    def test_forged_entry_on_a_keyed_file(self, keyed_db: Path) -> None:
        """On an HMAC chain a forgery hashed with plain SHA-256 is inserted at its seq."""
        with tamper(keyed_db) as conn:
            forged = row(conn, 5)
            prev = row(conn, 4)["hash"]
            shift(conn, 5, 1)
            forged.update(id=free_id(conn, forged["id"]), seq=5, description="Mallory", idempotency_key=None)
            insert(conn, forged)
        fake = stored_entry(keyed_db, 5)
        with tamper(keyed_db) as conn:
            update(conn, 5, "hash = ?", HashChain().link(prev, fake))
        assert problem(keyed_db, KEY) == (Problem.INSERTED, 5)


class TestBadHash:
    @pytest.mark.parametrize("seq", [1, 6, N])
    @pytest.mark.parametrize("relink", [False, True], ids=["alone", "next relinked"])
    def test_hash_recomputed_without_the_key(self, keyed_db: Path, seq: int, relink: bool) -> None:
        """An entry of a keyed file changed and re-hashed with plain SHA-256 is a bad hash."""
        with tamper(keyed_db) as conn:
            update(conn, seq, FIELD_TAMPERING["description"])
        changed = stored_entry(keyed_db, seq)
        digest = HashChain().link(changed.prev_hash, changed)
        with tamper(keyed_db) as conn:
            update(conn, seq, "hash = ?", digest)
            if relink and seq < N:
                update(conn, seq + 1, "prev_hash = ?", digest)
        assert problem(keyed_db, KEY) == (Problem.BAD_HASH, seq)

    @pytest.mark.parametrize("key", [None, b"wrong key"], ids=["no key", "wrong key"])
    def test_keyed_file_opened_with_the_wrong_key(self, keyed_db: Path, key: bytes | None) -> None:
        """A keyed file verified without its key, or with another, is a bad hash at seq 1."""
        assert problem(keyed_db, key) == (Problem.BAD_HASH, 1)
        assert problem(keyed_db, KEY) == (None, None)


class TestRewritten:
    def test_consistent_rewrite_is_caught_only_by_a_checkpoint(self, db: Path) -> None:
        """An unkeyed chain re-hashed from a change on, head included (and the derived search
        text with it), needs a checkpoint."""
        cp = checkpoint(db)
        with tamper(db) as conn:
            edited = row(conn, 4)
            text = search.haystack(edited["label"], "Mallory was never here", edited["actor_name"])
            update(conn, 4, "description = 'Mallory was never here', haystack = ?", text)
        with ActivityLog.open(url(db)) as log:
            entries = list(log.store.chain(ORG))
        prev, hashes = GENESIS, []
        for entry in entries:
            digest = HashChain().link(prev, attrs.evolve(entry, prev_hash=prev))
            hashes.append((prev, digest, entry.seq))
            prev = digest
        with tamper(db) as conn:
            code = org_code(conn)
            conn.executemany(
                f"UPDATE {TABLE} SET prev_hash = ?, hash = ? WHERE org = {code} AND seq = ?",
                hashes,
            )
            conn.execute(
                "UPDATE activitylog_orgs SET head_hash = ? WHERE code = ?", (prev, code)
            )
        assert problem(db) == (None, None)
        result = report(db, since=cp)
        assert (result.problem, result.seq) == (Problem.REWRITTEN, N)
        assert "checkpoint" in result.detail

    def test_keyed_file_cannot_be_rewritten_without_the_key(self, keyed_db: Path) -> None:
        """The same rewrite on an HMAC chain is a bad hash at the first re-hashed entry."""
        with ActivityLog.open(url(keyed_db)) as log:
            entries = list(log.store.chain(ORG))
        prev, hashes = GENESIS, []
        for entry in entries:
            digest = HashChain().link(prev, attrs.evolve(entry, prev_hash=prev))
            hashes.append((prev, digest, entry.seq))
            prev = digest
        with tamper(keyed_db) as conn:
            code = org_code(conn)
            conn.executemany(
                f"UPDATE {TABLE} SET prev_hash = ?, hash = ? WHERE org = {code} AND seq = ?",
                hashes,
            )
            conn.execute("UPDATE activitylog_orgs SET head_hash = ? WHERE code = ?", (prev, code))
        assert problem(keyed_db, KEY) == (Problem.BAD_HASH, 1)


class TestCheckpoint:
    def test_passes_when_the_file_only_grew(self, db: Path) -> None:
        """A checkpoint kept as JSON still verifies after more entries, across reopening."""
        cp = checkpoint(db)
        with ActivityLog.open(url(db)) as log:
            log.record_many(records(20, ORG, 100))
        result = report(db, since=cp)
        assert (result.ok, result.checked) == (True, N + 20)

    def test_truncation_behind_it(self, db: Path) -> None:
        """Rows cut behind a checkpoint (the head moved back with them) are missing."""
        cp = checkpoint(db)
        with tamper(db) as conn:
            code = org_code(conn)
            conn.execute(f"DELETE FROM {TABLE} WHERE org = ?", (code,))
            conn.execute("DELETE FROM activitylog_orgs WHERE code = ?", (code,))
        assert problem(db, since=cp) == (Problem.MISSING, 1)


class TestCommandLine:
    def test_export_command_output_verifies_with_the_documented_script(self, db: Path) -> None:
        """`activitylog export --format jsonl` writes what the auditor's script verifies."""
        out = db.with_name("export.jsonl")
        subprocess.run(
            [sys.executable, "-m", "activitylog", "export", "--db", str(db), "--org", ORG,
             "--format", "jsonl", "--output", str(out)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        result = run_snippet(out)
        assert result.returncode == 0, result.stderr
        assert f"{ORG}: {N} entries ok, head {checkpoint(db).hash}" in result.stdout


# -- scale and concurrency ---------------------------------------------------------------------


def test_large_file_verifies_clean(tmp_path: Path) -> None:
    """An untouched file of 100,000 entries verifies, ending at its recorded head."""
    path = tmp_path / "large.db"
    with ActivityLog.open(url(path)) as log:
        for start in range(0, 100_000, 10_000):
            log.record_many(lean_records(10_000, start))
    started = time.perf_counter()
    result = report(path)
    elapsed = time.perf_counter() - started
    assert (result.ok, result.checked, result.head_hash) == (True, 100_000, checkpoint(path).hash)
    print(f"verified {result.checked / elapsed:,.0f} entries/s")


def test_threads_appending_never_fork_the_chain(tmp_path: Path) -> None:
    """Threads sharing a log and threads with their own store on the file keep one chain."""
    path = tmp_path / "threads.db"
    shared = ActivityLog.open(url(path), integrity_key=KEY)
    own = [ActivityLog.open(url(path), integrity_key=KEY) for _ in range(3)]
    logs = [shared, shared, shared, *own]
    start = threading.Barrier(len(logs))

    def work(t: int, log: ActivityLog) -> None:
        start.wait()
        for i in range(40):
            if i % 4 == 0:
                log.record_many(records(3, ORG, 10_000 * t + 1000 + 3 * i))
            else:
                log.record(**records(1, ORG, 10_000 * t + i)[0])

    with ThreadPoolExecutor(len(logs)) as pool:
        futures = [pool.submit(work, t, log) for t, log in enumerate(logs)]
    for future in futures:
        future.result()  # a thread's exception fails the test
    for log in own:
        log.close()
    shared.close()
    expected = len(logs) * (30 + 10 * 3)
    assert_one_chain(path, expected)


@pytest.mark.parametrize("stream", ["chain_records", "chain"])
def test_appends_while_verifying_are_not_damage(tmp_path: Path, stream: str) -> None:
    """Entries another connection appends while verify() streams the file are never reported."""
    path = tmp_path / "busy.db"
    reader = ActivityLog.open(url(path), integrity_key=KEY)
    writer = ActivityLog.open(url(path), integrity_key=KEY)
    writer.record_many(records(1200))
    store = reader.store
    streamed = getattr(store, stream)

    def with_writes(org_id: str, after_seq: int = 0) -> Iterator[Any]:
        for n, item in enumerate(streamed(org_id, after_seq), 1):
            if n % 300 == 0:
                writer.record_many(records(4, ORG, 10_000 + n))
            yield item

    setattr(store, stream, with_writes)
    if stream == "chain":
        store.chain_records = None  # type: ignore[attr-defined]  # verify() reads entries
    result = reader.verify(ORG)
    writer.close()
    reader.close()
    assert result.ok, str(result)
    assert result.checked >= 1200
    assert report(path, KEY).checked == 1200 + 4 * 4


_WRITER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[3])
    from test_integrity import KEY, records
    from activitylog import ActivityLog

    worker, go = int(sys.argv[2]), float(sys.argv[4])
    with ActivityLog.open("sqlite:///" + sys.argv[1], integrity_key=KEY) as log:
        while time.time() < go:
            time.sleep(0.005)
        for i in range(60):
            if i % 3 == 0:
                log.record_many(records(2, "acme", 100_000 * worker + 1000 + 2 * i))
            else:
                log.record(**records(1, "acme", 100_000 * worker + i)[0])
    """
)


def test_processes_appending_never_fork_the_chain(tmp_path: Path) -> None:
    """Three processes appending to one file at once leave one gapless chain that verifies."""
    path = tmp_path / "processes.db"
    with ActivityLog.open(url(path), integrity_key=KEY) as log:
        log.record_many(records(5))
    go = time.time() + 1.5
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), str(w), str(ROOT / "tests"), str(go)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(1, 4)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    assert_one_chain(path, 5 + 3 * (40 + 20 * 2))


def assert_one_chain(path: Path, expected: int) -> None:
    """The file holds one gapless, unforked ORG chain of ``expected`` entries that verifies."""
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            f"SELECT seq, prev_hash, hash FROM {TABLE} e JOIN activitylog_orgs o "
            "ON o.code = e.org WHERE o.org_id = ? ORDER BY seq",
            (ORG,),
        ).fetchall()
    assert [r[0] for r in rows] == list(range(1, expected + 1))
    assert len({r[1] for r in rows}) == expected  # no two entries follow the same one
    assert all(a[2] == b[1] for a, b in itertools.pairwise(rows))
    result = report(path, KEY)
    assert (result.ok, result.checked) == (True, expected), str(result)
