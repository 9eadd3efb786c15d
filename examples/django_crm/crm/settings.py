"""Settings of the example CRM: the Activity Log part is INSTALLED_APPS, MIDDLEWARE and
ACTIVITYLOG."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("CRM_SECRET_KEY", "example-only-not-secret")
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
USE_TZ = True
ROOT_URLCONF = "crm.urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "activitylog.integrations.django",
    "crm",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "activitylog.integrations.django.ActivityLogMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "crm.db"}}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

ACTIVITYLOG = {
    "STORE": os.environ.get("CRM_ACTIVITYLOG", f"sqlite:///{BASE_DIR / 'activity.db'}"),
    "ORG": "crm.audit.org_of",          # each user belongs to one organization
    "ROLE": "crm.audit.role_of",        # their role there decides who reads the log
    "TRUSTED_PROXIES": [],              # e.g. ["10.0.0.0/8"] behind a load balancer
}
