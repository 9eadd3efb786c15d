"""A small CRM-style service wired to the Activity Log, and the demo that fills a database with it.

The service (:class:`Crm`) is what a host application writes: plain service functions decorated
with ``@log.records(...)``, called inside ``log.context(...)`` by the dashboard (a signed-in user)
or the REST API (a user's API key). Its data lives in memory; only the Activity Log is stored.

:func:`populate` simulates ninety days of a few organizations using that service — Owners,
Admins and Members in the dashboard, integrations calling the REST API, and the AI pipeline
processing uploaded files — with a clock that moves through those days, so the entries span them.
The same seed always produces the same activity.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from .access import Role, Viewer
from .log import ActivityLog, Call
from .models import Actor, ApiKeyRef, Target

# -- the service -------------------------------------------------------------------------------


@attrs.define
class Record:
    """One CRM object (a lead, a task, a file...): its type, id, display name and fields."""

    type: str
    id: str
    name: str
    fields: dict[str, Any] = attrs.field(factory=dict)

    @property
    def target(self) -> Target:
        """How the Activity Log refers to this object."""
        return Target(self.type, self.id, self.name)


@attrs.frozen
class Changed:
    """What an update returns: the record and each changed field as an ``(old, new)`` pair."""

    record: Record
    changes: dict[str, tuple[Any, Any]]


@attrs.frozen
class Bulk:
    """What a bulk operation returns: the ids it touched and the changes it made."""

    ids: list[str]
    changes: dict[str, tuple[Any, Any]] | None = None


def _target(call: Call) -> Target:
    result = call.result
    record = result.record if isinstance(result, Changed) else result
    return record.target


def _changes(call: Call) -> dict[str, tuple[Any, Any]] | None:
    return call.result.changes  # type: ignore[no-any-return]


def _changed_something(call: Call) -> bool:
    return bool(call.result.changes)


def _bulk_ids(call: Call) -> dict[str, Any]:
    return {"ids": list(call.result.ids)}


class Data:
    """The CRM's own tables, kept in memory: records by id, and a counter for new ids."""

    def __init__(self) -> None:
        self.records: dict[str, Record] = {}
        self._ids = itertools.count(1)

    def add(self, type: str, name: str, **fields: Any) -> Record:
        """Create and keep a new record."""
        record = Record(type, f"{type[:3]}_{next(self._ids)}", name, dict(fields))
        self.records[record.id] = record
        return record

    def get(self, record_id: str) -> Record:
        """A record by id; ``KeyError`` when there is none."""
        return self.records[record_id]

    def remove(self, record_id: str) -> Record:
        """Forget a record and return it."""
        return self.records.pop(record_id)

    def update(self, record_id: str, **fields: Any) -> Changed:
        """Set fields (``name`` renames) and return what actually changed."""
        record = self.get(record_id)
        changes: dict[str, tuple[Any, Any]] = {}
        for field, new in fields.items():
            old = record.name if field == "name" else record.fields.get(field)
            if old == new:
                continue
            changes[field] = (old, new)
            if field == "name":
                record.name = new
            else:
                record.fields[field] = new
        return Changed(record, changes)

    def bulk_set(self, record_ids: Sequence[str], field: str, value: Any) -> Bulk:
        """Set one field on many records; the old value is shown when they all shared it."""
        olds = {repr(self.get(i).fields.get(field)) for i in record_ids}
        first = self.get(record_ids[0]).fields.get(field) if record_ids else None
        old = first if len(olds) == 1 else "various"
        for record_id in record_ids:
            self.get(record_id).fields[field] = value
        return Bulk(list(record_ids), {field: (old, value)})

    def of_type(self, type: str) -> list[Record]:
        """Every live record of one type, oldest first."""
        return [r for r in self.records.values() if r.type == type]


class Collection:
    """Create, update, delete and bulk-delete for one record type (``"lead"``, ``"task"``...).

    The action keys follow the catalogue: ``lead.created``, ``lead.updated``...
    """

    def __init__(self, log: ActivityLog, data: Data, type: str) -> None:
        self.data = data
        self.type = type

        @log.records(f"{type}.created", target=_target)
        def create(name: str, **fields: Any) -> Record:
            """Add a new record."""
            return data.add(type, name, **fields)

        @log.records(f"{type}.updated", target=_target, changes=_changes, when=_changed_something)
        def update(record_id: str, **fields: Any) -> Changed:
            """Edit fields; an edit that changes nothing is not logged."""
            return data.update(record_id, **fields)

        @log.records(f"{type}.deleted", target=_target)
        def delete(record_id: str) -> Record:
            """Delete one record."""
            return data.remove(record_id)

        @log.records(f"{type}.bulk_deleted", metadata=_bulk_ids)
        def bulk_delete(record_ids: list[str]) -> Bulk:
            """Delete several records at once."""
            for record_id in record_ids:
                data.remove(record_id)
            return Bulk(list(record_ids))

        self.create = create
        self.update = update
        self.delete = delete
        self.bulk_delete = bulk_delete

    def all(self) -> list[Record]:
        """Every live record of this type."""
        return self.data.of_type(self.type)


class Leads(Collection):
    """Leads: the shared operations plus status, assignment and bulk status."""

    def __init__(self, log: ActivityLog, data: Data) -> None:
        super().__init__(log, data, "lead")

        @log.records("lead.status_changed", target=_target, changes=_changes)
        def change_status(lead_id: str, status: str) -> Changed:
            """Move a lead along the pipeline (New → Contacted → Qualified...)."""
            return data.update(lead_id, status=status)

        @log.records("lead.assigned", target=_target, changes=_changes)
        def assign(lead_id: str, assignee: str) -> Changed:
            """Give a lead to a team member."""
            return data.update(lead_id, assignee=assignee)

        @log.records("lead.bulk_status_changed", metadata=_bulk_ids, changes=_changes)
        def bulk_change_status(lead_ids: list[str], status: str) -> Bulk:
            """Set the status of several leads."""
            return data.bulk_set(lead_ids, "status", status)

        self.change_status = change_status
        self.assign = assign
        self.bulk_change_status = bulk_change_status


class Clients(Collection):
    """Clients: the shared operations plus status and bulk status."""

    def __init__(self, log: ActivityLog, data: Data) -> None:
        super().__init__(log, data, "client")

        @log.records("client.status_changed", target=_target, changes=_changes)
        def change_status(client_id: str, status: str) -> Changed:
            """Change a client's status (Active, Paused, Churned)."""
            return data.update(client_id, status=status)

        @log.records("client.bulk_status_changed", metadata=_bulk_ids, changes=_changes)
        def bulk_change_status(client_ids: list[str], status: str) -> Bulk:
            """Set the status of several clients."""
            return data.bulk_set(client_ids, "status", status)

        self.change_status = change_status
        self.bulk_change_status = bulk_change_status


class Tasks(Collection):
    """Tasks: the shared operations plus status and the bulk status/assignee/client changes."""

    def __init__(self, log: ActivityLog, data: Data) -> None:
        super().__init__(log, data, "task")

        @log.records("task.status_changed", target=_target, changes=_changes)
        def change_status(task_id: str, status: str) -> Changed:
            """Change a task's status (Pending, In progress, Completed)."""
            return data.update(task_id, status=status)

        @log.records("task.bulk_status_changed", metadata=_bulk_ids, changes=_changes)
        def bulk_change_status(task_ids: list[str], status: str) -> Bulk:
            """Set the status of several tasks."""
            return data.bulk_set(task_ids, "status", status)

        @log.records("task.bulk_assignee_changed", metadata=_bulk_ids, changes=_changes)
        def bulk_change_assignee(task_ids: list[str], assignee: str) -> Bulk:
            """Give several tasks to one team member."""
            return data.bulk_set(task_ids, "assignee", assignee)

        @log.records("task.bulk_client_changed", metadata=_bulk_ids, changes=_changes)
        def bulk_change_client(task_ids: list[str], client: str) -> Bulk:
            """Move several tasks to another client."""
            return data.bulk_set(task_ids, "client", client)

        self.change_status = change_status
        self.bulk_change_status = bulk_change_status
        self.bulk_change_assignee = bulk_change_assignee
        self.bulk_change_client = bulk_change_client


class Timesheets(Collection):
    """Timesheet entries, and the weekly grid that saves a whole week at once."""

    def __init__(self, log: ActivityLog, data: Data) -> None:
        super().__init__(log, data, "timesheet")

        @log.records(
            "timesheet.week_saved",
            target=lambda call: Target("timesheet_week", call.week, call.week),
            metadata=lambda call: {"count": len(call.result)},
        )
        def save_week(week: str, hours_by_day: Mapping[str, float]) -> list[Record]:
            """Save the weekly grid: one timesheet entry per day with hours."""
            return [
                data.add("timesheet", f"{day} · {hours:g} h", hours=hours, week=week)
                for day, hours in hours_by_day.items()
            ]

        self.save_week = save_week


class Files(Collection):
    """Uploaded files, and their processing by the AI pipeline (parse, embed, summarize)."""

    def __init__(self, log: ActivityLog, data: Data) -> None:
        super().__init__(log, data, "file")

        @log.records("file.embedding_completed", target=_target)
        def embedding_completed(file_id: str, chunks: int) -> Record:
            """The pipeline parsed, embedded and summarized a file."""
            record = data.get(file_id)
            record.fields.update(embedding="ready", chunks=chunks)
            return record

        @log.records(
            "file.embedding_failed",
            target=_target,
            metadata=lambda call: {"error": call.error},
        )
        def embedding_failed(file_id: str, error: str) -> Record:
            """The pipeline could not process a file (the failure is reported, not raised)."""
            record = data.get(file_id)
            record.fields.update(embedding="failed", error=error)
            return record

        @log.records("file.embedding_reprocessed", target=_target)
        def reprocess(file_id: str) -> Record:
            """Queue one file for the pipeline again."""
            record = data.get(file_id)
            record.fields["embedding"] = "queued"
            return record

        @log.records("file.bulk_reprocessed", metadata=_bulk_ids)
        def bulk_reprocess(file_ids: list[str]) -> Bulk:
            """Queue several files for the pipeline again."""
            for file_id in file_ids:
                data.get(file_id).fields["embedding"] = "queued"
            return Bulk(list(file_ids))

        self.embedding_completed = embedding_completed
        self.embedding_failed = embedding_failed
        self.reprocess = reprocess
        self.bulk_reprocess = bulk_reprocess


class Notes(Collection):
    """Notes, their AI reprocessing, and note tags."""

    def __init__(self, log: ActivityLog, data: Data) -> None:
        super().__init__(log, data, "note")

        @log.records("note.reprocessed", target=_target)
        def reprocess(note_id: str) -> Record:
            """Run the AI embedding of a failed note again."""
            record = data.get(note_id)
            record.fields["embedding"] = "queued"
            return record

        @log.records("note.bulk_reprocessed", metadata=_bulk_ids)
        def bulk_reprocess(note_ids: list[str]) -> Bulk:
            """Run the AI embedding of several notes again."""
            for note_id in note_ids:
                data.get(note_id).fields["embedding"] = "queued"
            return Bulk(list(note_ids))

        @log.records("note_tag.created", target=_target)
        def create_tag(name: str) -> Record:
            """Add a tag notes can carry."""
            return data.add("note_tag", name)

        @log.records("note_tag.deleted", target=_target)
        def delete_tag(tag_id: str) -> Record:
            """Remove a tag."""
            return data.remove(tag_id)

        self.reprocess = reprocess
        self.bulk_reprocess = bulk_reprocess
        self.create_tag = create_tag
        self.delete_tag = delete_tag


class Events(Collection):
    """Calendar events: the shared operations plus bulk assignee and client changes."""

    def __init__(self, log: ActivityLog, data: Data) -> None:
        super().__init__(log, data, "event")

        @log.records("event.bulk_assignee_changed", metadata=_bulk_ids, changes=_changes)
        def bulk_change_assignee(event_ids: list[str], assignee: str) -> Bulk:
            """Give several events to one team member."""
            return data.bulk_set(event_ids, "assignee", assignee)

        @log.records("event.bulk_client_changed", metadata=_bulk_ids, changes=_changes)
        def bulk_change_client(event_ids: list[str], client: str) -> Bulk:
            """Move several events to another client."""
            return data.bulk_set(event_ids, "client", client)

        self.bulk_change_assignee = bulk_change_assignee
        self.bulk_change_client = bulk_change_client


class Meetings(Collection):
    """Meetings, which can be canceled, and approved or rejected while pending."""

    def __init__(self, log: ActivityLog, data: Data) -> None:
        super().__init__(log, data, "meeting")

        def decide(meeting_id: str, status: str) -> Record:
            record = data.get(meeting_id)
            record.fields["status"] = status
            return record

        @log.records("meeting.canceled", target=_target)
        def cancel(meeting_id: str) -> Record:
            """Call a meeting off."""
            return decide(meeting_id, "canceled")

        @log.records("meeting.approved", target=_target)
        def approve(meeting_id: str) -> Record:
            """Accept a pending meeting request."""
            return decide(meeting_id, "approved")

        @log.records("meeting.rejected", target=_target)
        def reject(meeting_id: str) -> Record:
            """Turn down a pending meeting request."""
            return decide(meeting_id, "rejected")

        @log.records("meeting.bulk_client_changed", metadata=_bulk_ids, changes=_changes)
        def bulk_change_client(meeting_ids: list[str], client: str) -> Bulk:
            """Move several meetings to another client."""
            return data.bulk_set(meeting_ids, "client", client)

        self.cancel = cancel
        self.approve = approve
        self.reject = reject
        self.bulk_change_client = bulk_change_client

    def pending(self) -> list[Record]:
        """Meetings waiting for approval."""
        return [m for m in self.all() if m.fields.get("status") == "pending"]


class Members:
    """Invitations, joining, removal and roles."""

    def __init__(self, log: ActivityLog, data: Data) -> None:
        self.data = data

        @log.records("member.invited", target=_target, metadata=lambda call: {"role": call.role})
        def invite(email: str, role: str = "Member") -> Record:
            """Send an invitation email."""
            return data.add("invitation", email, role=role)

        @log.records("member.joined", target=_target)
        def join(invitation_id: str, name: str) -> Record:
            """Accept an invitation; the person joining is the actor."""
            invitation = data.remove(invitation_id)
            return data.add("member", name, role=invitation.fields["role"], email=invitation.name)

        @log.records("invitation.cancelled", target=_target)
        def cancel_invitation(invitation_id: str) -> Record:
            """Withdraw an invitation before it is accepted."""
            return data.remove(invitation_id)

        @log.records("member.removed", target=_target)
        def remove(member_id: str) -> Record:
            """Remove someone from the organization."""
            return data.remove(member_id)

        @log.records("member.role_changed", target=_target, changes=_changes)
        def change_role(member_id: str, role: str) -> Changed:
            """Make a Member an Admin, or the reverse."""
            return data.update(member_id, role=role)

        self.invite = invite
        self.join = join
        self.cancel_invitation = cancel_invitation
        self.remove = remove
        self.change_role = change_role

    def invitations(self) -> list[Record]:
        """Invitations not yet accepted or cancelled."""
        return self.data.of_type("invitation")

    def all(self) -> list[Record]:
        """Current members (those who joined by invitation)."""
        return self.data.of_type("member")


class Organization:
    """The organization's settings (name, logo) and its deletion."""

    def __init__(self, log: ActivityLog, org_id: str, name: str) -> None:
        self.settings = Record("organization", org_id, name, {"logo": None})

        @log.records("organization.updated", changes=_changes, when=_changed_something)
        def update(**fields: Any) -> Changed:
            """Rename the organization or change its logo."""
            changes = {
                k: (self.settings.name if k == "name" else self.settings.fields.get(k), v)
                for k, v in fields.items()
            }
            changes = {k: pair for k, pair in changes.items() if pair[0] != pair[1]}
            for k, (_, new) in changes.items():
                if k == "name":
                    self.settings.name = new
                else:
                    self.settings.fields[k] = new
            return Changed(self.settings, changes)

        @log.records("organization.deleted", target=_target)
        def delete() -> Record:
            """Delete the organization for good (its Activity Log is kept)."""
            self.settings.fields["deleted"] = True
            return self.settings

        self.update = update
        self.delete = delete


class ApiKeys:
    """API keys for the REST API."""

    def __init__(self, log: ActivityLog, data: Data) -> None:
        self.data = data

        @log.records("api_key.created", target=_target)
        def create(name: str, owner: str) -> Record:
            """Generate a key; integrations act through it on its owner's behalf."""
            return data.add("api_key", name, owner=owner)

        @log.records("api_key.revoked", target=_target)
        def revoke(key_id: str) -> Record:
            """Revoke a key; calls made with it stop working."""
            return data.remove(key_id)

        self.create = create
        self.revoke = revoke

    def all(self) -> list[Record]:
        """Keys not revoked."""
        return self.data.of_type("api_key")


class Subscription:
    """The plan, the number of seats, and cancellation at the end of the billing period."""

    def __init__(self, log: ActivityLog, plan: str = "Free", seats: int = 1) -> None:
        self.state = Record("subscription", "subscription", "subscription",
                            {"plan": plan, "seats": seats, "canceled": False})

        def set_field(field: str, value: Any) -> Changed:
            old = self.state.fields[field]
            self.state.fields[field] = value
            return Changed(self.state, {field: (old, value)})

        @log.records("subscription.plan_changed", changes=_changes)
        def change_plan(plan: str) -> Changed:
            """Upgrade or downgrade."""
            return set_field("plan", plan)

        @log.records("subscription.seats_updated", changes=_changes)
        def update_seats(seats: int) -> Changed:
            """Buy or release seats."""
            return set_field("seats", seats)

        @log.records("subscription.canceled")
        def cancel() -> Changed:
            """Cancel at the end of the billing period."""
            return set_field("canceled", True)

        @log.records("subscription.reactivated")
        def reactivate() -> Changed:
            """Undo a cancellation before the period ends."""
            return set_field("canceled", False)

        self.change_plan = change_plan
        self.update_seats = update_seats
        self.cancel = cancel
        self.reactivate = reactivate

    @property
    def canceled(self) -> bool:
        """Whether the subscription is set to end."""
        return bool(self.state.fields["canceled"])


class Crm:
    """One organization's CRM, every service function recording into ``log``.

    Call it inside ``log.context(org_id=..., actor=...)`` (dashboard) or
    ``log.context(org_id=..., actor=..., api_key=ApiKeyRef(...))`` (REST API).
    """

    def __init__(self, log: ActivityLog, org_id: str, name: str) -> None:
        self.log = log
        self.data = Data()
        self.leads = Leads(log, self.data)
        self.clients = Clients(log, self.data)
        self.tasks = Tasks(log, self.data)
        self.timesheets = Timesheets(log, self.data)
        self.files = Files(log, self.data)
        self.notes = Notes(log, self.data)
        self.events = Events(log, self.data)
        self.meetings = Meetings(log, self.data)
        self.members = Members(log, self.data)
        self.organization = Organization(log, org_id, name)
        self.api_keys = ApiKeys(log, self.data)
        self.subscription = Subscription(log)


# -- the simulation ----------------------------------------------------------------------------


@attrs.frozen
class Person:
    """Someone in a demo organization."""

    id: str
    name: str
    role: Role
    email: str

    @property
    def actor(self) -> Actor:
        """The person as the Activity Log records them."""
        return Actor(self.id, self.name, avatar_url=f"https://avatars.example.com/{self.id}.png")


@attrs.frozen
class DemoOrg:
    """A demo organization: its id, name, people (Owner first) and how busy it is."""

    id: str
    name: str
    people: tuple[Person, ...]
    actions_per_weekday: float
    deleted_days_ago: int | None = None

    @property
    def owner(self) -> Person:
        """The Owner."""
        return self.people[0]


def _people(org: str, *rows: tuple[str, Role]) -> tuple[Person, ...]:
    out = []
    for name, role in rows:
        first = name.split()[0].lower()
        ascii_first = first.encode("ascii", "ignore").decode()
        out.append(Person(f"{org}-{ascii_first}", name, role, f"{ascii_first}@{org}.example"))
    return tuple(out)


O, A, M = Role.OWNER, Role.ADMIN, Role.MEMBER

#: The demo organizations; the first is the main one the demo shows.
ORGS: tuple[DemoOrg, ...] = (
    DemoOrg(
        "acme", "Acme Corp",
        _people("acme", ("Olivia Bennett", O), ("Marcus Chen", A), ("Priya Patel", A),
                ("Sofia Rossi", M), ("Liam O'Connor", M), ("Yuki Tanaka", M),
                ("Amara Okafor", M), ("Jonas Müller", M), ("Chloé Martin", M)),
        actions_per_weekday=22,
    ),
    DemoOrg(
        "globex", "Globex Ltd",
        _people("globex", ("Hank Scorpio", O), ("Mindy Simmons", A), ("Frank Grimes", M),
                ("Lena Novak", M)),
        actions_per_weekday=8,
    ),
    DemoOrg(
        "initech", "Initech",
        _people("initech", ("Bill Lumbergh", O), ("Peter Gibbons", M), ("Samir Nagheenanajar", M)),
        actions_per_weekday=4,
        deleted_days_ago=8,
    ),
)

MAIN_ORG = ORGS[0]
DAYS = 90

#: The Owner of the main organization, as the demo's reader.
MAIN_VIEWER = Viewer(MAIN_ORG.owner.id, MAIN_ORG.id, Role.OWNER)

_COMPANIES = (
    "Northwind Traders", "Contoso", "Fabrikam", "Umbrella Health", "Stark Logistics",
    "Wayne Enterprises", "Soylent Foods", "Tyrell Systems", "Cyberdyne Labs", "Hooli",
    "Pied Piper", "Vandelay Industries", "Oscorp", "Wonka Confections", "Blue Sun",
    "Gringotts Finance", "Monsters Inc.", "Duff Brewing", "Los Pollos Hermanos", "Aperture Science",
    "Kruger Bau GmbH", "Société Lumière", "Nakatomi Trading", "Bluth Company", "Prestige Worldwide",
)
_FIRST = ("Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Tim", "Barbara", "Dennis",
          "Frances", "Ken", "Radia", "Guido", "Hedy", "Edsger", "Joan", "Niklaus", "Sophie",
          "José", "Zoë", "Björn", "Aiko", "Mateo", "Ingrid")
_LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Berners-Lee",
         "Liskov", "Ritchie", "Allen", "Thompson", "Perlman", "van Rossum", "Lamarr", "Dijkstra",
         "Clarke", "Wirth", "Wilson", "García", "Nakamura", "Lindqvist", "Okoye")
_TASKS = ("Send proposal to {c}", "Follow up with {c}", "Prepare Q{q} review for {c}",
          "Fix onboarding checklist", "Call {c} about renewal", "Draft contract for {c}",
          "Update pricing sheet", "Review support tickets", "Plan workshop with {c}",
          "Collect invoices from {c}")
_FILES = ("contract-{c}.pdf", "proposal-{c}.docx", "pricing-2025.xlsx", "meeting-notes-{c}.md",
          "brand-guidelines.pdf", "invoice-{n}.pdf", "roadmap.pptx", "logo-{c}.png",
          "requirements-{c}.pdf", "scan-{n}.tiff")
_NOTES = ("Call summary: {c}", "Ideas for {c}", "Objections heard from {c}", "Weekly sync notes",
          "Onboarding feedback", "Renewal risks — {c}", "Competitor notes", "Pricing questions")
_EVENTS = ("Trade fair", "Webinar: what's new", "Team offsite", "Quarterly planning",
           "Customer day at {c}", "Product demo for {c}", "Holiday party", "Sales kickoff")
_MEETINGS = ("Kickoff with {c}", "Demo for {c}", "Contract review with {c}", "Check-in with {c}",
             "Renewal talk with {c}", "Escalation call with {c}")
_TAGS = ("urgent", "follow-up", "idea", "customer", "internal", "pricing", "legal", "q3", "churn-risk")
_LEAD_STATUSES = ("New", "Contacted", "Qualified", "Proposal sent", "Won", "Lost")
_TASK_STATUSES = ("Pending", "In progress", "Completed", "Blocked")
_CLIENT_STATUSES = ("Active", "Paused", "Churned")
_PLANS = ("Starter", "Pro", "Business")
_ERRORS = ("could not parse PDF: file is encrypted", "embedding service timed out",
           "summarization failed: document too long", "unsupported file type")


class _Clock:
    """The simulation's clock: the log reads ``now``, the simulation moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@attrs.define
class _Key:
    record: Record
    owner: Person

    @property
    def ref(self) -> ApiKeyRef:
        return ApiKeyRef(self.record.id, self.record.name)


@attrs.define
class _OrgState:
    org: DemoOrg
    crm: Crm
    joined: list[Person]
    pending: list[Person]
    keys: list[_Key] = attrs.field(factory=list)
    used: set[str] = attrs.field(factory=set)
    deleted: bool = False


# An operation: who may do it, whether it can go through the REST API, the actions it records
# (to favour the ones the organization has not seen yet), its weight, and what it does.
_Op = Callable[["_Simulation", _OrgState, Person], bool]


@attrs.frozen
class _OpSpec:
    fn: _Op
    actions: tuple[str, ...]
    weight: float
    admin_only: bool = False
    api: bool = False


class _Simulation:
    """A discrete-event simulation of the demo organizations over ``DAYS`` days."""

    def __init__(self, log: ActivityLog, clock: _Clock, seed: int, now: datetime) -> None:
        self.log = log
        self.clock = clock
        self.rng = random.Random(seed)
        self.now = now
        self.start = now - timedelta(days=DAYS)
        self._queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self.states = {
            org.id: _OrgState(
                org, Crm(log, org.id, org.name), joined=[org.owner], pending=list(org.people[1:])
            )
            for org in ORGS
        }

    # -- scheduling ------------------------------------------------------------------------

    def at(self, when: datetime, job: Callable[[], None]) -> None:
        """Run ``job`` at simulated time ``when`` (dropped when it falls after now)."""
        if when <= self.now:
            heapq.heappush(self._queue, (when, next(self._order), job))

    def run(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Run every scheduled job in time order, moving the log's clock along."""
        for state in self.states.values():
            self._schedule_org(state)
        day = -1
        while self._queue:
            when, _, job = heapq.heappop(self._queue)
            self.clock.now = when
            job()
            current = (when - self.start).days
            if progress is not None and current != day:
                day = current
                progress(min(day + 1, DAYS), DAYS)

    def _schedule_org(self, state: _OrgState) -> None:
        org, rng = state.org, self.rng
        first = self.start + timedelta(hours=rng.uniform(8, 10))
        self.at(first, lambda: self._setup(state))
        end_day = DAYS - (org.deleted_days_ago or 0)
        for day in range(1, end_day + 1):
            date = self.start + timedelta(days=day)
            weekend = date.weekday() >= 5
            busy = org.actions_per_weekday * (0.12 if weekend else 1.0)
            count = max(0, round(rng.gauss(busy, busy * 0.35)))
            for _ in range(count):
                moment = date.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
                    seconds=rng.uniform(7.5 * 3600, 19 * 3600)
                )
                self.at(moment + timedelta(microseconds=rng.randrange(1_000_000)),
                        lambda: self._random_action(state))
        if org.deleted_days_ago is not None:
            gone = self.now - timedelta(days=org.deleted_days_ago, hours=rng.uniform(2, 6))
            self.at(gone, lambda: self._delete_org(state))
        if org is MAIN_ORG:
            self._story(state)
            # Somebody is always at work: a few entries in the last hours.
            for minutes in (3, 41, 95, 130, 170):
                self.at(self.now - timedelta(minutes=minutes, seconds=rng.uniform(0, 50)),
                        lambda: self._random_action(state))

    def _story(self, state: _OrgState) -> None:
        """The main organization's milestones, on fixed days, around the random activity."""
        owner, admin = state.org.people[0], state.org.people[1]

        def day(n: int, hour: float) -> datetime:
            return self.start + timedelta(days=n, hours=hour, seconds=self.rng.uniform(0, 600))

        def create_key(person: Person, name: str) -> None:
            with self.as_(state, person):
                record = state.crm.api_keys.create(name, owner=person.name)
            state.keys.append(_Key(record, person))

        def rotate_key() -> None:
            old = next((k for k in state.keys if k.record.name == "Zapier integration"), None)
            with self.as_(state, admin):
                if old is not None:
                    state.crm.api_keys.revoke(old.record.id)
                    state.keys.remove(old)
            create_key(admin, "Zapier integration (rotated)")

        def billing(step: Callable[[], object]) -> Callable[[], None]:
            def run() -> None:
                with self.as_(state, owner):
                    step()
            return run

        subscription = state.crm.subscription
        self.at(day(2, 10), lambda: create_key(admin, "Zapier integration"))
        self.at(day(6, 15), lambda: create_key(owner, "Website form"))
        self.at(day(38, 17), billing(subscription.cancel))
        self.at(day(41, 9), billing(subscription.reactivate))
        self.at(day(52, 11), billing(lambda: subscription.change_plan("Business")))
        self.at(day(63, 14), rotate_key)
        state.used.update({"api_key.created", "api_key.revoked", "subscription.canceled",
                           "subscription.reactivated"})

    # -- acting ----------------------------------------------------------------------------

    def as_(self, state: _OrgState, person: Person, key: _Key | None = None) -> Any:
        """The recording context of ``person`` in the dashboard, or through ``key``."""
        if key is not None:
            return self.log.context(org_id=state.org.id, actor=person.actor, api_key=key.ref)
        return self.log.context(org_id=state.org.id, actor=person.actor, source="dashboard")

    def _setup(self, state: _OrgState) -> None:
        crm, org, rng = state.crm, state.org, self.rng
        with self.as_(state, org.owner):
            crm.organization.update(logo=f"https://cdn.example.com/{org.id}/logo.png")
            crm.subscription.change_plan(rng.choice(_PLANS[:2]))
            crm.subscription.update_seats(len(org.people) + rng.randrange(0, 3))
            for person in org.people[1:]:
                self._invite(state, person, minutes=rng.uniform(1, 60))
        state.used.update({"organization.updated", "subscription.plan_changed",
                           "subscription.seats_updated", "member.invited"})

    def _invite(self, state: _OrgState, person: Person, minutes: float) -> None:
        invitation = state.crm.members.invite(person.email, person.role.value.title())
        join_at = self.clock.now + timedelta(minutes=minutes, hours=self.rng.choice((0, 0, 3, 20)))
        self.at(join_at, lambda: self._join(state, person, invitation.id))

    def _join(self, state: _OrgState, person: Person, invitation_id: str) -> None:
        if state.deleted or invitation_id not in state.crm.data.records:
            return
        with self.as_(state, person):
            state.crm.members.join(invitation_id, person.name)
        state.joined.append(person)
        if person in state.pending:
            state.pending.remove(person)
        state.used.add("member.joined")

    def _delete_org(self, state: _OrgState) -> None:
        with self.as_(state, state.org.owner):
            state.crm.organization.delete()
        state.deleted = True

    def _random_action(self, state: _OrgState) -> None:
        if state.deleted:
            return
        rng = self.rng
        person = rng.choice(state.joined)
        admin = person.role in (Role.OWNER, Role.ADMIN)
        candidates = [op for op in _OPS if admin or not op.admin_only]
        late = (self.clock.now - self.start).days > 20
        weights = [
            op.weight * (25 if late and not state.used.issuperset(op.actions) else 1)
            for op in candidates
        ]
        for _ in range(10):
            op = rng.choices(candidates, weights)[0]
            if op.fn(self, state, person):
                if len(op.actions) == 1:  # operations with a choice note what they did
                    state.used.update(op.actions)
                return

    # -- helpers for operations ------------------------------------------------------------

    def company(self) -> str:
        return self.rng.choice(_COMPANIES)

    def person_name(self) -> str:
        return f"{self.rng.choice(_FIRST)} {self.rng.choice(_LAST)}"

    def fill(self, template: str) -> str:
        return template.format(c=self.company(), q=self.rng.randint(1, 4),
                               n=self.rng.randint(1000, 9999))

    def some(self, records: Sequence[Record], low: int = 2, high: int = 6) -> list[str]:
        k = min(len(records), self.rng.randint(low, high))
        return [r.id for r in self.rng.sample(list(records), k)]

    def channel(self, state: _OrgState, person: Person, api: bool) -> Any:
        """Dashboard, or (now and then) the REST API with a live key."""
        if api and state.keys and self.rng.random() < 0.35:
            key = self.rng.choice(state.keys)
            return self.as_(state, key.owner, key)
        return self.as_(state, person)


def _op(actions: Iterable[str], weight: float, *, admin_only: bool = False,
        api: bool = False) -> Callable[[_Op], _Op]:
    def register(fn: _Op) -> _Op:
        _OPS.append(_OpSpec(fn, tuple(actions), weight, admin_only, api))
        return fn
    return register


_OPS: list[_OpSpec] = []


# Leads ---------------------------------------------------------------------------------------

@_op(["lead.created"], 10, api=True)
def _lead_create(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    with sim.channel(st, who, api=True):
        st.crm.leads.create(sim.person_name(), company=sim.company(), status="New")
    return True


@_op(["lead.updated"], 4, api=True)
def _lead_update(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    leads = st.crm.leads.all()
    if not leads:
        return False
    lead = sim.rng.choice(leads)
    field, value = sim.rng.choice([("company", sim.company()), ("name", sim.person_name()),
                                   ("phone", f"+1 555 {sim.rng.randint(1000, 9999)}")])
    with sim.channel(st, who, api=True):
        st.crm.leads.update(lead.id, **{field: value})
    return True


@_op(["lead.status_changed"], 6)
def _lead_status(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    leads = st.crm.leads.all()
    if not leads:
        return False
    lead = sim.rng.choice(leads)
    current = lead.fields.get("status", "New")
    index = _LEAD_STATUSES.index(current) if current in _LEAD_STATUSES else 0
    status = _LEAD_STATUSES[min(index + 1, len(_LEAD_STATUSES) - 1)]
    if status == current:
        return False
    with sim.channel(st, who, api=False):
        st.crm.leads.change_status(lead.id, status)
    return True


@_op(["lead.assigned"], 4)
def _lead_assign(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    leads = st.crm.leads.all()
    if not leads:
        return False
    with sim.channel(st, who, api=False):
        st.crm.leads.assign(sim.rng.choice(leads).id, sim.rng.choice(st.joined).name)
    return True


@_op(["lead.deleted"], 1.5)
def _lead_delete(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    leads = st.crm.leads.all()
    if len(leads) < 5:
        return False
    with sim.channel(st, who, api=False):
        st.crm.leads.delete(sim.rng.choice(leads).id)
    return True


@_op(["lead.bulk_deleted"], 0.3, admin_only=True)
def _lead_bulk_delete(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    leads = st.crm.leads.all()
    if len(leads) < 10:
        return False
    with sim.channel(st, who, api=False):
        st.crm.leads.bulk_delete(sim.some(leads, 2, 8))
    return True


@_op(["lead.bulk_status_changed"], 0.5)
def _lead_bulk_status(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    leads = st.crm.leads.all()
    if len(leads) < 4:
        return False
    with sim.channel(st, who, api=False):
        st.crm.leads.bulk_change_status(sim.some(leads), sim.rng.choice(_LEAD_STATUSES[1:]))
    return True


# Clients -------------------------------------------------------------------------------------

@_op(["client.created"], 3, api=True)
def _client_create(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    with sim.channel(st, who, api=True):
        st.crm.clients.create(sim.company(), status="Active")
    return True


@_op(["client.updated"], 2, api=True)
def _client_update(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    clients = st.crm.clients.all()
    if not clients:
        return False
    with sim.channel(st, who, api=True):
        st.crm.clients.update(sim.rng.choice(clients).id,
                              website=f"https://www.example.com/{sim.rng.randint(1, 999)}")
    return True


@_op(["client.status_changed"], 1.5)
def _client_status(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    clients = st.crm.clients.all()
    if not clients:
        return False
    client = sim.rng.choice(clients)
    choices = [s for s in _CLIENT_STATUSES if s != client.fields.get("status")]
    with sim.channel(st, who, api=False):
        st.crm.clients.change_status(client.id, sim.rng.choice(choices))
    return True


@_op(["client.deleted"], 0.6)
def _client_delete(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    clients = st.crm.clients.all()
    if len(clients) < 4:
        return False
    with sim.channel(st, who, api=False):
        st.crm.clients.delete(sim.rng.choice(clients).id)
    return True


@_op(["client.bulk_deleted"], 0.2, admin_only=True)
def _client_bulk_delete(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    clients = st.crm.clients.all()
    if len(clients) < 8:
        return False
    with sim.channel(st, who, api=False):
        st.crm.clients.bulk_delete(sim.some(clients, 2, 4))
    return True


@_op(["client.bulk_status_changed"], 0.3)
def _client_bulk_status(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    clients = st.crm.clients.all()
    if len(clients) < 4:
        return False
    with sim.channel(st, who, api=False):
        st.crm.clients.bulk_change_status(sim.some(clients), sim.rng.choice(_CLIENT_STATUSES))
    return True


# Tasks ---------------------------------------------------------------------------------------

@_op(["task.created"], 8, api=True)
def _task_create(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    with sim.channel(st, who, api=True):
        st.crm.tasks.create(sim.fill(sim.rng.choice(_TASKS)), status="Pending",
                            assignee=sim.rng.choice(st.joined).name)
    return True


@_op(["task.updated"], 3, api=True)
def _task_update(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    tasks = st.crm.tasks.all()
    if not tasks:
        return False
    due = (sim.clock.now + timedelta(days=sim.rng.randint(1, 21))).date().isoformat()
    with sim.channel(st, who, api=True):
        st.crm.tasks.update(sim.rng.choice(tasks).id, due=due)
    return True


@_op(["task.status_changed"], 7)
def _task_status(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    tasks = st.crm.tasks.all()
    if not tasks:
        return False
    task = sim.rng.choice(tasks)
    choices = [s for s in _TASK_STATUSES if s != task.fields.get("status")]
    with sim.channel(st, who, api=False):
        st.crm.tasks.change_status(task.id, sim.rng.choice(choices))
    return True


@_op(["task.deleted"], 1.5)
def _task_delete(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    tasks = st.crm.tasks.all()
    if len(tasks) < 5:
        return False
    with sim.channel(st, who, api=False):
        st.crm.tasks.delete(sim.rng.choice(tasks).id)
    return True


@_op(["task.bulk_deleted"], 0.3)
def _task_bulk_delete(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    tasks = st.crm.tasks.all()
    if len(tasks) < 10:
        return False
    with sim.channel(st, who, api=False):
        st.crm.tasks.bulk_delete(sim.some(tasks, 2, 6))
    return True


@_op(["task.bulk_status_changed"], 0.6)
def _task_bulk_status(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    tasks = st.crm.tasks.all()
    if len(tasks) < 4:
        return False
    with sim.channel(st, who, api=False):
        st.crm.tasks.bulk_change_status(sim.some(tasks), sim.rng.choice(_TASK_STATUSES))
    return True


@_op(["task.bulk_assignee_changed"], 0.4)
def _task_bulk_assignee(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    tasks = st.crm.tasks.all()
    if len(tasks) < 4:
        return False
    with sim.channel(st, who, api=False):
        st.crm.tasks.bulk_change_assignee(sim.some(tasks), sim.rng.choice(st.joined).name)
    return True


@_op(["task.bulk_client_changed"], 0.3)
def _task_bulk_client(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    tasks, clients = st.crm.tasks.all(), st.crm.clients.all()
    if len(tasks) < 4 or not clients:
        return False
    with sim.channel(st, who, api=False):
        st.crm.tasks.bulk_change_client(sim.some(tasks), sim.rng.choice(clients).name)
    return True


# Timesheets ----------------------------------------------------------------------------------

@_op(["timesheet.created"], 4)
def _timesheet_create(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    hours = sim.rng.choice((0.5, 1, 1.5, 2, 3, 4, 6, 8))
    with sim.channel(st, who, api=False):
        st.crm.timesheets.create(f"{sim.clock.now.date().isoformat()} · {hours:g} h", hours=hours)
    return True


@_op(["timesheet.updated"], 1.5)
def _timesheet_update(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    entries = st.crm.timesheets.all()
    if not entries:
        return False
    with sim.channel(st, who, api=False):
        st.crm.timesheets.update(sim.rng.choice(entries).id,
                                 hours=sim.rng.choice((1, 2, 2.5, 4, 7.5)))
    return True


@_op(["timesheet.deleted"], 0.6)
def _timesheet_delete(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    entries = st.crm.timesheets.all()
    if len(entries) < 3:
        return False
    with sim.channel(st, who, api=False):
        st.crm.timesheets.delete(sim.rng.choice(entries).id)
    return True


@_op(["timesheet.bulk_deleted"], 0.2)
def _timesheet_bulk_delete(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    entries = st.crm.timesheets.all()
    if len(entries) < 6:
        return False
    with sim.channel(st, who, api=False):
        st.crm.timesheets.bulk_delete(sim.some(entries, 2, 5))
    return True


@_op(["timesheet.week_saved"], 1.5)
def _timesheet_week(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    year, week, _ = sim.clock.now.isocalendar()
    days = ("Mon", "Tue", "Wed", "Thu", "Fri")
    grid = {day: sim.rng.choice((4, 6, 7.5, 8)) for day in days if sim.rng.random() < 0.9}
    if not grid:
        return False
    with sim.channel(st, who, api=False):
        st.crm.timesheets.save_week(f"{year}-W{week:02d}", grid)
    return True


# Files and the AI pipeline -------------------------------------------------------------------

PIPELINE = Actor.system("AI pipeline")


def _schedule_processing(sim: _Simulation, st: _OrgState, file_id: str) -> None:
    """The AI pipeline picks the file up a few minutes later and finishes or fails."""

    def process() -> None:
        if st.deleted or file_id not in st.crm.data.records:
            return
        with sim.log.context(org_id=st.org.id, actor=PIPELINE, source="system"):
            if sim.rng.random() < 0.12:
                st.crm.files.embedding_failed(file_id, sim.rng.choice(_ERRORS))
                st.used.add("file.embedding_failed")
            else:
                st.crm.files.embedding_completed(file_id, chunks=sim.rng.randint(3, 180))
                st.used.add("file.embedding_completed")

    sim.at(sim.clock.now + timedelta(seconds=sim.rng.uniform(20, 900)), process)


@_op(["file.created"], 4, api=True)
def _file_upload(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    with sim.channel(st, who, api=True):
        record = st.crm.files.create(sim.fill(sim.rng.choice(_FILES)).replace(" ", "-").lower(),
                                     size=sim.rng.randint(10_000, 25_000_000))
    _schedule_processing(sim, st, record.id)
    return True


@_op(["file.updated"], 1)
def _file_update(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    files = st.crm.files.all()
    if not files:
        return False
    with sim.channel(st, who, api=False):
        st.crm.files.update(sim.rng.choice(files).id,
                            description=sim.rng.choice(("Signed copy", "Final version", "Draft",
                                                        "For legal review")))
    return True


@_op(["file.deleted"], 0.8)
def _file_delete(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    files = st.crm.files.all()
    if len(files) < 4:
        return False
    with sim.channel(st, who, api=False):
        st.crm.files.delete(sim.rng.choice(files).id)
    return True


@_op(["file.bulk_deleted"], 0.2)
def _file_bulk_delete(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    files = st.crm.files.all()
    if len(files) < 8:
        return False
    with sim.channel(st, who, api=False):
        st.crm.files.bulk_delete(sim.some(files, 2, 4))
    return True


@_op(["file.embedding_reprocessed"], 0.8)
def _file_reprocess(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    failed = [f for f in st.crm.files.all() if f.fields.get("embedding") == "failed"]
    if not failed:
        return False
    file = sim.rng.choice(failed)
    with sim.channel(st, who, api=False):
        st.crm.files.reprocess(file.id)
    _schedule_processing(sim, st, file.id)
    return True


@_op(["file.bulk_reprocessed"], 0.4, admin_only=True)
def _file_bulk_reprocess(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    files = st.crm.files.all()
    failed = [f for f in files if f.fields.get("embedding") == "failed"]
    if len(failed) < 2:
        failed = [f for f in files if f.fields.get("embedding") == "ready"]
        if len(failed) < 2:
            return False
    ids = sim.some(failed, 2, 5)
    with sim.channel(st, who, api=False):
        st.crm.files.bulk_reprocess(ids)
    for file_id in ids:
        _schedule_processing(sim, st, file_id)
    return True


# Notes and tags ------------------------------------------------------------------------------

@_op(["note.created"], 4, api=True)
def _note_create(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    with sim.channel(st, who, api=True):
        st.crm.notes.create(sim.fill(sim.rng.choice(_NOTES)),
                            embedding="failed" if sim.rng.random() < 0.1 else "ready")
    return True


@_op(["note.updated"], 2)
def _note_update(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    notes = st.crm.notes.all()
    if not notes:
        return False
    with sim.channel(st, who, api=False):
        st.crm.notes.update(sim.rng.choice(notes).id, pinned=sim.rng.random() < 0.5,
                            tags=sim.rng.choice(_TAGS))
    return True


@_op(["note.deleted"], 0.8)
def _note_delete(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    notes = st.crm.notes.all()
    if len(notes) < 4:
        return False
    with sim.channel(st, who, api=False):
        st.crm.notes.delete(sim.rng.choice(notes).id)
    return True


@_op(["note.bulk_deleted"], 0.2)
def _note_bulk_delete(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    notes = st.crm.notes.all()
    if len(notes) < 8:
        return False
    with sim.channel(st, who, api=False):
        st.crm.notes.bulk_delete(sim.some(notes, 2, 4))
    return True


@_op(["note.reprocessed"], 0.6)
def _note_reprocess(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    notes = st.crm.notes.all()
    failed = [n for n in notes if n.fields.get("embedding") == "failed"]
    if not failed:
        if notes:  # note embeddings fail silently; someone will notice later
            sim.rng.choice(notes).fields["embedding"] = "failed"
        return False
    with sim.channel(st, who, api=False):
        st.crm.notes.reprocess(sim.rng.choice(failed).id)
    return True


@_op(["note.bulk_reprocessed"], 0.3, admin_only=True)
def _note_bulk_reprocess(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    notes = st.crm.notes.all()
    if len(notes) < 3:
        return False
    with sim.channel(st, who, api=False):
        st.crm.notes.bulk_reprocess(sim.some(notes, 2, 5))
    return True


@_op(["note_tag.created"], 0.5)
def _tag_create(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    existing = {t.name for t in st.crm.data.of_type("note_tag")}
    free = [t for t in _TAGS if t not in existing]
    if not free:
        return False
    with sim.channel(st, who, api=False):
        st.crm.notes.create_tag(sim.rng.choice(free))
    return True


@_op(["note_tag.deleted"], 0.25)
def _tag_delete(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    tags = st.crm.data.of_type("note_tag")
    if not tags:
        return False
    with sim.channel(st, who, api=False):
        st.crm.notes.delete_tag(sim.rng.choice(tags).id)
    return True


# Events --------------------------------------------------------------------------------------

@_op(["event.created"], 2, api=True)
def _event_create(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    with sim.channel(st, who, api=True):
        st.crm.events.create(sim.fill(sim.rng.choice(_EVENTS)),
                             assignee=sim.rng.choice(st.joined).name)
    return True


@_op(["event.updated"], 1)
def _event_update(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    events = st.crm.events.all()
    if not events:
        return False
    with sim.channel(st, who, api=False):
        st.crm.events.update(sim.rng.choice(events).id,
                             location=sim.rng.choice(("Berlin", "Room 4", "Online", "Lisbon",
                                                      "São Paulo", "HQ")))
    return True


@_op(["event.deleted"], 0.5)
def _event_delete(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    events = st.crm.events.all()
    if len(events) < 3:
        return False
    with sim.channel(st, who, api=False):
        st.crm.events.delete(sim.rng.choice(events).id)
    return True


@_op(["event.bulk_deleted"], 0.15)
def _event_bulk_delete(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    events = st.crm.events.all()
    if len(events) < 6:
        return False
    with sim.channel(st, who, api=False):
        st.crm.events.bulk_delete(sim.some(events, 2, 3))
    return True


@_op(["event.bulk_assignee_changed"], 0.2)
def _event_bulk_assignee(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    events = st.crm.events.all()
    if len(events) < 3:
        return False
    with sim.channel(st, who, api=False):
        st.crm.events.bulk_change_assignee(sim.some(events, 2, 4), sim.rng.choice(st.joined).name)
    return True


@_op(["event.bulk_client_changed"], 0.2)
def _event_bulk_client(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    events, clients = st.crm.events.all(), st.crm.clients.all()
    if len(events) < 3 or not clients:
        return False
    with sim.channel(st, who, api=False):
        st.crm.events.bulk_change_client(sim.some(events, 2, 4), sim.rng.choice(clients).name)
    return True


# Meetings ------------------------------------------------------------------------------------

@_op(["meeting.created"], 3, api=True)
def _meeting_create(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    with sim.channel(st, who, api=True):
        st.crm.meetings.create(sim.fill(sim.rng.choice(_MEETINGS)),
                               status="pending" if sim.rng.random() < 0.5 else "approved")
    return True


@_op(["meeting.updated"], 1.2)
def _meeting_update(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    meetings = st.crm.meetings.all()
    if not meetings:
        return False
    with sim.channel(st, who, api=False):
        st.crm.meetings.update(sim.rng.choice(meetings).id,
                               time=f"{sim.rng.randint(8, 17):02d}:{sim.rng.choice((0, 30)):02d}")
    return True


@_op(["meeting.approved", "meeting.rejected"], 1.5)
def _meeting_decide(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    pending = st.crm.meetings.pending()
    if not pending:
        return False
    meeting = sim.rng.choice(pending)
    with sim.channel(st, who, api=False):
        if sim.rng.random() < (0.75 if "meeting.rejected" in st.used else 0.4):
            st.crm.meetings.approve(meeting.id)
            st.used.add("meeting.approved")
        else:
            st.crm.meetings.reject(meeting.id)
            st.used.add("meeting.rejected")
    return True


@_op(["meeting.canceled"], 0.6)
def _meeting_cancel(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    live = [m for m in st.crm.meetings.all() if m.fields.get("status") == "approved"]
    if not live:
        return False
    with sim.channel(st, who, api=False):
        st.crm.meetings.cancel(sim.rng.choice(live).id)
    return True


@_op(["meeting.deleted"], 0.5)
def _meeting_delete(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    meetings = st.crm.meetings.all()
    if len(meetings) < 3:
        return False
    with sim.channel(st, who, api=False):
        st.crm.meetings.delete(sim.rng.choice(meetings).id)
    return True


@_op(["meeting.bulk_deleted"], 0.15)
def _meeting_bulk_delete(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    meetings = st.crm.meetings.all()
    if len(meetings) < 6:
        return False
    with sim.channel(st, who, api=False):
        st.crm.meetings.bulk_delete(sim.some(meetings, 2, 3))
    return True


@_op(["meeting.bulk_client_changed"], 0.2)
def _meeting_bulk_client(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    meetings, clients = st.crm.meetings.all(), st.crm.clients.all()
    if len(meetings) < 3 or not clients:
        return False
    with sim.channel(st, who, api=False):
        st.crm.meetings.bulk_change_client(sim.some(meetings, 2, 4), sim.rng.choice(clients).name)
    return True


# Members, organization, API keys, subscription (Owners and Admins) ---------------------------

@_op(["member.invited"], 0.4, admin_only=True)
def _member_invite(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    name = sim.person_name()
    first = name.split()[0].lower().encode("ascii", "ignore").decode()
    newcomer = Person(f"{st.org.id}-{first}-{sim.rng.randint(10, 99)}", name, Role.MEMBER,
                      f"{first}.{sim.rng.randint(10, 99)}@{st.org.id}.example")
    with sim.as_(st, who):
        if sim.rng.random() < 0.7:
            sim._invite(st, newcomer, minutes=sim.rng.uniform(10, 600))
        else:
            st.crm.members.invite(newcomer.email)  # never accepted
    return True


@_op(["invitation.cancelled"], 0.4, admin_only=True)
def _invitation_cancel(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    invitations = st.crm.members.invitations()
    if not invitations:
        # An invitation sent to a wrong address, to be cancelled another day.
        with sim.as_(st, who):
            st.crm.members.invite(f"{sim.person_name().split()[0].lower()}@typo.example")
        return False
    with sim.as_(st, who):
        st.crm.members.cancel_invitation(sim.rng.choice(invitations).id)
    return True


def _removable(st: _OrgState) -> list[Record]:
    core = {p.name for p in st.org.people}
    return [m for m in st.crm.members.all() if m.name not in core]


@_op(["member.removed"], 0.2, admin_only=True)
def _member_remove(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    members = _removable(st)
    if not members:
        # Somebody new joins for a while first.
        _member_invite(sim, st, who)
        return False
    member = sim.rng.choice(members)
    with sim.as_(st, who):
        st.crm.members.remove(member.id)
    st.joined = [p for p in st.joined if p.name != member.name]
    return True


@_op(["member.role_changed"], 0.3, admin_only=True)
def _member_role(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    members = _removable(st) or [m for m in st.crm.members.all() if m.fields["role"] != "Owner"]
    if not members:
        return False
    member = sim.rng.choice(members)
    role = "Admin" if member.fields.get("role") == "Member" else "Member"
    with sim.as_(st, who):
        st.crm.members.change_role(member.id, role)
    return True


@_op(["organization.updated"], 0.15, admin_only=True)
def _org_update(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    settings = st.crm.organization.settings
    if sim.rng.random() < 0.5:
        base = st.org.name
        name = base if settings.name != base else f"{base} {sim.rng.choice(('Inc.', 'Group'))}"
        fields: dict[str, Any] = {"name": name}
    else:
        fields = {"logo": f"https://cdn.example.com/{st.org.id}/logo-v{sim.rng.randint(2, 9)}.png"}
    with sim.as_(st, who):
        st.crm.organization.update(**fields)
    return True


@_op(["api_key.created"], 0.2, admin_only=True)
def _key_create(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    if len(st.keys) >= 3:
        return False
    name = sim.rng.choice(("Zapier integration", "Website form", "Data warehouse sync",
                           "Mobile app", "Billing webhook"))
    with sim.as_(st, who):
        record = st.crm.api_keys.create(name, owner=who.name)
    st.keys.append(_Key(record, who))
    return True


@_op(["api_key.revoked"], 0.08, admin_only=True)
def _key_revoke(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    if not st.keys:
        return False
    key = sim.rng.choice(st.keys)
    with sim.as_(st, who):
        st.crm.api_keys.revoke(key.record.id)
    st.keys.remove(key)
    return True


@_op(["subscription.plan_changed"], 0.08, admin_only=True)
def _plan_change(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    current = st.crm.subscription.state.fields["plan"]
    with sim.as_(st, who):
        st.crm.subscription.change_plan(sim.rng.choice([p for p in _PLANS if p != current]))
    return True


@_op(["subscription.seats_updated"], 0.1, admin_only=True)
def _seats_update(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    seats = int(st.crm.subscription.state.fields["seats"])
    with sim.as_(st, who):
        st.crm.subscription.update_seats(max(1, seats + sim.rng.choice((-1, 1, 2, 3))))
    return True


@_op(["subscription.canceled", "subscription.reactivated"], 0.06, admin_only=True)
def _subscription_toggle(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    with sim.as_(st, who):
        if st.crm.subscription.canceled:
            st.crm.subscription.reactivate()
            st.used.add("subscription.reactivated")
        else:
            st.crm.subscription.cancel()
            st.used.add("subscription.canceled")
    return True


@_op([], 0.5, admin_only=True)
def _reactivate_soon(sim: _Simulation, st: _OrgState, who: Person) -> bool:
    # A cancellation is usually taken back within days.
    if not st.crm.subscription.canceled:
        return False
    with sim.as_(st, who):
        st.crm.subscription.reactivate()
    st.used.add("subscription.reactivated")
    return True


# -- the entry point ---------------------------------------------------------------------------


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
    clock = _Clock(now - timedelta(days=DAYS))
    log.clock = clock
    try:
        with log.batch() as batch:
            _Simulation(log, clock, seed, now).run(progress)
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
