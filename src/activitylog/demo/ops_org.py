"""Demo operations of Owners and Admins: members, the organization, API keys, billing."""

from __future__ import annotations

from typing import Any

from ..access import Role
from .cast import PLANS, Person
from .records import Record
from .simulation import Key, OpSpec, OrgState, Simulation, registrar

OPERATIONS: list[OpSpec] = []
_op = registrar(OPERATIONS)


# Members, organization, API keys, subscription (Owners and Admins) ---------------------------

@_op(["member.invited"], 0.4, admin_only=True)
def _member_invite(sim: Simulation, st: OrgState, who: Person) -> bool:
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
def _invitation_cancel(sim: Simulation, st: OrgState, who: Person) -> bool:
    invitations = st.crm.members.invitations()
    if not invitations:
        # An invitation sent to a wrong address, to be cancelled another day.
        with sim.as_(st, who):
            st.crm.members.invite(f"{sim.person_name().split()[0].lower()}@typo.example")
        return False
    with sim.as_(st, who):
        st.crm.members.cancel_invitation(sim.rng.choice(invitations).id)
    return True


def _removable(st: OrgState) -> list[Record]:
    core = {p.name for p in st.org.people}
    return [m for m in st.crm.members.all() if m.name not in core]


@_op(["member.removed"], 0.2, admin_only=True)
def _member_remove(sim: Simulation, st: OrgState, who: Person) -> bool:
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
def _member_role(sim: Simulation, st: OrgState, who: Person) -> bool:
    members = _removable(st) or [m for m in st.crm.members.all() if m.fields["role"] != "Owner"]
    if not members:
        return False
    member = sim.rng.choice(members)
    role = "Admin" if member.fields.get("role") == "Member" else "Member"
    with sim.as_(st, who):
        st.crm.members.change_role(member.id, role)
    return True


@_op(["organization.updated"], 0.15, admin_only=True)
def _org_update(sim: Simulation, st: OrgState, who: Person) -> bool:
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
def _key_create(sim: Simulation, st: OrgState, who: Person) -> bool:
    if len(st.keys) >= 3:
        return False
    name = sim.rng.choice(("Zapier integration", "Website form", "Data warehouse sync",
                           "Mobile app", "Billing webhook"))
    with sim.as_(st, who):
        record = st.crm.api_keys.create(name, owner=who.name)
    st.keys.append(Key(record, who))
    return True


@_op(["api_key.revoked"], 0.08, admin_only=True)
def _key_revoke(sim: Simulation, st: OrgState, who: Person) -> bool:
    if not st.keys:
        return False
    key = sim.rng.choice(st.keys)
    with sim.as_(st, who):
        st.crm.api_keys.revoke(key.record.id)
    st.keys.remove(key)
    return True


@_op(["subscription.plan_changed"], 0.08, admin_only=True)
def _plan_change(sim: Simulation, st: OrgState, who: Person) -> bool:
    current = st.crm.subscription.state.fields["plan"]
    with sim.as_(st, who):
        st.crm.subscription.change_plan(sim.rng.choice([p for p in PLANS if p != current]))
    return True


@_op(["subscription.seats_updated"], 0.1, admin_only=True)
def _seats_update(sim: Simulation, st: OrgState, who: Person) -> bool:
    seats = int(st.crm.subscription.state.fields["seats"])
    with sim.as_(st, who):
        st.crm.subscription.update_seats(max(1, seats + sim.rng.choice((-1, 1, 2, 3))))
    return True


@_op(["subscription.canceled", "subscription.reactivated"], 0.06, admin_only=True)
def _subscription_toggle(sim: Simulation, st: OrgState, who: Person) -> bool:
    with sim.as_(st, who):
        if st.crm.subscription.canceled:
            st.crm.subscription.reactivate()
            st.used.add("subscription.reactivated")
        else:
            st.crm.subscription.cancel()
            st.used.add("subscription.canceled")
    return True


@_op([], 0.5, admin_only=True)
def _reactivate_soon(sim: Simulation, st: OrgState, who: Person) -> bool:
    # A cancellation is usually taken back within days.
    if not st.crm.subscription.canceled:
        return False
    with sim.as_(st, who):
        st.crm.subscription.reactivate()
    st.used.add("subscription.reactivated")
    return True
