"""The middleware: every request's org, actor, API key and request details, for its duration."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import attrs
from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async

from ... import context
from ...models import Actor, ApiKeyRef
from .._common import bound, org_text
from .._http import RequestDetails, details_from
from .conf import get_config


@attrs.frozen
class RequestContext:
    """What one request is recorded with. ``authenticated`` is false when no user was known
    yet (DRF authenticates inside the view, after every middleware)."""

    org_id: str | None
    actor: Actor | None
    api_key: ApiKeyRef | None
    details: RequestDetails | None
    authenticated: bool


class _MetaHeaders:
    """Header lookups straight from ``request.META`` (``request.headers`` copies them all)."""

    __slots__ = ("meta",)

    def __init__(self, meta: Any) -> None:
        self.meta = meta

    def get(self, key: str, /) -> str | None:
        name = key.upper().replace("-", "_")
        value = self.meta.get(name if name in _UNPREFIXED else "HTTP_" + name)
        return value if isinstance(value, str) else None


_UNPREFIXED = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})


@attrs.define
class _State:
    request: Any
    authenticated: bool


_state: contextvars.ContextVar[_State | None] = contextvars.ContextVar(
    "activitylog_django_request", default=None
)


def current_request() -> Any:
    """The Django request being handled in this context, if any."""
    state = _state.get()
    return state.request if state is not None else None


def resolve(request: Any, *, details: bool = True) -> RequestContext:
    """Run the configured resolvers on ``request``.

    Reading ``request.user`` marks the session accessed, which would add ``Vary: Cookie`` to
    every response; the flag is put back as it was.
    """
    config = get_config()
    session = getattr(request, "session", None)
    accessed = getattr(session, "accessed", None)
    try:
        actor = config.actor(request)
        org_id = org_text(config.org(request))
        api_key = config.api_key(request)
    finally:
        if session is not None and accessed is not None:
            session.accessed = accessed
    authenticated = actor is not None
    if actor is None:
        actor = config.anonymous_actor
    found = None
    if details:
        found = details_from(_MetaHeaders(request.META), request.META.get("REMOTE_ADDR"),
                             config.request)
    return RequestContext(org_id, actor, api_key, found, authenticated)


@contextmanager
def bind_request(request: Any, values: RequestContext) -> Iterator[RequestContext]:
    """Bind ``values`` as the context of ``request`` for the block."""
    token = _state.set(_State(request, values.authenticated))
    try:
        with bound(org_id=values.org_id, actor=values.actor, api_key=values.api_key,
                   details=values.details):
            yield values
    finally:
        _state.reset(token)


def late_context() -> RequestContext | None:
    """The request's context read again, if it had no user when the middleware ran (DRF
    authenticates in the view, and sets the user and ``auth`` on the Django request then)."""
    state = _state.get()
    if state is None or state.authenticated:
        return None
    values = resolve(state.request, details=False)
    return values if values.authenticated else None


@contextmanager
def bind_late(values: RequestContext | None) -> Iterator[None]:
    """Bind what :func:`late_context` found (nothing if it found nothing) for the block."""
    if values is None:
        yield
        return
    with context.bound(org_id=values.org_id, actor=values.actor, api_key=values.api_key):
        yield


def late_authentication() -> AbstractContextManager[None]:
    """Bind :func:`late_context` for the block."""
    return bind_late(late_context())


def is_anonymous() -> bool:
    """Whether the current request has no user (after :func:`late_authentication`)."""
    state = _state.get()
    return state is not None and context.ambient()[1] is None


class ActivityLogMiddleware:
    """Sets the recording context for every request (sync and async).

    Place it after ``AuthenticationMiddleware`` (and the host's tenant middleware). Override
    :meth:`get_context` to compute the context another way. Requests that DRF authenticates
    get their user when the view records (:func:`activitylog.integrations.django.record`), or
    at once in views using :class:`activitylog.integrations.drf.ActivityLogMixin`.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def get_context(self, request: Any) -> RequestContext:
        """The context ``request`` is recorded with."""
        return resolve(request)

    def __call__(self, request: Any) -> Any:
        if self._async:
            return self.__acall__(request)
        values = self.get_context(request)
        with bind_request(request, values):
            return self.get_response(request)

    async def __acall__(self, request: Any) -> Any:
        # Resolvers may query the database (the lazy user, a tenant), which Django forbids
        # on the event loop.
        values = await sync_to_async(self.get_context)(request)
        with bind_request(request, values):
            response: Awaitable[Any] = self.get_response(request)
            return await response
