"""The FastAPI CRM's tests: ``python -m unittest test_app``."""

from __future__ import annotations

import os
import unittest

os.environ.setdefault("CRM_ACTIVITYLOG", "memory://")

from app import create_app
from starlette.testclient import TestClient

from activitylog import ActivityLog, Entry, Source

ADA = {"X-User": "ada"}


class FastApiCrmTests(unittest.TestCase):
    """Requests with a user or an API key, and the log they leave."""

    def setUp(self) -> None:
        self.log = ActivityLog()
        self.client = TestClient(create_app(self.log))

    def entries(self) -> list[Entry]:
        """Acme's log, oldest first."""
        return list(self.log.store.chain("acme"))

    def test_actions_are_recorded_with_the_signed_in_user(self) -> None:
        """Create, rename, move and delete a lead: four entries by Ada."""
        lead = self.client.post("/leads", json={"name": "Initech"}, headers=ADA).json()
        self.client.patch(f"/leads/{lead['id']}", json={"name": "Initech Ltd"}, headers=ADA)
        self.client.post(f"/leads/{lead['id']}/status/won", headers=ADA)
        self.client.delete(f"/leads/{lead['id']}", headers=ADA)
        log = self.entries()
        self.assertEqual([e.action for e in log], ["lead.created", "lead.updated",
                                                   "lead.status_changed", "lead.deleted"])
        self.assertEqual({e.actor.name for e in log}, {"Ada Lovelace"})
        self.assertEqual(log[2].changes, {"status": ("new", "won")})

    def test_failures_record_nothing(self) -> None:
        """Validation errors, 404s, refused statuses and anonymous calls leave no entry."""
        self.assertEqual(self.client.post("/leads", json={}, headers=ADA).status_code, 422)
        self.assertEqual(self.client.delete("/clients/9", headers=ADA).status_code, 404)
        lead = self.client.post("/leads", json={"name": "Hooli"}, headers=ADA).json()
        self.assertEqual(self.client.post(f"/leads/{lead['id']}/status/maybe",
                                          headers=ADA).status_code, 422)
        self.assertEqual(self.client.post("/tasks", json={"title": "x"}).status_code, 401)
        self.assertEqual([e.action for e in self.entries()], ["lead.created"])

    def test_api_key_requests_are_source_api(self) -> None:
        """The key's name is recorded, never its secret."""
        self.client.post("/tasks", json={"title": "Call"},
                         headers={"Authorization": "Token demo-key"})
        [entry] = self.entries()
        self.assertEqual((entry.source, entry.api_key.name), (Source.API, "Zapier sync"))  # type: ignore[union-attr]
        self.assertNotIn("demo-key", repr(entry))

    def test_only_owners_and_admins_read_the_log(self) -> None:
        """The mounted viewer answers Ada and refuses Bob."""
        self.client.post("/clients", json={"name": "Umbrella"}, headers=ADA)
        page = self.client.get("/settings/activity/", headers=ADA)
        self.assertEqual(page.status_code, 200)
        self.assertIn("Umbrella", page.text)
        self.assertEqual(self.client.get("/settings/activity/",
                                         headers={"X-User": "bob"}).status_code, 403)


if __name__ == "__main__":
    unittest.main()
