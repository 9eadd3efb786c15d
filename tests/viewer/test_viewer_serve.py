"""``activitylog serve``: the page over a database file, behind a random token, on loopback."""

from __future__ import annotations

import argparse
import http.client
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from activitylog import ActivityLog
from activitylog.cli import serve
from activitylog.cli.base import CliError
from activitylog.cli.options import ArgumentParser, Commands
from activitylog.cli.terminal import Output

from .conftest import ORG, clock_at_start, seed


def parse(argv: list[str]) -> argparse.Namespace:
    """``argv`` parsed by a parser holding only the ``serve`` command."""
    parser = ArgumentParser(prog="activitylog")
    serve.register(Commands(parser.add_subparsers(dest="command", parser_class=ArgumentParser)))
    return parser.parse_args(argv)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A database file holding the seeded entries."""
    path = tmp_path / "crm.db"
    with ActivityLog.open(f"sqlite:///{path}", clock=clock_at_start) as log:
        seed(log, 30)
    return path


@pytest.fixture
def served(database: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[serve.Served]:
    """``serve --db database --port 0`` running in a thread."""
    running = serve.start(parse(["serve", "--db", str(database), "--port", "0"]), Output("never"))
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    thread.join()
    running.close()


def fetch(url: str, path: str, cookie: str | None = None) -> http.client.HTTPResponse:
    """A GET of ``path`` on the server of ``url`` (no redirects followed)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = connection.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


class TestServe:
    def test_prints_a_loopback_url_with_a_token(
        self, served: serve.Served, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The printed URL is on 127.0.0.1 and holds a long random token."""
        printed = capsys.readouterr().out
        assert served.url in printed
        parts = urlsplit(served.url)
        assert parts.hostname == "127.0.0.1"
        assert parts.query.startswith("token=") and len(parts.query) > 30

    def test_token_then_cookie(self, served: serve.Served) -> None:
        """Without the token: 403. With it: a cookie and a redirect; the cookie opens pages."""
        parts = urlsplit(served.url)
        assert fetch(served.url, "/").status == 403
        assert fetch(served.url, f"/org/{ORG}/api/entries").status == 403
        assert fetch(served.url, "/?token=wrong").status == 403
        first = fetch(served.url, f"/?{parts.query}")
        assert first.status == 302 and first.getheader("Location") == "/"
        cookie = first.getheader("Set-Cookie").split(";")[0]
        assert "HttpOnly" in first.getheader("Set-Cookie")
        index = fetch(served.url, "/", cookie)
        assert index.status == 200 and f'href="/org/{ORG}/"'.encode() in index.body
        page = fetch(served.url, f"/org/{ORG}/?q=Ada", cookie)
        assert page.status == 200 and b"al-row" in page.body
        assert f"/org/{ORG}/static/viewer.js".encode() in page.body
        assert fetch(served.url, f"/org/{ORG}/export.csv", cookie).status == 200
        assert fetch(served.url, "/org/nobody/", cookie).status == 403
        assert fetch(served.url, "/static/viewer.css", cookie).status == 200
        assert fetch(served.url, "/static/viewer.css", f"{serve.COOKIE}=nope").status == 403

    def test_unknown_org_and_missing_key_are_usage_errors(self, database: Path) -> None:
        """An --org without entries or an unset --key-env stop with a clear message."""
        with pytest.raises(CliError, match="unknown organization 'nope'"):
            serve.start(parse(["serve", "--db", str(database), "--org", "nope", "--port", "0"]),
                        Output("never"))
        with pytest.raises(CliError, match="NOT_SET_ANYWHERE"):
            serve.start(parse(["serve", "--db", str(database), "--key-env", "NOT_SET_ANYWHERE"]),
                        Output("never"))


class TestCommand:
    def test_activitylog_serve_runs_until_interrupted(self, database: Path) -> None:
        """The real command prints its URL, serves the page, and stops cleanly on Ctrl-C."""
        # Ctrl-C as from a terminal, even when the tests run where SIGINT is ignored (a
        # shell's background job): an ignored SIGINT is inherited, a handler is not.
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "activitylog", "serve", "--db", str(database),
                 "--port", "0", "--org", ORG],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
        finally:
            signal.signal(signal.SIGINT, previous)
        try:
            assert process.stdout is not None
            url = ""
            for _ in range(5):
                line = process.stdout.readline()
                if "?token=" in line:
                    url = line.strip()
                    break
            assert url.startswith("http://127.0.0.1:"), url or process.stderr.read()
            parts = urlsplit(url)
            first = fetch(url, f"{parts.path}?{parts.query}")
            assert first.status == 302
            cookie = first.getheader("Set-Cookie").split(";")[0]
            page = fetch(url, parts.path, cookie)
            assert page.status == 200 and b"al-row" in page.body
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
            assert process.returncode == 0, err
            assert "Stopped." in out
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
