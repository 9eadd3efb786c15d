"""Who may read an organization's Activity Log: its Owners and Admins, unless the host says more."""

from __future__ import annotations

import enum
import inspect
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from .errors import ConfigurationError, InvalidQuery, PermissionDenied


class Role(str, enum.Enum):
    """The built-in organization roles."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


def _id_text(value: Any) -> Any:
    # Integer and UUID primary keys read as text, as for actors and targets.
    if isinstance(value, (int, uuid.UUID)) and not isinstance(value, bool):
        return str(value)
    return value


def _nonempty(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidQuery(f"Viewer.{attribute.name} must be a non-empty string, not {value!r}")


def _role(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    # An empty role is a role nobody grants (a user without one), not a mistake.
    if not isinstance(value, (Role, str)):
        raise InvalidQuery(f"Viewer.role must be a Role or a string, not {value!r}")


@attrs.frozen
class Viewer:
    """The person asking to read the log: their id, organization and role.

    ``role`` is a :class:`Role` or, for hosts with custom roles and a custom policy, any string.
    ``user_id`` may be an integer or a UUID (kept as text).
    """

    user_id: str = attrs.field(converter=_id_text, validator=_nonempty)
    org_id: str = attrs.field(validator=_nonempty)
    role: Role | str = attrs.field(validator=_role)


#: A policy answers whether ``viewer`` may read the log of ``org_id``.
Policy = Callable[[Viewer, str], bool]


def owners_and_admins(viewer: Viewer, org_id: str) -> bool:
    """The default policy: Owners and Admins of that same organization."""
    return viewer.org_id == org_id and viewer.role in (Role.OWNER, Role.ADMIN, "owner", "admin")


def checked_policy(policy: object) -> Policy:
    """``policy`` when it is a plain synchronous callable; raise :class:`ConfigurationError`.

    An ``async def`` policy (or an object whose ``__call__`` is one) would return a coroutine,
    which is not an answer: it is refused when the log is built.
    """
    if not callable(policy) or isinstance(policy, type):
        raise ConfigurationError(
            f"policy must be a function (viewer, org_id) -> bool, not {type(policy).__name__}"
        )
    call = getattr(policy, "__call__", None)  # noqa: B004 (the bound __call__ is inspected)
    if inspect.iscoroutinefunction(policy) or inspect.iscoroutinefunction(call) or (
        inspect.isasyncgenfunction(policy) or inspect.isgeneratorfunction(policy)
    ):
        raise ConfigurationError(
            "policy must be a plain synchronous function returning True or False; "
            f"{getattr(policy, '__qualname__', policy)!r} is async or a generator"
        )
    return policy


def check(policy: Policy, viewer: Viewer | None, org_id: str) -> None:
    """Raise :class:`PermissionDenied` unless ``policy`` lets ``viewer`` read ``org_id``.

    Only a result that ``is True`` grants access: ``"deny"``, ``1``, a coroutine or any other
    object is a refusal.
    """
    if not isinstance(viewer, Viewer):
        raise PermissionDenied("reading the Activity Log needs a Viewer (user, org and role)")
    answer = policy(viewer, org_id)
    if inspect.iscoroutine(answer):
        answer.close()  # never awaited, and never a grant
    if answer is not True:
        role = viewer.role.value if isinstance(viewer.role, Role) else viewer.role
        raise PermissionDenied(
            f"user {viewer.user_id!r} ({role} of org {viewer.org_id!r}) may not read the "
            f"Activity Log of org {org_id!r}; only its Owners and Admins can"
        )
