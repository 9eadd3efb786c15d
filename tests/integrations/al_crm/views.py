"""Views of every shape the integration has to handle."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import View
from rest_framework import serializers, viewsets
from rest_framework.decorators import api_view
from rest_framework.response import Response

from activitylog import Target
from activitylog.integrations import drf
from activitylog.integrations.django import arecord, get_log, record, records

from .models import Lead


def create_lead(request: HttpRequest) -> JsonResponse:
    """Creates a lead and records it; ``?fail=1`` fails after recording, inside the transaction."""
    with transaction.atomic():
        lead = Lead.objects.create(name=request.POST.get("name", "Lead"))
        record("lead.created", target=Target("lead", lead.pk, lead.name))
        if request.GET.get("fail"):
            raise RuntimeError("the CRM failed after recording")
    return JsonResponse({"id": lead.pk, "name": lead.name}, status=201)


@records("lead.deleted", target="lead")
def delete_lead(request: HttpRequest, pk: int) -> JsonResponse:
    """Returns its failures (404, or 200 with an error body) instead of raising them."""
    lead = Lead.objects.filter(pk=pk).first()
    if lead is None:
        return JsonResponse({"detail": "not found"}, status=404)
    if lead.status == "locked":
        return JsonResponse({"error": True, "message": "locked"})
    lead.delete()
    return JsonResponse({"id": pk, "name": lead.name})


def log_direct(request: HttpRequest) -> HttpResponse:
    """Records with the core API straight away, relying on the middleware's context."""
    get_log().record("lead.updated", target=Target("lead", "1", "Direct"))
    return HttpResponse("ok")


async def async_create(request: HttpRequest) -> JsonResponse:
    """An async view recording without blocking the loop."""
    entry = await arecord("lead.created", target=Target("lead", "async", "Async lead"))
    return JsonResponse({"recorded": entry is not None})


class LeadSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Lead
        fields = ("id", "name", "status")


class LeadViewSet(drf.ActivityLogMixin, viewsets.ModelViewSet):  # type: ignore[type-arg]
    """A DRF viewset: created/destroyed leads are recorded from the saved instance."""

    queryset = Lead.objects.all()
    serializer_class = LeadSerializer

    @drf.records("lead.created", target="lead")
    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return super().create(request, *args, **kwargs)

    @drf.records("lead.deleted", target="lead")
    def destroy(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return super().destroy(request, *args, **kwargs)

    @drf.records("lead.status_changed", target="lead",
                 changes=lambda call: {"status": ("new", call.data.get("status"))})
    def partial_update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        if request.data.get("status") == "bogus":
            return Response({"error": True, "message": "unknown status"})
        return super().partial_update(request, *args, **kwargs)

    def list(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        # The core API inside a mixin view sees the token's user and key.
        get_log().record("lead.updated", target=Target("lead", "0", "listed"))
        return super().list(request, *args, **kwargs)


@api_view(["POST"])
def api_touch(request: Any) -> Response:
    """A function view: DRF authenticates after the middleware; record() catches up."""
    record("lead.updated", target=Target("lead", "7", "Touched"))
    return Response({"ok": True})


@api_view(["POST"])
@drf.records("lead.created", target="lead")
def api_create(request: Any) -> Response:
    """A function view decorated with drf.records: target from the response data."""
    if not request.data.get("name"):
        return Response({"name": ["required"]}, status=400)
    return Response({"id": 9, "name": request.data["name"]}, status=201)


class RenameLead(View):
    """A class-based view whose method is decorated directly."""

    @records("lead.updated", target="lead")
    def post(self, request: HttpRequest, pk: int) -> JsonResponse:
        lead = Lead.objects.get(pk=pk)
        lead.name = request.POST["name"]
        lead.save()
        return JsonResponse({"id": lead.pk, "name": lead.name})
