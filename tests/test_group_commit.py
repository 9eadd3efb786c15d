"""Group commit in the SQLite store: concurrent appends of one process share transactions.

Each call returns once its own entries are committed; an error reaches exactly the calls whose
entries were not stored; chains stay gapless and verify clean, even when the process is killed
in the middle of a group. A lone caller writes at once, needing no other thread.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from activitylog import ActivityLog, Actor, IdempotencyConflict, StoreError, Target
from activitylog.models import Entry
from activitylog.stores.sqlite import SQLiteStore
from activitylog.stores.sqlite.group import GroupCommit

ADA = Actor("u1", "Ada Lovelace")
ORGS = ("acme", "globex", "initech")
ROOT = Path(__file__).resolve().parent.parent


def group_of(log: ActivityLog) -> GroupCommit:
    """The store's group commit."""
    store = log.store
    assert isinstance(store, SQLiteStore)
    assert store._group is not None
    return store._group


@contextmanager
def leader_held(log: ActivityLog, waiting: int) -> Iterator[None]:
    """The first group's leader waits inside its transaction until ``waiting`` calls are
    queued behind it, so that they form the next group (deterministic groups)."""
    group = group_of(log)
    original = group._writer
    held = threading.Event()

    def writer(conn: sqlite3.Connection, *rest: Any) -> list[Entry]:
        if not held.is_set():
            held.set()
            deadline = time.monotonic() + 10
            while len(group._queue) < waiting and time.monotonic() < deadline:
                time.sleep(0.001)
        return original(conn, *rest)

    group._writer = writer
    try:
        yield
    finally:
        group._writer = original


def commits(log: ActivityLog) -> list[str]:
    """The COMMIT statements of the store's writing connection, as they run."""
    seen: list[str] = []
    store = log.store
    assert isinstance(store, SQLiteStore) and store._conns.writer is not None
    store._conns.writer.set_trace_callback(seen.append)
    return seen


def run_threads(*targets: Callable[[], object]) -> list[object]:
    """Run each target in its own thread, the first started alone first; their outcomes
    (result or exception) in order."""
    outcomes: list[object] = [None] * len(targets)

    def run(i: int) -> None:
        try:
            outcomes[i] = targets[i]()
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(targets))]
    threads[0].start()
    time.sleep(0.02)  # the first leads a group
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def callers(log: ActivityLog) -> tuple[dict[str, object], dict[str, threading.Thread]]:
    """Threads named A, B and C (not started), each recording one entry for the
    organization of its name, and where each one's outcome (entry or exception) goes."""
    outcomes: dict[str, object] = {}

    def call(name: str) -> None:
        try:
            outcomes[name] = log.record("lead.created", org_id=name, actor=ADA)
        except BaseException as exc:  # noqa: BLE001 - the outcome under test
            outcomes[name] = exc

    return outcomes, {n: threading.Thread(target=call, args=(n,), name=n) for n in "ABC"}


def stored(log: ActivityLog) -> dict[str, Entry]:
    """Every stored entry by id, every organization's chain read whole."""
    return {e.id: e for org in log.store.org_ids() for e in log.store.chain(org)}


def assert_chains_clean(log: ActivityLog) -> None:
    """Every organization's chain is gapless (seq 1..n) and verifies clean."""
    for org in log.store.org_ids():
        seqs = [e.seq for e in log.store.chain(org)]
        assert seqs == list(range(1, len(seqs) + 1)), org
        report = log.verify(org)
        assert report.ok, str(report)


class TestGroups:
    """Concurrent calls share transactions; a lone caller does not wait for anyone."""

    def test_calls_queued_behind_a_transaction_share_the_next(self, tmp_path: Path) -> None:
        """Seven calls arriving while one is written are committed together in one more
        COMMIT, each returning its own stored entry."""
        with ActivityLog.open(f"sqlite:///{tmp_path / 'a.db'}") as log:
            log.record("lead.created", org_id="acme", actor=ADA)  # opens the org
            seen = commits(log)

            def call(i: int) -> Callable[[], Entry]:
                return lambda: log.record(
                    "lead.created", org_id=ORGS[i % 3], actor=ADA, target=Target("lead", i)
                )

            with leader_held(log, 7):
                outcomes = run_threads(*(call(i) for i in range(8)))
            assert seen.count("COMMIT") == 2
            assert all(isinstance(o, Entry) for o in outcomes)
            everything = stored(log)
            for i, entry in enumerate(outcomes):
                assert isinstance(entry, Entry)
                assert everything[entry.id] == entry
                assert entry.target == Target("lead", str(i))
            assert len(everything) == 9
            assert_chains_clean(log)

    def test_calls_of_logs_with_different_chains_share_a_group(self, tmp_path: Path) -> None:
        """Two logs over one store (each with its own chain object) recording at once: their
        calls share transactions, each written with its own chain, and every chain verifies."""
        store = SQLiteStore(tmp_path / "a.db")
        first, second = ActivityLog(store), ActivityLog(store)
        try:
            first.record("lead.created", org_id="acme", actor=ADA)
            seen = commits(first)

            def call(i: int) -> Callable[[], Entry]:
                log = first if i % 2 else second
                return lambda: log.record("lead.created", org_id=ORGS[i % 3], actor=ADA)

            with leader_held(first, 5):
                outcomes = run_threads(*(call(i) for i in range(6)))
            assert seen.count("COMMIT") == 2
            everything = stored(first)
            assert all(isinstance(e, Entry) and everything[e.id] == e for e in outcomes)
            assert_chains_clean(first)
        finally:
            store.close()

    def test_a_lone_caller_commits_its_own_transaction_at_once(self, tmp_path: Path) -> None:
        """One thread recording: one COMMIT per call, no SAVEPOINT, no other thread."""
        with ActivityLog.open(f"sqlite:///{tmp_path / 'a.db'}") as log:
            log.record("lead.created", org_id="acme", actor=ADA)
            seen = commits(log)
            before = threading.active_count()
            for i in range(10):
                log.record("lead.created", org_id="acme", actor=ADA, target=Target("lead", i))
            assert threading.active_count() == before
            assert seen.count("COMMIT") == 10
            assert not [s for s in seen if "SAVEPOINT" in s]
            assert group_of(log).commits == 11 and group_of(log).committed_calls == 11

    def test_many_threads_commit_fewer_transactions_than_calls(self, tmp_path: Path) -> None:
        """Eight threads recording freely: groups form on their own (fewer commits than calls)."""
        with ActivityLog.open(f"sqlite:///{tmp_path / 'a.db'}") as log:
            log.record("lead.created", org_id="acme", actor=ADA)
            seen = commits(log)

            def work(t: int) -> None:
                for i in range(40):
                    log.record(
                        "lead.created",
                        org_id=ORGS[t % 3],
                        actor=ADA,
                        target=Target("lead", f"{t}-{i}"),
                    )

            with leader_held(log, 7):
                run_threads(*(lambda t=t: work(t) for t in range(8)))
            assert len(stored(log)) == 1 + 8 * 40
            assert seen.count("COMMIT") < 8 * 40
            assert_chains_clean(log)

    def test_async_tasks_on_one_loop_share_groups(self, tmp_path: Path) -> None:
        """arecord() tasks gathered on one event loop write in shared transactions too."""
        with ActivityLog.open(f"sqlite:///{tmp_path / 'a.db'}") as log:
            log.record("lead.created", org_id="acme", actor=ADA)
            seen = commits(log)

            async def main() -> list[Entry]:
                return await asyncio.gather(
                    *(
                        log.arecord(
                            "lead.created", org_id=ORGS[i % 3], actor=ADA, target=Target("lead", i)
                        )
                        for i in range(40)
                    )
                )

            with leader_held(log, 2):
                entries = asyncio.run(main())
            assert seen.count("COMMIT") < 40
            everything = stored(log)
            assert [everything[e.id] for e in entries] == entries
            assert_chains_clean(log)


class TestOneConnection:
    """A host's connection and ``:memory:`` keep one transaction (or savepoint) per call."""

    @pytest.mark.parametrize("where", ["memory", "host"])
    def test_threads_write_one_call_at_a_time(self, where: str) -> None:
        """No group commit on a single shared connection: every call of 4 threads is stored
        in its own transaction and the chains verify."""
        host = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        store = SQLiteStore(":memory:") if where == "memory" else SQLiteStore(connection=host)
        log = ActivityLog(store)
        try:
            assert store._group is None
            single = store._conns.single
            assert single is not None
            seen: list[str] = []
            single.set_trace_callback(seen.append)

            def work(t: int) -> None:
                for i in range(10):
                    log.record("lead.created", org_id=ORGS[t % 3], actor=ADA,
                               target=Target("lead", f"{t}-{i}"))  # fmt: skip

            run_threads(*(lambda t=t: work(t) for t in range(4)))
            ends = [s for s in seen if s in ("COMMIT", "RELEASE activitylog")]
            assert len(ends) == 40
            assert len(stored(log)) == 40
            assert_chains_clean(log)
        finally:
            store.close()
            host.close()


class TestErrors:
    """An error reaches exactly the calls whose entries were not stored."""

    def test_a_failing_call_fails_alone_in_its_group(self, tmp_path: Path) -> None:
        """In one group, a conflicting idempotency key, a record_many holding one and a call
        that fails after writing its rows fail (nothing of theirs stored, not even a new
        organization); the other calls of the group are stored and returned."""
        with ActivityLog.open(f"sqlite:///{tmp_path / 'a.db'}") as log:
            first = log.record("lead.created", org_id="acme", actor=ADA, idempotency_key="k")
            seen = commits(log)
            group = group_of(log)
            original = group._writer

            def poisoned(conn: sqlite3.Connection, batch: list[Entry], *rest: Any) -> Any:
                result = original(conn, batch, *rest)
                if any(e.org_id == "poison" for e in batch):
                    raise RuntimeError("failed after writing")
                return result

            group._writer = poisoned
            item = {"action": "lead.created", "org_id": "globex", "actor": ADA}
            calls: list[Callable[[], object]] = [
                lambda: log.record("lead.created", org_id="acme", actor=ADA),
                lambda: log.record("member.invited", org_id="acme", actor=ADA, idempotency_key="k"),
                lambda: log.record_many([item, item]),
                lambda: log.record_many(
                    [
                        {**item, "org_id": "umbrella"},
                        {
                            **item,
                            "action": "member.invited",
                            "org_id": "acme",
                            "idempotency_key": "k",
                        },
                    ]
                ),
                lambda: log.record("lead.created", org_id="poison", actor=ADA),
                lambda: log.record("lead.created", org_id="initech", actor=ADA),
            ]
            with leader_held(log, 5):
                outcomes = run_threads(*calls)
            group._writer = original
            assert seen.count("COMMIT") == 2
            assert isinstance(outcomes[1], IdempotencyConflict)
            assert isinstance(outcomes[3], IdempotencyConflict)
            assert isinstance(outcomes[4], RuntimeError)
            assert isinstance(outcomes[2], list)
            kept = [outcomes[0], *outcomes[2], outcomes[5]]
            assert all(isinstance(e, Entry) for e in kept)
            everything = stored(log)
            assert sorted(everything) == sorted([first.id] + [e.id for e in kept])
            assert [everything[e.id] for e in kept] == kept
            assert log.store.org_ids() == ["acme", "globex", "initech"]
            with sqlite3.connect(tmp_path / "a.db") as raw:
                orgs = {row[0] for row in raw.execute("SELECT org_id FROM activitylog_orgs")}
            raw.close()
            assert orgs == {"acme", "globex", "initech"}
            counts = {org: sum(log.store.categories(org).values()) for org in log.store.org_ids()}
            assert counts == {"acme": 2, "globex": 2, "initech": 1}
            assert_chains_clean(log)

    def test_a_failed_commit_fails_every_call_of_its_group(self, tmp_path: Path) -> None:
        """A COMMIT refused (here by a deferred foreign key one call broke) fails every call
        of the group with StoreError: none of their entries is stored, no code they created
        is cached, and the next writes go on cleanly."""
        with ActivityLog.open(f"sqlite:///{tmp_path / 'a.db'}") as log:
            log.record("lead.created", org_id="acme", actor=ADA)
            store = log.store
            assert isinstance(store, SQLiteStore) and store._conns.writer is not None
            writer_conn = store._conns.writer
            writer_conn.execute("PRAGMA foreign_keys = ON")
            writer_conn.execute("CREATE TEMP TABLE parent (id INTEGER PRIMARY KEY)")
            writer_conn.execute(
                "CREATE TEMP TABLE child (pid INTEGER REFERENCES parent (id) "
                "DEFERRABLE INITIALLY DEFERRED)"
            )
            group = group_of(log)
            original = group._writer

            def breaking(conn: sqlite3.Connection, batch: list[Entry], *rest: Any) -> Any:
                if any(e.org_id == "doomed" for e in batch):
                    conn.execute("INSERT INTO temp.child VALUES (42)")  # no parent 42
                return original(conn, batch, *rest)

            group._writer = breaking
            calls = [lambda: log.record("lead.created", org_id="acme", actor=ADA)] + [
                lambda o=o: log.record("lead.created", org_id=o, actor=ADA)
                for o in ("doomed", "globex", "acme")
            ]
            with leader_held(log, 3):
                outcomes = run_threads(*calls)
            group._writer = original
            assert isinstance(outcomes[0], Entry)  # the first group, alone
            assert all(isinstance(o, StoreError) for o in outcomes[1:])
            assert "FOREIGN KEY" in str(outcomes[2])
            assert len(stored(log)) == 2
            assert "doomed" not in store._org_codes and "globex" not in store._org_codes
            assert store.org_ids() == ["acme"]
            log.record("lead.created", org_id="globex", actor=ADA)
            assert store.org_ids() == ["acme", "globex"]
            assert_chains_clean(log)


class TestInterrupted:
    """A caller interrupted while it waits leaves the queue; the others go on."""

    def test_an_interrupted_wait_leaves_the_queue(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A queued call whose wait is interrupted (as by Ctrl-C) raises, stores nothing and
        blocks no one: the call queued after it leads the next group."""
        real_lock = threading.Lock

        class InterruptedWait:
            """A wake lock whose blocking wait raises KeyboardInterrupt."""

            def __init__(self) -> None:
                self.inner = real_lock()
                self.calls = 0

            def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
                self.calls += 1
                if self.calls == 2:
                    raise KeyboardInterrupt
                return self.inner.acquire(blocking, timeout)

            def release(self) -> None:
                self.inner.release()

        def lock() -> Any:
            return InterruptedWait() if threading.current_thread().name == "B" else real_lock()

        with ActivityLog.open(f"sqlite:///{tmp_path / 'a.db'}") as log:
            monkeypatch.setattr("activitylog.stores.sqlite.group.threading.Lock", lock)
            outcomes, threads = callers(log)
            with leader_held(log, 1):
                threads["A"].start()
                time.sleep(0.02)
                threads["B"].start()
                threads["B"].join(10)
                threads["C"].start()
                for thread in threads.values():
                    thread.join(10)
            monkeypatch.undo()
            assert isinstance(outcomes["B"], KeyboardInterrupt)
            assert isinstance(outcomes["A"], Entry) and isinstance(outcomes["C"], Entry)
            assert log.store.org_ids() == ["A", "C"]
            log.record("lead.created", org_id="B", actor=ADA)
            assert log.store.org_ids() == ["A", "B", "C"]


class TestBusyTimeout:
    """A call waits in the queue no longer than the store's busy timeout."""

    def test_a_call_queued_too_long_fails_alone(self, tmp_path: Path) -> None:
        """A call still queued after busy_timeout seconds raises StoreError naming it and
        stores nothing; the group it waited behind commits, and later calls write."""
        with ActivityLog.open(f"sqlite:///{tmp_path / 'a.db'}", busy_timeout=0.3) as log:
            group = group_of(log)
            original = group._writer
            release = threading.Event()

            def slow(conn: sqlite3.Connection, *rest: Any) -> list[Entry]:
                release.wait(10)
                return original(conn, *rest)

            group._writer = slow
            outcomes, threads = callers(log)
            threads["A"].start()
            time.sleep(0.05)
            threads["B"].start()  # queued behind A's transaction, which outlasts B's timeout
            threads["B"].join(10)
            release.set()
            threads["A"].join(10)
            group._writer = original
            assert isinstance(outcomes["B"], StoreError)
            assert "busy_timeout" in str(outcomes["B"])
            assert isinstance(outcomes["A"], Entry)
            assert group._queue == [] and not group._writing
            assert log.store.org_ids() == ["A"]
            log.record("lead.created", org_id="B", actor=ADA)
            assert log.store.org_ids() == ["A", "B"]


class TestInterruptedLeader:
    """A leader interrupted (as by Ctrl-C) wakes every call of its group with its outcome."""

    def test_an_interrupt_after_the_commit_keeps_the_others_results(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Calls whose transaction committed get their entries even when the leader's thread
        is interrupted after the COMMIT (here while it caches the new codes); only the
        leader's thread raises."""
        with ActivityLog.open(f"sqlite:///{tmp_path / 'a.db'}") as log:
            group = group_of(log)
            real_merge = group._merge
            interrupted: list[bool] = []

            def merge_interrupted(*codes: Any) -> None:
                if threading.current_thread().name == "B" and not interrupted:
                    interrupted.append(True)
                    raise KeyboardInterrupt
                real_merge(*codes)

            monkeypatch.setattr(group, "_merge", merge_interrupted)
            outcomes = self.three_calls(log)
            monkeypatch.undo()
            assert interrupted
            assert isinstance(outcomes["B"], KeyboardInterrupt)
            assert isinstance(outcomes["A"], Entry) and isinstance(outcomes["C"], Entry)
            assert sorted(log.store.org_ids()) == ["A", "B", "C"]  # B's entry was committed
            assert_chains_clean(log)

    def test_an_interrupt_before_writing_fails_the_group_and_frees_the_queue(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A leader interrupted before writing its group: each of its calls raises
        StoreError (nothing of theirs stored) instead of waiting forever, and the store
        writes again afterwards."""
        with ActivityLog.open(f"sqlite:///{tmp_path / 'a.db'}") as log:
            group = group_of(log)
            real_write = group._write

            def interrupted(calls: list[Any]) -> None:
                if threading.current_thread().name == "B":
                    raise KeyboardInterrupt
                real_write(calls)

            monkeypatch.setattr(group, "_write", interrupted)
            outcomes = self.three_calls(log)
            monkeypatch.undo()
            assert isinstance(outcomes["B"], KeyboardInterrupt)
            assert isinstance(outcomes["C"], StoreError)
            assert log.store.org_ids() == ["A"]
            assert group._queue == [] and not group._writing
            log.record("lead.created", org_id="C", actor=ADA)
            assert log.store.org_ids() == ["A", "C"]

    @staticmethod
    def three_calls(log: ActivityLog) -> dict[str, object]:
        """A leads the first group; B (the next leader) and C queue behind it together."""
        outcomes, threads = callers(log)
        with leader_held(log, 2):
            threads["A"].start()
            time.sleep(0.02)
            threads["B"].start()
            time.sleep(0.02)
            threads["C"].start()
            for thread in threads.values():
                thread.join(10)
        assert not any(thread.is_alive() for thread in threads.values())
        return outcomes


class TestProperty:
    """Random mixes of calls from many threads, some made to fail."""

    @pytest.mark.parametrize("seed", [1, 2, 3])
    @pytest.mark.parametrize("synchronous", ["NORMAL", "FULL"])
    def test_returned_calls_are_stored_and_failed_ones_are_not(
        self, tmp_path: Path, seed: int, synchronous: str
    ) -> None:
        """Every call that returned has exactly its entries stored, as returned; every call
        that raised has none; chains are gapless and verify clean; groups did form."""
        rng = random.Random(seed)
        path = tmp_path / "p.db"
        with ActivityLog.open(f"sqlite:///{path}?synchronous={synchronous}") as log:
            for org in ORGS:
                log.record("lead.created", org_id=org, actor=ADA, idempotency_key="taken")
            seen = commits(log)
            plans = [[rng.random() for _ in range(25)] for _ in range(8)]
            returned: dict[str, list[Entry]] = {}
            raised: dict[str, BaseException] = {}
            lock = threading.Lock()

            def fields(marker: str, i: int, r: float) -> dict[str, Any]:
                org = ORGS[int(r * 1000) % 3]
                one: dict[str, Any] = {
                    "action": "lead.created",
                    "org_id": org,
                    "actor": ADA,
                    "metadata": {"call": marker, "i": i},
                }
                if i == 0 and r < 0.2:  # the key exists for another action: refused
                    one.update(action="member.invited", idempotency_key="taken")
                elif r > 0.9:  # a retry of the pre-stored entry: returns it, stores nothing
                    one.update(idempotency_key="taken", metadata=None)
                return one

            def work(t: int) -> None:
                for n, r in enumerate(plans[t]):
                    marker = f"{t}-{n}"
                    k = 1 if r < 0.6 else 2 + int(r * 10) % 3
                    items = [
                        fields(marker, i, rng_r)
                        for i, rng_r in enumerate([r] + [(r * 7.3 + i) % 1 for i in range(1, k)])
                    ]
                    try:
                        if k == 1:
                            action = items[0].pop("action")
                            out = [log.record(action, **items[0])]
                        else:
                            out = log.record_many(items)
                    except (IdempotencyConflict, StoreError) as exc:
                        with lock:
                            raised[marker] = exc
                    else:
                        with lock:
                            returned[marker] = out

            with leader_held(log, 4):
                run_threads(*(lambda t=t: work(t) for t in range(8)))
            assert len(returned) + len(raised) == 8 * 25
            assert all(isinstance(e, IdempotencyConflict) for e in raised.values())
            assert raised and returned
            everything = stored(log)
            by_marker: dict[str, list[Entry]] = {}
            for entry in everything.values():
                marker = (entry.metadata or {}).get("call")
                if marker is not None:
                    by_marker.setdefault(marker, []).append(entry)
            assert set(by_marker) <= set(returned)
            for marker, out in returned.items():
                new = [e for e in out if (e.metadata or {}).get("call") == marker]
                assert sorted(e.id for e in by_marker.get(marker, [])) == sorted(e.id for e in new)
                for entry in out:
                    assert everything[entry.id] == entry
            assert seen.count("COMMIT") < len(returned) + len(raised)
            assert_chains_clean(log)


CHILD = textwrap.dedent(
    """
    import sys, threading
    from activitylog import ActivityLog, Actor
    ADA = Actor("u1", "Ada Lovelace")
    log = ActivityLog.open(f"sqlite:///{sys.argv[1]}?synchronous={sys.argv[2]}")
    out = threading.Lock()

    def work(t):
        n = 0
        while True:
            n += 1
            marker = f"{t}-{n}"
            org = ("acme", "globex", "initech")[(t + n) % 3]
            k = 1 if n % 3 else 4
            items = [{"action": "lead.created", "org_id": org, "actor": ADA,
                      "metadata": {"call": marker, "k": k}} for _ in range(k)]
            if k == 1:
                entries = [log.record(**items[0])]
            else:
                entries = log.record_many(items)
            with out:
                sys.stdout.write(" ".join(e.id for e in entries) + "\\n")
                sys.stdout.flush()

    for t in range(8):
        threading.Thread(target=work, args=(t,), daemon=True).start()
    threading.Event().wait()
    """
)


class TestKilled:
    """A process killed in the middle of groups loses no returned entry and no half group."""

    @pytest.mark.parametrize("synchronous", ["NORMAL", "FULL"])
    def test_sigkill_keeps_every_returned_entry_and_no_partial_call(
        self, tmp_path: Path, synchronous: str
    ) -> None:
        """Every id printed after its call returned is stored; each record_many is all or
        nothing; every chain verifies clean."""
        path = tmp_path / "k.db"
        ActivityLog.open(f"sqlite:///{path}").close()  # created before the child writes
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), synchronous],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert child.stdout is not None
        printed: list[str] = []
        guard = threading.Timer(60, child.kill)  # a hung child fails the test, not the run
        guard.start()
        try:
            while len(printed) < 300:
                line = child.stdout.readline()
                if not line:
                    break
                printed.extend(line.split())
        finally:
            guard.cancel()
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            child.stdout.close()
        assert len(printed) >= 300, "the child stopped writing before it was killed"
        with ActivityLog.open(f"sqlite:///{path}") as log:
            everything = stored(log)
            missing = [i for i in printed if i not in everything]
            assert not missing
            calls: dict[str, list[Entry]] = {}
            for entry in everything.values():
                assert entry.metadata is not None
                calls.setdefault(entry.metadata["call"], []).append(entry)
            for marker, entries in calls.items():
                assert len(entries) == entries[0].metadata["k"], marker
            assert_chains_clean(log)
