"""Who may read an organization's Activity Log: its Owners and Admins, unless the host says more."""

from __future__ import annotations

import enum
from collections.abc import Callable

import attrs

from .errors import PermissionDenied


class Role(str, enum.Enum):
    """The built-in organization roles."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


@attrs.frozen
class Viewer:
    """The person asking to read the log: their id, organization and role.

    ``role`` is a :class:`Role` or, for hosts with custom roles and a custom policy, any string.
    """

    user_id: str
    org_id: str
    role: Role | str


#: A policy answers whether ``viewer`` may read the log of ``org_id``.
Policy = Callable[[Viewer, str], bool]


def owners_and_admins(viewer: Viewer, org_id: str) -> bool:
    """The default policy: Owners and Admins of that same organization."""
    return viewer.org_id == org_id and viewer.role in (Role.OWNER, Role.ADMIN, "owner", "admin")


def check(policy: Policy, viewer: Viewer | None, org_id: str) -> None:
    """Raise :class:`PermissionDenied` unless ``policy`` lets ``viewer`` read ``org_id``."""
    if not isinstance(viewer, Viewer):
        raise PermissionDenied("reading the Activity Log needs a Viewer (user, org and role)")
    if not policy(viewer, org_id):
        role = viewer.role.value if isinstance(viewer.role, Role) else viewer.role
        raise PermissionDenied(
            f"user {viewer.user_id!r} ({role} of org {viewer.org_id!r}) may not read the "
            f"Activity Log of org {org_id!r}; only its Owners and Admins can"
        )
