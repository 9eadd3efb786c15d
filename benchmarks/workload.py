"""A seeded, realistic CRM workload: organizations, people, objects and two years of activity.

Twenty organizations of skewed sizes (the largest holds ~30% of the entries), ~200 people with
their own activity levels, every action of the built-in catalogue at a plausible frequency,
targets with readable labels, changes and bulk counts, an API integration and the AI pipeline.
Descriptions are rendered by the catalogue's templates (entries are made with
:meth:`ActivityLog.build`). The same seed and size always give the same entries, apart from the
random low bits of ids, which the id generator draws itself.
"""

from __future__ import annotations

import bisect
import itertools
import random
import string
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from activitylog import ActivityLog
from activitylog.models import Actor, ApiKeyRef, Entry, Target
from activitylog.registry import ActionRegistry, ActionType

#: Relative sizes of the organizations, largest first (the largest is ~30% of all entries).
ORG_WEIGHTS = (30.0, 12.0, 8.5, 7.0, 6.0, 5.0, 4.5, 4.0, 3.5, 3.0,
               2.7, 2.4, 2.1, 1.9, 1.7, 1.5, 1.3, 1.1, 1.0, 0.8)  # fmt: skip
ORG_NAMES = ("Northwind Traders", "Blue Harbor Logistics", "Cedar & Finch", "Altamira Health",
             "Brightline Realty", "Kestrel Analytics", "Oakridge Legal", "Lumen Solar",
             "Pinecrest Dental", "Harborview Hotels", "Quarry Street Studio", "Saffron Foods",
             "Tidewater Marine", "Verdant Landscaping", "Ironclad Security", "Maple & Co",
             "Summit Physio", "Orchid Travel", "Riverbend Schools", "Juniper Labs")  # fmt: skip

FIRST = ("Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Isabella",
         "Mateo", "Mia", "Lucas", "Charlotte", "Levi", "Harper", "Ethan", "Aisha", "Omar",
         "Priya", "Arjun", "Mei", "Hiroshi", "Yuki", "Chen", "Fatima", "Youssef", "Ingrid", "Lars",
         "Chiara", "Luca", "Sofía", "Diego", "Camila", "Andrés", "Zanele", "Kwame", "Amara",
         "Tomás", "Élodie", "Mathieu", "Katarzyna", "Piotr", "Anja", "Jonas", "Nadia", "Ivan",
         "Grace", "Daniel", "Hannah", "Samuel", "Leila", "Reza", "Ana", "João", "Siobhan",
         "Ciarán", "Marta", "Pablo", "Ayşe", "Emre")  # fmt: skip
LAST = ("Smith", "Johnson", "Garcia", "Martinez", "Brown", "Davis", "Lopez", "Wilson",
        "Anderson", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris",
        "Clark", "Lewis", "Walker", "Patel", "Sharma", "Nguyen", "Tanaka", "Sato", "Kim", "Park",
        "Wang", "Li", "Zhang", "Haddad", "Rahman", "Okafor", "Mensah", "Novak", "Kowalski",
        "Müller", "Schmidt", "Rossi", "Bianchi", "Dubois", "Lefèvre", "Fernández", "Silva",
        "Santos", "Andersson", "Johansson", "O'Brien", "Murphy", "Kaya", "Yılmaz", "Cohen",
        "Ivanova", "Petrov", "Nakamura", "Fischer", "Jensen", "Costa", "Ahmed", "Hughes")  # fmt: skip
#: One person in the largest organization whose surname occurs nowhere else: the rare search.
RARE_PERSON = ("Zofia", "Wojciechowska")
RARE_FRAGMENT = "wojci"

COMPANY_A = ("Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Soylent", "Hooli",
             "Vandelay", "Wonka", "Cyberdyne", "Tyrell", "Gringotts", "Monarch", "Aperture",
             "Pied Piper", "Massive Dynamic", "Oscorp", "Dunder", "Bluth", "Prestige", "Nakatomi",
             "Sterling", "Cooper", "Atlas", "Zenith", "Evergreen", "Silverline", "Redwood",
             "Horizon", "Polaris", "Keystone", "Granite", "Beacon", "Falcon", "Orion")  # fmt: skip
COMPANY_B = ("Corp", "Industries", "Holdings", "Partners", "Group", "Labs", "Systems", "Logistics",
             "Consulting", "Foods", "Media", "Capital", "Dynamics", "Ventures", "Supply",
             "Design", "Energy", "Health", "Retail", "Software")  # fmt: skip
TASK_VERBS = ("Follow up with", "Send proposal to", "Call", "Prepare invoice for",
              "Schedule demo with", "Review contract of", "Onboard", "Collect feedback from",
              "Renew license for", "Update pricing for")  # fmt: skip
FILE_WORDS = ("Proposal", "Contract", "Invoice", "Brief", "Roadmap", "Minutes", "Pricing",
              "Deck", "Report", "Checklist")  # fmt: skip
FILE_EXT = ("pdf", "docx", "xlsx", "pptx", "png", "csv")
EVENT_WORDS = ("Quarterly review", "Product launch", "Team offsite", "Webinar", "Trade show",
               "Training day", "Board meeting", "Customer summit")  # fmt: skip
TAGS = ("urgent", "follow-up", "billing", "legal", "vip", "renewal", "onboarding", "support")

STATUSES = {
    "lead": ("New", "Contacted", "Qualified", "Proposal", "Won", "Lost"),
    "client": ("Prospect", "Active", "On hold", "Churned"),
    "task": ("Pending", "In Progress", "Blocked", "Completed"),
}
FIELDS = {
    "lead": ("name", "company", "phone", "email", "notes", "source"),
    "client": ("name", "phone", "email", "address", "industry"),
    "task": ("title", "due_date", "priority", "description"),
    "timesheet entry": ("hours", "description", "project"),
    "file": ("name", "description"),
    "note": ("content", "visibility", "title"),
    "event": ("title", "starts_at", "location"),
    "meeting": ("title", "starts_at", "agenda", "location"),
}
ROLES = ("Member", "Admin", "Owner")
PLANS = ("Starter", "Growth", "Business", "Enterprise")

#: How often each category happens, relative to the others.
CATEGORY_WEIGHTS = {"Leads": 26.0, "Clients": 10.0, "Tasks": 24.0, "Timesheets": 12.0,
                    "Files": 8.0, "Notes": 9.0, "Events": 4.0, "Meetings": 5.0, "Members": 1.0,
                    "Organization": 0.15, "API Keys": 0.2, "Subscription": 0.1}  # fmt: skip
#: How often an action happens within its category, by the last part of its key.
SUFFIX_WEIGHTS = {"created": 8.0, "updated": 14.0, "status_changed": 9.0, "assigned": 4.0,
                  "deleted": 2.0, "week_saved": 3.0, "embedding_completed": 6.0,
                  "embedding_failed": 0.5, "embedding_reprocessed": 0.3, "reprocessed": 0.3,
                  "invited": 2.0, "joined": 1.5, "removed": 0.5, "role_changed": 0.7,
                  "cancelled": 0.3, "canceled": 0.5, "approved": 2.0, "rejected": 0.5,
                  "revoked": 1.0, "reactivated": 0.3, "plan_changed": 1.0,
                  "seats_updated": 1.5}  # fmt: skip
BULK_WEIGHT = 0.25  # every bulk action
ORGANIZATION_DELETED_WEIGHT = 0.005
API_SHARE = 0.08  # entries made through an API key


@attrs.frozen
class Workload:
    """The generated activity: the ``record()`` arguments and the entries built from them."""

    seed: int
    org_ids: tuple[str, ...]  # largest first
    records: list[dict[str, Any]]  # ActivityLog.record() keyword arguments, action included
    entries: list[Entry]  # built from ``records`` in order (ids time-ordered)
    build_seconds: float
    end: datetime  # the newest entry is at or before this instant
    people: dict[str, list[Actor]]  # org_id -> its people
    two_word_name: str  # a full name in the largest organization

    @property
    def largest_org(self) -> str:
        """The organization with the most entries."""
        return self.org_ids[0]


def _unique_names(rng: random.Random, n: int) -> Iterator[tuple[str, str]]:
    seen: set[tuple[str, str]] = {RARE_PERSON}
    while n:
        name = (rng.choice(FIRST), rng.choice(LAST))
        if name not in seen:
            seen.add(name)
            n -= 1
            yield name


class _Org:
    """One organization: its people (with activity weights), objects and API key."""

    def __init__(self, rng: random.Random, index: int, org_id: str, name: str, people: int,
                 names: Iterator[tuple[str, str]]) -> None:  # fmt: skip
        self.org_id = org_id
        self.name = name
        self.people: list[Actor] = []
        weights: list[float] = []
        for i in range(people):
            first, last = next(names)
            self.people.append(Actor(f"u{index:02d}{i:03d}", f"{first} {last}",
                                     f"https://avatars.example.com/u{index:02d}{i:03d}.png"))
            weights.append(1.0 / (i + 1) ** 0.8)  # a few very active people, a long tail
        if index == 0:
            first, last = RARE_PERSON
            self.people.append(Actor(f"u{index:02d}rare", f"{first} {last}"))
            weights.append(weights[-1] * 0.02)
        self.cum_people = list(itertools.accumulate(weights))
        self.system = Actor.system("AI pipeline", id=f"system:ai:{org_id}")
        self.api_key = ApiKeyRef(f"key_{index:02d}live", f"{rng.choice(('Zapier', 'HubSpot sync', 'Website form', 'Mobile app'))} integration")
        self.counters: dict[str, int] = {}
        self.objects: dict[str, list[Target]] = {}
        self.rng = rng

    def person(self) -> Actor:
        """Someone of this organization, picked by activity level."""
        return self.people[bisect.bisect_left(self.cum_people, self.rng.random() * self.cum_people[-1])]

    def new_target(self, noun: str) -> Target:
        """A new object of this kind, with a readable label."""
        rng = self.rng
        n = self.counters.get(noun, 0) + 1
        self.counters[noun] = n
        company = f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)}"
        if noun in ("lead", "client"):
            label = company if rng.random() < 0.6 else " ".join(
                (rng.choice(FIRST), rng.choice(LAST))
            )
        elif noun == "task":
            label = f"{rng.choice(TASK_VERBS)} {company}"
        elif noun == "timesheet entry":
            label = f"Week {rng.randint(1, 52)} — {rng.choice(self.people).name}"
        elif noun == "file":
            label = f"{company} {rng.choice(FILE_WORDS)}.{rng.choice(FILE_EXT)}"
        elif noun == "note":
            label = f"{rng.choice(('Call notes', 'Meeting notes', 'Idea', 'Summary'))}: {company}"
        elif noun == "note tag":
            label = rng.choice(TAGS)
        elif noun == "event":
            label = f"{rng.choice(EVENT_WORDS)} {rng.randint(2023, 2026)}"
        elif noun == "meeting":
            label = f"Demo with {company}"
        elif noun in ("member", "invitation"):
            label = " ".join((rng.choice(FIRST), rng.choice(LAST)))
        elif noun == "API key":
            label = f"{rng.choice(('Zapier', 'Reporting', 'Website', 'Backup'))} key"
        elif noun == "organization":
            label = self.name
        else:
            label = f"{noun} {n}"
        target = Target(noun.replace(" ", "_"), n, label)
        self.objects.setdefault(noun, []).append(target)
        return target

    def existing(self, noun: str) -> Target:
        """An object made earlier (a new one when there is none yet)."""
        pool = self.objects.get(noun)
        if not pool or self.rng.random() < 0.05:
            return self.new_target(noun)
        # Recent objects are touched more often than old ones.
        return pool[len(pool) - 1 - min(len(pool) - 1, int(self.rng.expovariate(1 / 40)))]


def _placeholders(action: ActionType) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(action.template) if name}


def _changes(rng: random.Random, org: _Org, action: ActionType) -> dict[str, Any]:
    suffix = action.key.split(".", 1)[1]
    noun = action.noun
    if "status" in suffix:
        statuses = STATUSES.get(noun, STATUSES["task"])
        old, new = rng.sample(statuses, 2)
        return {"status": (old, new)}
    if suffix in ("assigned", "bulk_assignee_changed"):
        old, new = rng.sample(org.people, 2)
        return {"assignee": (old.name, new.name)}
    if suffix.endswith("client_changed"):
        return {"client": (f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)}",
                           f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)}")}  # fmt: skip
    if suffix == "role_changed":
        old, new = rng.sample(ROLES[:2], 2)
        return {"role": (old, new)}
    if suffix == "plan_changed":
        old, new = rng.sample(PLANS, 2)
        return {"plan": (old, new)}
    if suffix == "seats_updated":
        old = rng.randint(3, 60)
        return {"seats": (old, old + rng.choice((-2, -1, 1, 2, 5)))}
    if action.key == "organization.updated":
        return {"name": (org.name, org.name + " Inc.")} if rng.random() < 0.5 else {"logo": ("old.png", "new.png")}
    field = rng.choice(FIELDS.get(noun, ("name",)))
    if field in ("hours",):
        return {field: (rng.randint(1, 8), rng.randint(1, 8))}
    if field in ("due_date", "starts_at"):
        day = rng.randint(1, 28)
        return {field: (f"2025-0{rng.randint(1, 9)}-{day:02d}", f"2025-1{rng.randint(0, 2)}-{day:02d}")}
    if field in ("content", "description", "notes", "agenda"):
        return {field: ("…", "…")}  # long text: the change is recorded, not the text
    return {field: (rng.choice(COMPANY_A), rng.choice(COMPANY_A))}


def _fields(rng: random.Random, org: _Org, action: ActionType) -> dict[str, Any]:
    """``record()`` arguments (org, actor, target, changes, metadata, source) for one action."""
    wanted = _placeholders(action)
    suffix = action.key.split(".", 1)[1]
    fields: dict[str, Any] = {"org_id": org.org_id}
    if action.key.startswith("file.embedding_completed") or action.key == "file.embedding_failed":
        fields["actor"] = org.system
    elif action.key == "member.joined":
        fields["actor"] = rng.choice(org.people)
    else:
        fields["actor"] = org.person()
    if "target" in wanted:
        noun = action.noun
        if suffix in ("created", "invited") or (noun == "note tag" and suffix == "created"):
            fields["target"] = org.new_target(noun)
        elif noun == "organization":
            fields["target"] = Target("organization", org.org_id, org.name)
        else:
            fields["target"] = org.existing(noun)
    if "changes" in wanted:
        fields["changes"] = _changes(rng, org, action)
    if "items" in wanted:
        count = rng.randint(2, 40)
        if rng.random() < 0.5:
            fields["metadata"] = {"count": count}
        else:
            base = rng.randint(1, 50_000)
            fields["metadata"] = {"ids": list(range(base, base + count))}
    if fields["actor"].kind.value == "user" and rng.random() < API_SHARE:
        fields["api_key"] = org.api_key
        fields.setdefault("metadata", {})["request_id"] = f"req_{rng.getrandbits(48):012x}"
    return fields


def _weights(registry: ActionRegistry) -> tuple[list[ActionType], list[float]]:
    actions = list(registry)
    by_category: dict[str, list[ActionType]] = {}
    for action in actions:
        by_category.setdefault(action.category, []).append(action)
    weights = []
    for action in actions:
        suffix = action.key.split(".", 1)[1]
        if action.key == "organization.deleted":
            raw = ORGANIZATION_DELETED_WEIGHT
        elif suffix.startswith("bulk_"):
            raw = BULK_WEIGHT
        else:
            raw = SUFFIX_WEIGHTS.get(suffix, 1.0)
        total = sum(
            BULK_WEIGHT if a.key.split(".", 1)[1].startswith("bulk_")
            else SUFFIX_WEIGHTS.get(a.key.split(".", 1)[1], 1.0)
            for a in by_category[action.category]
        )
        weights.append(CATEGORY_WEIGHTS.get(action.category, 1.0) * raw / total)
    return actions, list(itertools.accumulate(weights))


def _moments(rng: random.Random, n: int, end: datetime, days: int = 730) -> list[datetime]:
    """``n`` sorted instants over ``days`` before ``end``: growing activity, busy weekdays."""
    moments: list[datetime] = []
    start = end - timedelta(days=days)
    while len(moments) < n:
        # Activity grows over the two years: density rises linearly from 1 to 3.
        u = rng.random()
        x = (-1 + (1 + 8 * u) ** 0.5) / 2  # inverse CDF of density (1 + 2x) / 2 on [0, 1]
        offset = x * days * 86_400
        moment = start + timedelta(seconds=offset)
        if moment >= end:
            continue
        hour = moment.hour + moment.minute / 60
        busy = 1.0 if 7 <= hour < 19 else 0.15
        if moment.weekday() >= 5:
            busy *= 0.2
        if rng.random() < busy:
            moments.append(moment)
    moments.sort()
    return moments


def generate(n: int, seed: int = 7, *, end: datetime | None = None,
             progress: Callable[[int], None] | None = None) -> Workload:  # fmt: skip
    """``n`` entries of CRM activity over the two years before ``end`` (default: now)."""
    import time

    rng = random.Random(seed)
    if end is None:
        end = datetime.now(timezone.utc) - timedelta(seconds=1)
    registry = ActionRegistry()
    actions, cum_actions = _weights(registry)
    names = _unique_names(rng, 400)
    total_weight = sum(ORG_WEIGHTS)
    orgs: list[_Org] = []
    for index, (weight, name) in enumerate(zip(ORG_WEIGHTS, ORG_NAMES, strict=True)):
        people = max(3, round(200 * weight / total_weight))
        org_id = f"org_{index + 1:02d}_{name.split()[0].lower()}"
        orgs.append(_Org(rng, index, org_id, name, people, names))
    cum_orgs = list(itertools.accumulate(ORG_WEIGHTS))
    moments = _moments(rng, n, end)
    # Every catalogue action appears at least once, whatever its weight.
    forced = {rng.randrange(n): action for action in actions} if n >= 2 * len(actions) else {}
    records: list[dict[str, Any]] = []
    for i, moment in enumerate(moments):
        org = orgs[bisect.bisect_left(cum_orgs, rng.random() * cum_orgs[-1])]
        action = forced.get(i) or actions[
            bisect.bisect_left(cum_actions, rng.random() * cum_actions[-1])
        ]
        fields = _fields(rng, org, action)
        fields["occurred_at"] = moment
        fields["action"] = action.key
        records.append(fields)
    log = ActivityLog()  # only its builder is used: entries are validated and described here
    entries: list[Entry] = []
    started = time.perf_counter()
    for i, record in enumerate(records):
        fields = dict(record)
        entries.append(log.build(fields.pop("action"), **fields))
        if progress is not None and i % 100_000 == 99_999:
            progress(i + 1)
    build_seconds = time.perf_counter() - started
    biggest = orgs[0]
    two_word = biggest.people[len(biggest.people) // 3].name
    return Workload(
        seed=seed,
        org_ids=tuple(org.org_id for org in orgs),
        records=records,
        entries=entries,
        build_seconds=build_seconds,
        end=end,
        people={org.org_id: org.people for org in orgs},
        two_word_name=two_word,
    )
