"""The viewer as a plain ASGI application (HTTP only; lifespan events are acknowledged).

The store is read in a worker thread, so the event loop never waits on it; a streamed CSV is
read chunk by chunk the same way.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from ..access import Viewer
from .app import Request, ViewerApp

#: The host's function from an ASGI ``scope`` to the signed-in viewer (may be ``async``).
ASGIResolver = Callable[[dict[str, Any]], "Viewer | Awaitable[Viewer | None] | None"]

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_DONE = object()


def request_from_scope(scope: dict[str, Any]) -> Request:
    """The handler's :class:`Request` for an ASGI HTTP ``scope`` (``root_path`` is the mount)."""
    root = scope.get("root_path", "").rstrip("/") + "/"
    path = scope.get("path", "/")
    root_path = scope.get("root_path", "")
    # Servers differ on whether "path" still holds "root_path"; both forms are accepted.
    if root_path and path.startswith(root_path):
        path = path[len(root_path):]
    headers = {
        k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
    }
    return Request(
        method=scope.get("method", "GET").upper(),
        path=path or "/",
        query_string=scope.get("query_string", b"").decode("latin-1"),
        root=root,
        headers=headers,
    )


def _next(chunks: Iterator[bytes]) -> object:
    return next(chunks, _DONE)


class ASGIViewer:
    """An ASGI app serving ``app`` to the viewer ``resolve(scope)`` returns."""

    def __init__(self, app: ViewerApp, resolve: ASGIResolver) -> None:
        self.app = app
        self.resolve = resolve

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            raise RuntimeError(f"the Activity Log viewer serves HTTP, not {scope['type']!r}")
        viewer = self.resolve(scope)
        if inspect.isawaitable(viewer):
            viewer = await viewer
        request = request_from_scope(scope)
        response = await asyncio.to_thread(self.app.handle, request, viewer)
        await send({
            "type": "http.response.start",
            "status": response.status,
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                        for k, v in response.headers],
        })
        chunks = response.chunks()
        while True:
            chunk = await asyncio.to_thread(_next, chunks)
            if chunk is _DONE:
                break
            assert isinstance(chunk, bytes)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
