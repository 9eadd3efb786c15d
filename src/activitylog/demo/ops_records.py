"""Demo operations on leads, clients, tasks and timesheets."""

from __future__ import annotations

from datetime import timedelta

from .cast import CLIENT_STATUSES, LEAD_STATUSES, TASK_STATUSES, TASKS, Person
from .simulation import OpSpec, OrgState, Simulation, registrar

OPERATIONS: list[OpSpec] = []
_op = registrar(OPERATIONS)


# Leads ---------------------------------------------------------------------------------------

@_op(["lead.created"], 10, api=True)
def _lead_create(sim: Simulation, st: OrgState, who: Person) -> bool:
    with sim.channel(st, who, api=True):
        st.crm.leads.create(sim.person_name(), company=sim.company(), status="New")
    return True


@_op(["lead.updated"], 4, api=True)
def _lead_update(sim: Simulation, st: OrgState, who: Person) -> bool:
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
def _lead_status(sim: Simulation, st: OrgState, who: Person) -> bool:
    leads = st.crm.leads.all()
    if not leads:
        return False
    lead = sim.rng.choice(leads)
    current = lead.fields.get("status", "New")
    index = LEAD_STATUSES.index(current) if current in LEAD_STATUSES else 0
    status = LEAD_STATUSES[min(index + 1, len(LEAD_STATUSES) - 1)]
    if status == current:
        return False
    with sim.channel(st, who, api=False):
        st.crm.leads.change_status(lead.id, status)
    return True


@_op(["lead.assigned"], 4)
def _lead_assign(sim: Simulation, st: OrgState, who: Person) -> bool:
    leads = st.crm.leads.all()
    if not leads:
        return False
    with sim.channel(st, who, api=False):
        st.crm.leads.assign(sim.rng.choice(leads).id, sim.rng.choice(st.joined).name)
    return True


@_op(["lead.deleted"], 1.5)
def _lead_delete(sim: Simulation, st: OrgState, who: Person) -> bool:
    leads = st.crm.leads.all()
    if len(leads) < 5:
        return False
    with sim.channel(st, who, api=False):
        st.crm.leads.delete(sim.rng.choice(leads).id)
    return True


@_op(["lead.bulk_deleted"], 0.3, admin_only=True)
def _lead_bulk_delete(sim: Simulation, st: OrgState, who: Person) -> bool:
    leads = st.crm.leads.all()
    if len(leads) < 10:
        return False
    with sim.channel(st, who, api=False):
        st.crm.leads.bulk_delete(sim.some(leads, 2, 8))
    return True


@_op(["lead.bulk_status_changed"], 0.5)
def _lead_bulk_status(sim: Simulation, st: OrgState, who: Person) -> bool:
    leads = st.crm.leads.all()
    if len(leads) < 4:
        return False
    with sim.channel(st, who, api=False):
        st.crm.leads.bulk_change_status(sim.some(leads), sim.rng.choice(LEAD_STATUSES[1:]))
    return True


# Clients -------------------------------------------------------------------------------------

@_op(["client.created"], 3, api=True)
def _client_create(sim: Simulation, st: OrgState, who: Person) -> bool:
    with sim.channel(st, who, api=True):
        st.crm.clients.create(sim.company(), status="Active")
    return True


@_op(["client.updated"], 2, api=True)
def _client_update(sim: Simulation, st: OrgState, who: Person) -> bool:
    clients = st.crm.clients.all()
    if not clients:
        return False
    with sim.channel(st, who, api=True):
        st.crm.clients.update(sim.rng.choice(clients).id,
                              website=f"https://www.example.com/{sim.rng.randint(1, 999)}")
    return True


@_op(["client.status_changed"], 1.5)
def _client_status(sim: Simulation, st: OrgState, who: Person) -> bool:
    clients = st.crm.clients.all()
    if not clients:
        return False
    client = sim.rng.choice(clients)
    choices = [s for s in CLIENT_STATUSES if s != client.fields.get("status")]
    with sim.channel(st, who, api=False):
        st.crm.clients.change_status(client.id, sim.rng.choice(choices))
    return True


@_op(["client.deleted"], 0.6)
def _client_delete(sim: Simulation, st: OrgState, who: Person) -> bool:
    clients = st.crm.clients.all()
    if len(clients) < 4:
        return False
    with sim.channel(st, who, api=False):
        st.crm.clients.delete(sim.rng.choice(clients).id)
    return True


@_op(["client.bulk_deleted"], 0.2, admin_only=True)
def _client_bulk_delete(sim: Simulation, st: OrgState, who: Person) -> bool:
    clients = st.crm.clients.all()
    if len(clients) < 8:
        return False
    with sim.channel(st, who, api=False):
        st.crm.clients.bulk_delete(sim.some(clients, 2, 4))
    return True


@_op(["client.bulk_status_changed"], 0.3)
def _client_bulk_status(sim: Simulation, st: OrgState, who: Person) -> bool:
    clients = st.crm.clients.all()
    if len(clients) < 4:
        return False
    with sim.channel(st, who, api=False):
        st.crm.clients.bulk_change_status(sim.some(clients), sim.rng.choice(CLIENT_STATUSES))
    return True


# Tasks ---------------------------------------------------------------------------------------

@_op(["task.created"], 8, api=True)
def _task_create(sim: Simulation, st: OrgState, who: Person) -> bool:
    with sim.channel(st, who, api=True):
        st.crm.tasks.create(sim.fill(sim.rng.choice(TASKS)), status="Pending",
                            assignee=sim.rng.choice(st.joined).name)
    return True


@_op(["task.updated"], 3, api=True)
def _task_update(sim: Simulation, st: OrgState, who: Person) -> bool:
    tasks = st.crm.tasks.all()
    if not tasks:
        return False
    due = (sim.clock.now + timedelta(days=sim.rng.randint(1, 21))).date().isoformat()
    with sim.channel(st, who, api=True):
        st.crm.tasks.update(sim.rng.choice(tasks).id, due=due)
    return True


@_op(["task.status_changed"], 7)
def _task_status(sim: Simulation, st: OrgState, who: Person) -> bool:
    tasks = st.crm.tasks.all()
    if not tasks:
        return False
    task = sim.rng.choice(tasks)
    choices = [s for s in TASK_STATUSES if s != task.fields.get("status")]
    with sim.channel(st, who, api=False):
        st.crm.tasks.change_status(task.id, sim.rng.choice(choices))
    return True


@_op(["task.deleted"], 1.5)
def _task_delete(sim: Simulation, st: OrgState, who: Person) -> bool:
    tasks = st.crm.tasks.all()
    if len(tasks) < 5:
        return False
    with sim.channel(st, who, api=False):
        st.crm.tasks.delete(sim.rng.choice(tasks).id)
    return True


@_op(["task.bulk_deleted"], 0.3)
def _task_bulk_delete(sim: Simulation, st: OrgState, who: Person) -> bool:
    tasks = st.crm.tasks.all()
    if len(tasks) < 10:
        return False
    with sim.channel(st, who, api=False):
        st.crm.tasks.bulk_delete(sim.some(tasks, 2, 6))
    return True


@_op(["task.bulk_status_changed"], 0.6)
def _task_bulk_status(sim: Simulation, st: OrgState, who: Person) -> bool:
    tasks = st.crm.tasks.all()
    if len(tasks) < 4:
        return False
    with sim.channel(st, who, api=False):
        st.crm.tasks.bulk_change_status(sim.some(tasks), sim.rng.choice(TASK_STATUSES))
    return True


@_op(["task.bulk_assignee_changed"], 0.4)
def _task_bulk_assignee(sim: Simulation, st: OrgState, who: Person) -> bool:
    tasks = st.crm.tasks.all()
    if len(tasks) < 4:
        return False
    with sim.channel(st, who, api=False):
        st.crm.tasks.bulk_change_assignee(sim.some(tasks), sim.rng.choice(st.joined).name)
    return True


@_op(["task.bulk_client_changed"], 0.3)
def _task_bulk_client(sim: Simulation, st: OrgState, who: Person) -> bool:
    tasks, clients = st.crm.tasks.all(), st.crm.clients.all()
    if len(tasks) < 4 or not clients:
        return False
    with sim.channel(st, who, api=False):
        st.crm.tasks.bulk_change_client(sim.some(tasks), sim.rng.choice(clients).name)
    return True


# Timesheets ----------------------------------------------------------------------------------

@_op(["timesheet.created"], 4)
def _timesheet_create(sim: Simulation, st: OrgState, who: Person) -> bool:
    hours = sim.rng.choice((0.5, 1, 1.5, 2, 3, 4, 6, 8))
    with sim.channel(st, who, api=False):
        st.crm.timesheets.create(f"{sim.clock.now.date().isoformat()} · {hours:g} h", hours=hours)
    return True


@_op(["timesheet.updated"], 1.5)
def _timesheet_update(sim: Simulation, st: OrgState, who: Person) -> bool:
    entries = st.crm.timesheets.all()
    if not entries:
        return False
    with sim.channel(st, who, api=False):
        st.crm.timesheets.update(sim.rng.choice(entries).id,
                                 hours=sim.rng.choice((1, 2, 2.5, 4, 7.5)))
    return True


@_op(["timesheet.deleted"], 0.6)
def _timesheet_delete(sim: Simulation, st: OrgState, who: Person) -> bool:
    entries = st.crm.timesheets.all()
    if len(entries) < 3:
        return False
    with sim.channel(st, who, api=False):
        st.crm.timesheets.delete(sim.rng.choice(entries).id)
    return True


@_op(["timesheet.bulk_deleted"], 0.2)
def _timesheet_bulk_delete(sim: Simulation, st: OrgState, who: Person) -> bool:
    entries = st.crm.timesheets.all()
    if len(entries) < 6:
        return False
    with sim.channel(st, who, api=False):
        st.crm.timesheets.bulk_delete(sim.some(entries, 2, 5))
    return True


@_op(["timesheet.week_saved"], 1.5)
def _timesheet_week(sim: Simulation, st: OrgState, who: Person) -> bool:
    year, week, _ = sim.clock.now.isocalendar()
    days = ("Mon", "Tue", "Wed", "Thu", "Fri")
    grid = {day: sim.rng.choice((4, 6, 7.5, 8)) for day in days if sim.rng.random() < 0.9}
    if not grid:
        return False
    with sim.channel(st, who, api=False):
        st.crm.timesheets.save_week(f"{year}-W{week:02d}", grid)
    return True
