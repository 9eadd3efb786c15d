"""The Activity Log page inside a Django project: ``path("activity/", include(...urls))``.

The Django app's own access check runs first: nobody signed in, or ``ACTIVITYLOG
['VIEWER_ACCESS']`` answering false, gets 403 before the viewer is asked. The viewer then
applies the log's policy (Owners and Admins of their own organization) to the
:class:`~activitylog.Viewer` built from the ORG, ACTOR and ROLE resolvers.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, StreamingHttpResponse

from ...access import Viewer
from ...viewer import Request, ViewerApp
from .._common import org_text
from .conf import get_config, get_log

_apps: dict[int, ViewerApp] = {}


def viewer_app() -> ViewerApp:
    """The viewer over the project's log (rebuilt when the log is reopened)."""
    log = get_log()
    app = _apps.get(id(log))
    if app is None:
        _apps.clear()
        app = _apps[id(log)] = ViewerApp(log)
    return app


def viewer_for(request: Any) -> Viewer | None:
    """The :class:`~activitylog.Viewer` of a Django request, or ``None`` when the app's access
    check refuses it (anonymous, no org, no role, or ``VIEWER_ACCESS`` false)."""
    config = get_config()
    actor = config.actor(request)
    if actor is None:
        return None
    if config.viewer_access is not None and not config.viewer_access(request):
        return None
    org_id = org_text(config.org(request))
    role = config.role(request)
    if org_id is None or role is None:
        return None
    return Viewer(actor.id, org_id, role)


def activity_log(request: Any, subpath: str = "") -> HttpResponse:
    """Serve the viewer's page, JSON API, export and assets below the mount point."""
    root = request.path[: len(request.path) - len(subpath)] or "/"
    handled = viewer_app().handle(
        Request(
            method=request.method,
            path="/" + subpath,
            query_string=request.META.get("QUERY_STRING", ""),
            root=root if root.endswith("/") else root + "/",
            headers={k.lower(): v for k, v in request.headers.items()},
        ),
        viewer_for(request),
    )
    if isinstance(handled.body, bytes):
        response: HttpResponse = HttpResponse(handled.body, status=handled.status)
    else:
        response = StreamingHttpResponse(handled.chunks(), status=handled.status)
    for name, value in handled.headers:
        response[name] = value
    return response
