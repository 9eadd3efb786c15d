"""Fixtures of the viewer tests: a log seeded with varied entries, its app, and its viewers."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from activitylog import ActionRegistry, ActivityLog, Actor, ApiKeyRef, Entry, Target
from activitylog.testing import ORG, OTHER_ORG, START
from activitylog.viewer import ViewerApp

# The organizations and the log's fixed "now" (a Wednesday) are the conformance suite's; the
# owner, admin and member fixtures come from its plugin (loaded by tests/conftest.py).


def clock_at_start() -> datetime:
    """The log's clock: always ``START``."""
    return START


#: Stored text that would run if the page ever rendered it as HTML.
SCRIPT = "<script>window.__pwned = 1; alert('xss')</script>"
IMG = '<img src=x onerror="window.__pwned = 2; alert(1)">'

ACTORS = (
    Actor("u-ada", "Ada Lovelace"),
    Actor("u-grace", "Grace Hopper", avatar_url="https://example.invalid/grace.png"),
    Actor("u-linus", "Linus Torvalds"),
    Actor("u-evil", f"Mallory {IMG}"),
)
ACTIONS = tuple(a.key for a in ActionRegistry() if a.key.endswith((".created", ".deleted",
                                                                        ".updated")))


def seed(log: ActivityLog, n: int = 140, *, seed_value: int = 7) -> list[Entry]:
    """``n`` entries in ``ORG`` spread over the 70 days before ``START`` (newest last), a few
    through an API key, some with hostile text, plus one entry in ``OTHER_ORG``."""
    rng = random.Random(seed_value)
    records = []
    for i in range(n):
        action = rng.choice(ACTIONS)
        noun = action.split(".")[0].replace("_", " ")
        label = f"{noun.title()} #{i % 9}" if i % 17 else SCRIPT
        records.append({
            "action": action,
            "org_id": ORG,
            "actor": ACTORS[i % len(ACTORS)],
            "target": Target(noun.replace(" ", "_"), str(i % 9), label),
            "api_key": ApiKeyRef("k1", "Zapier sync") if i % 11 == 0 else None,
            "occurred_at": START - timedelta(minutes=i * 720 + rng.randrange(0, 600)),
        })
    records.append({"action": "lead.created", "org_id": OTHER_ORG, "actor": ACTORS[0],
                     "target": Target("lead", "1", "Other org's lead"),
                     "occurred_at": START - timedelta(hours=1)})
    return log.record_many(records)


@pytest.fixture
def seeded() -> Iterator[ActivityLog]:
    """An in-memory log seeded by :func:`seed`, its clock at ``START``."""
    log = ActivityLog(clock=clock_at_start)
    seed(log)
    yield log
    log.close()


@pytest.fixture
def app(seeded: ActivityLog) -> ViewerApp:
    """The viewer over the seeded log."""
    return ViewerApp(seeded)
