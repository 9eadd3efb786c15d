"""Demo operations on files (and the AI pipeline), notes, tags, events and meetings."""

from __future__ import annotations

from datetime import timedelta

from ..models import Actor
from .cast import ERRORS, EVENTS, FILES, MEETINGS, NOTES, TAGS, Person
from .simulation import OpSpec, OrgState, Simulation, registrar

OPERATIONS: list[OpSpec] = []
_op = registrar(OPERATIONS)


# Files and the AI pipeline -------------------------------------------------------------------

PIPELINE = Actor.system("AI pipeline")


def _schedule_processing(sim: Simulation, st: OrgState, file_id: str) -> None:
    """The AI pipeline picks the file up a few minutes later and finishes or fails."""

    def process() -> None:
        if st.deleted or file_id not in st.crm.data.records:
            return
        with sim.log.context(org_id=st.org.id, actor=PIPELINE, source="system"):
            if sim.rng.random() < 0.12:
                st.crm.files.embedding_failed(file_id, sim.rng.choice(ERRORS))
                st.used.add("file.embedding_failed")
            else:
                st.crm.files.embedding_completed(file_id, chunks=sim.rng.randint(3, 180))
                st.used.add("file.embedding_completed")

    sim.at(sim.clock.now + timedelta(seconds=sim.rng.uniform(20, 900)), process)


@_op(["file.created"], 4, api=True)
def _file_upload(sim: Simulation, st: OrgState, who: Person) -> bool:
    with sim.channel(st, who, api=True):
        record = st.crm.files.create(sim.fill(sim.rng.choice(FILES)).replace(" ", "-").lower(),
                                     size=sim.rng.randint(10_000, 25_000_000))
    _schedule_processing(sim, st, record.id)
    return True


@_op(["file.updated"], 1)
def _file_update(sim: Simulation, st: OrgState, who: Person) -> bool:
    files = st.crm.files.all()
    if not files:
        return False
    with sim.channel(st, who, api=False):
        st.crm.files.update(sim.rng.choice(files).id,
                            description=sim.rng.choice(("Signed copy", "Final version", "Draft",
                                                        "For legal review")))
    return True


@_op(["file.deleted"], 0.8)
def _file_delete(sim: Simulation, st: OrgState, who: Person) -> bool:
    files = st.crm.files.all()
    if len(files) < 4:
        return False
    with sim.channel(st, who, api=False):
        st.crm.files.delete(sim.rng.choice(files).id)
    return True


@_op(["file.bulk_deleted"], 0.2)
def _file_bulk_delete(sim: Simulation, st: OrgState, who: Person) -> bool:
    files = st.crm.files.all()
    if len(files) < 8:
        return False
    with sim.channel(st, who, api=False):
        st.crm.files.bulk_delete(sim.some(files, 2, 4))
    return True


@_op(["file.embedding_reprocessed"], 0.8)
def _file_reprocess(sim: Simulation, st: OrgState, who: Person) -> bool:
    failed = [f for f in st.crm.files.all() if f.fields.get("embedding") == "failed"]
    if not failed:
        return False
    file = sim.rng.choice(failed)
    with sim.channel(st, who, api=False):
        st.crm.files.reprocess(file.id)
    _schedule_processing(sim, st, file.id)
    return True


@_op(["file.bulk_reprocessed"], 0.4, admin_only=True)
def _file_bulk_reprocess(sim: Simulation, st: OrgState, who: Person) -> bool:
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
def _note_create(sim: Simulation, st: OrgState, who: Person) -> bool:
    with sim.channel(st, who, api=True):
        st.crm.notes.create(sim.fill(sim.rng.choice(NOTES)),
                            embedding="failed" if sim.rng.random() < 0.1 else "ready")
    return True


@_op(["note.updated"], 2)
def _note_update(sim: Simulation, st: OrgState, who: Person) -> bool:
    notes = st.crm.notes.all()
    if not notes:
        return False
    with sim.channel(st, who, api=False):
        st.crm.notes.update(sim.rng.choice(notes).id, pinned=sim.rng.random() < 0.5,
                            tags=sim.rng.choice(TAGS))
    return True


@_op(["note.deleted"], 0.8)
def _note_delete(sim: Simulation, st: OrgState, who: Person) -> bool:
    notes = st.crm.notes.all()
    if len(notes) < 4:
        return False
    with sim.channel(st, who, api=False):
        st.crm.notes.delete(sim.rng.choice(notes).id)
    return True


@_op(["note.bulk_deleted"], 0.2)
def _note_bulk_delete(sim: Simulation, st: OrgState, who: Person) -> bool:
    notes = st.crm.notes.all()
    if len(notes) < 8:
        return False
    with sim.channel(st, who, api=False):
        st.crm.notes.bulk_delete(sim.some(notes, 2, 4))
    return True


@_op(["note.reprocessed"], 0.6)
def _note_reprocess(sim: Simulation, st: OrgState, who: Person) -> bool:
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
def _note_bulk_reprocess(sim: Simulation, st: OrgState, who: Person) -> bool:
    notes = st.crm.notes.all()
    if len(notes) < 3:
        return False
    with sim.channel(st, who, api=False):
        st.crm.notes.bulk_reprocess(sim.some(notes, 2, 5))
    return True


@_op(["note_tag.created"], 0.5)
def _tag_create(sim: Simulation, st: OrgState, who: Person) -> bool:
    existing = {t.name for t in st.crm.data.of_type("note_tag")}
    free = [t for t in TAGS if t not in existing]
    if not free:
        return False
    with sim.channel(st, who, api=False):
        st.crm.notes.create_tag(sim.rng.choice(free))
    return True


@_op(["note_tag.deleted"], 0.25)
def _tag_delete(sim: Simulation, st: OrgState, who: Person) -> bool:
    tags = st.crm.data.of_type("note_tag")
    if not tags:
        return False
    with sim.channel(st, who, api=False):
        st.crm.notes.delete_tag(sim.rng.choice(tags).id)
    return True


# Events --------------------------------------------------------------------------------------

@_op(["event.created"], 2, api=True)
def _event_create(sim: Simulation, st: OrgState, who: Person) -> bool:
    with sim.channel(st, who, api=True):
        st.crm.events.create(sim.fill(sim.rng.choice(EVENTS)),
                             assignee=sim.rng.choice(st.joined).name)
    return True


@_op(["event.updated"], 1)
def _event_update(sim: Simulation, st: OrgState, who: Person) -> bool:
    events = st.crm.events.all()
    if not events:
        return False
    with sim.channel(st, who, api=False):
        st.crm.events.update(sim.rng.choice(events).id,
                             location=sim.rng.choice(("Berlin", "Room 4", "Online", "Lisbon",
                                                      "São Paulo", "HQ")))
    return True


@_op(["event.deleted"], 0.5)
def _event_delete(sim: Simulation, st: OrgState, who: Person) -> bool:
    events = st.crm.events.all()
    if len(events) < 3:
        return False
    with sim.channel(st, who, api=False):
        st.crm.events.delete(sim.rng.choice(events).id)
    return True


@_op(["event.bulk_deleted"], 0.15)
def _event_bulk_delete(sim: Simulation, st: OrgState, who: Person) -> bool:
    events = st.crm.events.all()
    if len(events) < 6:
        return False
    with sim.channel(st, who, api=False):
        st.crm.events.bulk_delete(sim.some(events, 2, 3))
    return True


@_op(["event.bulk_assignee_changed"], 0.2)
def _event_bulk_assignee(sim: Simulation, st: OrgState, who: Person) -> bool:
    events = st.crm.events.all()
    if len(events) < 3:
        return False
    with sim.channel(st, who, api=False):
        st.crm.events.bulk_change_assignee(sim.some(events, 2, 4), sim.rng.choice(st.joined).name)
    return True


@_op(["event.bulk_client_changed"], 0.2)
def _event_bulk_client(sim: Simulation, st: OrgState, who: Person) -> bool:
    events, clients = st.crm.events.all(), st.crm.clients.all()
    if len(events) < 3 or not clients:
        return False
    with sim.channel(st, who, api=False):
        st.crm.events.bulk_change_client(sim.some(events, 2, 4), sim.rng.choice(clients).name)
    return True


# Meetings ------------------------------------------------------------------------------------

@_op(["meeting.created"], 3, api=True)
def _meeting_create(sim: Simulation, st: OrgState, who: Person) -> bool:
    with sim.channel(st, who, api=True):
        st.crm.meetings.create(sim.fill(sim.rng.choice(MEETINGS)),
                               status="pending" if sim.rng.random() < 0.5 else "approved")
    return True


@_op(["meeting.updated"], 1.2)
def _meeting_update(sim: Simulation, st: OrgState, who: Person) -> bool:
    meetings = st.crm.meetings.all()
    if not meetings:
        return False
    with sim.channel(st, who, api=False):
        st.crm.meetings.update(sim.rng.choice(meetings).id,
                               time=f"{sim.rng.randint(8, 17):02d}:{sim.rng.choice((0, 30)):02d}")
    return True


@_op(["meeting.approved", "meeting.rejected"], 1.5)
def _meeting_decide(sim: Simulation, st: OrgState, who: Person) -> bool:
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
def _meeting_cancel(sim: Simulation, st: OrgState, who: Person) -> bool:
    live = [m for m in st.crm.meetings.all() if m.fields.get("status") == "approved"]
    if not live:
        return False
    with sim.channel(st, who, api=False):
        st.crm.meetings.cancel(sim.rng.choice(live).id)
    return True


@_op(["meeting.deleted"], 0.5)
def _meeting_delete(sim: Simulation, st: OrgState, who: Person) -> bool:
    meetings = st.crm.meetings.all()
    if len(meetings) < 3:
        return False
    with sim.channel(st, who, api=False):
        st.crm.meetings.delete(sim.rng.choice(meetings).id)
    return True


@_op(["meeting.bulk_deleted"], 0.15)
def _meeting_bulk_delete(sim: Simulation, st: OrgState, who: Person) -> bool:
    meetings = st.crm.meetings.all()
    if len(meetings) < 6:
        return False
    with sim.channel(st, who, api=False):
        st.crm.meetings.bulk_delete(sim.some(meetings, 2, 3))
    return True


@_op(["meeting.bulk_client_changed"], 0.2)
def _meeting_bulk_client(sim: Simulation, st: OrgState, who: Person) -> bool:
    meetings, clients = st.crm.meetings.all(), st.crm.clients.all()
    if len(meetings) < 3 or not clients:
        return False
    with sim.channel(st, who, api=False):
        st.crm.meetings.bulk_change_client(sim.some(meetings, 2, 4), sim.rng.choice(clients).name)
    return True
