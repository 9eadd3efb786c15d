"""A small Flask CRM recording its Activity Log with activitylog's Flask extension.

``python app.py`` serves it on 127.0.0.1:5000 (sign in with the ``X-User`` header: ada is an
Owner, bob a Member; ``Authorization: Token demo-key`` is Ada's API key). Rows live in memory,
the log in ``activity.db``. Tests: ``python -m unittest test_app`` in this folder.
"""

from __future__ import annotations

import itertools
import sys
from typing import Any

from flask import Flask, abort, g, request

from activitylog import ActivityLog, ApiKeyRef, Target
from activitylog.integrations.flask import FlaskActivityLog

USERS = {
    "ada": {"pk": 1, "name": "Ada Lovelace", "org_id": "acme", "role": "owner"},
    "bob": {"pk": 2, "name": "Bob Smith", "org_id": "acme", "role": "member"},
}
API_KEYS = {"demo-key": {"id": "key_1", "name": "Zapier sync", "user": "ada"}}


class User:
    """The signed-in user as the extension reads it (``pk`` and ``name``)."""

    def __init__(self, pk: int, name: str, **extra: Any) -> None:
        self.pk = pk
        self.name = name


def create_app(log: ActivityLog) -> Flask:
    """The CRM over ``log``."""
    app = Flask(__name__)
    rows: dict[str, dict[int, dict[str, Any]]] = {"lead": {}, "client": {}, "task": {}}
    ids = itertools.count(1)

    @app.before_request
    def sign_in() -> None:
        """Header sign-in for the example (a real CRM has sessions or Flask-Login)."""
        token = request.headers.get("Authorization", "").removeprefix("Token ")
        username = request.headers.get("X-User")
        if token in API_KEYS:
            key = API_KEYS[token]
            g.api_key = ApiKeyRef(key["id"], key["name"])
            username = key["user"]
        if username in USERS:
            g.user = User(**USERS[username])
            g.org_id = USERS[username]["org_id"]
            g.role = USERS[username]["role"]

    # After the sign-in hook, so the user is known when the extension binds the context.
    audit = FlaskActivityLog(log, app)
    app.register_blueprint(audit.blueprint(), url_prefix="/settings/activity")

    def signed_in() -> None:
        if "user" not in g:
            abort(401)

    def create(kind: str, label_field: str) -> Any:
        signed_in()
        body = request.get_json(silent=True) or {}
        if not str(body.get(label_field, "")).strip():
            return {"error": f"a {kind} needs a {label_field}"}, 400
        row = {"id": next(ids), label_field: body[label_field], "status": "new"}
        rows[kind][row["id"]] = row
        return row, 201

    def delete(kind: str, pk: int) -> Any:
        signed_in()
        row = rows[kind].pop(pk, None)
        if row is None:
            return {"error": f"no such {kind}"}, 404
        return row

    @app.get("/leads")
    def list_leads() -> Any:
        signed_in()
        return {"leads": list(rows["lead"].values())}

    @app.post("/leads")
    @audit.records("lead.created", target="lead")
    def create_lead() -> Any:
        return create("lead", "name")

    @app.patch("/leads/<int:pk>")
    @audit.records("lead.updated", target="lead",
                   changes=lambda call: {"name": (g.old_name, call.data["name"])})
    def rename_lead(pk: int) -> Any:
        signed_in()
        lead = rows["lead"].get(pk) or abort(404)
        g.old_name = lead["name"]
        lead["name"] = (request.get_json(silent=True) or {}).get("name", lead["name"])
        return lead

    @app.post("/leads/<int:pk>/status")
    def change_status(pk: int) -> Any:
        signed_in()
        lead = rows["lead"].get(pk) or abort(404)
        status = (request.get_json(silent=True) or {}).get("status")
        if status not in ("new", "contacted", "won", "lost"):
            return {"error": True, "message": "unknown status"}
        old, lead["status"] = lead["status"], status
        audit.record("lead.status_changed", target=Target("lead", pk, lead["name"]),
                     changes={"status": (old, status)})
        return lead

    @app.delete("/leads/<int:pk>")
    @audit.records("lead.deleted", target="lead")
    def delete_lead(pk: int) -> Any:
        return delete("lead", pk)

    @app.post("/clients")
    @audit.records("client.created", target="client")
    def create_client() -> Any:
        return create("client", "name")

    @app.delete("/clients/<int:pk>")
    @audit.records("client.deleted", target="client")
    def delete_client(pk: int) -> Any:
        return delete("client", pk)

    @app.post("/tasks")
    @audit.records("task.created",
                   target=lambda call: Target("task", call.data["id"], call.data["title"]))
    def create_task() -> Any:
        return create("task", "title")

    @app.post("/tasks/<int:pk>/done")
    @audit.records("task.status_changed", target="task",
                   changes={"status": ("open", "done")})
    def complete_task(pk: int) -> Any:
        signed_in()
        task = rows["task"].get(pk) or abort(404)
        task["status"] = "done"
        return task

    @app.delete("/tasks/<int:pk>")
    @audit.records("task.deleted", target="task")
    def delete_task(pk: int) -> Any:
        return delete("task", pk)

    return app


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else "sqlite:///activity.db"
    create_app(ActivityLog.open(url)).run(host="127.0.0.1", port=5000)
