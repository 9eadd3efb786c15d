"""A small FastAPI CRM recording its Activity Log without blocking the event loop.

``uvicorn app:app`` serves it (``X-User: ada`` signs in as an Owner, ``bob`` as a Member;
``Authorization: Token demo-key`` is Ada's API key). Rows live in memory, the log in
``activity.db``. Tests: ``python -m unittest test_app`` in this folder.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel
from starlette.requests import HTTPConnection
from starlette.routing import Mount

from activitylog import ActivityLog, Actor, ApiKeyRef, Target
from activitylog.integrations.fastapi import FastAPIActivityLog, Recorder

USERS = {
    "ada": (Actor("1", "Ada Lovelace"), "acme", "owner"),
    "bob": (Actor("2", "Bob Smith"), "acme", "member"),
}
API_KEYS = {"demo-key": (ApiKeyRef("key_1", "Zapier sync"), "ada")}


class LeadIn(BaseModel):
    """A new or renamed lead."""

    name: str


class TaskIn(BaseModel):
    """A new task."""

    title: str


def who(conn: HTTPConnection) -> tuple[Actor, str, str, ApiKeyRef | None] | None:
    """The signed-in user, org, role and API key of a request (header sign-in for the
    example; a real CRM checks a session or a token here)."""
    token = conn.headers.get("authorization", "").removeprefix("Token ")
    username = conn.headers.get("x-user")
    key = None
    if token in API_KEYS:
        key, username = API_KEYS[token]
    if username not in USERS:
        return None
    actor, org_id, role = USERS[username]
    return actor, org_id, role, key


def sign_in(request: Request) -> None:
    """The API's authentication dependency."""
    if who(request) is None:
        raise HTTPException(401, "sign in first")


def _part(index: int) -> Any:
    def resolve(conn: HTTPConnection) -> Any:
        found = who(conn)
        return found[index] if found else None

    return resolve


def create_app(log: ActivityLog) -> FastAPI:
    """The CRM over ``log``."""
    app = FastAPI(dependencies=[Depends(sign_in)])
    audit = FastAPIActivityLog(log, actor=_part(0), org=_part(1), role=_part(2),
                               api_key=_part(3))
    audit.install(app)
    rows: dict[str, dict[int, dict[str, Any]]] = {"lead": {}, "client": {}, "task": {}}
    ids = itertools.count(1)
    Audit = Depends(audit.dependency)

    def find(kind: str, pk: int) -> dict[str, Any]:
        row = rows[kind].get(pk)
        if row is None:
            raise HTTPException(404, f"no such {kind}")
        return row

    @app.get("/leads")
    async def list_leads() -> dict[str, Any]:
        return {"leads": list(rows["lead"].values())}

    @app.post("/leads", status_code=201)
    async def create_lead(body: LeadIn, recorder: Recorder = Audit) -> dict[str, Any]:
        lead = rows["lead"][pk] = {"id": (pk := next(ids)), "name": body.name, "status": "new"}
        await recorder.record("lead.created", target=Target("lead", pk, body.name))
        return lead

    @app.patch("/leads/{pk}")
    async def rename_lead(pk: int, body: LeadIn, recorder: Recorder = Audit) -> dict[str, Any]:
        lead = find("lead", pk)
        old, lead["name"] = lead["name"], body.name
        await recorder.record("lead.updated", target=Target("lead", pk, body.name),
                              changes={"name": (old, body.name)})
        return lead

    @app.post("/leads/{pk}/status/{status}")
    async def change_status(pk: int, status: str, recorder: Recorder = Audit) -> dict[str, Any]:
        lead = find("lead", pk)
        if status not in ("new", "contacted", "won", "lost"):
            raise HTTPException(422, "unknown status")
        old, lead["status"] = lead["status"], status
        await recorder.record("lead.status_changed", target=Target("lead", pk, lead["name"]),
                              changes={"status": (old, status)})
        return lead

    @app.delete("/leads/{pk}")
    async def delete_lead(pk: int, recorder: Recorder = Audit) -> dict[str, Any]:
        lead = find("lead", pk)
        del rows["lead"][pk]
        await recorder.record("lead.deleted", target=Target("lead", pk, lead["name"]))
        return lead

    @app.post("/clients", status_code=201)
    async def create_client(body: LeadIn, recorder: Recorder = Audit) -> dict[str, Any]:
        client = rows["client"][pk] = {"id": (pk := next(ids)), "name": body.name}
        await recorder.record("client.created", target=Target("client", pk, body.name))
        return client

    @app.delete("/clients/{pk}")
    async def delete_client(pk: int, recorder: Recorder = Audit) -> dict[str, Any]:
        client = find("client", pk)
        del rows["client"][pk]
        await recorder.record("client.deleted", target=Target("client", pk, client["name"]))
        return client

    @app.post("/tasks", status_code=201)
    async def create_task(body: TaskIn, recorder: Recorder = Audit) -> dict[str, Any]:
        task = rows["task"][pk] = {"id": (pk := next(ids)), "title": body.title, "done": False}
        await recorder.record("task.created", target=Target("task", pk, body.title))
        return task

    @app.post("/tasks/{pk}/done")
    async def complete_task(pk: int, recorder: Recorder = Audit) -> dict[str, Any]:
        task = find("task", pk)
        task["done"] = True
        await recorder.record("task.status_changed", target=Target("task", pk, task["title"]),
                              changes={"status": ("open", "done")})
        return task

    # The Activity Log page, for the Owners and Admins of the signed-in user's organization.
    app.router.routes.append(Mount("/settings/activity", app=audit.viewer_app()))
    return app


app = create_app(ActivityLog.open(os.environ.get("CRM_ACTIVITYLOG", "sqlite:///activity.db")))
