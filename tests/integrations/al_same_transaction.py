"""Run by test_integration_postgres.py in its own process: a Django project whose database and
Activity Log are the same PostgreSQL database, with ACTIVITYLOG['SAME_TRANSACTION'] on.

Prints one JSON object of observations.
"""

from __future__ import annotations

import json
import os
import sys
from urllib.parse import unquote, urlsplit


def main(url: str) -> None:
    """Record inside committed and rolled-back transactions and report what is stored."""
    import django
    from django.conf import settings

    # Names of this process's own: the suites of several Pythons may run at once on one server.
    org, table = f"same-tx-{os.getpid()}", f"same_tx_lead_{os.getpid()}"
    parts = urlsplit(url)
    settings.configure(
        SECRET_KEY="test", USE_TZ=True, INSTALLED_APPS=["activitylog.integrations.django"],
        DATABASES={"default": {
            "ENGINE": "django.db.backends.postgresql", "NAME": unquote(parts.path[1:]),
            "USER": unquote(parts.username or ""), "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "", "PORT": str(parts.port or ""),
        }},
        MIDDLEWARE=["activitylog.integrations.django.ActivityLogMiddleware"],
        ACTIVITYLOG={"STORE": url, "SAME_TRANSACTION": True, "DEFAULT_ORG": org},
    )
    django.setup()
    from django.core.checks import run_checks
    from django.db import connection, transaction

    from activitylog import Actor, Target
    from activitylog.integrations.django import get_log, record

    log = get_log()
    seen: dict[str, object] = {
        "checks": sorted(m.id for m in run_checks() if (m.id or "").startswith("activitylog."))}
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TABLE {table} (id SERIAL PRIMARY KEY, name TEXT)")
    org_before = log.store.head(org)
    start = org_before.seq if org_before is not None else 0

    def stored() -> int:
        head = log.store.head(org)  # through the log's own pool: committed rows only
        return (head.seq if head is not None else 0) - start

    with log.context(org_id=org, actor=Actor("1", "Ada")):
        try:
            with transaction.atomic():
                connection.cursor().execute(f"INSERT INTO {table} (name) VALUES ('doomed')")
                entry = record("lead.created", target=Target("lead", "1", "doomed"))
                seen["stored_inside_uncommitted"] = stored()
                seen["returned_seq"] = entry.seq if entry is not None else None
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        seen["after_rollback"] = stored()
        with transaction.atomic():
            connection.cursor().execute(f"INSERT INTO {table} (name) VALUES ('kept')")
            record("lead.created", target=Target("lead", "2", "kept"))
        seen["after_commit"] = stored()
        record("lead.updated", target=Target("lead", "2", "kept"))  # autocommit
        seen["after_autocommit"] = stored()
        seen["verify_ok"] = log.verify(org).ok
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")
    log.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main(sys.argv[1])
