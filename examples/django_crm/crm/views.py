"""The CRM's views. Dashboard views return JSON (a real CRM would render templates); each
one records through activitylog in one line, and returned failures record nothing."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from activitylog import Target
from activitylog.integrations import drf
from activitylog.integrations.django import record, records

from .models import ApiKey, Client, Lead, Task


def _org(request: HttpRequest) -> Any:
    return request.user.membership.org  # type: ignore[union-attr]


def _lead(lead: Lead) -> dict[str, Any]:
    return {"id": lead.pk, "name": lead.name, "status": lead.status}


@login_required
def leads(request: HttpRequest) -> JsonResponse:
    """GET: the organization's leads (reading records nothing)."""
    rows = Lead.objects.filter(org=_org(request)).order_by("pk")
    return JsonResponse({"leads": [_lead(lead) for lead in rows]})


@require_POST
@login_required
@records("lead.created", target="lead")
def create_lead(request: HttpRequest) -> JsonResponse:
    """Create a lead; the target comes from the response's id and name."""
    name = request.POST.get("name", "").strip()
    if not name:
        return JsonResponse({"error": "a lead needs a name"}, status=400)
    lead = Lead.objects.create(org=_org(request), name=name)
    return JsonResponse(_lead(lead), status=201)


@require_POST
@login_required
def update_lead(request: HttpRequest, pk: int) -> JsonResponse:
    """Rename a lead: the entry lists the change, and is written only if the save commits."""
    with transaction.atomic():
        lead = Lead.objects.select_for_update().filter(org=_org(request), pk=pk).first()
        if lead is None:
            return JsonResponse({"error": "no such lead"}, status=404)
        old, lead.name = lead.name, request.POST.get("name", lead.name)
        lead.save()
        if old != lead.name:
            record("lead.updated", target=Target("lead", lead.pk, lead.name),
                   changes={"name": (old, lead.name)})
    return JsonResponse(_lead(lead))


@require_POST
@login_required
def change_lead_status(request: HttpRequest, pk: int) -> JsonResponse:
    """Move a lead along the pipeline; an unknown status is a 200 with an error body."""
    status = request.POST.get("status", "")
    if status not in ("new", "contacted", "qualified", "won", "lost"):
        return JsonResponse({"error": True, "message": f"unknown status {status!r}"})
    with transaction.atomic():
        lead = Lead.objects.get(org=_org(request), pk=pk)
        old, lead.status = lead.status, status
        lead.save()
        record("lead.status_changed", target=Target("lead", lead.pk, lead.name),
               changes={"status": (old, status)})
    return JsonResponse(_lead(lead))


@require_POST
@login_required
@records("lead.deleted", target="lead")
def delete_lead(request: HttpRequest, pk: int) -> JsonResponse:
    """Delete a lead; a missing one is a returned 404 and records nothing."""
    lead = Lead.objects.filter(org=_org(request), pk=pk).first()
    if lead is None:
        return JsonResponse({"error": "no such lead"}, status=404)
    lead.delete()
    return JsonResponse({"id": pk, "name": lead.name})


@require_POST
@login_required
@records("client.created", target="client")
def create_client(request: HttpRequest) -> JsonResponse:
    """Create a client."""
    client = Client.objects.create(org=_org(request), name=request.POST["name"])
    return JsonResponse({"id": client.pk, "name": client.name}, status=201)


@require_POST
@login_required
@records("client.deleted", target="client")
def delete_client(request: HttpRequest, pk: int) -> JsonResponse:
    """Delete a client."""
    deleted, _ = Client.objects.filter(org=_org(request), pk=pk).delete()
    return JsonResponse({"id": pk} if deleted else {"error": "no such client"},
                        status=200 if deleted else 404)


@require_POST
@login_required
@records("task.created", target=lambda call: Target("task", call.data["id"], call.data["title"]))
def create_task(request: HttpRequest) -> JsonResponse:
    """Create a task (an explicit target callable)."""
    task = Task.objects.create(org=_org(request), title=request.POST["title"])
    return JsonResponse({"id": task.pk, "title": task.title}, status=201)


@require_POST
@login_required
def complete_task(request: HttpRequest, pk: int) -> JsonResponse:
    """Mark a task done."""
    with transaction.atomic():
        task = Task.objects.get(org=_org(request), pk=pk)
        task.done = True
        task.save()
        record("task.status_changed", target=Target("task", task.pk, task.title),
               changes={"status": ("open", "done")})
    return JsonResponse({"id": task.pk, "done": True})


@require_POST
@login_required
def create_api_key(request: HttpRequest) -> JsonResponse:
    """Create a personal API key; its secret is shown once and never recorded."""
    with transaction.atomic():
        key = ApiKey.objects.create(user=request.user, name=request.POST["name"])
        record("api_key.created", target=Target("api_key", key.pk, key.name))
    return JsonResponse({"id": key.pk, "name": key.name, "key": key.key}, status=201)


@require_POST
@login_required
def revoke_api_key(request: HttpRequest, pk: int) -> JsonResponse:
    """Revoke one of the user's keys."""
    with transaction.atomic():
        key = ApiKey.objects.get(user=request.user, pk=pk)
        key.revoked = True
        key.save()
        record("api_key.revoked", target=Target("api_key", key.pk, key.name))
    return JsonResponse({"id": key.pk, "revoked": True})


class LeadSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Lead
        fields = ("id", "name", "status")


class LeadViewSet(drf.ActivityLogMixin, viewsets.ModelViewSet):  # type: ignore[type-arg]
    """The REST API: token (API key) or session authentication, recorded with source "api"
    and the key's name when a key was used."""

    serializer_class = LeadSerializer

    def get_queryset(self) -> Any:
        return Lead.objects.filter(org=_org(self.request))

    def perform_create(self, serializer: Any) -> None:
        serializer.validated_data["org"] = _org(self.request)
        super().perform_create(serializer)

    @drf.records("lead.created", target="lead")
    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return super().create(request, *args, **kwargs)

    @drf.records("lead.updated", target="lead")
    def partial_update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return super().partial_update(request, *args, **kwargs)

    @drf.records("lead.deleted", target="lead")
    def destroy(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return super().destroy(request, *args, **kwargs)
