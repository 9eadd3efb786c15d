"""Celery: the recording context of the code that queues a task travels with it to the worker.

.. code-block:: python

    from activitylog.integrations.celery import connect
    connect(log)        # in the code that sends tasks and in the worker

When a task is sent, the current org, actor, source, API key and request details go into an
``activitylog`` message header; the worker binds them while the task runs (``task_prerun``) and
resets exactly what it bound when it ends (``task_postrun``). A task run eagerly (``apply()``,
``task_always_eager``) sends no message: it simply runs in the caller's context, which the
worker side leaves alone.
"""

from __future__ import annotations

try:
    import celery  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a process without Celery
    from ._common import missing

    raise missing("Celery", "celery") from exc

from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun

from ..context import Snapshot, capture
from ..errors import InvalidEntry
from ..log import ActivityLog
from ..models import Actor, ApiKeyRef
from ._http import RequestDetails, attach, bound_details, current_details

#: The message header that carries the context.
HEADER = "activitylog"
_SCOPE = "_activitylog_scope"


def to_header(snapshot: Snapshot, details: RequestDetails | None) -> dict[str, Any] | None:
    """The JSON-safe header for a context (``None`` when there is nothing to carry)."""
    if snapshot == Snapshot() and details is None:
        return None
    actor = snapshot.actor
    key = snapshot.api_key
    return {
        "org_id": snapshot.org_id,
        "actor": None if actor is None else {
            "id": actor.id, "name": actor.name, "avatar_url": actor.avatar_url,
            "kind": actor.kind.value,
        },
        "source": None if snapshot.source is None else snapshot.source.value,
        "api_key": None if key is None else {"id": key.id, "name": key.name},
        "request": None if details is None else details.as_metadata(),
    }


def from_header(value: Any) -> tuple[Snapshot, RequestDetails | None]:
    """The context back from :func:`to_header`; a malformed header raises ``InvalidEntry``."""
    if not isinstance(value, Mapping):
        raise InvalidEntry(f"the {HEADER!r} task header must be an object")
    try:
        actor = value.get("actor")
        key = value.get("api_key")
        snapshot = Snapshot(
            org_id=value.get("org_id"),
            actor=None if actor is None else Actor(
                actor["id"], actor["name"], actor.get("avatar_url"), actor.get("kind", "user")),
            source=value.get("source"),
            api_key=None if key is None else ApiKeyRef(key["id"], key["name"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidEntry(f"the {HEADER!r} task header is malformed: {exc}") from None
    details = RequestDetails.from_metadata(value.get("request"))
    return snapshot, details


def _publish(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    if headers is None:
        return
    header = to_header(capture(), current_details())
    if header is not None:
        headers[HEADER] = header


def _header_of(request: Any) -> Any:
    value = getattr(request, HEADER, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(HEADER)
    return value


def _prerun(task: Any = None, **kwargs: Any) -> None:
    if task is None:
        return
    value = _header_of(task.request)
    if value is None:
        return  # run eagerly, or sent without a context: keep the caller's context
    snapshot, details = from_header(value)
    scope = ExitStack()
    scope.enter_context(snapshot)
    scope.enter_context(bound_details(details))
    setattr(task.request, _SCOPE, scope)


def _postrun(task: Any = None, **kwargs: Any) -> None:
    if task is None:
        return
    scope = getattr(task.request, _SCOPE, None)
    if scope is not None:
        delattr(task.request, _SCOPE)
        scope.close()


def connect(log: ActivityLog | None = None) -> None:
    """Carry the recording context from senders to workers (idempotent).

    ``log``, if given, also records the sender's request details with entries made in tasks.
    """
    before_task_publish.connect(_publish, weak=False, dispatch_uid="activitylog.publish")
    task_prerun.connect(_prerun, weak=False, dispatch_uid="activitylog.prerun")
    task_postrun.connect(_postrun, weak=False, dispatch_uid="activitylog.postrun")
    if log is not None:
        attach(log)


def disconnect() -> None:
    """Undo :func:`connect`."""
    before_task_publish.disconnect(_publish, dispatch_uid="activitylog.publish")
    task_prerun.disconnect(_prerun, dispatch_uid="activitylog.prerun")
    task_postrun.disconnect(_postrun, dispatch_uid="activitylog.postrun")


__all__ = ["HEADER", "connect", "disconnect", "from_header", "to_header"]
