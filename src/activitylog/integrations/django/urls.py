"""``path("settings/activity/", include("activitylog.integrations.django.urls"))``."""

from __future__ import annotations

from django.urls import re_path

from .viewer import activity_log

app_name = "activitylog"
urlpatterns = [re_path(r"^(?P<subpath>.*)$", activity_log, name="viewer")]
