"""The Starlette middleware and the FastAPI dependency with Starlette's TestClient."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any

import pytest

pytest.importorskip("starlette")
fastapi = pytest.importorskip("fastapi")

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from activitylog import ActivityLog, Actor, ApiKeyRef, Entry, Source, Target
from activitylog.context import ambient
from activitylog.integrations.fastapi import FastAPIActivityLog, Recorder
from activitylog.integrations.starlette import (
    ActivityLogMiddleware,
    StarletteActivityLog,
)

ADA = Actor("1", "Ada Lovelace")


class Auth:
    """A host middleware putting the org, the user and the API key on request.state."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            state = scope.setdefault("state", {})
            state["org_id"] = "acme"
            if headers.get(b"x-user") == b"ada":
                state["actor"] = ADA
            if headers.get(b"authorization") == b"Token s3cret":
                state["actor"] = ADA
                state["api_key"] = ApiKeyRef("k9", "Reporting key")
        await self.app(scope, receive, send)


def make_app(log: ActivityLog, **options: Any) -> tuple[Starlette, list[str]]:
    """A Starlette app with the middleware, recording endpoints and a lifespan."""
    audit = StarletteActivityLog(log, **options)
    events: list[str] = []

    @audit.records("lead.created", target="lead")
    async def create(request: Request) -> JSONResponse:
        body = await request.json()
        if not body.get("name"):
            return JSONResponse({"detail": "name required"}, status_code=422)
        if body["name"] == "dup":
            return JSONResponse({"error": True})
        return JSONResponse({"id": 3, "name": body["name"]}, status_code=201)

    async def direct(request: Request) -> PlainTextResponse:
        entry = await audit.recorder(request).record("lead.updated", target=Target("lead", "1"))
        return PlainTextResponse("yes" if entry else "no")

    async def boom(request: Request) -> PlainTextResponse:
        raise RuntimeError("endpoint failed")

    def sync_core(request: Request) -> PlainTextResponse:
        # A sync endpoint runs in a thread; the context travels with it.
        log.record("lead.updated", target=Target("lead", "2"))
        return PlainTextResponse("ok")

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        events.append("startup")
        yield
        events.append("shutdown")

    app = Starlette(
        routes=[Route("/leads", create, methods=["POST"]), Route("/direct", direct,
                methods=["POST"]), Route("/boom", boom), Route("/sync", sync_core)],
        middleware=[Middleware(Auth), Middleware(ActivityLogMiddleware, audit=audit)],
        lifespan=lifespan,
    )
    return app, events


def entries(log: ActivityLog) -> list[Entry]:
    """Everything recorded for the test org."""
    return list(log.store.chain("acme"))


class TestStarletteMiddleware:
    def test_a_successful_endpoint_records_with_details(self) -> None:
        """Actor, target from the JSON response and request details are recorded."""
        log = ActivityLog()
        app, _ = make_app(log)
        with TestClient(app, client=("192.0.2.5", 4000)) as client:
            response = client.post("/leads", json={"name": "Acme"},
                                   headers={"X-User": "ada", "User-Agent": "ua/1"})
        assert response.status_code == 201
        [entry] = entries(log)
        assert entry.actor == ADA and entry.target == Target("lead", "3", "Acme")
        assert entry.metadata["request"]["user_agent"] == "ua/1"
        assert entry.metadata["request"]["ip"] == "192.0.2.5"

    def test_an_api_key_request_is_source_api(self) -> None:
        """The key's name is recorded and never its secret."""
        log = ActivityLog()
        app, _ = make_app(log)
        with TestClient(app) as client:
            client.post("/leads", json={"name": "Acme"}, headers={"Authorization": "Token s3cret"})
        [entry] = entries(log)
        assert entry.source is Source.API and entry.api_key == ApiKeyRef("k9", "Reporting key")
        assert "s3cret" not in repr(entry)

    def test_failures_record_nothing(self) -> None:
        """422, a 200 error body and a raising endpoint all leave the log empty."""
        log = ActivityLog()
        app, _ = make_app(log)
        with TestClient(app, raise_server_exceptions=False) as client:
            headers = {"X-User": "ada"}
            assert client.post("/leads", json={}, headers=headers).status_code == 422
            assert client.post("/leads", json={"name": "dup"}, headers=headers).status_code == 200
            assert client.get("/boom", headers=headers).status_code == 500
        assert entries(log) == []

    def test_anonymous_requests_record_nothing_or_the_system_actor(self) -> None:
        """No user: the recorder stores nothing unless an anonymous actor is configured."""
        log = ActivityLog()
        app, _ = make_app(log)
        with TestClient(app) as client:
            assert client.post("/direct").text == "no"
        robot = Actor.system("Webhook")
        app, _ = make_app(log, anonymous_actor=robot)
        with TestClient(app) as client:
            assert client.post("/direct").text == "yes"
        [entry] = entries(log)
        assert entry.actor == robot

    def test_sync_endpoints_see_the_context_in_their_thread(self) -> None:
        """The core API in a threadpool endpoint needs no arguments."""
        log = ActivityLog()
        app, _ = make_app(log)
        with TestClient(app) as client:
            assert client.get("/sync", headers={"X-User": "ada"}).status_code == 200
        assert entries(log)[0].actor == ADA

    def test_lifespan_passes_through(self) -> None:
        """The app's own startup and shutdown run untouched."""
        app, events = make_app(ActivityLog())
        with TestClient(app):
            assert events == ["startup"]
        assert events == ["startup", "shutdown"]
        assert ambient() == (None, None, None, None)


class TestNonBlocking:
    def test_a_slow_write_does_not_stall_the_event_loop(self) -> None:
        """While the recorder's write takes 0.3 s, the loop keeps ticking."""
        from starlette.requests import HTTPConnection

        log = ActivityLog()
        conn = HTTPConnection({"type": "http", "headers": [],
                               "state": {"org_id": "acme", "actor": ADA}})
        recorder = StarletteActivityLog(log).recorder(conn)
        append = log.store.append

        def slow_append(*args: Any) -> Any:
            time.sleep(0.3)
            return append(*args)

        log.store.append = slow_append  # type: ignore[method-assign]
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        async def main() -> Entry:
            task = asyncio.create_task(ticker())
            entry = await recorder.record("lead.created", target=Target("lead", "1"))
            task.cancel()
            assert entry is not None
            return entry

        entry = asyncio.run(main())
        assert entry.seq == 1
        assert ticks >= 10, ticks  # a blocked loop would have ticked at most once
        assert threading.active_count() >= 1


class TestFastAPI:
    def test_the_dependency_sees_authentication_done_by_a_dependency(self) -> None:
        """The recorder resolves the user when it records: after the auth dependency ran."""
        log = ActivityLog()
        audit = FastAPIActivityLog(log)
        app = fastapi.FastAPI()
        audit.install(app)

        def authenticate(request: fastapi.Request) -> None:
            request.state.org_id = "acme"
            if request.headers.get("x-api-key") == "s3cret":
                request.state.actor = ADA
                request.state.api_key = ApiKeyRef("k1", "Mobile app")
            else:
                raise fastapi.HTTPException(401)

        @app.post("/leads/{lead_id}/touch", dependencies=[fastapi.Depends(authenticate)])
        async def touch(lead_id: int,
                        recorder: Recorder = fastapi.Depends(audit.dependency),  # noqa: B008
                        ) -> dict[str, Any]:
            await recorder.record("lead.updated", target=Target("lead", lead_id))
            return {"ok": True}

        with TestClient(app) as client:
            assert client.post("/leads/4/touch").status_code == 401
            assert client.post("/leads/4/touch", headers={"X-API-Key": "s3cret"}).json() == {
                "ok": True}
        [entry] = entries(log)
        assert entry.api_key == ApiKeyRef("k1", "Mobile app") and entry.source is Source.API
        assert entry.target == Target("lead", "4")


class TestViewerMount:
    def make(self, role: str | None) -> TestClient:
        """A Starlette app with the viewer mounted; signed-in users have ``role``."""
        from starlette.routing import Mount

        log = ActivityLog()
        with log.context(org_id="acme", actor=ADA):
            log.record("lead.created", target=Target("lead", "1", "Acme"))
        audit = StarletteActivityLog(log, role=lambda conn: role)
        app = Starlette(routes=[Mount("/settings/activity", app=audit.viewer_app())],
                        middleware=[Middleware(Auth)])
        return TestClient(app)

    def test_an_owner_reads_the_page_and_the_api(self) -> None:
        """The mounted viewer answers below its prefix."""
        with self.make("owner") as client:
            page = client.get("/settings/activity/", headers={"X-User": "ada"})
            assert page.status_code == 200 and "/settings/activity/" in page.text
            api = client.get("/settings/activity/api/entries", headers={"X-User": "ada"})
            assert [e["action"] for e in api.json()["entries"]] == ["lead.created"]

    def test_members_and_visitors_get_403(self) -> None:
        """A Member, and anyone not signed in, are refused."""
        with self.make("member") as client:
            assert client.get("/settings/activity/", headers={"X-User": "ada"}).status_code == 403
        with self.make("owner") as client:
            assert client.get("/settings/activity/api/entries").status_code == 403
