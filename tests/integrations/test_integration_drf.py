"""The DRF integration with DRF's APIClient and token authentication."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("rest_framework")

import al_django  # noqa: F401  (configures Django)
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from activitylog import ApiKeyRef, Entry, Source
from activitylog.integrations.django import conf, get_log

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_log() -> Iterator[None]:
    """Every test starts with a new, empty in-memory log."""
    conf.reset()
    yield
    conf.reset()


def entries() -> list[Entry]:
    """Everything recorded for the test org, oldest first."""
    return list(get_log().store.chain("acme"))


@pytest.fixture
def key() -> Any:
    """Grace's personal API key, named "Zapier sync"."""
    from al_crm.models import ApiKey

    grace = User.objects.create_user("grace", first_name="Grace", last_name="Hopper")
    return ApiKey.objects.create(name="Zapier sync", user=grace)


@pytest.fixture
def api(key: Any) -> APIClient:
    """DRF's APIClient sending Grace's key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key.key}")
    return client


def assert_no_secret(entry: Entry, secret: str) -> None:
    """The key's secret appears nowhere in the stored entry."""
    assert secret not in repr(entry)
    assert secret not in str(dict(entry.metadata))


class TestTokenRequests:
    def test_create_records_the_keys_name_and_source_api(self, api: APIClient, key: Any) -> None:
        """The saved instance is the target; the key is recorded by name, never its secret."""
        response = api.post("/api/leads/", {"name": "Initech"}, format="json")
        assert response.status_code == 201
        [entry] = entries()
        assert entry.action == "lead.created"
        assert entry.source is Source.API
        assert entry.api_key == ApiKeyRef(str(key.pk), "Zapier sync")
        assert entry.actor.name == "Grace Hopper"
        assert entry.target is not None
        assert (entry.target.id, entry.target.label) == (str(response.data["id"]), "Initech")
        assert_no_secret(entry, key.key)

    def test_destroy_records_the_deleted_instances_id(self, api: APIClient) -> None:
        """A deleted row's primary key is kept for the target although Django clears it."""
        from al_crm.models import Lead

        lead = Lead.objects.create(name="Umbrella")
        assert api.delete(f"/api/leads/{lead.pk}/").status_code == 204
        [entry] = entries()
        assert entry.target is not None
        assert (entry.target.id, entry.target.label) == (str(lead.pk), "Umbrella")

    def test_function_views_catch_up_with_drf_authentication(self, api: APIClient,
                                                              key: Any) -> None:
        """In an @api_view the middleware saw no user; record() reads DRF's user and key."""
        assert api.post("/api/touch").status_code == 200
        [entry] = entries()
        assert entry.api_key is not None and entry.api_key.name == "Zapier sync"
        assert entry.source is Source.API

    def test_decorated_function_views_record_successes_only(self, api: APIClient) -> None:
        """@api_view + records(): a 400 records nothing, a 201 records its data's target."""
        assert api.post("/api/create", {}, format="json").status_code == 400
        assert api.post("/api/create", {"name": "Fn"}, format="json").status_code == 201
        [entry] = entries()
        assert entry.target is not None and (entry.target.id, entry.target.label) == ("9", "Fn")
        assert entry.source is Source.API

    def test_the_mixin_binds_the_context_for_the_core_api(self, api: APIClient) -> None:
        """log.record() in a mixin view is attributed to the key's user with the key."""
        assert api.get("/api/leads/").status_code == 200
        [entry] = entries()
        assert entry.actor.name == "Grace Hopper"
        assert entry.api_key is not None and entry.source is Source.API
        assert "request" in entry.metadata

    def test_drfs_own_token_model_is_recorded_by_fingerprint(self) -> None:
        """DRF's Token has its secret as primary key: the id is a fingerprint of it."""
        from activitylog.integrations._common import api_key_from_token

        class Token:
            key = pk = "0123456789abcdef"
            user = User(username="ada", first_name="Ada", last_name="Lovelace")

        ref = api_key_from_token(Token())
        assert ref is not None and ref.name == "token of Ada Lovelace"
        assert Token.key not in ref.id and ref.id.startswith("sha256:")


class TestFailures:
    def test_validation_errors_record_nothing(self, api: APIClient) -> None:
        """A 400 from the serializer is not a success."""
        assert api.post("/api/leads/", {}, format="json").status_code == 400
        assert entries() == []

    def test_an_error_body_records_nothing(self, api: APIClient) -> None:
        """A 200 carrying {"error": true} is a failure too."""
        from al_crm.models import Lead

        lead = Lead.objects.create(name="Hooli")
        response = api.patch(f"/api/leads/{lead.pk}/", {"status": "bogus"}, format="json")
        assert response.status_code == 200 and response.data["error"] is True
        assert entries() == []
        response = api.patch(f"/api/leads/{lead.pk}/", {"status": "won"}, format="json")
        [entry] = entries()
        assert entry.changes == {"status": ("new", "won")}

    def test_unauthenticated_requests_record_nothing(self, db: None) -> None:
        """Without credentials DRF answers 403 and nothing is recorded."""
        assert APIClient().post("/api/leads/", {"name": "x"}, format="json").status_code in (401, 403)
        assert entries() == []

    def test_a_bad_key_records_nothing(self, api: APIClient) -> None:
        """A wrong token is refused before the view runs."""
        api.credentials(HTTP_AUTHORIZATION="Token nope")
        assert api.post("/api/leads/", {"name": "x"}, format="json").status_code == 401
        assert entries() == []
