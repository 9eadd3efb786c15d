"""Django set up once per process for the integration tests (imported by the Django and DRF
test modules after their ``pytest.importorskip("django")``).

A module, not a conftest: ``tests/conftest.py`` is imported by name (``from conftest import``),
which a second conftest on the path would shadow.
"""

from __future__ import annotations

import os

import al_django_settings
import django
from django.conf import settings

# settings.configure() rather than DJANGO_SETTINGS_MODULE: an environment variable would leak
# into every subprocess the test suite starts (Celery, for one, switches to Django mode).
if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
    settings.configure(**{name: getattr(al_django_settings, name)
                          for name in dir(al_django_settings) if name.isupper()})
    django.setup()
