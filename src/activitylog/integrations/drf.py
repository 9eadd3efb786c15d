"""Django REST framework: a view mixin that binds the context where DRF authenticates, and a
decorator that records only successful responses, with the target from the saved instance.

.. code-block:: python

    class LeadViewSet(ActivityLogMixin, viewsets.ModelViewSet):
        @records("lead.created", target="lead")
        def create(self, request, *args, **kwargs):
            return super().create(request, *args, **kwargs)
"""

from __future__ import annotations

try:
    import rest_framework  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a process without DRF
    from ._common import missing

    raise missing("Django REST framework", "drf") from exc

from contextlib import ExitStack
from typing import Any

from .. import context
from .django import records as django_records
from .django.middleware import bind_request, current_request, resolve


class ActivityLogMixin:
    """An ``APIView`` mixin: the context is bound right after DRF authenticates the request
    (so ``log.record()`` anywhere in the view sees the token's user and API key), and the
    instance a generic view saves or deletes is kept for :func:`records`' target.
    """

    activitylog_instance: Any = None

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        self._activitylog_scope = ExitStack()
        with self._activitylog_scope:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if current_request() is None:  # no middleware: bind the request details too
            values = resolve(request._request)
            self._activitylog_scope.enter_context(bind_request(request._request, values))
        else:
            values = resolve(request._request, details=False)
            self._activitylog_scope.enter_context(
                context.bound(org_id=values.org_id, actor=values.actor, api_key=values.api_key)
            )

    def perform_create(self, serializer: Any) -> None:
        super().perform_create(serializer)  # type: ignore[misc]
        self.activitylog_instance = serializer.instance

    def perform_update(self, serializer: Any) -> None:
        super().perform_update(serializer)  # type: ignore[misc]
        self.activitylog_instance = serializer.instance

    def perform_destroy(self, instance: Any) -> None:
        # Django clears the primary key of a deleted instance; keep it for the target.
        instance._activitylog_pk = instance.pk
        super().perform_destroy(instance)  # type: ignore[misc]
        self.activitylog_instance = instance


#: The view decorator: :func:`activitylog.integrations.django.records`, which reads the
#: instance :class:`ActivityLogMixin` keeps.
records = django_records


__all__ = ["ActivityLogMixin", "records"]
