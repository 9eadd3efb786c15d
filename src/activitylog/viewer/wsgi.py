"""The viewer as a plain WSGI application (any WSGI server, or mounted under a prefix)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..access import Viewer
from .app import Request, ViewerApp

#: The host's function from a WSGI ``environ`` to the signed-in viewer, or ``None``.
WSGIResolver = Callable[[dict[str, Any]], Viewer | None]


def request_from_environ(environ: dict[str, Any]) -> Request:
    """The handler's :class:`Request` for a WSGI ``environ`` (``SCRIPT_NAME`` is the mount)."""
    root = environ.get("SCRIPT_NAME", "").rstrip("/") + "/"
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    # WSGI hands PATH_INFO over as latin-1-decoded bytes; only ASCII routes exist anyway.
    return Request(
        method=environ.get("REQUEST_METHOD", "GET").upper(),
        path=environ.get("PATH_INFO", "") or "/",
        query_string=environ.get("QUERY_STRING", ""),
        root=root,
        headers=headers,
    )


class WSGIViewer:
    """A WSGI app serving ``app`` to the viewer ``resolve(environ)`` returns.

    Mount it at any prefix (``SCRIPT_NAME``); the page's links follow it.
    """

    def __init__(self, app: ViewerApp, resolve: WSGIResolver) -> None:
        self.app = app
        self.resolve = resolve

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = request_from_environ(environ)
        response = self.app.handle(request, self.resolve(environ))
        start_response(response.status_line, response.headers)
        return response.chunks()
