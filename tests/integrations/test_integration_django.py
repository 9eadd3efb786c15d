"""The Django integration with Django's own test client: middleware, deferred recording,
anonymous requests, request details, system checks and management commands."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("django")

import al_django  # noqa: F401  (configures Django)
from django.contrib.auth.models import User
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import AsyncClient, Client, override_settings

from activitylog import Actor, Entry, Source
from activitylog.integrations.django import conf, get_log

LOG = {"STORE": "memory://", "DEFAULT_ORG": "acme"}


@pytest.fixture(autouse=True)
def fresh_log() -> Iterator[None]:
    """Every test starts with a new, empty in-memory log."""
    conf.reset()
    yield
    conf.reset()


def entries(org: str = "acme") -> list[Entry]:
    """Everything recorded for ``org``, oldest first."""
    return list(get_log().store.chain(org))


@pytest.fixture
def ada(db: None) -> Any:
    """A logged-in user."""
    return User.objects.create_user("ada", password="pw", first_name="Ada", last_name="Lovelace")


@pytest.fixture
def client_ada(ada: Any) -> Client:
    """Django's test client, logged in as Ada."""
    client = Client(HTTP_USER_AGENT="pytest-browser/1.0", HTTP_X_REQUEST_ID="req-42")
    client.force_login(ada)
    return client


@pytest.mark.django_db(transaction=True)
class TestMiddlewareAndRecord:
    def test_a_committed_request_records_with_the_users_context(self, client_ada: Client,
                                                                 ada: Any) -> None:
        """The entry carries the org, the user as actor, dashboard source and request details."""
        response = client_ada.post("/leads/new", {"name": "Acme Corp"})
        assert response.status_code == 201
        [entry] = entries()
        assert entry.action == "lead.created"
        assert entry.actor == Actor(str(ada.pk), "Ada Lovelace")
        assert entry.source is Source.DASHBOARD
        assert entry.target is not None and entry.target.label == "Acme Corp"
        assert entry.metadata["request"] == {
            "id": "req-42", "ip": "127.0.0.1", "user_agent": "pytest-browser/1.0"}

    def test_a_rolled_back_transaction_records_nothing(self, client_ada: Client) -> None:
        """record() inside an atomic block that fails afterwards leaves the log empty."""
        client_ada.raise_request_exception = False
        response = client_ada.post("/leads/new?fail=1", {"name": "Doomed"})
        assert response.status_code == 500
        assert entries() == []

    def test_an_anonymous_request_records_nothing(self, db: None) -> None:
        """Without a user (and no ANONYMOUS_ACTOR) record() returns None and stores nothing."""
        response = Client().post("/leads/new", {"name": "Nobody"})
        assert response.status_code == 201
        assert entries() == []

    def test_a_configured_system_actor_records_anonymous_requests(self, db: None) -> None:
        """ANONYMOUS_ACTOR names the actor of requests without a user."""
        with override_settings(ACTIVITYLOG={**LOG, "ANONYMOUS_ACTOR": "Public web form"}):
            Client().post("/leads/new", {"name": "From the form"})
            [entry] = entries()
        assert entry.actor == Actor.system("Public web form")
        assert entry.source is Source.SYSTEM

    def test_the_core_api_sees_the_middlewares_context(self, client_ada: Client) -> None:
        """A plain log.record() in a view needs no org or actor argument."""
        assert client_ada.get("/direct").status_code == 200
        [entry] = entries()
        assert entry.actor.name == "Ada Lovelace"

    def test_the_context_is_reset_after_the_request(self, client_ada: Client) -> None:
        """Nothing the middleware bound is left behind once the response is returned."""
        from activitylog.context import ambient
        from activitylog.integrations._http import current_details

        client_ada.get("/direct")
        assert ambient() == (None, None, None, None)
        assert current_details() is None

    def test_reading_the_user_adds_no_vary_cookie(self, db: None) -> None:
        """The middleware reads request.user but leaves the session marked as it was."""
        response = Client().post("/leads/new", {"name": "Anon"})
        assert response.status_code == 201
        assert "Cookie" not in response.get("Vary", "")

    def test_a_custom_org_resolver_is_used(self, client_ada: Client) -> None:
        """ACTIVITYLOG['ORG'] may be any callable of the request."""
        with override_settings(ACTIVITYLOG={**LOG, "ORG": lambda request: 17}):
            client_ada.get("/direct")
            assert len(entries("17")) == 1
            assert entries("acme") == []

    def test_async_views_record_through_the_async_path(self, ada: Any) -> None:
        """The middleware runs async under AsyncClient and arecord() stores the entry."""
        import asyncio

        async def go() -> Any:
            client = AsyncClient()
            await client.aforce_login(ada)
            return await client.get("/async")

        response = asyncio.run(go())
        assert response.json() == {"recorded": True}
        [entry] = entries()
        assert entry.actor.name == "Ada Lovelace"

    def test_anonymous_async_requests_record_nothing(self, db: None) -> None:
        """An async view without a user: arecord() returns None, even when the org resolver
        queries the database (it runs off the event loop)."""
        import asyncio

        def org_from_db(request: Any) -> str:
            return str(User.objects.count() + 100)

        with override_settings(ACTIVITYLOG={**LOG, "ORG": org_from_db}):
            response = asyncio.run(AsyncClient().get("/async"))
        assert response.json() == {"recorded": False}


@pytest.mark.django_db(transaction=True)
class TestViewDecorator:
    def test_a_successful_response_records_its_target(self, client_ada: Client) -> None:
        """The target comes from the response data (id and name)."""
        from al_crm.models import Lead

        lead = Lead.objects.create(name="Globex")
        assert client_ada.post(f"/leads/{lead.pk}/delete").status_code == 200
        [entry] = entries()
        assert entry.action == "lead.deleted"
        assert (entry.target.id, entry.target.label) == (str(lead.pk), "Globex")  # type: ignore[union-attr]

    def test_class_based_view_methods_can_be_decorated(self, client_ada: Client) -> None:
        """records() on a View method finds the request after self."""
        from al_crm.models import Lead

        lead = Lead.objects.create(name="Old")
        assert client_ada.post(f"/leads/{lead.pk}/rename", {"name": "New"}).status_code == 200
        [entry] = entries()
        assert entry.target is not None and entry.target.label == "New"

    def test_returned_failures_record_nothing(self, client_ada: Client) -> None:
        """A returned 404 and a 200 whose body says error are both failures."""
        from al_crm.models import Lead

        locked = Lead.objects.create(name="Locked", status="locked")
        assert client_ada.post("/leads/999/delete").status_code == 404
        response = client_ada.post(f"/leads/{locked.pk}/delete")
        assert response.status_code == 200 and response.json()["error"] is True
        assert entries() == []


class TestRequestDetails:
    @pytest.mark.django_db(transaction=True)
    def test_forwarded_for_is_ignored_without_trusted_proxies(self, client_ada: Client) -> None:
        """A client cannot choose its recorded address by sending X-Forwarded-For."""
        client_ada.get("/direct", HTTP_X_FORWARDED_FOR="203.0.113.9")
        assert entries()[0].metadata["request"]["ip"] == "127.0.0.1"

    @pytest.mark.django_db(transaction=True)
    def test_a_trusted_proxys_forwarded_for_is_used(self, client_ada: Client) -> None:
        """Behind a trusted proxy the client address is the hop before it."""
        with override_settings(ACTIVITYLOG={**LOG, "TRUSTED_PROXIES": ["127.0.0.0/8"]}):
            client_ada.get("/direct", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9")
            assert entries()[0].metadata["request"]["ip"] == "203.0.113.9"

    @pytest.mark.django_db(transaction=True)
    def test_details_can_be_switched_off(self, client_ada: Client) -> None:
        """With every detail off, entries carry no request metadata at all."""
        off = {**LOG, "RECORD_IP": False, "RECORD_USER_AGENT": False, "RECORD_REQUEST_ID": False}
        with override_settings(ACTIVITYLOG=off):
            client_ada.get("/direct")
            assert "request" not in entries()[0].metadata


class TestChecks:
    def ids(self) -> set[str]:
        """The ids of the activitylog system checks that fire now."""
        return {m.id for m in run_checks() if (m.id or "").startswith("activitylog.")}

    def test_a_correct_configuration_passes(self) -> None:
        """The test settings raise no activitylog check."""
        assert self.ids() == set()

    def test_a_missing_store_is_an_error(self) -> None:
        """activitylog.E002: no STORE."""
        with override_settings(ACTIVITYLOG={}):
            assert self.ids() == {"activitylog.E002"}

    def test_unknown_keys_and_schemes_are_errors(self) -> None:
        """E001 names a bad key; E003 an unknown store scheme."""
        with override_settings(ACTIVITYLOG={**LOG, "STOR": "x"}):
            [message] = [m for m in run_checks() if m.id == "activitylog.E001"]
            assert "STOR" in message.msg
        with override_settings(ACTIVITYLOG={"STORE": "mongodb://x"}):
            assert self.ids() == {"activitylog.E003"}

    def test_middleware_missing_or_misplaced_is_a_warning(self) -> None:
        """W001 without the middleware, W002 when it runs before authentication."""
        from django.conf import settings

        mw = list(settings.MIDDLEWARE)
        with override_settings(MIDDLEWARE=mw[:2]):
            assert self.ids() == {"activitylog.W001"}
        with override_settings(MIDDLEWARE=[mw[0], mw[2], mw[1]]):
            assert self.ids() == {"activitylog.W002"}

    def test_same_transaction_needs_postgresql(self) -> None:
        """E004: SAME_TRANSACTION with a SQLite database cannot share a transaction."""
        with override_settings(ACTIVITYLOG={**LOG, "SAME_TRANSACTION": True}):
            assert self.ids() == {"activitylog.E004"}


@pytest.mark.django_db(transaction=True)
class TestManagementCommands:
    def test_verify_reports_intact_chains(self, client_ada: Client) -> None:
        """activitylog_verify checks each org with the configured log."""
        client_ada.get("/direct")
        out = io.StringIO()
        call_command("activitylog_verify", "--format", "json", stdout=out)
        [report] = json.loads(out.getvalue())
        assert report["org_id"] == "acme" and report["ok"] and report["checked"] == 1

    def test_verify_fails_on_a_wrong_key(self, client_ada: Client) -> None:
        """Entries chained without a key do not verify under one: exit code 1."""
        client_ada.get("/direct")
        store = get_log().store
        with override_settings(ACTIVITYLOG={**LOG, "INTEGRITY_KEY": "k"}):
            log = get_log()
            log.store = store
            with pytest.raises(CommandError) as info:
                call_command("activitylog_verify", stdout=io.StringIO())
        assert info.value.returncode == 1

    def test_export_writes_csv(self, client_ada: Client) -> None:
        """activitylog_export writes the CLI's CSV columns."""
        client_ada.get("/direct")
        out = io.StringIO()
        call_command("activitylog_export", "--org", "acme", stdout=out)
        header, row = out.getvalue().splitlines()
        assert header.startswith("id,occurred_at,action")
        assert "lead.updated" in row and "Ada Lovelace" in row

    def test_export_writes_json_lines_to_a_file(self, client_ada: Client, tmp_path: Any) -> None:
        """--format jsonl --output FILE: one JSON object per entry in the file."""
        client_ada.get("/direct")
        target = tmp_path / "acme.jsonl"
        call_command("activitylog_export", "--org", "acme", "--format", "jsonl",
                     "--output", str(target), stderr=io.StringIO())
        [line] = target.read_text(encoding="utf-8").splitlines()
        assert json.loads(line)["actor"]["name"] == "Ada Lovelace"


@pytest.mark.django_db(transaction=True)
class TestViewerMount:
    ENDPOINTS = ("", "api/entries", "export.csv", "chart.svg", "api/integrity")

    def test_an_owner_reads_the_page_and_the_api(self, client_ada: Client, ada: Any) -> None:
        """A superuser is an Owner: the page and the JSON API list the org's entries."""
        client_ada.get("/direct")
        ada.is_superuser = True
        ada.save()
        page = client_ada.get("/settings/activity/")
        assert page.status_code == 200 and b"Ada Lovelace" in page.content
        assert 'href="/settings/activity/' in page.content.decode()
        api = client_ada.get("/settings/activity/api/entries")
        assert api.status_code == 200
        assert [e["action"] for e in api.json()["entries"]] == ["lead.updated"]

    def test_members_and_anonymous_users_get_403_everywhere(self, client_ada: Client) -> None:
        """Every endpoint refuses a Member and a visitor with 403."""
        for path in self.ENDPOINTS:
            assert client_ada.get(f"/settings/activity/{path}").status_code == 403, path
            assert Client().get(f"/settings/activity/{path}").status_code == 403, path

    def test_the_apps_access_check_comes_first(self, client_ada: Client, ada: Any) -> None:
        """VIEWER_ACCESS answering false refuses even an Owner."""
        ada.is_superuser = True
        ada.save()
        with override_settings(ACTIVITYLOG={**LOG, "VIEWER_ACCESS": lambda request: False}):
            assert client_ada.get("/settings/activity/").status_code == 403
