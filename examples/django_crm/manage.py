#!/usr/bin/env python
"""The Django CRM example: ``python manage.py test`` runs its tests, ``python manage.py
migrate --run-syncdb && python manage.py runserver`` serves it."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Run a management command with the example's settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
