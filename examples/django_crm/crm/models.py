"""Organizations with members, leads, clients, tasks and personal API keys."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models


class Organization(models.Model):
    """A tenant: every row below belongs to one."""

    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's organization and role (owner, admin or member)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE)
    role = models.CharField(max_length=10, default="member")


class Lead(models.Model):
    """A prospect."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE)
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=20, default="new")

    def __str__(self) -> str:
        return self.name


class Client(models.Model):
    """A customer."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    """Work to do for a client."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE)
    title = models.CharField(max_length=100)
    done = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.title


def _secret() -> str:
    return secrets.token_hex(20)


class ApiKey(models.Model):
    """A personal access token: ``key`` is the secret, ``name`` what people call it."""

    key = models.CharField(max_length=40, unique=True, default=_secret)
    name = models.CharField(max_length=100)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    revoked = models.BooleanField(default=False)
