"""A small CRM-style service wired to the Activity Log, and the demo that fills a database with it.

The service (:class:`Crm`, in :mod:`.service` over the in-memory data of :mod:`.records`) is what
a host application writes: plain service functions decorated with ``@log.records(...)``, called
inside ``log.context(...)`` by the dashboard (a signed-in user) or the REST API (a user's API
key). Its data lives in memory; only the Activity Log is stored.

:func:`populate` simulates ninety days of a few organizations (:mod:`.cast`) using that service
— Owners, Admins and Members in the dashboard, integrations calling the REST API, and the AI
pipeline processing uploaded files — with a clock that moves through those days, so the entries
span them (:mod:`.simulation`; what people do is in the ``ops_*`` modules). The same seed always
produces the same activity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

from ..log import ActivityLog
from . import ops_content, ops_org, ops_records
from .cast import DAYS, MAIN_ORG, MAIN_VIEWER, ORGS, DemoOrg, Person
from .ops_content import PIPELINE
from .records import Bulk, Changed, Collection, Data, Record
from .service import (
    ApiKeys,
    Clients,
    Crm,
    Events,
    Files,
    Leads,
    Meetings,
    Members,
    Notes,
    Organization,
    Subscription,
    Tasks,
    Timesheets,
)
from .simulation import Clock, OpSpec, Simulation

#: Every operation the simulation picks from, in a fixed order (the same seed gives the same
#: activity only if the order never changes).
OPERATIONS: tuple[OpSpec, ...] = (
    *ops_records.OPERATIONS,
    *ops_content.OPERATIONS,
    *ops_org.OPERATIONS,
)


def populate(
    log: ActivityLog,
    *,
    seed: int = 7,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Record ``DAYS`` days of demo activity ending at ``now``; return how many entries.

    ``log`` should be empty. Everything is written in one batch (one transaction). The same
    ``seed`` and ``now`` always produce the same entries (ids and hashes aside, which carry a
    random part). ``progress(day, DAYS)`` is called as the simulation moves through the days.
    The log's clock is restored afterwards.
    """
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    saved = log.clock
    clock = Clock(now - timedelta(days=DAYS))
    log.clock = clock
    try:
        with log.batch() as batch:
            Simulation(log, clock, seed, now, OPERATIONS).run(progress)
    finally:
        log.clock = saved
    return len(batch.entries)


def demo_org_ids() -> list[str]:
    """The ids of the demo organizations, sorted."""
    return sorted(org.id for org in ORGS)


def iter_people() -> Iterator[tuple[DemoOrg, Person]]:
    """Every demo organization's people."""
    for org in ORGS:
        for person in org.people:
            yield org, person


__all__ = [
    "DAYS", "MAIN_ORG", "MAIN_VIEWER", "OPERATIONS", "ORGS", "PIPELINE", "ApiKeys", "Bulk",
    "Changed", "Clients", "Collection", "Crm", "Data", "DemoOrg", "Events", "Files", "Leads",
    "Meetings", "Members", "Notes", "Organization", "Person", "Record", "Subscription", "Tasks",
    "Timesheets", "demo_org_ids", "iter_people", "populate",
]
