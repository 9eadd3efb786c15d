"""The Flask extension with Flask's test client."""

from __future__ import annotations

from typing import Any

import pytest

flask = pytest.importorskip("flask")

from activitylog import ActivityLog, Actor, ApiKeyRef, Entry, Source, Target
from activitylog.context import ambient
from activitylog.integrations._http import RequestSettings, current_details
from activitylog.integrations.flask import FlaskActivityLog

USERS = {"ada": Actor("1", "Ada Lovelace")}
KEYS = {"secret-abc": ("k1", "CI deploy key", "ada")}


def make_app(log: ActivityLog, **options: Any) -> flask.Flask:
    """A Flask CRM with header-based login, API keys and a few views."""
    app = flask.Flask("crm")
    audit = FlaskActivityLog(log, **options)

    @app.before_request
    def login() -> None:
        flask.g.org_id = "acme"
        token = flask.request.headers.get("Authorization", "").removeprefix("Token ")
        if token in KEYS:
            key_id, name, user = KEYS[token]
            flask.g.api_key = ApiKeyRef(key_id, name)
            flask.g.user = type("U", (), {"pk": USERS[user].id, "name": USERS[user].name})()
        elif flask.request.headers.get("X-User") in USERS:
            actor = USERS[flask.request.headers["X-User"]]
            flask.g.user = type("U", (), {"pk": actor.id, "name": actor.name})()

    audit.init_app(app)  # after login(): the extension's hook runs once the user is known

    @app.post("/leads")
    @audit.records("lead.created", target="lead")
    def create() -> Any:
        body = flask.request.get_json()
        if not body.get("name"):
            return {"error": "name is required"}, 400
        if body["name"] == "dup":
            return {"error": True, "message": "duplicate"}
        return {"id": 5, "name": body["name"]}, 201

    @app.post("/boom")
    @audit.records("lead.deleted", target=Target("lead", "1"))
    def boom() -> Any:
        raise RuntimeError("view failed")

    @app.post("/direct")
    def direct() -> Any:
        audit.record("lead.updated", target=Target("lead", "1", "Direct"))
        return "ok"

    @app.get("/context")
    def show() -> Any:
        org, actor = ambient()[:2]
        return {"org": org, "actor": actor.name if actor else None}

    return app


def entries(log: ActivityLog) -> list[Entry]:
    """Everything recorded for the test org."""
    return list(log.store.chain("acme"))


class TestFlaskExtension:
    def test_a_successful_view_records_with_request_details(self) -> None:
        """User, target from the response, and the request's id, IP and agent."""
        log = ActivityLog()
        client = make_app(log).test_client()
        response = client.post("/leads", json={"name": "Acme"},
                               headers={"X-User": "ada", "X-Request-ID": "r-1",
                                        "User-Agent": "curl/8"})
        assert response.status_code == 201
        [entry] = entries(log)
        assert entry.actor == USERS["ada"] and entry.source is Source.DASHBOARD
        assert entry.target == Target("lead", "5", "Acme")
        assert entry.metadata["request"] == {"id": "r-1", "ip": "127.0.0.1",
                                             "user_agent": "curl/8"}

    def test_an_api_key_is_recorded_by_name(self) -> None:
        """An API-key request is source api with the key's name, not its secret."""
        log = ActivityLog()
        client = make_app(log).test_client()
        client.post("/leads", json={"name": "Acme"}, headers={"Authorization": "Token secret-abc"})
        [entry] = entries(log)
        assert entry.source is Source.API and entry.api_key == ApiKeyRef("k1", "CI deploy key")
        assert "secret-abc" not in repr(entry)

    def test_failures_record_nothing(self) -> None:
        """A 400, a 200 error body and a raising view all leave the log empty."""
        log = ActivityLog()
        client = make_app(log).test_client()
        headers = {"X-User": "ada"}
        assert client.post("/leads", json={}, headers=headers).status_code == 400
        assert client.post("/leads", json={"name": "dup"}, headers=headers).status_code == 200
        assert client.post("/boom", headers=headers).status_code == 500
        assert entries(log) == []

    def test_anonymous_requests_record_nothing_or_the_system_actor(self) -> None:
        """No user: nothing, unless an anonymous actor is configured."""
        log = ActivityLog()
        assert make_app(log).test_client().post("/direct").status_code == 200
        assert entries(log) == []
        robot = Actor.system("Web form")
        make_app(log, anonymous_actor=robot).test_client().post("/direct")
        [entry] = entries(log)
        assert entry.actor == robot and entry.source is Source.SYSTEM

    def test_the_context_is_reset_at_teardown_even_after_an_error(self) -> None:
        """Nothing bound for a request outlives it, whether the view returned or raised."""
        log = ActivityLog()
        client = make_app(log).test_client()
        assert client.get("/context", headers={"X-User": "ada"}).json == {
            "org": "acme", "actor": "Ada Lovelace"}
        client.post("/boom", headers={"X-User": "ada"})
        assert ambient() == (None, None, None, None)
        assert current_details() is None

    def test_a_user_loaded_after_the_extensions_hook_is_still_seen(self) -> None:
        """init_app before the host's own login hook: record() looks for the user again."""
        log = ActivityLog()
        app = flask.Flask("late")
        audit = FlaskActivityLog(log, app)

        @app.before_request
        def login() -> None:
            flask.g.org_id = "acme"
            flask.g.user = type("U", (), {"pk": "1", "name": "Ada Lovelace"})()

        @app.post("/direct")
        def direct() -> Any:
            audit.record("lead.updated", target=Target("lead", "1"))
            return "ok"

        app.test_client().post("/direct")
        [entry] = entries(log)
        assert entry.actor == USERS["ada"] and entry.org_id == "acme"

    def test_request_details_can_be_switched_off(self) -> None:
        """RequestSettings.off() records no request metadata."""
        log = ActivityLog()
        client = make_app(log, request_details=RequestSettings.off()).test_client()
        client.post("/direct", headers={"X-User": "ada"})
        [entry] = entries(log)
        assert "request" not in entry.metadata

    def test_a_trusted_proxy_supplies_the_client_ip(self) -> None:
        """X-Forwarded-For counts only when the peer is a trusted proxy."""
        log = ActivityLog()
        trusted = RequestSettings(trusted_proxies=["127.0.0.1"])
        client = make_app(log, request_details=trusted).test_client()
        client.post("/direct", headers={"X-User": "ada", "X-Forwarded-For": "203.0.113.7"})
        assert entries(log)[0].metadata["request"]["ip"] == "203.0.113.7"


class TestViewerBlueprint:
    def make(self, role: str | None) -> Any:
        """A Flask app with the blueprint mounted, whose users have ``role``."""
        log = ActivityLog()
        with log.context(org_id="acme", actor=USERS["ada"]):
            log.record("lead.created", target=Target("lead", "1", "Acme <b>Corp</b>"))
        app = make_app(log)
        audit = app.extensions["activitylog"]
        audit.role = lambda: role
        app.register_blueprint(audit.blueprint(), url_prefix="/settings/activity")
        return app.test_client()

    def test_an_admin_reads_the_page_and_the_api(self) -> None:
        """The page links below the mount point; stored markup stays text."""
        client = self.make("admin")
        page = client.get("/settings/activity/", headers={"X-User": "ada"})
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "/settings/activity/" in html and "<b>Corp</b>" not in html
        api = client.get("/settings/activity/api/entries", headers={"X-User": "ada"})
        assert [e["action"] for e in api.json["entries"]] == ["lead.created"]

    def test_members_and_visitors_get_403(self) -> None:
        """No role or a Member role: 403 on the page and the API."""
        member = self.make("member")
        assert member.get("/settings/activity/", headers={"X-User": "ada"}).status_code == 403
        assert member.get("/settings/activity/api/entries",
                          headers={"X-User": "ada"}).status_code == 403
        assert self.make("owner").get("/settings/activity/").status_code == 403
