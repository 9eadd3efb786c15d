"""Measure django-auditlog and django-activity-stream on SQLite (WAL) — run inside their own venv.

This script imports Django, so it never runs in activitylog's environment: ``benchmarks/run.py
--peers`` builds a throwaway virtualenv, installs the peers there and runs this file with it.
It prints one JSON object on stdout.

    python peers_worker.py --entries 50000 --db /tmp/peers.db
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def configure(db: Path) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "auditlog",
            "actstream",
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(db),
                # The same durability settings activitylog uses, so the comparison is fair.
                "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
            }
        },
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        ACTSTREAM_SETTINGS={"USE_JSONFIELD": True},
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--single", type=int, default=2_000, help="entries for per-commit rates")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for suffix in ("", "-wal", "-shm"):
        Path(str(args.db) + suffix).unlink(missing_ok=True)
    configure(args.db)

    import django
    from actstream import action
    from actstream.models import Action
    from actstream.registry import register
    from auditlog.models import LogEntry
    from django.contrib.auth.models import User
    from django.db import transaction
    from django.db.models import Count, Q

    register(User)
    rng = random.Random(args.seed)
    first = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Donald", "Frances", "John"]
    last = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Knuth", "Allen"]
    users = [
        User.objects.create(username=f"user{i}", first_name=rng.choice(first),
                            last_name=rng.choice(last))
        for i in range(199)
    ]
    # One rarely active person whose surname occurs nowhere else: the rare-name search.
    rare = User.objects.create(username="rare", first_name="Zofia", last_name="Wojciechowska")

    def actor_of(i: int) -> Any:
        return rare if i % 500 == 250 else users[(i * 7) % len(users)]

    verbs = ["created lead", "updated lead", "deleted lead", "changed status of task",
             "invited member", "revoked API key", "uploaded file", "deleted note"]

    def audit_one(i: int) -> None:
        user = users[i % len(users)]
        LogEntry.objects.log_create(
            user, action=LogEntry.Action.UPDATE, changes={"status": ["New", f"Contacted {i}"]},
            actor=actor_of(i),
        )

    def stream_one(i: int) -> None:
        user = users[i % len(users)]
        action.send(actor_of(i), verb=verbs[i % len(verbs)], target=user)

    result: dict[str, Any] = {"django": django.get_version(), "entries": args.entries,
                              "single": min(args.single, args.entries)}
    for name, one in (("auditlog", audit_one), ("actstream", stream_one)):
        print(f"peers: {name}", file=sys.stderr, flush=True)
        n = min(args.single, args.entries)
        start = time.perf_counter()
        for i in range(n):
            one(i)  # autocommit: each entry is its own transaction
        result[f"{name}_per_commit_per_s"] = n / (time.perf_counter() - start)
        start = time.perf_counter()
        remaining = args.entries - n
        with transaction.atomic():
            for i in range(n, n + remaining):
                one(i)
        result[f"{name}_one_transaction_per_s"] = remaining / (time.perf_counter() - start)

    name_fragment = "wojci"
    # What each library's admin search does: icontains over the fields it searches.
    by_actor = Q(actor__first_name__icontains=name_fragment) | Q(
        actor__last_name__icontains=name_fragment
    )
    result["auditlog_name_search_first_page_s"] = timed(
        lambda: list(LogEntry.objects.filter(by_actor).order_by("-timestamp")[:50]), args.repeat)
    result["auditlog_name_search_count_s"] = timed(
        lambda: LogEntry.objects.filter(by_actor).count(), args.repeat)
    result["auditlog_search_first_page_s"] = timed(
        lambda: list(LogEntry.objects.filter(changes_text__icontains="contacted 4")
                     .order_by("-timestamp")[:50]), args.repeat)
    result["auditlog_search_count_s"] = timed(
        lambda: LogEntry.objects.filter(changes_text__icontains="contacted 4").count(), args.repeat)
    result["auditlog_counts_per_type_s"] = timed(
        lambda: list(LogEntry.objects.values("action").annotate(n=Count("id"))), args.repeat)
    result["actstream_search_first_page_s"] = timed(
        lambda: list(Action.objects.filter(verb__icontains="deleted").order_by("-timestamp")[:50]),
        args.repeat)
    result["actstream_search_count_s"] = timed(
        lambda: Action.objects.filter(verb__icontains="deleted").count(), args.repeat)
    result["actstream_actor_search_count_s"] = timed(
        lambda: Action.objects.filter(
            actor_object_id__in=[str(u.pk) for u in (*users, rare)
                                 if name_fragment in u.last_name.lower()]
        ).count(), args.repeat)
    result["actstream_counts_per_type_s"] = timed(
        lambda: list(Action.objects.values("verb").annotate(n=Count("id"))), args.repeat)
    result["db_bytes"] = os.path.getsize(args.db)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
