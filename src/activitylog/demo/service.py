"""The demo CRM's service functions, one class per record type, each recording into the log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..log import ActivityLog
from ..models import Target
from .records import (
    Bulk,
    Changed,
    Collection,
    Data,
    Record,
    bulk_ids,
    changed_something,
    record_changes,
    record_target,
)


class Leads(Collection):
    """Leads: the shared operations plus status, assignment and bulk status."""

    def __init__(self, log: ActivityLog, data: Data) -> None:
        super().__init__(log, data, "lead")

        @log.records("lead.status_changed", target=record_target, changes=record_changes)
        def change_status(lead_id: str, status: str) -> Changed:
            """Move a lead along the pipeline (New → Contacted → Qualified...)."""
            return data.update(lead_id, status=status)

        @log.records("lead.assigned", target=record_target, changes=record_changes)
        def assign(lead_id: str, assignee: str) -> Changed:
            """Give a lead to a team member."""
            return data.update(lead_id, assignee=assignee)

        @log.records("lead.bulk_status_changed", metadata=bulk_ids, changes=record_changes)
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

        @log.records("client.status_changed", target=record_target, changes=record_changes)
        def change_status(client_id: str, status: str) -> Changed:
            """Change a client's status (Active, Paused, Churned)."""
            return data.update(client_id, status=status)

        @log.records("client.bulk_status_changed", metadata=bulk_ids, changes=record_changes)
        def bulk_change_status(client_ids: list[str], status: str) -> Bulk:
            """Set the status of several clients."""
            return data.bulk_set(client_ids, "status", status)

        self.change_status = change_status
        self.bulk_change_status = bulk_change_status


class Tasks(Collection):
    """Tasks: the shared operations plus status and the bulk status/assignee/client changes."""

    def __init__(self, log: ActivityLog, data: Data) -> None:
        super().__init__(log, data, "task")

        @log.records("task.status_changed", target=record_target, changes=record_changes)
        def change_status(task_id: str, status: str) -> Changed:
            """Change a task's status (Pending, In progress, Completed)."""
            return data.update(task_id, status=status)

        @log.records("task.bulk_status_changed", metadata=bulk_ids, changes=record_changes)
        def bulk_change_status(task_ids: list[str], status: str) -> Bulk:
            """Set the status of several tasks."""
            return data.bulk_set(task_ids, "status", status)

        @log.records("task.bulk_assignee_changed", metadata=bulk_ids, changes=record_changes)
        def bulk_change_assignee(task_ids: list[str], assignee: str) -> Bulk:
            """Give several tasks to one team member."""
            return data.bulk_set(task_ids, "assignee", assignee)

        @log.records("task.bulk_client_changed", metadata=bulk_ids, changes=record_changes)
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

        @log.records("file.embedding_completed", target=record_target)
        def embedding_completed(file_id: str, chunks: int) -> Record:
            """The pipeline parsed, embedded and summarized a file."""
            record = data.get(file_id)
            record.fields.update(embedding="ready", chunks=chunks)
            return record

        @log.records(
            "file.embedding_failed",
            target=record_target,
            metadata=lambda call: {"error": call.error},
        )
        def embedding_failed(file_id: str, error: str) -> Record:
            """The pipeline could not process a file (the failure is reported, not raised)."""
            record = data.get(file_id)
            record.fields.update(embedding="failed", error=error)
            return record

        @log.records("file.embedding_reprocessed", target=record_target)
        def reprocess(file_id: str) -> Record:
            """Queue one file for the pipeline again."""
            record = data.get(file_id)
            record.fields["embedding"] = "queued"
            return record

        @log.records("file.bulk_reprocessed", metadata=bulk_ids)
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

        @log.records("note.reprocessed", target=record_target)
        def reprocess(note_id: str) -> Record:
            """Run the AI embedding of a failed note again."""
            record = data.get(note_id)
            record.fields["embedding"] = "queued"
            return record

        @log.records("note.bulk_reprocessed", metadata=bulk_ids)
        def bulk_reprocess(note_ids: list[str]) -> Bulk:
            """Run the AI embedding of several notes again."""
            for note_id in note_ids:
                data.get(note_id).fields["embedding"] = "queued"
            return Bulk(list(note_ids))

        @log.records("note_tag.created", target=record_target)
        def create_tag(name: str) -> Record:
            """Add a tag notes can carry."""
            return data.add("note_tag", name)

        @log.records("note_tag.deleted", target=record_target)
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

        @log.records("event.bulk_assignee_changed", metadata=bulk_ids, changes=record_changes)
        def bulk_change_assignee(event_ids: list[str], assignee: str) -> Bulk:
            """Give several events to one team member."""
            return data.bulk_set(event_ids, "assignee", assignee)

        @log.records("event.bulk_client_changed", metadata=bulk_ids, changes=record_changes)
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

        @log.records("meeting.canceled", target=record_target)
        def cancel(meeting_id: str) -> Record:
            """Call a meeting off."""
            return decide(meeting_id, "canceled")

        @log.records("meeting.approved", target=record_target)
        def approve(meeting_id: str) -> Record:
            """Accept a pending meeting request."""
            return decide(meeting_id, "approved")

        @log.records("meeting.rejected", target=record_target)
        def reject(meeting_id: str) -> Record:
            """Turn down a pending meeting request."""
            return decide(meeting_id, "rejected")

        @log.records("meeting.bulk_client_changed", metadata=bulk_ids, changes=record_changes)
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

        @log.records("member.invited", target=record_target, metadata=lambda call: {"role": call.role})
        def invite(email: str, role: str = "Member") -> Record:
            """Send an invitation email."""
            return data.add("invitation", email, role=role)

        @log.records("member.joined", target=record_target)
        def join(invitation_id: str, name: str) -> Record:
            """Accept an invitation; the person joining is the actor."""
            invitation = data.remove(invitation_id)
            return data.add("member", name, role=invitation.fields["role"], email=invitation.name)

        @log.records("invitation.cancelled", target=record_target)
        def cancel_invitation(invitation_id: str) -> Record:
            """Withdraw an invitation before it is accepted."""
            return data.remove(invitation_id)

        @log.records("member.removed", target=record_target)
        def remove(member_id: str) -> Record:
            """Remove someone from the organization."""
            return data.remove(member_id)

        @log.records("member.role_changed", target=record_target, changes=record_changes)
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

        @log.records("organization.updated", changes=record_changes, when=changed_something)
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

        @log.records("organization.deleted", target=record_target)
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

        @log.records("api_key.created", target=record_target)
        def create(name: str, owner: str) -> Record:
            """Generate a key; integrations act through it on its owner's behalf."""
            return data.add("api_key", name, owner=owner)

        @log.records("api_key.revoked", target=record_target)
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

        @log.records("subscription.plan_changed", changes=record_changes)
        def change_plan(plan: str) -> Changed:
            """Upgrade or downgrade."""
            return set_field("plan", plan)

        @log.records("subscription.seats_updated", changes=record_changes)
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
