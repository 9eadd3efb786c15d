"""Who is in the demo: its organizations and their people, and the words its activity uses."""

from __future__ import annotations

import attrs

from ..access import Role, Viewer
from ..models import Actor


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

COMPANIES = (
    "Northwind Traders", "Contoso", "Fabrikam", "Umbrella Health", "Stark Logistics",
    "Wayne Enterprises", "Soylent Foods", "Tyrell Systems", "Cyberdyne Labs", "Hooli",
    "Pied Piper", "Vandelay Industries", "Oscorp", "Wonka Confections", "Blue Sun",
    "Gringotts Finance", "Monsters Inc.", "Duff Brewing", "Los Pollos Hermanos", "Aperture Science",
    "Kruger Bau GmbH", "Société Lumière", "Nakatomi Trading", "Bluth Company", "Prestige Worldwide",
)
FIRST_NAMES = ("Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Tim", "Barbara", "Dennis",
          "Frances", "Ken", "Radia", "Guido", "Hedy", "Edsger", "Joan", "Niklaus", "Sophie",
          "José", "Zoë", "Björn", "Aiko", "Mateo", "Ingrid")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Berners-Lee",
         "Liskov", "Ritchie", "Allen", "Thompson", "Perlman", "van Rossum", "Lamarr", "Dijkstra",
         "Clarke", "Wirth", "Wilson", "García", "Nakamura", "Lindqvist", "Okoye")
TASKS = ("Send proposal to {c}", "Follow up with {c}", "Prepare Q{q} review for {c}",
          "Fix onboarding checklist", "Call {c} about renewal", "Draft contract for {c}",
          "Update pricing sheet", "Review support tickets", "Plan workshop with {c}",
          "Collect invoices from {c}")
FILES = ("contract-{c}.pdf", "proposal-{c}.docx", "pricing-2025.xlsx", "meeting-notes-{c}.md",
          "brand-guidelines.pdf", "invoice-{n}.pdf", "roadmap.pptx", "logo-{c}.png",
          "requirements-{c}.pdf", "scan-{n}.tiff")
NOTES = ("Call summary: {c}", "Ideas for {c}", "Objections heard from {c}", "Weekly sync notes",
          "Onboarding feedback", "Renewal risks — {c}", "Competitor notes", "Pricing questions")
EVENTS = ("Trade fair", "Webinar: what's new", "Team offsite", "Quarterly planning",
           "Customer day at {c}", "Product demo for {c}", "Holiday party", "Sales kickoff")
MEETINGS = ("Kickoff with {c}", "Demo for {c}", "Contract review with {c}", "Check-in with {c}",
             "Renewal talk with {c}", "Escalation call with {c}")
TAGS = ("urgent", "follow-up", "idea", "customer", "internal", "pricing", "legal", "q3", "churn-risk")
LEAD_STATUSES = ("New", "Contacted", "Qualified", "Proposal sent", "Won", "Lost")
TASK_STATUSES = ("Pending", "In progress", "Completed", "Blocked")
CLIENT_STATUSES = ("Active", "Paused", "Churned")
PLANS = ("Starter", "Pro", "Business")
ERRORS = ("could not parse PDF: file is encrypted", "embedding service timed out",
           "summarization failed: document too long", "unsupported file type")
