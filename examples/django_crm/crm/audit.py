"""The two resolvers the CRM gives activitylog: a user's organization and role."""

from __future__ import annotations

from typing import Any


def org_of(request: Any) -> int | None:
    """The signed-in user's organization id."""
    membership = getattr(request.user, "membership", None)
    return membership.org_id if membership is not None else None


def role_of(request: Any) -> str | None:
    """The signed-in user's role in their organization."""
    membership = getattr(request.user, "membership", None)
    return membership.role if membership is not None else None
