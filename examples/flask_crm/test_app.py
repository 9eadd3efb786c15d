"""The Flask CRM's tests: ``python -m unittest test_app``."""

from __future__ import annotations

import unittest

from app import create_app

from activitylog import ActivityLog, Entry, Source

ADA = {"X-User": "ada"}


class FlaskCrmTests(unittest.TestCase):
    """Requests from the dashboard and the API, and the log they leave."""

    def setUp(self) -> None:
        self.log = ActivityLog()
        self.client = create_app(self.log).test_client()

    def entries(self) -> list[Entry]:
        """Acme's log, oldest first."""
        return list(self.log.store.chain("acme"))

    def test_dashboard_actions_are_recorded(self) -> None:
        """Create, rename, move and delete a lead: four entries by Ada."""
        lead = self.client.post("/leads", json={"name": "Initech"}, headers=ADA).json
        self.client.patch(f"/leads/{lead['id']}", json={"name": "Initech Ltd"}, headers=ADA)
        self.client.post(f"/leads/{lead['id']}/status", json={"status": "won"}, headers=ADA)
        self.client.delete(f"/leads/{lead['id']}", headers=ADA)
        log = self.entries()
        self.assertEqual([e.action for e in log], ["lead.created", "lead.updated",
                                                   "lead.status_changed", "lead.deleted"])
        self.assertEqual({e.actor.name for e in log}, {"Ada Lovelace"})
        self.assertEqual(log[1].changes, {"name": ("Initech", "Initech Ltd")})
        self.assertEqual(log[0].metadata["request"]["ip"], "127.0.0.1")

    def test_failures_record_nothing(self) -> None:
        """A 400, a 404, a 200 error body and an unauthenticated call leave no entry."""
        self.assertEqual(self.client.post("/leads", json={}, headers=ADA).status_code, 400)
        self.assertEqual(self.client.delete("/clients/99", headers=ADA).status_code, 404)
        lead = self.client.post("/leads", json={"name": "Hooli"}).status_code
        self.assertEqual(lead, 401)
        self.assertEqual(self.entries(), [])

    def test_api_key_requests_are_source_api(self) -> None:
        """The key's name is recorded, never the secret it was sent with."""
        self.client.post("/tasks", json={"title": "Call back"},
                         headers={"Authorization": "Token demo-key"})
        [entry] = self.entries()
        self.assertEqual((entry.source, entry.api_key.name), (Source.API, "Zapier sync"))  # type: ignore[union-attr]
        self.assertNotIn("demo-key", repr(entry))

    def test_only_owners_and_admins_read_the_log(self) -> None:
        """The blueprint answers Ada and refuses Bob."""
        self.client.post("/clients", json={"name": "Umbrella"}, headers=ADA)
        page = self.client.get("/settings/activity/", headers=ADA)
        self.assertEqual(page.status_code, 200)
        self.assertIn("Umbrella", page.get_data(as_text=True))
        self.assertEqual(self.client.get("/settings/activity/",
                                         headers={"X-User": "bob"}).status_code, 403)


if __name__ == "__main__":
    unittest.main()
