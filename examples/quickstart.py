"""Quickstart: decorate a service function, call it as a user, read the log as an Owner."""

from __future__ import annotations

import sys

from activitylog import ActivityLog, Actor, Role, Target, Viewer

log = ActivityLog.open(f"sqlite:///{sys.argv[1] if len(sys.argv) > 1 else 'quickstart.db'}")


@log.records("lead.created", target=lambda call: Target("lead", call.result, call.name))
def create_lead(name: str) -> str:
    return "lead-1"  # your code: insert the lead and return its id


with log.context(org_id="acme", actor=Actor("u1", "Ada Lovelace")):
    create_lead("Grace Hopper")

for entry in log.query("acme", viewer=Viewer("u1", "acme", Role.OWNER)).page(10):
    print(entry.label, entry.color, entry.actor.name, entry.description, entry.relative_time())
