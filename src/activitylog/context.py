"""Who is acting, for which organization, through which channel: the ambient recording context.

Each field lives in its own :class:`~contextvars.ContextVar`, so nested contexts override only
what they name and restore exactly what they replaced, and threads and asyncio tasks never see
each other's values. A host sets the context once per request (in its dashboard session or REST
middleware) and every ``record()`` underneath picks it up.
"""

from __future__ import annotations

import contextvars
import enum
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import attrs

from .errors import InvalidEntry
from .models import Actor, ApiKeyRef, Source, _check_text

P = ParamSpec("P")
R = TypeVar("R")

_org_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("activitylog_org", default=None)
_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar(
    "activitylog_actor", default=None
)
_source: contextvars.ContextVar[Source | None] = contextvars.ContextVar(
    "activitylog_source", default=None
)
_api_key: contextvars.ContextVar[ApiKeyRef | None] = contextvars.ContextVar(
    "activitylog_api_key", default=None
)
_VARS: dict[str, contextvars.ContextVar[Any]] = {
    "org_id": _org_id,
    "actor": _actor,
    "source": _source,
    "api_key": _api_key,
}


def _to_source(value: Source | str | None) -> Source | None:
    if value is None:
        return None
    try:
        return Source(value)
    except (ValueError, TypeError):
        choices = ", ".join(s.value for s in Source)
        raise InvalidEntry(f"unknown source {value!r} (choose {choices})") from None


@attrs.frozen
class Snapshot:
    """The recording context at one moment, to carry into a thread pool or a background job.

    ``snap = capture()`` in the request; later ``with snap:`` (or ``snap.run(fn, ...)`` /
    ``snap.wrap(fn)``) in the worker, and entries recorded there are attributed to the person
    who asked for the work. A snapshot is a plain value and can be pickled with its parts.
    """

    org_id: str | None = None
    actor: Actor | None = None
    source: Source | None = attrs.field(default=None, converter=_to_source)
    api_key: ApiKeyRef | None = None

    def __attrs_post_init__(self) -> None:
        if self.org_id is not None and (not isinstance(self.org_id, str) or not self.org_id.strip()):
            raise InvalidEntry(f"org_id must be a non-empty string, not {self.org_id!r}")
        if self.actor is not None and not isinstance(self.actor, Actor):
            raise InvalidEntry(f"actor must be an Actor, not {type(self.actor).__name__}")
        if self.api_key is not None:
            if not isinstance(self.api_key, ApiKeyRef):
                raise InvalidEntry(f"api_key must be an ApiKeyRef, not {type(self.api_key).__name__}")
            check_api_source(self.source or Source.API)

    def __enter__(self) -> Snapshot:
        tokens = [var.set(getattr(self, name)) for name, var in _VARS.items()]
        _stack.set((*_stack.get(), tokens))
        return self

    def __exit__(self, *exc: object) -> None:
        *rest, tokens = _stack.get()
        _stack.set(tuple(rest))
        for token in reversed(tokens):
            token.var.reset(token)

    def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Call ``fn`` inside this context."""
        with self:
            return fn(*args, **kwargs)

    def wrap(self, fn: Callable[P, R]) -> Callable[P, R]:
        """``fn`` bound to this context, e.g. for ``executor.submit(snap.wrap(job))``."""

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with self:
                return fn(*args, **kwargs)

        return wrapper


_stack: contextvars.ContextVar[tuple[list[contextvars.Token[Any]], ...]] = contextvars.ContextVar(
    "activitylog_stack", default=()
)


def capture() -> Snapshot:
    """The current recording context as a :class:`Snapshot`."""
    return Snapshot(*ambient())


def ambient() -> tuple[str | None, Actor | None, Source | None, ApiKeyRef | None]:
    """The current org, actor, source and API key as a plain tuple (what :func:`capture` holds,
    without making a snapshot: ``build()`` reads them for every entry)."""
    return _org_id.get(), _actor.get(), _source.get(), _api_key.get()


def current() -> Snapshot:
    """The current recording context (same as :func:`capture`)."""
    return capture()


class _Unset(enum.Enum):
    UNSET = "unset"


#: The default of :func:`bound`'s ``api_key``: "keep what the enclosing context set".
UNSET = _Unset.UNSET


@contextmanager
def bound(
    *,
    org_id: str | None = None,
    actor: Actor | None = None,
    source: Source | str | None = None,
    api_key: ApiKeyRef | _Unset | None = UNSET,
) -> Iterator[Snapshot]:
    """Set the given fields for the duration of the block; the others keep their values.

    Setting ``api_key`` without ``source`` implies ``source="api"``. ``api_key=None`` clears an
    inherited key, and so does a ``source`` other than ``"api"`` given without ``api_key``: an
    entry with an API key always has the ``api`` source. An API key together with another
    source is refused.
    """
    values: dict[str, Any] = {}
    if org_id is not None:
        if not isinstance(org_id, str) or not org_id.strip():
            raise InvalidEntry(f"org_id must be a non-empty string, not {org_id!r}")
        _check_text("org_id", org_id)
        values["org_id"] = org_id
    if actor is not None:
        if not isinstance(actor, Actor):
            raise InvalidEntry(f"actor must be an Actor, not {type(actor).__name__}")
        values["actor"] = actor
    checked_source = _to_source(source)
    if api_key is not UNSET:
        if api_key is not None and not isinstance(api_key, ApiKeyRef):
            raise InvalidEntry(f"api_key must be an ApiKeyRef or None, not {type(api_key).__name__}")
        if api_key is not None:
            check_api_source(checked_source or Source.API)
            checked_source = Source.API
        values["api_key"] = api_key
    elif checked_source is not None and checked_source is not Source.API:
        values["api_key"] = None
    if checked_source is not None:
        values["source"] = checked_source
    tokens = [_VARS[name].set(value) for name, value in values.items()]
    try:
        yield capture()
    finally:
        for token in reversed(tokens):
            token.var.reset(token)


def check_api_source(source: Source) -> None:
    """Refuse an API key together with a source other than ``"api"``."""
    if source is not Source.API:
        raise InvalidEntry(
            f"an entry made with an API key has the source 'api', not {source.value!r}; "
            "pass api_key=None to record it without the key"
        )
