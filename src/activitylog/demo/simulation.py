"""The demo's discrete-event simulation: organizations acting through the service over days."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from ..access import Role
from ..log import ActivityLog
from ..models import ApiKeyRef
from .cast import COMPANIES, DAYS, FIRST_NAMES, LAST_NAMES, MAIN_ORG, ORGS, PLANS, DemoOrg, Person
from .records import Record
from .service import Crm


class Clock:
    """The simulation's clock: the log reads ``now``, the simulation moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@attrs.define
class Key:
    """A live API key of a demo organization, and the person it acts as."""

    record: Record
    owner: Person

    @property
    def ref(self) -> ApiKeyRef:
        """The key as the Activity Log records it."""
        return ApiKeyRef(self.record.id, self.record.name)


@attrs.define
class OrgState:
    """What the simulation knows of one organization: who has joined, its keys, what it did."""

    org: DemoOrg
    crm: Crm
    joined: list[Person]
    pending: list[Person]
    keys: list[Key] = attrs.field(factory=list)
    used: set[str] = attrs.field(factory=set)
    deleted: bool = False


# An operation: who may do it, whether it can go through the REST API, the actions it records
# (to favour the ones the organization has not seen yet), its weight, and what it does.
Op = Callable[["Simulation", OrgState, Person], bool]


@attrs.frozen
class OpSpec:
    """One operation people may do, with how often and who may do it."""

    fn: Op
    actions: tuple[str, ...]
    weight: float
    admin_only: bool = False
    api: bool = False


class Simulation:
    """A discrete-event simulation of the demo organizations over ``DAYS`` days."""

    def __init__(self, log: ActivityLog, clock: Clock, seed: int, now: datetime,
                 operations: Sequence[OpSpec]) -> None:
        self.log = log
        self.operations = operations
        self.clock = clock
        self.rng = random.Random(seed)
        self.now = now
        self.start = now - timedelta(days=DAYS)
        self._queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self.states = {
            org.id: OrgState(
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

    def _schedule_org(self, state: OrgState) -> None:
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

    def _story(self, state: OrgState) -> None:
        """The main organization's milestones, on fixed days, around the random activity."""
        owner, admin = state.org.people[0], state.org.people[1]

        def day(n: int, hour: float) -> datetime:
            return self.start + timedelta(days=n, hours=hour, seconds=self.rng.uniform(0, 600))

        def create_key(person: Person, name: str) -> None:
            with self.as_(state, person):
                record = state.crm.api_keys.create(name, owner=person.name)
            state.keys.append(Key(record, person))

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

    def as_(self, state: OrgState, person: Person, key: Key | None = None) -> Any:
        """The recording context of ``person`` in the dashboard, or through ``key``."""
        if key is not None:
            return self.log.context(org_id=state.org.id, actor=person.actor, api_key=key.ref)
        return self.log.context(org_id=state.org.id, actor=person.actor, source="dashboard")

    def _setup(self, state: OrgState) -> None:
        crm, org, rng = state.crm, state.org, self.rng
        with self.as_(state, org.owner):
            crm.organization.update(logo=f"https://cdn.example.com/{org.id}/logo.png")
            crm.subscription.change_plan(rng.choice(PLANS[:2]))
            crm.subscription.update_seats(len(org.people) + rng.randrange(0, 3))
            for person in org.people[1:]:
                self._invite(state, person, minutes=rng.uniform(1, 60))
        state.used.update({"organization.updated", "subscription.plan_changed",
                           "subscription.seats_updated", "member.invited"})

    def _invite(self, state: OrgState, person: Person, minutes: float) -> None:
        invitation = state.crm.members.invite(person.email, person.role.value.title())
        join_at = self.clock.now + timedelta(minutes=minutes, hours=self.rng.choice((0, 0, 3, 20)))
        self.at(join_at, lambda: self._join(state, person, invitation.id))

    def _join(self, state: OrgState, person: Person, invitation_id: str) -> None:
        if state.deleted or invitation_id not in state.crm.data.records:
            return
        with self.as_(state, person):
            state.crm.members.join(invitation_id, person.name)
        state.joined.append(person)
        if person in state.pending:
            state.pending.remove(person)
        state.used.add("member.joined")

    def _delete_org(self, state: OrgState) -> None:
        with self.as_(state, state.org.owner):
            state.crm.organization.delete()
        state.deleted = True

    def _random_action(self, state: OrgState) -> None:
        if state.deleted:
            return
        rng = self.rng
        person = rng.choice(state.joined)
        admin = person.role in (Role.OWNER, Role.ADMIN)
        candidates = [op for op in self.operations if admin or not op.admin_only]
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
        return self.rng.choice(COMPANIES)

    def person_name(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"

    def fill(self, template: str) -> str:
        return template.format(c=self.company(), q=self.rng.randint(1, 4),
                               n=self.rng.randint(1000, 9999))

    def some(self, records: Sequence[Record], low: int = 2, high: int = 6) -> list[str]:
        k = min(len(records), self.rng.randint(low, high))
        return [r.id for r in self.rng.sample(list(records), k)]

    def channel(self, state: OrgState, person: Person, api: bool) -> Any:
        """Dashboard, or (now and then) the REST API with a live key."""
        if api and state.keys and self.rng.random() < 0.35:
            key = self.rng.choice(state.keys)
            return self.as_(state, key.owner, key)
        return self.as_(state, person)


def registrar(operations: list[OpSpec]) -> Callable[..., Callable[[Op], Op]]:
    """A decorator factory adding each decorated function to ``operations`` as an operation."""

    def operation(actions: Iterable[str], weight: float, *, admin_only: bool = False,
                  api: bool = False) -> Callable[[Op], Op]:
        def register(fn: Op) -> Op:
            operations.append(OpSpec(fn, tuple(actions), weight, admin_only, api))
            return fn
        return register

    return operation
