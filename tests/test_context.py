"""The ambient recording context: nesting, isolation, snapshots carried into workers."""

from __future__ import annotations

import asyncio
import pickle
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import pytest

import activitylog
from activitylog import ActivityLog, Actor, ApiKeyRef, InvalidEntry, Snapshot, Source
from activitylog import context as ctx

NOW = datetime(2024, 5, 15, 12, 0, tzinfo=timezone.utc)
ADA = Actor("u1", "Ada Lovelace")
GRACE = Actor("u2", "Grace Hopper")
KEY = ApiKeyRef("k1", "Zapier integration")
EMPTY = Snapshot()


@pytest.fixture
def log() -> ActivityLog:
    """A memory-backed log whose clock always reads NOW."""
    return ActivityLog(clock=lambda: NOW)


class TestNesting:
    """Nested contexts override only what they name and restore exactly."""

    def test_empty_outside(self) -> None:
        """Outside any block the context is empty."""
        assert activitylog.capture() == EMPTY

    def test_block_sets_and_restores(self, log: ActivityLog) -> None:
        """A block sets its fields and the previous values come back after it."""
        with log.context(org_id="acme", actor=ADA) as snap:
            assert snap == Snapshot("acme", ADA, None, None) == activitylog.capture()
        assert activitylog.capture() == EMPTY

    def test_inner_overrides_only_named_fields(self, log: ActivityLog) -> None:
        """An inner block changes what it names and keeps the rest."""
        with log.context(org_id="acme", actor=ADA, source="dashboard"):
            with log.context(actor=GRACE):
                assert activitylog.capture() == Snapshot("acme", GRACE, Source.DASHBOARD)
                with log.context(org_id="globex"):
                    assert activitylog.capture() == Snapshot("globex", GRACE, Source.DASHBOARD)
                assert activitylog.capture() == Snapshot("acme", GRACE, Source.DASHBOARD)
            assert activitylog.capture() == Snapshot("acme", ADA, Source.DASHBOARD)
        assert activitylog.capture() == EMPTY

    def test_restored_after_exception(self, log: ActivityLog) -> None:
        """An exception leaving a block still restores the outer context."""
        with log.context(org_id="acme", actor=ADA):
            with pytest.raises(RuntimeError), log.context(actor=GRACE, org_id="globex"):
                raise RuntimeError
            assert activitylog.capture() == Snapshot("acme", ADA)

    def test_records_use_innermost(self, log: ActivityLog) -> None:
        """Entries recorded in nested blocks take the innermost values."""
        with log.context(org_id="acme", actor=ADA):
            outer = log.record("lead.created")
            with log.context(actor=GRACE):
                inner = log.record("lead.created")
        assert [(e.org_id, e.actor.name) for e in (outer, inner)] == [
            ("acme", "Ada Lovelace"), ("acme", "Grace Hopper"),
        ]

    def test_module_level_bound(self) -> None:
        """``activitylog.context.bound`` is the same context as ``log.context``."""
        with ctx.bound(org_id="acme"):
            assert ctx.current() == Snapshot("acme")


class TestApiKey:
    """An API key implies the api source."""

    def test_implies_api(self, log: ActivityLog) -> None:
        """Setting an API key without a source sets source api."""
        with log.context(api_key=KEY):
            assert activitylog.capture() == Snapshot(None, None, Source.API, KEY)

    def test_explicit_api_source_kept(self, log: ActivityLog) -> None:
        """An explicit api source with an API key is kept."""
        with log.context(api_key=KEY, source="api"):
            assert activitylog.capture().source is Source.API

    @pytest.mark.parametrize("source", ["system", "dashboard"])
    def test_key_with_another_source_is_refused(self, log: ActivityLog, source: str) -> None:
        """An API key with a source other than api raises InvalidEntry, in a context, a
        snapshot and record()."""
        with pytest.raises(InvalidEntry, match="source 'api'"), log.context(
            api_key=KEY, source=source
        ):
            pass  # pragma: no cover
        with pytest.raises(InvalidEntry, match="source 'api'"):
            Snapshot(source=source, api_key=KEY)
        with pytest.raises(InvalidEntry, match="source 'api'"):
            log.record("lead.created", org_id="acme", actor=ADA, api_key=KEY, source=source)

    def test_none_clears_an_inherited_key(self, log: ActivityLog) -> None:
        """A nested ``context(api_key=None)`` clears the key; the outer one comes back after."""
        with log.context(org_id="acme", actor=ADA, api_key=KEY):
            with log.context(api_key=None, source="dashboard"):
                assert activitylog.capture().api_key is None
                entry = log.record("lead.created")
            with log.context(api_key=None):
                assert activitylog.capture().api_key is None
            assert activitylog.capture().api_key == KEY
        assert (entry.source, entry.api_key) == (Source.DASHBOARD, None)

    def test_another_source_clears_an_inherited_key(self, log: ActivityLog) -> None:
        """A nested system context (a job started by an API call) records without the key."""
        with log.context(org_id="acme", actor=ADA, api_key=KEY):
            with log.context(source="system"):
                entry = log.record("lead.created")
            explicit = log.record("lead.updated", source="system")
        assert (entry.source, entry.api_key) == (Source.SYSTEM, None)
        assert (explicit.source, explicit.api_key) == (Source.SYSTEM, None)

    def test_recorded_as_api(self, log: ActivityLog) -> None:
        """A request made with an API key is recorded with the key and source api."""
        with log.context(org_id="acme", actor=ADA, api_key=KEY):
            entry = log.record("lead.created")
        assert (entry.source, entry.api_key) == (Source.API, KEY)


class TestValidation:
    """Bad context values fail when the block is entered."""

    @pytest.mark.parametrize("org_id", ["", "  ", 42])
    def test_bad_org(self, log: ActivityLog, org_id: Any) -> None:
        """An empty or non-string org raises InvalidEntry."""
        with pytest.raises(InvalidEntry), log.context(org_id=org_id):
            pass  # pragma: no cover

    def test_bad_source(self, log: ActivityLog) -> None:
        """An unknown source raises InvalidEntry listing the choices."""
        with pytest.raises(InvalidEntry, match="dashboard, api, system"), log.context(
            source="email"
        ):
            pass  # pragma: no cover

    @pytest.mark.parametrize("field", ["actor", "api_key"])
    def test_wrong_type(self, log: ActivityLog, field: str) -> None:
        """An actor or API key of the wrong type raises InvalidEntry naming the field."""
        with pytest.raises(InvalidEntry, match=field), log.context(**{field: "u1"}):
            pass  # pragma: no cover
        with pytest.raises(InvalidEntry, match=field):
            Snapshot(**{field: "u1"})  # type: ignore[arg-type]

    def test_nothing_set_after_failure(self, log: ActivityLog) -> None:
        """A block refused on entry leaves the context untouched."""
        with pytest.raises(InvalidEntry), log.context(actor=ADA, source="email"):
            pass  # pragma: no cover
        assert activitylog.capture() == EMPTY


class TestIsolation:
    """Threads and asyncio tasks never see each other's context."""

    def test_threads(self, log: ActivityLog) -> None:
        """A thread's context is its own: others see neither its values nor the parent's."""
        seen: dict[str, Snapshot] = {}
        barrier = threading.Barrier(2, timeout=30)

        def work(name: str, actor: Actor) -> None:
            with log.context(org_id=name, actor=actor):
                barrier.wait()
                seen[name] = activitylog.capture()
                barrier.wait()

        with log.context(org_id="parent"):
            threads = [threading.Thread(target=work, args=("a", ADA)),
                       threading.Thread(target=work, args=("b", GRACE))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert activitylog.capture() == Snapshot("parent")
        assert seen == {"a": Snapshot("a", ADA), "b": Snapshot("b", GRACE)}

    def test_plain_thread_starts_empty(self, log: ActivityLog) -> None:
        """A thread started inside a block does not inherit it (use a snapshot for that)."""
        seen: list[Snapshot] = []
        with log.context(org_id="acme", actor=ADA):
            thread = threading.Thread(target=lambda: seen.append(activitylog.capture()))
            thread.start()
            thread.join()
        assert seen == [EMPTY]

    def test_asyncio_tasks(self, log: ActivityLog) -> None:
        """Concurrent tasks keep their own values across awaits; the parent is unaffected."""

        async def handle(org: str, actor: Actor, gate: asyncio.Event) -> Snapshot:
            with log.context(org_id=org, actor=actor):
                await gate.wait()
                log.record("lead.created")
                return activitylog.capture()

        async def main() -> tuple[list[Snapshot], Snapshot]:
            gate = asyncio.Event()
            with log.context(org_id="parent"):
                tasks = [asyncio.create_task(handle("a", ADA, gate)),
                         asyncio.create_task(handle("b", GRACE, gate))]
                await asyncio.sleep(0)
                gate.set()
                results = list(await asyncio.gather(*tasks))
                return results, activitylog.capture()

        results, parent = asyncio.run(main())
        assert (results, parent) == ([Snapshot("a", ADA), Snapshot("b", GRACE)],
                                     Snapshot("parent"))
        assert [e.actor for e in log.store.chain("a")] == [ADA]
        assert [e.actor for e in log.store.chain("b")] == [GRACE]


class TestSnapshot:
    """``activitylog.capture()`` carries the context into workers."""

    def test_capture(self, log: ActivityLog) -> None:
        """A snapshot holds the context's four fields."""
        with log.context(org_id="acme", actor=ADA, api_key=KEY):
            snap = activitylog.capture()
        assert (snap.org_id, snap.actor, snap.source, snap.api_key) == ("acme", ADA, Source.API,
                                                                         KEY)

    def test_wrap_in_thread_pool(self, log: ActivityLog) -> None:
        """``snap.wrap(fn)`` run in a pool attributes entries to the requester."""

        def job(lead_id: str) -> str:
            return log.record("lead.deleted", metadata={"lead": lead_id}).id

        with log.context(org_id="acme", actor=ADA, api_key=KEY):
            snap = activitylog.capture()
        with ThreadPoolExecutor(max_workers=2) as pool:
            ids = list(pool.map(snap.wrap(job), ["1", "2", "3"]))
        entries = {e.id: e for e in log.store.chain("acme")}
        assert [(entries[i].actor, entries[i].api_key, entries[i].source) for i in ids] == [
            (ADA, KEY, Source.API)] * 3

    def test_with_snapshot_in_worker(self, log: ActivityLog) -> None:
        """``with snap:`` inside a worker sets the captured context for the block only."""

        def job(snap: Snapshot) -> tuple[str, Snapshot]:
            with snap:
                entry = log.record("lead.created")
            return entry.actor.name, activitylog.capture()

        with log.context(org_id="acme", actor=GRACE):
            snap = activitylog.capture()
            with ThreadPoolExecutor(max_workers=1) as pool:
                name, after = pool.submit(job, snap).result()
        assert (name, after) == ("Grace Hopper", EMPTY)

    def test_run(self, log: ActivityLog) -> None:
        """``snap.run(fn, *args)`` calls fn inside the snapshot and returns its result."""
        snap = Snapshot("acme", ADA)
        entry = snap.run(log.record, "lead.created", metadata={"n": 1})
        assert (entry.org_id, entry.actor, activitylog.capture()) == ("acme", ADA, EMPTY)

    def test_snapshot_replaces_whole_context(self, log: ActivityLog) -> None:
        """Entering a snapshot sets all four fields, clearing ones the snapshot lacks."""
        with log.context(org_id="acme", actor=ADA, api_key=KEY), Snapshot("globex"):
            assert activitylog.capture() == Snapshot("globex")

    def test_nested_snapshots_restore(self, log: ActivityLog) -> None:
        """Nested snapshots, even the same one twice, restore in order."""
        a, b = Snapshot("a", ADA), Snapshot("b", GRACE)
        with a:
            with b:
                with a:
                    assert activitylog.capture() == a
                assert activitylog.capture() == b
            assert activitylog.capture() == a
        assert activitylog.capture() == EMPTY

    def test_wrap_preserves_metadata(self) -> None:
        """A wrapped function keeps its name and docstring."""

        def job() -> None:
            """Do the work."""

        wrapped = Snapshot("acme").wrap(job)
        assert (wrapped.__name__, wrapped.__doc__) == ("job", "Do the work.")

    def test_source_string_converted(self) -> None:
        """A snapshot built with a source string holds the Source."""
        assert Snapshot("acme", source="api").source is Source.API
        with pytest.raises(InvalidEntry):
            Snapshot("acme", source="email")

    def test_pickles(self) -> None:
        """A snapshot survives pickling, e.g. to be sent to a job queue."""
        snap = Snapshot("acme", ADA, Source.API, KEY)
        assert pickle.loads(pickle.dumps(snap)) == snap
