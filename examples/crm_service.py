"""A CRM service wired to the Activity Log: one request from the dashboard, one through the
REST API, and the AI pipeline finishing its work — then the log as the Owner sees it.

The service itself lives in the package (``activitylog/demo.py``) so that ``activitylog demo``
works from any installation; this script imports it rather than copying it. Its shape is what a
host writes: each service function is decorated with ``@log.records(...)``, e.g.::

    @log.records("lead.status_changed", target=_target, changes=_changes)
    def change_status(lead_id: str, status: str) -> Changed:
        return data.update(lead_id, status=status)

and every call runs inside ``log.context(...)``, which names the organization, the person, and
the API key when the call came through the REST API.

Run it:  python examples/crm_service.py [sqlite:///crm.db]   (default: in memory)
"""

from __future__ import annotations

import sys

from activitylog import ActivityLog, Actor, ApiKeyRef, Role, Viewer
from activitylog.demo import (
    PIPELINE,
    ApiKeys,
    Bulk,
    Changed,
    Clients,
    Collection,
    Crm,
    Data,
    Events,
    Files,
    Leads,
    Meetings,
    Members,
    Notes,
    Organization,
    Record,
    Subscription,
    Tasks,
    Timesheets,
)

__all__ = [
    "PIPELINE", "ApiKeys", "Bulk", "Changed", "Clients", "Collection", "Crm", "Data", "Events",
    "Files", "Leads", "Meetings", "Members", "Notes", "Organization", "Record", "Subscription",
    "Tasks", "Timesheets", "main",
]


def main(url: str = "memory://") -> list[str]:
    """Run a few requests against the service and return the log's lines, newest first."""
    log = ActivityLog.open(url)
    crm = Crm(log, "acme", "Acme Corp")
    marcus = Actor("u-marcus", "Marcus Chen")  # an Admin of Acme Corp

    # A dashboard request: the session says who is acting, for which organization.
    with log.context(org_id="acme", actor=marcus):
        lead = crm.leads.create("Grace Hopper", company="Navy Labs", status="New")
        crm.leads.change_status(lead.id, "Contacted")
        crm.leads.update(lead.id, company="Navy Labs")  # nothing changed: not logged
        key = crm.api_keys.create("Zapier integration", owner=marcus.name)
        upload = crm.files.create("contract-navy-labs.pdf", size=120_000)

    # A REST API request made with Marcus's key: recorded the same way, noting the key.
    with log.context(org_id="acme", actor=marcus, api_key=ApiKeyRef(key.id, key.name)):
        crm.tasks.create("Send proposal to Navy Labs", status="Pending")

    # The AI pipeline, a system actor, processes the upload in the background.
    with log.context(org_id="acme", actor=PIPELINE):
        crm.files.embedding_completed(upload.id, chunks=12)

    # Only Owners and Admins may read the log; Olivia is the Owner.
    owner = Viewer("u-olivia", "acme", Role.OWNER)
    lines = [
        f"{e.label:<25} {e.color:<5} {e.source.value:<9} {e.description}"
        for e in log.query("acme", viewer=owner).page(20)
    ]
    lines.append(f"integrity: {'intact' if log.verify('acme').ok else 'BROKEN'}")
    log.close()
    return lines


if __name__ == "__main__":
    for line in main(*sys.argv[1:2]):
        print(line)
