"""Reading a SQLite file without writing it, and waiting for a busy one for a bounded total.

An auditor opens a log read-only (``readonly=True`` or ``?mode=ro``) on a read-only mount or in a
folder they cannot write: listing, counting, categories and verification work and nothing is
ever created or changed. A write that finds the file busy fails once its own total wait (for
this process's other writers, then for SQLite's lock) reaches ``busy_timeout``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from activitylog import ActivityLog, Actor, ConfigurationError, StoreError, search
from activitylog.stores.base import QuerySpec
from activitylog.stores.sqlite import SQLiteStore, schema

ADA = Actor("u1", "Ada Lovelace")
ROOT = Path(__file__).resolve().parent.parent


def digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_log(path: Path, n: int = 20) -> Path:
    """A closed file holding ``n`` entries of acme in two categories."""
    with ActivityLog.open(f"sqlite:///{path}") as log:
        for i in range(n):
            log.record("lead.created" if i % 2 else "member.invited", org_id="acme", actor=ADA)
    return path


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    """A closed log file (its WAL checkpointed and removed)."""
    return make_log(tmp_path / "activity.db")


def files_in(folder: Path) -> set[str]:
    """The names of the files in a folder."""
    return {p.name for p in folder.iterdir()}


class TestReadOnly:
    """A read-only store reads everything and writes nothing."""

    @pytest.mark.parametrize("how", ["keyword", "mode=ro", "readonly=1"])
    def test_reads_everything_and_changes_no_byte(self, log_file: Path, how: str) -> None:
        """Pages, counts, categories, org ids and verification work; the file is unchanged
        and no file appears beside it."""
        before, names = digest(log_file), files_in(log_file.parent)
        url = f"sqlite:///{log_file}" + {"keyword": "", "mode=ro": "?mode=ro"}.get(
            how, "?readonly=1"
        )
        options = {"readonly": True} if how == "keyword" else {}
        with ActivityLog.open(url, **options) as log:
            assert len(log.store.page(QuerySpec("acme", limit=100))) == 20
            assert log.store.count(QuerySpec("acme", terms=("invited",))) == 10
            assert log.store.categories("acme") == {"Leads": 10, "Members": 10}
            assert log.store.org_ids() == ["acme"]
            assert log.verify("acme").ok
            with pytest.raises(StoreError, match="read-only"):
                log.record("lead.created", org_id="acme", actor=ADA)
        assert digest(log_file) == before
        assert files_in(log_file.parent) == names  # no -wal, no -shm

    def test_a_missing_file_is_not_created(self, tmp_path: Path) -> None:
        """Opening a file that does not exist read-only fails and creates nothing."""
        with pytest.raises(StoreError, match="no such file"):
            SQLiteStore(tmp_path / "absent.db", readonly=True)
        assert files_in(tmp_path) == set()

    def test_an_empty_file_is_not_made_a_log(self, tmp_path: Path) -> None:
        """An empty file opened read-only is refused and stays empty."""
        empty = tmp_path / "empty.db"
        empty.touch()
        with pytest.raises(Exception, match="no activitylog database"):
            SQLiteStore(empty, readonly=True)
        assert empty.stat().st_size == 0

    def test_options_are_checked(self, log_file: Path) -> None:
        """A bad mode, a non-boolean readonly, or readonly with a host connection are refused."""
        with pytest.raises(ConfigurationError, match="mode"):
            ActivityLog.open(f"sqlite:///{log_file}?mode=xx")
        with pytest.raises(ConfigurationError, match="readonly"):
            SQLiteStore(log_file, readonly="yes")  # type: ignore[arg-type]
        with closing(sqlite3.connect(":memory:")) as host, pytest.raises(
            ConfigurationError, match="host"
        ):
            SQLiteStore(connection=host, readonly=True)

    def test_search_text_of_an_older_version_is_derived_again(self, log_file: Path) -> None:
        """A file whose search text another version derived (another fingerprint) is not
        migrated when read-only, yet searches answer as this version's do; no byte changes."""
        with closing(sqlite3.connect(log_file, isolation_level=None)) as conn:
            conn.execute("DROP TRIGGER activitylog_entries_no_update")
            conn.execute(f"UPDATE {schema.ENTRIES} SET haystack = 'stale'")
            conn.execute(schema._NO_UPDATE)
            conn.execute(
                f"UPDATE {schema.META} SET value = 'older' WHERE key = ?", (schema.FINGERPRINT_KEY,)
            )
        before = digest(log_file)
        with SQLiteStore(log_file, readonly=True) as store:
            assert not store.searches_with_index
            assert store.count(QuerySpec("acme", terms=search.terms("INVITED"))) == 10
            assert store.count(QuerySpec("acme", terms=("stale",))) == 0
            assert len(store.page(QuerySpec("acme", terms=search.terms("Ada invited")))) == 10
            # Text derived the older way is not tampering: the chain verifies.
            assert ActivityLog(store).verify("acme").ok
        assert digest(log_file) == before

    def test_reads_while_a_writer_keeps_appending(self, log_file: Path) -> None:
        """A read-only store beside a live writer sees the writer's committed entries."""
        with ActivityLog.open(f"sqlite:///{log_file}") as writer:
            writer.record("lead.created", org_id="acme", actor=ADA)
            with SQLiteStore(log_file, readonly=True) as reader:
                assert reader.count(QuerySpec("acme")) == 21
                writer.record("lead.created", org_id="acme", actor=ADA)
                assert reader.count(QuerySpec("acme")) == 22


AUDITOR = textwrap.dedent(
    """
    import json, sys
    from activitylog import ActivityLog
    from activitylog.stores.base import QuerySpec
    with ActivityLog.open(sys.argv[1], readonly=True) as log:
        print(json.dumps({
            "page": len(log.store.page(QuerySpec("acme", limit=100))),
            "count": log.store.count(QuerySpec("acme", terms=("invited",))),
            "categories": log.store.categories("acme"),
            "verified": log.verify("acme").ok,
        }))
    """
)


class TestUnwritableFolder:
    """An auditor who cannot write the folder (or the file) reads the log all the same."""

    def run_as_auditor(self, folder: Path, url: str) -> subprocess.CompletedProcess[str]:
        """Run the auditor's script where ``folder`` cannot be written: a read-only mount of it
        (root, who may write any folder, gets one in a private mount namespace), or the folder
        made read-only for its owner."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
        script = [sys.executable, "-c", AUDITOR, url]
        if os.geteuid() == 0:
            mount = (
                'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" && '
                'touch "$0/probe" 2>/dev/null && exit 97; exec "$@"'
            )
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount]
            result = subprocess.run(
                [*command, str(folder), *script],
                check=False, capture_output=True, text=True, env=env, timeout=120,
            )  # fmt: skip
            if result.returncode == 97:
                pytest.fail("the read-only mount could be written")
            return result
        folder.chmod(0o555)
        try:
            return subprocess.run(
                script, check=False, capture_output=True, text=True, env=env, timeout=120
            )
        finally:
            folder.chmod(0o755)

    @pytest.fixture
    def folder(self, tmp_path: Path) -> Path:
        """The folder the auditor cannot write."""
        target = tmp_path / "audit"
        target.mkdir()
        return target

    def test_a_closed_log_in_an_unwritable_folder(self, folder: Path) -> None:
        """With no WAL beside it, the file is read as it is; nothing is created."""
        path = make_log(folder / "activity.db")
        path.chmod(0o644)
        before, names = digest(path), files_in(folder)
        result = self.run_as_auditor(folder, f"sqlite:///{path}")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {
            "page": 20, "count": 10, "categories": {"Leads": 10, "Members": 10}, "verified": True,
        }  # fmt: skip
        assert digest(path) == before and files_in(folder) == names  # not even -shm

    def test_a_copy_on_a_read_only_medium(self, folder: Path, tmp_path: Path) -> None:
        """A file copied out of a live log (WAL content checkpointed first) reads the same."""
        source = make_log(tmp_path / "live.db")
        shutil.copyfile(source, folder / "copy.db")
        (folder / "copy.db").chmod(0o444)
        result = self.run_as_auditor(folder, f"sqlite:///{folder / 'copy.db'}?mode=ro")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["verified"] is True


class TestBusyTimeout:
    """A write waits at most busy_timeout in total, however many threads wait before it."""

    def test_each_thread_fails_after_its_own_timeout(self, log_file: Path) -> None:
        """Four threads of one store, another process's transaction holding the file: each
        fails with StoreError about one timeout after it started, not one timeout per thread
        queued before it."""
        timeout = 0.4
        store = SQLiteStore(log_file, busy_timeout=timeout)
        log = ActivityLog(store)
        blocker = sqlite3.connect(log_file, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        waits: list[float] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def write() -> None:
            start = time.monotonic()
            try:
                log.record("lead.created", org_id="acme", actor=ADA)
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
                with lock:
                    errors.append(exc)
            with lock:
                waits.append(time.monotonic() - start)

        threads = [threading.Thread(target=write) for _ in range(4)]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
            store.close()
        assert len(errors) == 4 and all(isinstance(e, StoreError) for e in errors)
        # Queued one behind another, the last would wait four timeouts (1.6 s).
        assert max(waits) < 2.5 * timeout, waits

    def test_an_uncontended_write_keeps_the_full_timeout(self, log_file: Path) -> None:
        """A write that got its turn at once leaves SQLite's busy timeout as configured."""
        with SQLiteStore(log_file, busy_timeout=2.5) as store:
            ActivityLog(store).record("lead.created", org_id="acme", actor=ADA)
            writer = store._conns.writer
            assert writer is not None
            assert writer.execute("PRAGMA busy_timeout").fetchone()[0] == 2500

    @pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), 10**9, "1", True])
    def test_bad_timeouts_are_refused(self, log_file: Path, value: object) -> None:
        """Negative, not-a-number, infinite, huge or non-numeric timeouts are refused."""
        with pytest.raises(ConfigurationError, match="busy_timeout"):
            SQLiteStore(log_file, busy_timeout=value)  # type: ignore[arg-type]


def test_chain_is_unchanged_by_read_only_verification(log_file: Path) -> None:
    """Verification through a read-only store reports the same head as a writable one."""
    with ActivityLog.open(f"sqlite:///{log_file}") as log:
        head = log.verify("acme").head_hash
    with ActivityLog.open(f"sqlite:///{log_file}", readonly=True) as log:
        assert log.verify("acme").head_hash == head
