"""Starlette (and FastAPI): a pure ASGI middleware, a per-request recorder, a view decorator.

.. code-block:: python

    audit = StarletteActivityLog(log)
    app = Starlette(routes=..., middleware=[Middleware(ActivityLogMiddleware, audit=audit)])

    async def create_lead(request):
        await audit.recorder(request).record("lead.created", target=Target("lead", 5))

Recording is asynchronous: the entry is validated on the event loop and written in a worker
thread, so a slow disk never stalls other requests.
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a process without Starlette
    from ._common import missing

    raise missing("Starlette", "starlette") from exc

import contextvars
import functools
import inspect
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeVar, cast

from starlette.requests import HTTPConnection
from starlette.responses import Response

from .. import context
from ..access import Role, Viewer
from ..log import ActivityLog
from ..models import Actor, ApiKeyRef, Entry
from ._common import (
    HostIntegration,
    ViewCall,
    actor_from_user,
    bound,
    entry_fields,
    maybe_await,
    org_text,
    succeeded,
    view_specs,
)
from ._http import RequestSettings, details_from

F = TypeVar("F", bound=Callable[..., Any])
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: A resolver takes the connection and returns its value, or an awaitable of it.
Resolver = Callable[[HTTPConnection], Any]

_connection: contextvars.ContextVar[HTTPConnection | None] = contextvars.ContextVar(
    "activitylog_starlette_connection", default=None
)


def _state(conn: HTTPConnection, name: str) -> Any:
    return conn.scope.get("state", {}).get(name)


def default_org(conn: HTTPConnection) -> Any:
    """``request.state.org_id``, set by the host's tenant middleware or dependency."""
    return _state(conn, "org_id")


def default_actor(conn: HTTPConnection) -> Actor | None:
    """``request.state.actor`` if it is an Actor, else the authenticated ``scope["user"]``
    (Starlette's ``AuthenticationMiddleware``) or ``request.state.user``."""
    actor = _state(conn, "actor")
    if isinstance(actor, Actor):
        return actor
    user = conn.scope.get("user") or _state(conn, "user")
    return actor_from_user(user)


def default_api_key(conn: HTTPConnection) -> ApiKeyRef | None:
    """``request.state.api_key`` if it is an :class:`~activitylog.ApiKeyRef`."""
    key = _state(conn, "api_key")
    return key if isinstance(key, ApiKeyRef) else None


def default_role(conn: HTTPConnection) -> Role | str | None:
    """``request.state.role``, for the viewer."""
    role = _state(conn, "role")
    return role if isinstance(role, (str, Role)) else None


class StarletteActivityLog(HostIntegration):
    """The recording setup of one app: the log and how a request maps to org, actor and key.

    Resolvers take the ``HTTPConnection`` and may be ``async``. Requests without a user record
    nothing unless ``anonymous_actor`` is given.
    """

    def __init__(
        self,
        log: ActivityLog,
        *,
        org: Resolver = default_org,
        actor: Resolver = default_actor,
        api_key: Resolver = default_api_key,
        role: Resolver = default_role,
        anonymous_actor: Actor | None = None,
        request_details: RequestSettings | None = None,
        error_body: Callable[[Any], bool] | None = None,
    ) -> None:
        super().__init__(log, org=org, actor=actor, api_key=api_key, role=role,
                         anonymous_actor=anonymous_actor, request_details=request_details,
                         error_body=error_body)

    async def resolve(self, conn: HTTPConnection) -> tuple[str | None, Actor | None,
                                                           ApiKeyRef | None]:
        """The org, actor and API key of ``conn`` (the anonymous actor when there is no user)."""
        actor = await maybe_await(self.actor(conn))
        org_id = org_text(await maybe_await(self.org(conn)))
        key = await maybe_await(self.api_key(conn))
        return org_id, actor if actor is not None else self.anonymous_actor, key

    async def viewer(self, conn: HTTPConnection) -> Viewer | None:
        """The :class:`~activitylog.Viewer` of ``conn`` (``None``: no user, org or role)."""
        actor = await maybe_await(self.actor(conn))
        org_id = org_text(await maybe_await(self.org(conn)))
        role = await maybe_await(self.role(conn))
        if actor is None or org_id is None or role is None:
            return None
        return Viewer(actor.id, org_id, role)

    def viewer_app(self) -> ASGIApp:
        """The Activity Log page as an ASGI app to mount:
        ``Mount("/settings/activity", app=audit.viewer_app())``. Owners and Admins only."""
        from ..viewer import ASGIViewer, ViewerApp

        async def resolve(scope: Any) -> Viewer | None:
            return await self.viewer(HTTPConnection(scope))

        app: ASGIApp = ASGIViewer(ViewerApp(self.log), resolve=resolve)  # type: ignore[assignment]
        return app

    def recorder(self, conn: HTTPConnection) -> Recorder:
        """A :class:`Recorder` for one request (a FastAPI dependency: see ``fastapi.py``)."""
        return Recorder(self, conn)

    def records(
        self,
        action: str,
        *,
        target: Any = None,
        metadata: Any = None,
        description: Any = None,
        changes: Any = None,
        when: Callable[[ViewCall], bool] | None = None,
        error_body: Callable[[Any], bool] | None = None,
    ) -> Callable[[F], F]:
        """Decorate an ``async`` endpoint so that each successful result records ``action``.

        A returned ``Response`` succeeds with a 2xx status and a body ``error_body`` accepts;
        any other return value (what FastAPI serialises) with a body ``error_body`` accepts.
        Needs :class:`ActivityLogMiddleware` (which makes the request known).
        """
        specs = view_specs(self.log.registry, action, target=target, metadata=metadata,
                           description=description, changes=changes)
        check = error_body or self.error_body

        def decorate(endpoint: F) -> F:
            if not inspect.iscoroutinefunction(endpoint):
                raise TypeError("records() decorates async endpoints")

            @functools.wraps(endpoint)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                result = await endpoint(*args, **kwargs)
                conn = _connection.get()
                if isinstance(result, Response):
                    status, data = result.status_code, _body(result)
                else:
                    status, data = 200, result
                if conn is not None and succeeded(status, data, check):
                    call = ViewCall(conn, result, status, data,
                                    {**conn.scope.get("path_params", {}), **kwargs})
                    if when is None or when(call):
                        await self.recorder(conn).record(action, **entry_fields(call, specs))
                return result

            return cast(F, wrapper)

        return decorate


def _body(response: Response) -> Any:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        return json.loads(bytes(response.body))
    except (ValueError, AttributeError):
        return None


class Recorder:
    """Records for one request, reading its org, actor and key when it records (so an
    authentication dependency that ran after the middleware is seen)."""

    def __init__(self, audit: StarletteActivityLog, conn: HTTPConnection) -> None:
        self.audit = audit
        self.conn = conn

    async def record(self, action: str, **fields: Any) -> Entry | None:
        """Record ``action`` without blocking the loop; ``None`` (nothing stored) when the
        request has no user and no anonymous actor is configured."""
        org_id, actor, key = await self.audit.resolve(self.conn)
        if actor is None:
            actor = context.ambient()[1]
        if actor is None and fields.get("actor") is None:
            return None
        with context.bound(org_id=org_id, actor=actor, api_key=key):
            return await self.audit.log.arecord(action, **fields)


class ActivityLogMiddleware:
    """Pure ASGI middleware: binds the request's context around the app.

    Lifespan messages pass straight through; websocket connections are bound like requests.
    """

    def __init__(self, app: ASGIApp, audit: StarletteActivityLog) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        org_id, actor, key = await self.audit.resolve(conn)
        peer = conn.client.host if conn.client else None
        details = details_from(conn.headers, peer, self.audit.request_details)
        token = _connection.set(conn)
        try:
            with bound(org_id=org_id, actor=actor, api_key=key, details=details):
                await self.app(scope, receive, send)
        finally:
            _connection.reset(token)


__all__ = [
    "ActivityLogMiddleware",
    "Recorder",
    "StarletteActivityLog",
    "default_actor",
    "default_api_key",
    "default_org",
    "default_role",
]
