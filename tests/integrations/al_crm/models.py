"""Leads, and personal API keys with a readable name (what the CRM's tokens look like)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models


class Lead(models.Model):
    """A sales lead."""

    name = models.CharField(max_length=100)
    status = models.CharField(max_length=20, default="new")

    def __str__(self) -> str:
        return self.name


def _new_key() -> str:
    return secrets.token_hex(20)


class ApiKey(models.Model):
    """A personal access token: the secret ``key`` authenticates, ``name`` is for people."""

    key = models.CharField(max_length=40, unique=True, default=_new_key)
    name = models.CharField(max_length=100)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
