"""The Django app: ``INSTALLED_APPS += ["activitylog.integrations.django"]``."""

from __future__ import annotations

from django.apps import AppConfig


class ActivityLogConfig(AppConfig):
    """Registers the system checks and the ``activitylog_*`` management commands."""

    name = "activitylog.integrations.django"
    label = "activitylog"
    verbose_name = "Activity Log"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
