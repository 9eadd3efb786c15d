"""The viewer's request handler: one framework-free function every mount calls.

``ViewerApp.handle(request, viewer)`` takes a :class:`Request` (method, path below the mount
point, raw query string, headers, and the mount point's own URL path) and the
:class:`~activitylog.access.Viewer` the host resolved from its request (``None`` when nobody
is signed in), and returns a :class:`Response` (status, headers, and a body of bytes or an
iterator of bytes for the streamed CSV). It never blocks on anything but the store.

Routes, relative to the mount point:

=====================  ============================================================
``/``                  the Activity Log page (HTML)
``/api/entries``       the same page as JSON (the page dict, see :mod:`.core`)
``/export.csv``        every entry matching the current filters, as CSV, streamed
``/chart.svg``         entries per day for the current filters, as an SVG image
``/api/integrity``     the integrity badge: the chain verified against the last checkpoint
``/static/<name>``     the page's own CSS and JavaScript (no data; served to anyone)
=====================  ============================================================

Every data route answers 403 (and shows nothing of the log) unless the log's access policy
lets the viewer read its organization's log: by default Owners and Admins only. Bad filters
answer 400 with the reason.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from .. import access
from ..errors import ActivityLogError, InvalidQuery, PermissionDenied, RegistryError
from ..integrity import Checkpoint
from ..log import ActivityLog
from . import chart, core, export, render, static

#: The Content-Security-Policy of every answer: own scripts and styles only, nothing inline.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https: http:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)

_SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)
_HTML = "text/html; charset=utf-8"
_JSON = "application/json"
_REASONS = {
    200: "OK", 302: "Found", 304: "Not Modified", 400: "Bad Request", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error",
}
#: How many seconds a verification result is reused for.
INTEGRITY_TTL = 300.0


@attrs.frozen
class Request:
    """What the handler needs of an HTTP request.

    ``path`` is below the mount point (``"/"`` for the page, ``"/api/entries"``...);
    ``query_string`` is raw (``"q=lead&category=Leads"``, no ``?``); ``root`` is the mount
    point's URL path ending in ``/`` (``"/settings/activity/"``), which every link the page
    makes starts with; ``headers`` maps lowercase names to values.
    """

    method: str
    path: str
    query_string: str = ""
    root: str = "/"
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Response:
    """What the handler answers: a status, headers, and bytes or an iterator of bytes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes | Iterable[bytes]

    @property
    def status_line(self) -> str:
        """``"200 OK"``: the status as WSGI wants it."""
        return f"{self.status} {_REASONS.get(self.status, '')}".rstrip()

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive), if present."""
        lower = name.lower()
        return next((v for k, v in self.headers if k.lower() == lower), None)

    def chunks(self) -> Iterator[bytes]:
        """The body as an iterator of bytes, whichever form it has."""
        if isinstance(self.body, bytes):
            yield self.body
        else:
            yield from self.body


def _respond(status: int, content_type: str, body: bytes | Iterable[bytes],
             *extra: tuple[str, str], cache: str = "no-store") -> Response:
    headers = [("Content-Type", content_type), ("Cache-Control", cache), *_SECURITY_HEADERS]
    headers += extra
    if isinstance(body, bytes):
        headers.append(("Content-Length", str(len(body))))
    return Response(status, headers, body)


# One encoder for every answer: json.dumps with options builds a new one per call. Answers
# are dicts built afresh for each request, never cyclic: no need to track the containers seen.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"),
                           check_circular=False).encode


def _json(status: int, data: Any) -> Response:
    return _respond(status, _JSON, _ENCODE(data).encode("utf-8"))


class ViewerApp:
    """The Activity Log viewer over one :class:`~activitylog.ActivityLog`, framework-free.

    ``org_for`` picks the organization a viewer reads (default: the viewer's own,
    ``viewer.org_id``). ``checkpoint`` returns the last checkpoint kept for an organization
    (or ``None``), for the integrity badge; without it the badge checks the chain alone.
    ``title`` is the page's title.
    """

    def __init__(
        self,
        log: ActivityLog,
        *,
        org_for: Callable[[access.Viewer], str] | None = None,
        checkpoint: Callable[[str], Checkpoint | None] | None = None,
        title: str = "Activity Log",
    ) -> None:
        self.log = log
        self.org_for = org_for or (lambda viewer: viewer.org_id)
        self.checkpoint = checkpoint
        self.title = title
        self._verified: dict[str, tuple[float, dict[str, Any]]] = {}
        self._org_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    # -- entry point ----------------------------------------------------------------------

    def handle(self, request: Request, viewer: access.Viewer | None) -> Response:
        """Answer one request for ``viewer`` (``None``: nobody signed in, answered 403)."""
        path = request.path or "/"
        if request.method not in ("GET", "HEAD"):
            response = self._error(request, 405, "Method not allowed",
                                   "The Activity Log is read-only.", json_=path != "/")
            return attrs.evolve(response, headers=[*response.headers, ("Allow", "GET, HEAD")])
        if path.startswith("/static/"):
            response = self._static(path[len("/static/"):], request.query_string)
        else:
            response = self._route(request, path, viewer)
        if request.method == "HEAD":
            return attrs.evolve(response, body=b"")
        return response

    def _route(self, request: Request, path: str, viewer: access.Viewer | None) -> Response:
        routes: dict[str, Callable[[Request, access.Viewer, str, core.Params], Response]] = {
            "/": self._page,
            "/api/entries": self._api,
            "/export.csv": self._export,
            "/chart.svg": self._chart,
            "/api/integrity": self._integrity,
        }
        handler = routes.get(path)
        as_json = path.startswith("/api/")
        if handler is None:
            return self._error(request, 404, "Not found", "There is no such page here.",
                               json_=as_json)
        try:
            org_id = self._allowed(viewer)
        except PermissionDenied:
            return self._error(
                request, 403, "Access denied",
                "Only organization Owners and Admins can view the Activity Log.",
                json_=as_json or path != "/", back=False,
            )
        assert viewer is not None
        try:
            params = core.Params.parse(request.query_string)
            return handler(request, viewer, org_id, params)
        except (InvalidQuery, RegistryError) as exc:
            return self._error(request, 400, "Invalid filters", str(exc), json_=path != "/")
        except ActivityLogError:
            return self._error(request, 500, "The Activity Log could not be read",
                               "Please try again later.", json_=path != "/")

    def _allowed(self, viewer: access.Viewer | None) -> str:
        if not isinstance(viewer, access.Viewer):
            raise PermissionDenied("no viewer")
        org_id = self.org_for(viewer)
        access.check(self.log.policy, viewer, org_id)
        return org_id

    # -- routes ---------------------------------------------------------------------------

    def links(self, root: str, params: core.Params) -> dict[str, str]:
        """The URLs of the other endpoints for the same filters (cursor and size left out)."""
        qs = attrs.evolve(params, cursor=None, size=core.DEFAULT_SIZE).query_string()
        tail = "?" + qs if qs else ""
        return {
            "page": root + tail,
            "api": root + "api/entries" + tail,
            "export": root + "export.csv" + tail,
            "chart": root + "chart.svg" + tail,
            "integrity": root + "api/integrity",
        }

    def _page(self, request: Request, viewer: access.Viewer, org_id: str,
              params: core.Params) -> Response:
        data = core.build_page(self.log, org_id, viewer, params, request.root,
                               links=self.links(request.root, params))
        body = render.page(data, request.root, self.title).encode("utf-8")
        return _respond(200, _HTML, body, ("Vary", "Cookie"))

    def _api(self, request: Request, viewer: access.Viewer, org_id: str,
             params: core.Params) -> Response:
        data = core.build_page(self.log, org_id, viewer, params, request.root + "api/entries",
                               links=self.links(request.root, params))
        response = _json(200, data)
        if data["next_url"]:
            link = ("Link", f'<{data["next_url"]}>; rel="next"')
            response = attrs.evolve(response, headers=[*response.headers, link])
        return response

    def _export(self, request: Request, viewer: access.Viewer, org_id: str,
                params: core.Params) -> Response:
        query = params.query(self.log, org_id, viewer)
        name = export.filename(org_id, self.log.clock())
        return _respond(200, "text/csv; charset=utf-8", export.rows(query),
                        ("Content-Disposition", f'attachment; filename="{name}"'))

    def _chart(self, request: Request, viewer: access.Viewer, org_id: str,
               params: core.Params) -> Response:
        days = chart.count_days(self.log, org_id, viewer, params)
        return _respond(200, "image/svg+xml", chart.svg(days).encode("utf-8"))

    def _integrity(self, request: Request, viewer: access.Viewer, org_id: str,
                   params: core.Params) -> Response:
        return _json(200, self.integrity(org_id, viewer))

    def integrity(self, org_id: str, viewer: access.Viewer) -> dict[str, Any]:
        """The integrity badge's data: ``ok``, ``checked``, the checkpoint's ``seq`` and text.

        Verification reads the organization's whole chain (seconds for hundreds of thousands
        of entries), so a result is reused for :data:`INTEGRITY_TTL` seconds (it says how far
        it verified, which stays true), and one organization is verified by one request at a
        time: the others wait for its result.
        """
        access.check(self.log.policy, viewer, org_id)
        if self.log.chain is None:
            return {"ok": None, "checked": 0, "checkpoint_seq": None,
                    "text": "No integrity chain"}
        with self._lock:
            org_lock = self._org_locks.setdefault(org_id, threading.Lock())
        with org_lock:
            cached = self._verified.get(org_id)
            if cached is not None and time.monotonic() - cached[0] < INTEGRITY_TTL:
                return cached[1]
            data = self._verify(org_id)
            self._verified[org_id] = (time.monotonic(), data)
        return data

    def _verify(self, org_id: str) -> dict[str, Any]:
        since = self.checkpoint(org_id) if self.checkpoint else None
        report = self.log.verify(org_id, since=since)
        if report.ok and report.checked == 0:
            text = "No entries to verify yet"
        elif report.ok:
            text = f"Verified through entry {report.checked:,}"
            if since is not None:
                text += f" (checkpoint at entry {since.seq:,})"
        else:
            problem = report.problem.value if report.problem else "damage"
            text = f"Integrity problem at entry {report.seq}: {problem}"
        return {
            "ok": report.ok,
            "checked": report.checked,
            "checkpoint_seq": None if since is None else since.seq,
            "problem": None if report.problem is None else report.problem.value,
            "seq": report.seq,
            "text": text,
        }

    def _static(self, name: str, query_string: str) -> Response:
        asset = static.ASSETS.get(name)
        if asset is None:
            return _respond(404, "text/plain; charset=utf-8", b"Not found")
        cache = "no-cache"
        if query_string == f"v={asset.digest}":
            cache = "public, max-age=31536000, immutable"
        return _respond(200, asset.content_type, asset.body, ("ETag", f'"{asset.digest}"'),
                        cache=cache)

    def _error(self, request: Request, status: int, heading: str, message: str, *,
               json_: bool, back: bool = True) -> Response:
        if json_:
            return _json(status, {"error": heading, "detail": message, "status": status})
        body = render.error_page(request.root, status, heading, message,
                                 request.root if back else None)
        return _respond(status, _HTML, body.encode("utf-8"))
