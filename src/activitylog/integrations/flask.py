"""Flask: an extension that binds the recording context for each request.

.. code-block:: python

    audit = FlaskActivityLog(log, org=lambda: g.org_id, actor=lambda: actor_from_user(g.user))
    audit.init_app(app)

    @app.post("/leads")
    @audit.records("lead.created", target="lead")
    def create_lead(): ...

The context is bound in ``before_request`` and reset in ``teardown_request``, which Flask runs
even when the view raises.
"""

from __future__ import annotations

try:
    import flask
except ImportError as exc:  # pragma: no cover - exercised in a process without Flask
    from ._common import missing

    raise missing("Flask", "flask") from exc

import functools
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, TypeVar, cast

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
    org_text,
    succeeded,
    view_specs,
)
from ._http import RequestSettings, details_from

F = TypeVar("F", bound=Callable[..., Any])

_SCOPE = "_activitylog_scope"
EXTENSION = "activitylog"


def _default_org() -> Any:
    return flask.g.get("org_id")


def _default_actor() -> Actor | None:
    return actor_from_user(flask.g.get("user"))


def _default_api_key() -> ApiKeyRef | None:
    key = flask.g.get("api_key")
    return key if isinstance(key, ApiKeyRef) else None


def _default_role() -> Role | str | None:
    role = flask.g.get("role")
    return role if isinstance(role, (str, Role)) else None


class FlaskActivityLog(HostIntegration):
    """The Flask extension: ``FlaskActivityLog(log, app)`` or ``init_app(app)`` later.

    Resolvers take no argument and read ``flask.request`` / ``flask.g``. The defaults read
    ``g.org_id``, ``g.user`` (turned into an :class:`~activitylog.Actor`), ``g.api_key`` (an
    :class:`~activitylog.ApiKeyRef`) and ``g.role`` (for the viewer). Requests without a user record nothing through
    :meth:`record` and :meth:`records` unless ``anonymous_actor`` is given.
    """

    def __init__(
        self,
        log: ActivityLog,
        app: flask.Flask | None = None,
        *,
        org: Callable[[], Any] = _default_org,
        actor: Callable[[], Actor | None] = _default_actor,
        api_key: Callable[[], ApiKeyRef | None] = _default_api_key,
        role: Callable[[], Role | str | None] = _default_role,
        anonymous_actor: Actor | None = None,
        request_details: RequestSettings | None = None,
        error_body: Callable[[Any], bool] | None = None,
    ) -> None:
        super().__init__(log, org=org, actor=actor, api_key=api_key, role=role,
                         anonymous_actor=anonymous_actor, request_details=request_details,
                         error_body=error_body)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: flask.Flask) -> None:
        """Install the extension on ``app``."""
        app.extensions[EXTENSION] = self
        app.before_request(self._bind)
        app.teardown_request(self._reset)

    def _bind(self) -> None:
        request = flask.request
        actor = self.actor()
        scope = ExitStack()
        scope.enter_context(bound(
            org_id=org_text(self.org()),
            actor=actor if actor is not None else self.anonymous_actor,
            api_key=self.api_key(),
            details=details_from(request.headers, request.remote_addr, self.request_details),
        ))
        setattr(flask.g, _SCOPE, scope)

    def _reset(self, exc: BaseException | None = None) -> None:
        scope = flask.g.pop(_SCOPE, None)
        if scope is not None:
            scope.close()

    def viewer(self) -> Viewer | None:
        """The current request's :class:`~activitylog.Viewer` (``None``: no user, org or role)."""
        actor = self.actor()
        org_id = org_text(self.org())
        role = self.role()
        if actor is None or org_id is None or role is None:
            return None
        return Viewer(actor.id, org_id, role)

    def blueprint(self, name: str = "activitylog") -> flask.Blueprint:
        """The Activity Log page as a blueprint: ``app.register_blueprint(audit.blueprint(),
        url_prefix="/settings/activity")``. Owners and Admins only (403 for anyone else)."""
        from ..viewer import Request, ViewerApp

        viewer_app = ViewerApp(self.log)
        blueprint = flask.Blueprint(name, __name__)

        def serve(subpath: str = "") -> flask.Response:
            request = flask.request
            path = request.path
            root = path[: len(path) - len(subpath)]
            handled = viewer_app.handle(
                Request(request.method, "/" + subpath, request.query_string.decode("latin-1"),
                        root if root.endswith("/") else root + "/",
                        {k.lower(): v for k, v in request.headers.items()}),
                self.viewer(),
            )
            body = handled.body if isinstance(handled.body, bytes) else handled.chunks()
            return flask.Response(body, status=handled.status, headers=handled.headers)

        blueprint.add_url_rule("/", "viewer", serve, methods=["GET", "HEAD", "POST"])
        blueprint.add_url_rule("/<path:subpath>", "viewer_path", serve,
                               methods=["GET", "HEAD", "POST"])
        return blueprint

    def record(self, action: str, **fields: Any) -> Entry | None:
        """``log.record()`` for this request; ``None`` (nothing stored) when anonymous."""
        if fields.get("actor") is not None or context.ambient()[1] is not None:
            return self.log.record(action, **fields)
        # The host's own before_request (loading g.user) may run after ours: look again.
        actor = self.actor() if flask.has_request_context() else None
        if actor is None:
            return None
        with context.bound(org_id=org_text(self.org()), actor=actor, api_key=self.api_key()):
            return self.log.record(action, **fields)

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
        """Decorate a view so that each successful response (2xx, and a body that
        ``error_body`` does not call an error) records ``action``."""
        specs = view_specs(self.log.registry, action, target=target, metadata=metadata,
                           description=description, changes=changes)
        check = error_body or self.error_body

        def decorate(view: F) -> F:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                response = flask.current_app.make_response(view(*args, **kwargs))
                data = response.get_json(silent=True) if response.is_json else None
                if succeeded(response.status_code, data, check):
                    call = ViewCall(flask.request, response, response.status_code, data,
                                    dict(kwargs))
                    if when is None or when(call):
                        self.record(action, **entry_fields(call, specs))
                return response

            return cast(F, wrapper)

        return decorate


__all__ = ["FlaskActivityLog"]
