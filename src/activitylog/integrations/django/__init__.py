"""Django: an app configured from ``settings.ACTIVITYLOG``, a middleware, deferred recording.

.. code-block:: python

    INSTALLED_APPS += ["activitylog.integrations.django"]
    MIDDLEWARE += ["activitylog.integrations.django.ActivityLogMiddleware"]
    ACTIVITYLOG = {"STORE": "sqlite:///activity.db", "REGISTRY": "crm.audit.registry"}

    from activitylog.integrations.django import record
    record("lead.created", target=Target("lead", lead.pk, lead.name))

:func:`record` validates the entry at once and writes it when the surrounding database
transaction commits (never, if it rolls back).
"""

from __future__ import annotations

try:
    import django  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a process without Django
    from .._common import missing

    raise missing("Django", "django") from exc

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from asgiref.sync import sync_to_async
from django.db import transaction
from django.http import HttpRequest

from ...errors import ConfigurationError
from ...log import ActivityLog
from ...models import Entry
from .._common import ViewCall, entry_fields, succeeded, view_specs
from .conf import get_config, get_log, get_registry
from .middleware import (
    ActivityLogMiddleware,
    RequestContext,
    bind_late,
    current_request,
    is_anonymous,
    late_authentication,
    late_context,
)

F = TypeVar("F", bound=Callable[..., Any])


def _prepare(action: str, fields: dict[str, Any]) -> tuple[ActivityLog, Entry | None]:
    log = get_log()
    with late_authentication():
        if fields.get("actor") is None and is_anonymous():
            return log, None
        return log, log.build(action, **fields)


def _write_on_commit(log: ActivityLog, entry: Entry, using: str) -> None:
    # Outside an atomic block Django runs the callback at once; inside, only after COMMIT.
    transaction.on_commit(functools.partial(log.store.append, [entry], log.chain), using=using)


def _write_in_transaction(log: ActivityLog, entry: Entry, using: str) -> Entry:
    bind = getattr(log.store, "bind", None)
    if bind is None:
        raise ConfigurationError(
            "ACTIVITYLOG['SAME_TRANSACTION'] needs a store that can join the app's transaction "
            f"(postgresql://), not {type(log.store).__name__}"
        )
    connection = transaction.get_connection(using)
    connection.ensure_connection()
    # Inside atomic() the append is part of the app's transaction (a savepoint in it);
    # in autocommit it commits on its own, as the app's own statements do.
    with bind(connection.connection):
        return log.store.append([entry], log.chain)[0]


def record(action: str, *, using: str | None = None, **fields: Any) -> Entry | None:
    """Record ``action`` when the current transaction of database ``using`` commits.

    Takes ``ActivityLog.record()``'s keyword arguments; org, actor, source and API key come
    from the request. The entry is validated now (errors raise here) and returned unstored.
    With ``ACTIVITYLOG['SAME_TRANSACTION']`` it is instead written at once in the app's own
    PostgreSQL transaction, and returned stored. An anonymous request records nothing and
    returns ``None`` unless ``ACTIVITYLOG['ANONYMOUS_ACTOR']`` names an actor for it.
    """
    log, entry = _prepare(action, fields)
    if entry is None:
        return None
    config = get_config()
    if config.same_transaction:
        return _write_in_transaction(log, entry, using or config.database)
    _write_on_commit(log, entry, using or config.database)
    return entry


async def arecord(action: str, **fields: Any) -> Entry | None:
    """Record from an async view without blocking the event loop (written at once: async
    views run outside transactions)."""
    log = get_log()
    # Resolvers may query the database, which Django forbids on the event loop.
    values = await sync_to_async(late_context)()
    with bind_late(values):
        if fields.get("actor") is None and is_anonymous():
            return None
        return await log.arecord(action, **fields)


def response_data(response: Any) -> Any:
    """The data of a response: DRF's ``response.data``, or its JSON body, else ``None``."""
    if hasattr(response, "data"):
        return response.data
    if getattr(response, "streaming", False):
        return None
    if "json" not in str(response.get("Content-Type", "")):
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def records(
    action: str,
    *,
    target: Any = None,
    metadata: Any = None,
    description: Any = None,
    changes: Any = None,
    when: Callable[[ViewCall], bool] | None = None,
    error_body: Callable[[Any], bool] | None = None,
) -> Callable[[F], F]:
    """Decorate a view (a function, a class-based view's method, a DRF view method or
    ``@api_view`` function) so that each successful response records ``action``.

    Success is a 2xx status whose body ``error_body`` (default ``ACTIVITYLOG['ERROR_BODY']``)
    does not report an error. ``target`` is a :class:`~activitylog.Target`, a callable taking a
    :class:`ViewCall`, or a type name (``"lead"``): the id and label then come from the
    instance a DRF view saved or deleted (with ``drf.ActivityLogMixin``), else from the
    response data's ``id`` and ``name``, else from the URL's ``pk``. The entry is written when
    the transaction commits.
    """
    specs = view_specs(get_registry(), action, target=target, metadata=metadata,
                       description=description, changes=changes)

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            response = fn(*args, **kwargs)
            # A view function gets the request first; a method gets the view, then it (DRF's
            # Request wraps the HttpRequest as _request).
            if args and isinstance(getattr(args[0], "_request", args[0]), HttpRequest):
                view, request = None, args[0]
            else:
                view, request = args[0], args[1]
            record_response(action, request, response, kwargs, specs, when=when,
                            error_body=error_body, view=view,
                            instance=getattr(view, "activitylog_instance", None))
            return response

        return cast(F, wrapper)

    return decorate


def record_response(
    action: str,
    request: Any,
    response: Any,
    kwargs: Mapping[str, Any],
    specs: Mapping[str, Any],
    *,
    when: Callable[[ViewCall], bool] | None = None,
    error_body: Callable[[Any], bool] | None = None,
    view: Any = None,
    instance: Any = None,
) -> Entry | None:
    """Record ``action`` for a view's response if it succeeded (shared by the view decorators)."""
    data = response_data(response)
    status = int(getattr(response, "status_code", 500))
    if not succeeded(status, data, error_body or get_config().error_body):
        return None
    call = ViewCall(request, response, status, data, dict(kwargs), view, instance)
    if when is not None and not when(call):
        return None
    return record(action, **entry_fields(call, specs))


__all__ = [
    "ActivityLogMiddleware",
    "RequestContext",
    "ViewCall",
    "arecord",
    "current_request",
    "get_config",
    "get_log",
    "record",
    "record_response",
    "records",
]
