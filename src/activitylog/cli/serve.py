"""``activitylog serve``: the Activity Log page over a database file, on this machine only.

The server listens on 127.0.0.1 and, as notebook servers do, prints a URL holding a random
token. The first visit with the token sets a cookie (HttpOnly, SameSite=Strict) and redirects
to the same URL without it; every other request needs the cookie. Tokens are compared in
constant time. Each organization's log is at ``/org/<org>/``; ``/`` lists them.

The page reads as an Owner of each organization, like every reading command.
"""

from __future__ import annotations

import argparse
import hmac
import os
import secrets
from collections.abc import Callable, Iterable
from http.cookies import CookieError, SimpleCookie
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from ..log import ActivityLog
from .base import PROG, CliError
from .database import open_log, operator_viewer
from .options import Commands, database_option
from .terminal import Output

#: The cookie that carries the token after the first visit.
COOKIE = "activitylog_token"
DEFAULT_PORT = 8765

EPILOG = f"""\
examples:
  {PROG} serve --db crm.db                 # then open the printed URL
  {PROG} serve --db crm.db --org acme --port 0"""


def register(commands: Commands) -> None:
    """Add ``serve`` to the command line."""
    p = commands.add("serve", "serve the Activity Log page over a database, on this machine",
                     run, parents=[database_option()], epilog=EPILOG)
    p.add_argument("--org", metavar="ORG", help="open this organization's log first")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"the port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--key-env", metavar="VAR",
                   help="read the HMAC integrity key from this environment variable")


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No request log: the terminal shows the URL and stays quiet."""


class Served:
    """A running ``serve``: its server, the URL to open, and how to stop it."""

    def __init__(self, server: WSGIServer, url: str, log: ActivityLog) -> None:
        self.server = server
        self.url = url
        self.log = log

    def serve_forever(self) -> None:
        """Answer requests until :meth:`shutdown` (from another thread) or Ctrl-C."""
        self.server.serve_forever()

    def shutdown(self) -> None:
        """Stop answering and close the log."""
        self.server.shutdown()

    def close(self) -> None:
        """Release the socket and the database."""
        self.server.server_close()
        self.log.close()


def guarded(app: Callable[..., Iterable[bytes]], token: str) -> Callable[..., Iterable[bytes]]:
    """``app`` behind the token: a valid ``?token=`` sets the cookie, anything else is 403."""
    expected = token.encode("ascii")

    def valid(candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(
            candidate.encode("utf-8", "replace"), expected)

    def guard(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        given = next((v for k, v in pairs if k == "token"), None)
        if given is not None and valid(given):
            rest = urlencode([(k, v) for k, v in pairs if k != "token"])
            location = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "/"))
            cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
            start_response("302 Found", [("Location", location + (f"?{rest}" if rest else "")),
                                         ("Set-Cookie", cookie), ("Cache-Control", "no-store"),
                                         ("Referrer-Policy", "no-referrer")])
            return [b""]
        cookies = SimpleCookie()
        try:
            cookies.load(environ.get("HTTP_COOKIE", ""))
        except CookieError:  # a malformed Cookie header is just no cookie
            cookies = SimpleCookie()
        morsel = cookies.get(COOKIE)
        if not valid(morsel.value if morsel is not None else None):
            body = (b"403 Forbidden: open the URL that `activitylog serve` printed "
                    b"(it holds the access token).\n")
            start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8"),
                                             ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return guard


def site(log: ActivityLog) -> Callable[..., Iterable[bytes]]:
    """The WSGI app of ``serve`` (without the token guard): an index and one log per org."""
    from ..viewer import CSP, Request, ViewerApp, render

    viewer_app = ViewerApp(log, title="Activity Log")

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        query = environ.get("QUERY_STRING", "")
        if path.startswith("/org/"):
            org_part, _, rest = path[len("/org/"):].partition("/")
            org = unquote(org_part)
            known = org in log.store.org_ids()
            root = f"/org/{quote(org, safe='')}/"
            request = Request(method, "/" + rest, query, root=root)
            response = viewer_app.handle(request, operator_viewer(org) if known else None)
        elif path.startswith("/static/"):
            response = viewer_app.handle(Request(method, path, query, root="/"), None)
        elif path == "/":
            orgs = log.store.org_ids()
            items = "".join(
                f'<li><a href="/org/{render.esc(quote(org, safe=""))}/">{render.esc(org)}</a></li>'
                for org in orgs
            ) or "<li>The database has no entries yet.</li>"
            body = render.shell("/", "Activity Log", (
                '<header class="al-head"><div><h1>Activity Log</h1>'
                "<p>Organizations in this database:</p></div></header>"
                f'<ul class="al-orgs" id="al-orgs">{items}</ul>'
            ), tz_explicit="1").encode("utf-8")
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                      ("Content-Security-Policy", CSP),
                                      ("Content-Length", str(len(body)))])
            return [body]
        else:
            response = viewer_app.handle(Request(method, "/missing", query, root="/"), None)
        start_response(response.status_line, response.headers)
        return response.chunks()

    return app


def start(args: argparse.Namespace, out: Output) -> Served:
    """Open the database, start the server on 127.0.0.1 and print the URL to open."""
    key = None
    if args.key_env:
        key = os.environ.get(args.key_env)
        if key is None:
            raise CliError(f"--key-env: the environment variable {args.key_env} is not set")
    log = open_log(args.db, integrity_key=key)
    if args.org is not None and args.org not in log.store.org_ids():
        log.close()
        raise CliError(f"unknown organization {args.org!r}: it has no entries")
    token = secrets.token_urlsafe(24)
    try:
        server = make_server("127.0.0.1", args.port, guarded(site(log), token),
                             server_class=_Server, handler_class=_QuietHandler)
    except OSError as exc:
        log.close()
        raise CliError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror} "
                       "(pass --port 0 to pick a free port)") from None
    path = "/" if args.org is None else f"/org/{quote(args.org, safe='')}/"
    url = f"http://127.0.0.1:{server.server_port}{path}?token={token}"
    out.print(f"Serving the Activity Log of {args.db} on this machine only. Open:")
    out.print(f"    {url}")
    out.print("Press Ctrl-C to stop.")
    out.stream.flush()
    return Served(server, url, log)


def run(args: argparse.Namespace, out: Output) -> int:
    """Serve until interrupted."""
    served = start(args, out)
    try:
        served.serve_forever()
    except KeyboardInterrupt:
        out.print("Stopped.")
    finally:
        served.close()
    return 0
