"""Celery: the context crosses a real in-memory broker to a real worker, and eager runs keep
the caller's context."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

celery = pytest.importorskip("celery")

from celery.contrib.testing.worker import start_worker

from activitylog import ActivityLog, Actor, ApiKeyRef, Entry, InvalidEntry, Source
from activitylog.context import ambient
from activitylog.integrations import celery as integration
from activitylog.integrations._http import RequestDetails, bound_details

ADA = Actor("1", "Ada Lovelace")
KEY = ApiKeyRef("k1", "Zapier sync")
_apps = itertools.count()
DETAILS = RequestDetails("req-7", "203.0.113.1", "zapier/2")


@pytest.fixture(scope="module")
def log() -> Iterator[ActivityLog]:
    """A log the tasks record into, connected to Celery's signals for this module."""
    log = ActivityLog()
    integration.connect(log)
    yield log
    integration.disconnect()


def make_app(log: ActivityLog, *, eager: bool = False) -> tuple[Any, Any, list[Any]]:
    """A Celery app on the in-memory broker with a recording task and a context probe."""
    app = celery.Celery("crm", broker="memory://", backend="cache+memory://")
    app.conf.update(task_always_eager=eager, broker_connection_retry_on_startup=False,
                    broker_transport_options={"polling_interval": 0.02},
                    worker_hijack_root_logger=False)
    seen: list[Any] = []
    suffix = next(_apps)

    @app.task(name=f"crm.import_leads.{suffix}")
    def import_leads(org: str, count: int) -> str:
        entry = log.record("lead.bulk_deleted", metadata={"count": count})
        assert entry.org_id == org
        return entry.id

    @app.task(name=f"crm.probe.{suffix}")
    def probe() -> None:
        seen.append(ambient())

    return import_leads, probe, seen


@pytest.fixture(scope="module")
def worker(log: ActivityLog) -> Iterator[tuple[Any, Any, list[Any]]]:
    """One real worker thread (stopping one takes seconds) shared by this module's tests."""
    task, probe, seen = make_app(log)
    with start_worker(task.app, perform_ping_check=False, pool="solo"):
        yield task, probe, seen


def only_entry(log: ActivityLog, org: str) -> Entry:
    """The one entry of ``org``."""
    [entry] = log.store.chain(org)
    return entry


class TestRealWorker:
    def test_the_senders_context_reaches_the_worker(self, log: ActivityLog,
                                                     worker: Any) -> None:
        """Org, actor, API key, source and request id recorded in the worker are the sender's."""
        task, _, _ = worker
        with log.context(org_id="w1", actor=ADA, api_key=KEY), bound_details(DETAILS):
            result = task.delay("w1", 3)
        assert result.get(timeout=10, interval=0.02) == only_entry(log, "w1").id
        entry = only_entry(log, "w1")
        assert (entry.actor, entry.api_key, entry.source) == (ADA, KEY, Source.API)
        assert entry.metadata["request"] == {"id": "req-7", "ip": "203.0.113.1",
                                             "user_agent": "zapier/2"}

    def test_the_worker_resets_the_context_after_each_task(self, log: ActivityLog,
                                                            worker: Any) -> None:
        """A task sent without a context does not see the previous task's."""
        _, probe, seen = worker
        seen.clear()
        with log.context(org_id="w2", actor=ADA):
            probe.delay().get(timeout=10, interval=0.02)
        probe.delay().get(timeout=10, interval=0.02)
        assert seen[0][:2] == ("w2", ADA)
        assert seen[1] == (None, None, None, None)


class TestEager:
    def test_an_eager_task_runs_in_the_callers_context(self, log: ActivityLog) -> None:
        """No publish signal: the worker side leaves the caller's context as it is."""
        task, _, _ = make_app(log, eager=True)
        with log.context(org_id="acme", actor=ADA, api_key=KEY):
            task.delay("acme", 2).get()
            assert ambient()[:2] == ("acme", ADA)  # not reset by task_postrun
        entry = only_entry(log, "acme")
        assert (entry.actor, entry.api_key) == (ADA, KEY)


class TestHeader:
    def test_round_trip(self) -> None:
        """to_header / from_header restore the same snapshot and details."""
        from activitylog.context import Snapshot

        snap = Snapshot("acme", Actor.system("Nightly import"), "system", None)
        assert integration.from_header(integration.to_header(snap, DETAILS)) == (snap, DETAILS)

    def test_nothing_to_carry_sends_no_header(self) -> None:
        """An empty context adds no header."""
        from activitylog.context import Snapshot

        assert integration.to_header(Snapshot(), None) is None

    @pytest.mark.parametrize("header", ["x", {"actor": {"id": "1"}}, {"source": "fax"}])
    def test_a_malformed_header_is_refused_clearly(self, header: Any) -> None:
        """A tampered header raises InvalidEntry rather than binding garbage."""
        with pytest.raises(InvalidEntry, match="task header"):
            integration.from_header(header)
