"""System checks, run at start-up and by ``manage.py check``; their ids are stable."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from ...errors import ConfigurationError
from ...stores import SCHEMES
from .conf import get_config

MIDDLEWARE = "activitylog.integrations.django.ActivityLogMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``settings.ACTIVITYLOG`` is valid, names a store, and the middleware is installed."""
    messages: list[CheckMessage] = []
    try:
        config = get_config()
    except ConfigurationError as exc:
        return [Error(str(exc), hint="See docs/integrations.md for every key.",
                      id="activitylog.E001")]
    if config.store is None:
        messages.append(Error(
            "settings.ACTIVITYLOG['STORE'] is not set.",
            hint="Set it to a store URL, e.g. 'sqlite:///activity.db'.",
            id="activitylog.E002",
        ))
    else:
        scheme = config.store.split("://", 1)[0].lower()
        if scheme not in SCHEMES:
            messages.append(Error(
                f"settings.ACTIVITYLOG['STORE'] has the unknown scheme {scheme!r}.",
                hint="Known schemes: " + ", ".join(f"{s}://" for s in SCHEMES),
                id="activitylog.E003",
            ))
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE not in middleware:
        messages.append(Warning(
            f"{MIDDLEWARE} is not in MIDDLEWARE: entries will have no org, actor or request "
            "details unless every call passes them.",
            hint=f"Add it to MIDDLEWARE after {AUTH_MIDDLEWARE}.",
            id="activitylog.W001",
        ))
    elif AUTH_MIDDLEWARE in middleware and middleware.index(MIDDLEWARE) < middleware.index(
        AUTH_MIDDLEWARE
    ):
        messages.append(Warning(
            f"{MIDDLEWARE} comes before {AUTH_MIDDLEWARE}: it runs before the user is known.",
            hint="Move it after the authentication middleware.",
            id="activitylog.W002",
        ))
    if config.same_transaction:
        databases = getattr(settings, "DATABASES", {})
        engine = str(databases.get(config.database, {}).get("ENGINE", ""))
        if "postgresql" not in engine or not str(config.store or "").startswith(
            ("postgresql://", "postgres://")
        ):
            messages.append(Error(
                "ACTIVITYLOG['SAME_TRANSACTION'] needs the log and the "
                f"{config.database!r} database to be the same PostgreSQL database.",
                hint="Turn it off to write entries when the transaction commits instead.",
                id="activitylog.E004",
            ))
    return messages
