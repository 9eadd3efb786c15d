"""What every framework integration shares: turning users and tokens into actors and API keys,
binding one request's context, deciding whether a response succeeded, view decorators' specs."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import attrs

from .. import context
from ..errors import ConfigurationError
from ..log import ActivityLog
from ..models import Actor, ApiKeyRef, Target
from ..registry import ActionRegistry
from ._http import RequestDetails, RequestSettings, attach, bound_details

T = TypeVar("T")


def missing(framework: str, extra: str) -> ImportError:
    """The error raised when an integration's framework is not installed."""
    return ImportError(
        f"activitylog's {framework} integration needs {framework}: "
        f"pip install 'activitylog[{extra}]'"
    )


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None


def actor_from_user(user: Any) -> Actor | None:
    """An :class:`Actor` for an authenticated user object, ``None`` for an anonymous one.

    Reads what Django, Flask-Login and Starlette users have: ``is_authenticated``, the id from
    ``pk``/``id``/``identity``, the name from ``get_full_name()``, ``display_name``, ``name``,
    ``get_username()``, ``username`` or ``email``, and an optional ``avatar_url``.
    """
    if user is None or not getattr(user, "is_authenticated", True):
        return None
    ident = None
    for attribute in ("pk", "id", "identity"):
        ident = _text(getattr(user, attribute, None))
        if ident is not None:
            break
    if ident is None:
        return None
    name = _name_of(user)
    avatar = getattr(user, "avatar_url", None)
    return Actor(ident, name or ident, avatar if isinstance(avatar, str) and avatar else None)


def _name_of(user: Any) -> str | None:
    for attribute in ("get_full_name", "display_name", "name", "get_username", "username",
                      "email"):
        value = getattr(user, attribute, None)
        if callable(value):
            value = value()
        name = _text(value)
        if name is not None:
            return name
    return None


def fingerprint(secret: str) -> str:
    """A stable, non-reversible id for a key whose only identifier is its secret."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


def api_key_from_token(token: Any) -> ApiKeyRef | None:
    """An :class:`ApiKeyRef` for an API key object, never holding its secret.

    A key object has a readable ``name`` (a personal access token model) or a ``key`` and a
    ``user`` (DRF's ``Token``, named after its user). Its id is its primary key, or a
    fingerprint of the secret when the primary key *is* the secret (as in DRF's ``Token``).
    Anything else (a JWT's claims, a session) is not an API key: ``None``.
    """
    if token is None or isinstance(token, (str, bytes, Mapping)):
        return None
    secret = _text(getattr(token, "key", None))
    name = _text(getattr(token, "name", None))
    if name is None:
        user = getattr(token, "user", None)
        if secret is None or user is None:
            return None
        owner = _name_of(user)
        name = f"token of {owner}" if owner is not None else "token"
    ident = _text(getattr(token, "pk", None)) or _text(getattr(token, "id", None))
    if ident is None or (secret is not None and ident == secret):
        if secret is None:
            return None
        ident = fingerprint(secret)
    return ApiKeyRef(ident, name)


def org_text(value: Any) -> str | None:
    """An org id from a resolver: text as is, integers and UUIDs as text, nothing as ``None``."""
    if value is None:
        return None
    if isinstance(value, bool) or (not isinstance(value, (str, int)) and not hasattr(value, "hex")):
        raise ConfigurationError(
            f"the org resolver returned {type(value).__name__}, not an org id (text or integer)"
        )
    return str(value)


@contextmanager
def bound(
    *,
    org_id: str | None,
    actor: Actor | None,
    api_key: ApiKeyRef | None,
    details: RequestDetails | None,
) -> Iterator[None]:
    """Bind one request's context; only what this block set is reset at its end."""
    with context.bound(org_id=org_id, actor=actor, api_key=api_key), bound_details(details):
        yield


def default_error_body(data: Any) -> bool:
    """Whether a 2xx response body still reports a failure: ``{"error": ...}`` with a true
    value, ``{"errors": [...]}`` non-empty, or ``{"success": false}`` / ``{"ok": false}``."""
    if not isinstance(data, Mapping):
        return False
    if data.get("error") or data.get("errors"):
        return True
    return data.get("success") is False or data.get("ok") is False


def succeeded(status: int, data: Any, error_body: Callable[[Any], bool] | None) -> bool:
    """A 2xx status whose body ``error_body`` does not call a failure."""
    if not 200 <= status < 300:
        return False
    check = default_error_body if error_body is None else error_body
    return not check(data)


async def maybe_await(value: T | Awaitable[T]) -> T:
    """``value``, awaited if a resolver returned an awaitable."""
    if inspect.isawaitable(value):
        return await value
    return value


# -- view decorators ---------------------------------------------------------------------------


@attrs.frozen
class ViewCall:
    """What the callables of a view decorator see: the request, the response, the response's
    data (parsed JSON, or DRF's ``response.data``), the URL's keyword arguments, and the model
    instance the view saved or deleted when the integration knows it."""

    request: Any
    response: Any
    status: int
    data: Any
    kwargs: Mapping[str, Any]
    view: Any = None
    instance: Any = None


#: A value, or a callable computing it from the :class:`ViewCall`.
Spec = Any


def _label_of(instance: Any, label: str | None) -> str | None:
    if label is not None:
        value = getattr(instance, label, None)
        return _text(value)
    return _text(instance)


def auto_target(type_: str, *, id: str = "id", label: str | None = None) -> Callable[
    [ViewCall], Target | None
]:
    """A target callable: the saved instance's primary key and text, else the response data's
    ``id`` (and ``label`` or ``name``), else the URL's ``pk``/``id``."""

    def target(call: ViewCall) -> Target | None:
        instance = call.instance
        if instance is not None:
            pk = getattr(instance, "pk", None)
            if pk is None:
                pk = getattr(instance, "_activitylog_pk", None)
            if pk is not None:
                return Target(type_, str(pk), _label_of(instance, label))
        data = call.data
        if isinstance(data, Mapping) and data.get(id) is not None:
            name = data.get(label or "name")
            return Target(type_, str(data[id]), _text(name) if name is not None else None)
        for key in ("pk", id, f"{type_}_id"):
            value = call.kwargs.get(key)
            if value is not None:
                return Target(type_, str(value))
        return None

    return target


def view_specs(
    registry: ActionRegistry,
    action: str,
    *,
    target: Spec = None,
    metadata: Spec = None,
    description: Spec = None,
    changes: Spec = None,
) -> dict[str, Spec]:
    """A view decorator's specs, once ``action`` is known to ``registry`` (an unknown action
    fails when the view is decorated, not at its first request)."""
    registry.get(action)
    return {"target": target, "metadata": metadata, "description": description,
            "changes": changes}


class HostIntegration:
    """What the Flask and Starlette integration objects hold: the log (attached, so entries
    carry request details), resolvers, the actor of anonymous requests, which request details
    to record, and the error-body check of their view decorators."""

    def __init__(
        self,
        log: ActivityLog,
        *,
        org: Callable[..., Any],
        actor: Callable[..., Any],
        api_key: Callable[..., Any],
        role: Callable[..., Any],
        anonymous_actor: Actor | None = None,
        request_details: RequestSettings | None = None,
        error_body: Callable[[Any], bool] | None = None,
    ) -> None:
        self.log = attach(log)
        self.org = org
        self.actor = actor
        self.api_key = api_key
        self.role = role
        self.anonymous_actor = anonymous_actor
        self.request_details = request_details or RequestSettings()
        self.error_body = error_body


def entry_fields(call: ViewCall, specs: Mapping[str, Spec]) -> dict[str, Any]:
    """``record()`` keyword arguments from the decorator's specs (callables get the call)."""
    fields: dict[str, Any] = {}
    for name, spec in specs.items():
        if name == "target" and isinstance(spec, str):
            spec = auto_target(spec)
        value = spec(call) if callable(spec) else spec
        if value is not None:
            fields[name] = value
    return fields
