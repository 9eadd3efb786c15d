"""Framework integrations: Django (and DRF), Flask, Starlette/FastAPI and Celery.

Each lives in its own module behind its own extra (``pip install 'activitylog[django]'`` ...)
and is imported only when the host imports it: ``import activitylog`` imports no framework.
``_http`` (request id, user agent, client IP) and ``_common`` (actors from users, API keys
from tokens, context binding) are shared by all of them and need no framework.
"""

from __future__ import annotations
