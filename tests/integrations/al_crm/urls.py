"""URLs of the test CRM."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("api/leads", views.LeadViewSet)

urlpatterns = [
    path("leads/new", views.create_lead),
    path("leads/<int:pk>/delete", views.delete_lead),
    path("leads/<int:pk>/rename", views.RenameLead.as_view()),
    path("direct", views.log_direct),
    path("async", views.async_create),
    path("api/touch", views.api_touch),
    path("api/create", views.api_create),
    path("settings/activity/", include("activitylog.integrations.django.urls")),
    path("", include(router.urls)),
]
