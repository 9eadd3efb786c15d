"""Framework integrations: Django is set up here (once per process) when it is installed.

Each framework's tests import it with ``pytest.importorskip``: the frameworks are optional
locally, and CI installs them through the ``test`` extra.
"""

from __future__ import annotations

import os

try:
    import django
except ImportError:  # pragma: no cover - Django tests skip themselves
    django = None

if django is not None:
    from django.conf import settings

    if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        os.environ["DJANGO_SETTINGS_MODULE"] = "al_django_settings"
        django.setup()
