"""The Django integration's per-request cost: middleware plus one recorded entry.

    python -m benchmarks.integrations                        # SQLite, 2,000 requests a round
    python -m benchmarks.integrations --requests 300 --repeat 1    # a quick look
    ACTIVITYLOG_TEST_POSTGRES_URL=postgresql://... python -m benchmarks.integrations

The same view (insert one row into the app's own table in a transaction, answer JSON) is
served through Django's test client three ways: **plain** (no activitylog), **middleware**
(the context set for the request, nothing recorded) and **recorded** (the middleware, and one
entry recorded with ``record()``, written when the transaction commits); on PostgreSQL also
**same-transaction** (``SAME_TRANSACTION``: the entry appended inside the view's own
transaction, one commit for both). Each round times ``--requests`` requests of each variant,
the variants taking turns every 50 requests; the table shows the median over ``--repeat``
rounds of the mean per request, and each variant's ratio to plain. The app's
database and the log are both SQLite files, or, with a PostgreSQL URL, both PostgreSQL (the
app through Django's backend, the log through the PostgreSQL store).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

VARIANTS = ("plain", "middleware", "recorded")
#: Requests of one variant before the next variant's turn.
CHUNK = 50
MIDDLEWARE = "activitylog.integrations.django.ActivityLogMiddleware"


def _django_database(url: str | None, workdir: Path) -> dict[str, Any]:
    if url is None:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(workdir / "app.db")}
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


def _setup(url: str | None, workdir: Path) -> None:
    import django
    from django.conf import settings

    store = url or f"sqlite:///{workdir / 'activity.db'}"
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        USE_TZ=True,
        INSTALLED_APPS=["activitylog.integrations.django"],
        MIDDLEWARE=[],
        DATABASES={"default": _django_database(url, workdir)},
        ACTIVITYLOG={
            "STORE": store,
            "DEFAULT_ORG": "bench",
            "ACTOR": "benchmarks.integrations.bench_actor",
        },
    )
    django.setup()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_lead")
        cursor.execute("CREATE TABLE bench_lead (id INTEGER PRIMARY KEY, name VARCHAR(100))"
                       if url is None else
                       "CREATE TABLE bench_lead (id SERIAL PRIMARY KEY, name VARCHAR(100))")


def bench_actor(request: Any) -> Any:
    """Every benchmark request is made by the same user (no session or auth lookups)."""
    from activitylog import Actor

    return _ACTOR if _ACTOR is not None else Actor("1", "Ada Lovelace")


_ACTOR: Any = None


def _insert(name: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_lead (name) VALUES (%s) RETURNING id", [name])
        return int(cursor.fetchone()[0])


def plain_view(request: Any) -> Any:
    """Create a lead in a transaction: the view without activitylog."""
    from django.db import transaction
    from django.http import JsonResponse

    with transaction.atomic():
        pk = _insert("Initech")
    return JsonResponse({"id": pk}, status=201)


def recorded_view(request: Any) -> Any:
    """The same, recording ``lead.created`` (written when the transaction commits)."""
    from django.db import transaction
    from django.http import JsonResponse

    from activitylog import Target
    from activitylog.integrations.django import record

    with transaction.atomic():
        pk = _insert("Initech")
        record("lead.created", target=Target("lead", pk or "1", "Initech"))
    return JsonResponse({"id": pk}, status=201)


def _urls() -> list[Any]:
    from django.urls import path

    return [path("plain", plain_view), path("recorded", recorded_view)]


def __getattr__(name: str) -> Any:
    # ROOT_URLCONF is this module; its patterns are built once Django is set up.
    if name == "urlpatterns":
        return _urls()
    raise AttributeError(name)


def _client(variant: str) -> Any:
    from django.test import Client, override_settings

    middleware = [] if variant == "plain" else [MIDDLEWARE]
    with override_settings(MIDDLEWARE=middleware):
        client = Client()
        client.post("/plain")  # loads the middleware chain under these settings
    return client


def _settings(variant: str, same: dict[str, Any]) -> Any:
    from django.test import override_settings

    return override_settings(**({"ACTIVITYLOG": same} if variant == "same-transaction" else {}))


def run(requests: int, repeat: int, url: str | None, workdir: str | None) -> dict[str, Any]:
    """Time each variant; returns seconds per request (median of rounds) and counts."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        _setup(url, Path(tmp))
        from django.conf import settings

        from activitylog.integrations.django import get_log

        variants = VARIANTS + (("same-transaction",) if url else ())
        clients = {v: _client(v) for v in variants}
        paths = {"plain": "/plain", "middleware": "/plain", "recorded": "/recorded",
                 "same-transaction": "/recorded"}
        same = {**settings.ACTIVITYLOG, "SAME_TRANSACTION": True}
        rounds: dict[str, list[float]] = {v: [] for v in variants}
        for client_variant in variants:  # warm up
            with _settings(client_variant, same):
                for _ in range(max(requests // 10, 1)):
                    clients[client_variant].post(paths[client_variant])
        for _ in range(repeat):
            # Variants take turns every CHUNK requests, so that a machine's drift (other
            # processes, CPU frequency) spreads over all of them instead of favouring one.
            totals = dict.fromkeys(variants, 0.0)
            done = 0
            while done < requests:
                size = min(CHUNK, requests - done)
                for variant in variants:
                    client, target = clients[variant], paths[variant]
                    with _settings(variant, same):
                        start = time.perf_counter()
                        for _ in range(size):
                            response = client.post(target)
                        totals[variant] += time.perf_counter() - start
                    assert response.status_code == 201, response.content
                done += size
            for variant in variants:
                rounds[variant].append(totals[variant] / requests)
        log = get_log()
        recorded = log.store.head("bench")
        report = {
            "store": "postgresql" if url else "sqlite",
            "workdir": workdir or tempfile.gettempdir(),
            "requests": requests,
            "repeat": repeat,
            "seconds": {v: statistics.median(r) for v, r in rounds.items()},
            "entries": recorded.seq if recorded is not None else 0,
        }
        log.close()
        return report


def table(report: dict[str, Any]) -> str:
    """The results as a small text table."""
    plain = report["seconds"]["plain"]
    where = "" if report["store"] != "sqlite" else f" in {report['workdir']}"
    lines = [(f"Django test client, {report['store']}{where}: {report['requests']} requests "
              f"x {report['repeat']} rounds (median of per-request means)"),
             f"{'variant':12} {'µs/request':>11} {'vs plain':>9} {'added µs':>9}"]
    for variant, seconds in report["seconds"].items():
        lines.append(f"{variant:12} {seconds * 1e6:11.1f} {seconds / plain:8.2f}x "
                     f"{(seconds - plain) * 1e6:9.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (and again on PostgreSQL, in a fresh process, if a URL is known)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", metavar="URL",
                        default=os.environ.get("ACTIVITYLOG_TEST_POSTGRES_URL"),
                        help="also run on this PostgreSQL database (default: "
                             "$ACTIVITYLOG_TEST_POSTGRES_URL)")
    parser.add_argument("--workdir", metavar="DIR",
                        help="where the SQLite files go (default: the system's temporary "
                             "directory; its disk's fsync time is part of every commit)")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help=argparse.SUPPRESS)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.only:
        report = run(args.requests, args.repeat,
                     args.postgres if args.only == "postgresql" else None, args.workdir)
        print(json.dumps(report))
        return 0
    reports = []
    # Django's settings are per process: each database runs in its own.
    for store in ("sqlite", "postgresql") if args.postgres else ("sqlite",):
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.integrations", "--only", store,
             "--requests", str(args.requests), "--repeat", str(args.repeat),
             *(["--workdir", args.workdir] if args.workdir else []),
             *(["--postgres", args.postgres] if args.postgres else [])],
            cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
            check=False,
        )
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            return done.returncode
        reports.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(table(reports[-1]))
        print()
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
