"""The background jobs' tests: ``python -m unittest test_jobs``."""

from __future__ import annotations

import unittest

from celery.contrib.testing.worker import start_worker
from jobs import app, import_leads, log, nightly_cleanup

from activitylog import Actor, ApiKeyRef, Source
from activitylog.integrations._http import RequestDetails, bound_details

ADA = Actor("1", "Ada Lovelace")


class JobTests(unittest.TestCase):
    """The same job run by a worker and eagerly, attributed to whoever queued it."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.worker = start_worker(app, perform_ping_check=False, pool="solo")
        cls.worker.__enter__()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.worker.__exit__(None, None, None)

    def test_a_worker_records_as_the_api_request_that_queued_the_job(self) -> None:
        """Org, actor, API key and request id cross the broker."""
        key = ApiKeyRef("key_1", "Zapier sync")
        with log.context(org_id="w", actor=ADA, api_key=key), \
                bound_details(RequestDetails("req-9", "192.0.2.4", "zapier")):
            ids = import_leads.delay(["Initech", "Globex"]).get(timeout=10, interval=0.02)
        entries = list(log.store.chain("w"))
        self.assertEqual([e.id for e in entries], ids)
        self.assertEqual({(e.actor, e.api_key, e.source) for e in entries},
                         {(ADA, key, Source.API)})
        self.assertEqual(entries[0].metadata["request"]["id"], "req-9")

    def test_a_job_queued_by_nobody_uses_its_system_actor(self) -> None:
        """No context travels; the job's own context applies."""
        nightly_cleanup.delay("n", ["a"]).get(timeout=10, interval=0.02)
        [entry] = log.store.chain("n")
        self.assertEqual((entry.actor.name, entry.source), ("Nightly cleanup", Source.SYSTEM))

    def test_an_eager_run_keeps_the_callers_context(self) -> None:
        """apply() sends no message: the task runs in the caller's context."""
        with log.context(org_id="e", actor=ADA):
            import_leads.apply(args=(["Hooli"],)).get()
        [entry] = log.store.chain("e")
        self.assertEqual((entry.actor, entry.source), (ADA, Source.DASHBOARD))


if __name__ == "__main__":
    unittest.main()
