"""The CRM's URLs, the REST API, and the Activity Log page under settings/activity/."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("api/leads", views.LeadViewSet, basename="lead")

urlpatterns = [
    path("leads/", views.leads),
    path("leads/new", views.create_lead),
    path("leads/<int:pk>/edit", views.update_lead),
    path("leads/<int:pk>/status", views.change_lead_status),
    path("leads/<int:pk>/delete", views.delete_lead),
    path("clients/new", views.create_client),
    path("clients/<int:pk>/delete", views.delete_client),
    path("tasks/new", views.create_task),
    path("tasks/<int:pk>/done", views.complete_task),
    path("keys/new", views.create_api_key),
    path("keys/<int:pk>/revoke", views.revoke_api_key),
    path("settings/activity/", include("activitylog.integrations.django.urls")),
    path("", include(router.urls)),
]
