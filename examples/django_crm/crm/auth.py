"""``Authorization: Token <key>`` with the CRM's personal API keys."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions

from .models import ApiKey


class ApiKeyAuthentication(authentication.TokenAuthentication):
    """DRF's token scheme over :class:`ApiKey`; revoked keys are refused."""

    model = ApiKey

    def authenticate_credentials(self, key: str) -> Any:
        user, token = super().authenticate_credentials(key)
        if token.revoked:
            raise exceptions.AuthenticationFailed("API key revoked")
        return user, token
