"""Background jobs that keep the context of the request that queued them.

A CRM's "import leads" button queues a Celery task. With ``connect(log)`` in both the web
process and the worker, the entries the task records carry the org, the actor, the source,
the API key and the request id of the request that pressed the button.

``python jobs.py`` runs one job through a real worker on an in-memory broker and prints the
entries. Tests: ``python -m unittest test_jobs`` in this folder.
"""

from __future__ import annotations

from celery import Celery

from activitylog import ActivityLog, Actor, Target
from activitylog.integrations.celery import connect

log = ActivityLog()
connect(log)

app = Celery("crm_jobs", broker="memory://", backend="cache+memory://")
app.conf.update(broker_connection_retry_on_startup=False, worker_hijack_root_logger=False,
                broker_transport_options={"polling_interval": 0.02})


@app.task(name="crm.import_leads")
def import_leads(names: list[str]) -> list[str]:
    """Create one lead per name, as the person who queued the import."""
    return [
        log.record("lead.created", target=Target("lead", f"imported-{i}", name),
                   metadata={"via": "csv import"}).id
        for i, name in enumerate(names, 1)
    ]


@app.task(name="crm.nightly_cleanup")
def nightly_cleanup(org_id: str, lead_ids: list[str]) -> str:
    """A scheduled job queued by nobody: it names its own system actor."""
    with log.context(org_id=org_id, actor=Actor.system("Nightly cleanup")):
        return log.record("lead.bulk_deleted", metadata={"ids": lead_ids}).id


def main() -> None:
    """Queue an import as Ada and let a real worker run it."""
    from celery.contrib.testing.worker import start_worker

    with start_worker(app, perform_ping_check=False, pool="solo"):
        with log.context(org_id="acme", actor=Actor("1", "Ada Lovelace")):
            import_leads.delay(["Initech", "Globex"]).get(timeout=10, interval=0.02)
        nightly_cleanup.delay("acme", ["old-1"]).get(timeout=10, interval=0.02)
    for entry in log.store.chain("acme"):
        print(f"{entry.source.value:9} {entry.description}")


if __name__ == "__main__":
    main()
