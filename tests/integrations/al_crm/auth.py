"""``Authorization: Token <key>`` against the personal API keys."""

from __future__ import annotations

from rest_framework import authentication

from .models import ApiKey


class KeyAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, with keys that have a readable name."""

    model = ApiKey
