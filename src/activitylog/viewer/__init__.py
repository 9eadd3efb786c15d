"""The Activity Log page: a server-rendered HTML page and a JSON API, mountable anywhere.

Nothing here needs a web framework. The host supplies one thing: a function from its own
request to the signed-in :class:`~activitylog.access.Viewer` (or ``None``). Owners and Admins
see their organization's log; anyone else gets 403 and nothing of the data.

Plain WSGI::

    from activitylog.viewer import ViewerApp, WSGIViewer
    app = WSGIViewer(ViewerApp(log), resolve=lambda environ: viewer_from_session(environ))

Plain ASGI::

    from activitylog.viewer import ASGIViewer, ViewerApp
    app = ASGIViewer(ViewerApp(log), resolve=viewer_from_scope)   # resolve may be async

For a framework (Django, Flask, Starlette...), call the framework-free handler from a view::

    from activitylog.viewer import Request, ViewerApp
    viewer_app = ViewerApp(log)

    def view(framework_request, subpath):
        response = viewer_app.handle(
            Request(method, "/" + subpath, raw_query_string, root="/activity/",
                    headers=lowercase_headers),
            viewer_from(framework_request),
        )
        # response.status, response.headers (list of pairs), response.chunks() (bytes;
        # stream it: the CSV export is an iterator)

``root`` is the URL path the viewer is mounted at (ending in ``/``): every link the page makes
starts with it. ``ViewerApp.handle`` is synchronous and reads the store; from async code run it
in a thread, as :class:`ASGIViewer` does. The routes are listed in :mod:`activitylog.viewer.app`
and the query parameters (the filters, kept in the URL) in :mod:`activitylog.viewer.core`.
"""

from __future__ import annotations

from .app import CSP, Request, Response, ViewerApp
from .asgi import ASGIViewer, request_from_scope
from .core import Params, build_page
from .wsgi import WSGIViewer, request_from_environ

__all__ = [
    "CSP",
    "ASGIViewer",
    "Params",
    "Request",
    "Response",
    "ViewerApp",
    "WSGIViewer",
    "build_page",
    "request_from_environ",
    "request_from_scope",
]
