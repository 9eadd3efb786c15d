"""The example CRM's tests: ``python manage.py test``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.test import Client as WebClient
from django.test import TransactionTestCase, override_settings
from rest_framework.test import APIClient

from activitylog import Entry, Source
from activitylog.integrations.django import get_log

from .models import ApiKey, Lead, Membership, Organization


@override_settings(ACTIVITYLOG={"STORE": "memory://", "ORG": "crm.audit.org_of",
                                "ROLE": "crm.audit.role_of"})
class ActivityLogTests(TransactionTestCase):
    """Requests as the dashboard and the API make them, and the log they leave."""

    def setUp(self) -> None:
        self.org = Organization.objects.create(name="Acme")
        self.owner = self.user("ada", "Ada", "Lovelace", "owner")
        self.web = WebClient()
        self.web.force_login(self.owner)

    def user(self, username: str, first: str, last: str, role: str) -> Any:
        """A member of the test organization."""
        user = User.objects.create_user(username, first_name=first, last_name=last)
        Membership.objects.create(user=user, org=self.org, role=role)
        return user

    def entries(self) -> list[Entry]:
        """The organization's log, oldest first."""
        return list(get_log().store.chain(str(self.org.pk)))

    def test_dashboard_actions_are_recorded(self) -> None:
        """Create, rename, move and delete a lead: four entries by Ada, from the dashboard."""
        lead_id = self.web.post("/leads/new", {"name": "Initech"}).json()["id"]
        self.web.post(f"/leads/{lead_id}/edit", {"name": "Initech Ltd"})
        self.web.post(f"/leads/{lead_id}/status", {"status": "won"})
        self.web.post(f"/leads/{lead_id}/delete")
        log = self.entries()
        self.assertEqual([e.action for e in log],
                         ["lead.created", "lead.updated", "lead.status_changed", "lead.deleted"])
        self.assertEqual({e.actor.name for e in log}, {"Ada Lovelace"})
        self.assertEqual({e.source for e in log}, {Source.DASHBOARD})
        self.assertEqual(log[1].description, "Ada Lovelace updated lead “Initech Ltd” name from Initech to Initech Ltd")

    def test_failures_record_nothing(self) -> None:
        """Returned 400/404 and a 200 error body leave no entry."""
        self.assertEqual(self.web.post("/leads/new", {"name": ""}).status_code, 400)
        self.assertEqual(self.web.post("/leads/999/delete").status_code, 404)
        lead = Lead.objects.create(org=self.org, name="Hooli")
        self.assertTrue(self.web.post(f"/leads/{lead.pk}/status", {"status": "?"}).json()["error"])
        self.assertEqual(self.entries(), [])

    def test_api_requests_record_the_keys_name_not_its_secret(self) -> None:
        """A key-authenticated API call is source "api" with the key's name."""
        key = ApiKey.objects.create(user=self.owner, name="Zapier")
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {key.key}")
        response = api.post("/api/leads/", {"name": "Globex"}, format="json")
        self.assertEqual(response.status_code, 201)
        [entry] = self.entries()
        self.assertEqual((entry.source, entry.api_key.name), (Source.API, "Zapier"))  # type: ignore[union-attr]
        self.assertNotIn(key.key, repr(entry))

    def test_only_owners_and_admins_open_the_activity_log(self) -> None:
        """The mounted page: 200 for the Owner, 403 for a Member and for visitors."""
        self.web.post("/clients/new", {"name": "Umbrella"})
        self.assertContains(self.web.get("/settings/activity/"), "Umbrella")
        member = WebClient()
        member.force_login(self.user("bob", "Bob", "Smith", "member"))
        self.assertEqual(member.get("/settings/activity/").status_code, 403)
        self.assertEqual(WebClient().get("/settings/activity/api/entries").status_code, 403)
