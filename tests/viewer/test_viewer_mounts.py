"""The same handler mounted as plain WSGI and plain ASGI apps, and shipped in the wheel."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

from activitylog import Viewer
from activitylog.viewer import ASGIViewer, ViewerApp, WSGIViewer, static

ROOT = Path(__file__).resolve().parents[2]


def wsgi_get(app: WSGIViewer, path: str, query: str = "", script: str = "") -> tuple[str, dict[str, str], bytes]:
    """Status, headers and body of a GET through the WSGI app."""
    environ: dict[str, Any] = {"PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": script}
    setup_testing_defaults(environ)
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body


def asgi_get(app: ASGIViewer, path: str, query: str = "", root_path: str = "") -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a GET through the ASGI app."""
    scope = {"type": "http", "method": "GET", "path": root_path + path, "root_path": root_path,
             "query_string": query.encode(), "headers": [(b"host", b"test")]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert sent[-1]["more_body"] is False
    return start["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


class TestWSGI:
    def test_page_api_and_403(self, app: ViewerApp, owner: Viewer, member: Viewer) -> None:
        """The resolver's viewer decides; SCRIPT_NAME is the mount point of every link."""
        wsgi = WSGIViewer(app, lambda environ: owner if environ.get("HTTP_X_WHO") != "m" else member)
        status, headers, body = wsgi_get(wsgi, "/", "q=lead", script="/audit")
        assert status == "200 OK" and headers["Content-Type"].startswith("text/html")
        assert b'action="/audit/"' in body and b"/audit/static/viewer.js?v=" in body
        status, _, body = wsgi_get(wsgi, "/api/entries", "size=3")
        assert status == "200 OK" and len(json.loads(body)["entries"]) == 3
        denied = WSGIViewer(app, lambda environ: member)
        assert wsgi_get(denied, "/api/entries")[0] == "403 Forbidden"
        nobody = WSGIViewer(app, lambda environ: None)
        assert wsgi_get(nobody, "/")[0] == "403 Forbidden"


class TestASGI:
    def test_page_api_export_and_403(self, app: ViewerApp, owner: Viewer, member: Viewer) -> None:
        """Sync and async resolvers both work; the CSV streams in several body messages."""

        async def resolve(scope: dict[str, Any]) -> Viewer:
            return owner

        asgi = ASGIViewer(app, resolve)
        status, headers, body = asgi_get(asgi, "/", root_path="/audit")
        assert status == 200 and b"/audit/export.csv" in body
        assert "unsafe-inline" not in headers["content-security-policy"]
        status, _, body = asgi_get(asgi, "/api/entries", "category=Leads")
        assert status == 200
        assert {e["category"] for e in json.loads(body)["entries"]} == {"Leads"}
        status, headers, body = asgi_get(asgi, "/export.csv")
        assert status == 200 and body.decode("utf-8-sig").count("\r\n") == 141
        denied = ASGIViewer(app, lambda scope: member)
        status, _, body = asgi_get(denied, "/export.csv")
        assert status == 403 and b"Lead" not in body

    def test_lifespan_is_acknowledged(self, app: ViewerApp) -> None:
        """Startup and shutdown messages get their completions."""
        asgi = ASGIViewer(app, lambda scope: None)
        incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return incoming.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        asyncio.run(asgi({"type": "lifespan"}, receive, send))
        assert [m["type"] for m in sent] == ["lifespan.startup.complete",
                                             "lifespan.shutdown.complete"]


class TestWheel:
    def test_built_wheel_ships_the_assets(self, tmp_path: Path) -> None:
        """A wheel built from the project as pip builds it holds the viewer's CSS and JS."""
        built = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
             str(tmp_path), str(ROOT)],
            capture_output=True, text=True, timeout=300, check=False,
        )
        assert built.returncode == 0, built.stderr[-2000:]
        wheel = next(tmp_path.glob("activitylog-*.whl"))
        names = set(zipfile.ZipFile(wheel).namelist())
        for name in static.ASSETS:
            assert f"activitylog/viewer/static/activitylog/{name}" in names
