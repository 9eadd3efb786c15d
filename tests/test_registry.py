"""The action registry: custom categories and actions, lookups and their errors, descriptions."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from activitylog import (
    ActionRegistry,
    ActionType,
    ActivityLogError,
    Actor,
    DuplicateAction,
    Kind,
    RegistryError,
    Target,
    UnknownAction,
    UnknownCategory,
)
from activitylog.errors import InvalidAction

ADA = Actor("u1", "Ada Lovelace")
ACME = Target("lead", "42", "Acme Corp")


@pytest.fixture
def empty() -> ActionRegistry:
    """A registry with nothing in it."""
    return ActionRegistry.empty()


@pytest.fixture
def billing() -> ActionRegistry:
    """An empty registry with one custom category and two custom actions."""
    registry = ActionRegistry.empty()
    registry.add_category("Billing", "Invoices and payments")
    registry.register("invoice.paid", category="Billing")
    registry.register(
        ActionType(
            "invoice.voided", "Invoice Voided", "Billing", "delete",
            template="{actor} voided invoice {target}",
        )
    )
    return registry


class TestEmptyRegistry:
    """``ActionRegistry.empty()``."""

    def test_holds_nothing(self, empty: ActionRegistry) -> None:
        """An empty registry has no categories and no actions."""
        assert (len(empty), empty.categories, list(empty)) == (0, (), [])

    def test_lookup_fails_without_suggestion(self, empty: ActionRegistry) -> None:
        """Looking up a key in an empty registry names the key and suggests nothing."""
        with pytest.raises(UnknownAction) as info:
            empty.get("lead.created")
        assert (info.value.key, info.value.suggestion) == ("lead.created", None)
        assert str(info.value) == "unknown action 'lead.created'"


class TestCustomActions:
    """Hosts add their own categories and actions."""

    def test_categories_in_registration_order(self, billing: ActionRegistry) -> None:
        """Categories list in the order they were added, with their descriptions."""
        billing.add_category("Audit")
        assert billing.categories == ("Billing", "Audit")
        assert billing.category_description("Billing") == "Invoices and payments"
        assert billing.category_description("Audit") == ""

    def test_register_by_key_derives_label_and_kind(self, billing: ActionRegistry) -> None:
        """A key registered with only a category gets a title-cased label and kind update."""
        action = billing.get("invoice.paid")
        assert (action.label, action.category, action.kind, action.color) == (
            "Invoice Paid",
            "Billing",
            Kind.UPDATE,
            "gray",
        )

    def test_register_returns_the_action(self, empty: ActionRegistry) -> None:
        """``register`` returns the registered :class:`ActionType`."""
        empty.add_category("Billing")
        action = empty.register(
            "invoice.sent", label="Invoice Emailed", category="Billing", kind="create",
            noun="invoice",
        )
        assert empty.get("invoice.sent") is action
        assert (action.label, action.kind, action.color) == ("Invoice Emailed", Kind.CREATE,
                                                             "green")

    def test_actions_in_category(self, billing: ActionRegistry) -> None:
        """``actions_in`` lists a category's actions in registration order."""
        assert [a.key for a in billing.actions_in("Billing")] == ["invoice.paid",
                                                                  "invoice.voided"]

    def test_contains_iter_len(self, billing: ActionRegistry) -> None:
        """``in``, iteration and ``len`` see the registered actions."""
        assert ("invoice.paid" in billing, "lead.created" in billing, 42 in billing) == (
            True, False, False,
        )
        assert ([a.key for a in billing], len(billing)) == (["invoice.paid", "invoice.voided"], 2)

    def test_custom_actions_extend_the_builtin_catalogue(self) -> None:
        """A built-in registry accepts custom actions in built-in and custom categories."""
        registry = ActionRegistry()
        registry.register("lead.merged", category="Leads", label="Lead Merged")
        assert registry.actions_in("Leads")[-1].key == "lead.merged"
        assert len(registry) == 70

    def test_concurrent_registration(self, empty: ActionRegistry) -> None:
        """Registering from many threads at once keeps every action exactly once."""
        empty.add_category("C")

        def work(n: int) -> None:
            for i in range(50):
                empty.register(f"a{n}.b{i}", category="C")

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(empty) == 400


class TestRegistrationErrors:
    """Registration refuses malformed or conflicting definitions, naming the culprit."""

    def test_duplicate_key(self, billing: ActionRegistry) -> None:
        """Registering a key twice raises DuplicateAction naming the key; the first stays."""
        first = billing.get("invoice.paid")
        with pytest.raises(DuplicateAction) as info:
            billing.register("invoice.paid", category="Billing", label="Other")
        assert str(info.value) == "action 'invoice.paid' is already registered"
        assert billing.get("invoice.paid") is first

    def test_duplicate_builtin_key(self) -> None:
        """A custom action cannot shadow a built-in one."""
        with pytest.raises(DuplicateAction) as info:
            ActionRegistry().register("lead.created", category="Leads")
        assert str(info.value) == "action 'lead.created' is already registered"

    def test_duplicate_category(self, billing: ActionRegistry) -> None:
        """Adding a category twice raises DuplicateAction naming it."""
        with pytest.raises(DuplicateAction, match="'Billing'"):
            billing.add_category("Billing")

    def test_unknown_category(self, billing: ActionRegistry) -> None:
        """An action in a category never added raises UnknownCategory with a suggestion."""
        with pytest.raises(UnknownCategory) as info:
            billing.register("invoice.lost", category="Biling")
        assert (info.value.name, info.value.suggestion) == ("Biling", "Billing")
        assert "invoice.lost" not in billing

    @pytest.mark.parametrize(
        "template",
        ["{user} paid {target}", "{actor.name} paid", "{0} paid", "{} paid", "{actor paid",
         "paid }", "{actor[0]}"],
    )
    def test_bad_template(self, billing: ActionRegistry, template: str) -> None:
        """A template with an unknown or malformed placeholder is refused at registration."""
        with pytest.raises(InvalidAction) as info:
            billing.register("invoice.refunded", category="Billing", template=template)
        assert str(info.value).startswith("action 'invoice.refunded': ")
        assert "invoice.refunded" not in billing

    def test_bad_template_names_known_placeholders(self, billing: ActionRegistry) -> None:
        """The template error lists the placeholders one may use."""
        with pytest.raises(InvalidAction) as info:
            billing.register("invoice.refunded", category="Billing", template="{user}")
        assert "['actor', 'changes', 'items', 'target']" in str(info.value)

    @pytest.mark.parametrize("key", ["", "   "])
    def test_empty_key(self, billing: ActionRegistry, key: str) -> None:
        """An empty action key is refused."""
        with pytest.raises(InvalidAction):
            billing.register(key, category="Billing")

    @pytest.mark.parametrize("name", ["", "  ", None])
    def test_empty_category_name(self, empty: ActionRegistry, name: Any) -> None:
        """An empty category name is refused."""
        with pytest.raises(InvalidAction):
            empty.add_category(name)

    def test_unknown_kind(self, billing: ActionRegistry) -> None:
        """A kind other than create/update/delete is refused, listing the choices."""
        with pytest.raises(InvalidAction, match="create, update, delete"):
            billing.register("invoice.paid2", category="Billing", kind="archive")

    @pytest.mark.parametrize("field", ["label", "category"])
    def test_empty_label_or_category(self, field: str) -> None:
        """An ActionType needs a non-empty label and category."""
        fields = {"label": "Invoice Paid", "category": "Billing", field: " "}
        with pytest.raises(InvalidAction, match=field):
            ActionType("invoice.paid", kind="update", **fields)

    def test_action_type_and_fields(self, billing: ActionRegistry) -> None:
        """Passing an ActionType together with fields is a usage error."""
        action = ActionType("invoice.x", "X", "Billing", "update")
        with pytest.raises(InvalidAction):
            billing.register(action, label="Y")

    def test_registry_errors_share_a_base(self) -> None:
        """Every registry error is a RegistryError and an ActivityLogError."""
        for cls in (DuplicateAction, InvalidAction, UnknownAction, UnknownCategory):
            assert issubclass(cls, RegistryError)
            assert issubclass(cls, ActivityLogError)
        assert issubclass(InvalidAction, ValueError)


class TestLookup:
    """``get`` and ``check_category``."""

    def test_get_builtin(self) -> None:
        """A built-in key returns its action."""
        assert ActionRegistry().get("lead.deleted").label == "Lead Deleted"

    @pytest.mark.parametrize(
        ("typo", "suggestion"),
        [("lead.delete", "lead.deleted"), ("lead.craeted", "lead.created"),
         ("Lead.Deleted", "lead.deleted"), ("apikey.revoked", "api_key.revoked")],
    )
    def test_unknown_key_suggests_closest(self, typo: str, suggestion: str) -> None:
        """An unknown key raises UnknownAction naming it and the closest known key."""
        with pytest.raises(UnknownAction) as info:
            ActionRegistry().get(typo)
        assert (info.value.key, info.value.suggestion) == (typo, suggestion)
        assert str(info.value) == f"unknown action {typo!r}; did you mean {suggestion!r}?"

    def test_unknown_key_without_close_match(self) -> None:
        """A key like nothing known gets no suggestion."""
        with pytest.raises(UnknownAction) as info:
            ActionRegistry().get("zzzzzz")
        assert info.value.suggestion is None

    @pytest.mark.parametrize("key", [None, 42, ("lead", "created")])
    def test_non_string_key(self, key: Any) -> None:
        """A non-string key raises UnknownAction, not TypeError."""
        with pytest.raises(UnknownAction):
            ActionRegistry().get(key)

    def test_unknown_action_is_a_lookup_error(self) -> None:
        """UnknownAction can be caught as LookupError."""
        with pytest.raises(LookupError):
            ActionRegistry().get("nope")

    def test_check_category(self) -> None:
        """``check_category`` returns a known name and refuses an unknown one with a hint."""
        registry = ActionRegistry()
        assert registry.check_category("API Keys") == "API Keys"
        with pytest.raises(UnknownCategory) as info:
            registry.check_category("Lead")
        assert info.value.suggestion == "Leads"
        assert "known: Leads, Clients" in str(info.value)

    def test_actions_in_unknown_category(self) -> None:
        """``actions_in`` refuses an unknown category."""
        with pytest.raises(UnknownCategory):
            ActionRegistry().actions_in("Note Tags")


class TestDescribe:
    """Default descriptions rendered from templates."""

    REGISTRY = ActionRegistry()

    def describe(self, key: str, **kw: Any) -> str:
        """Render a built-in action's description for Ada."""
        return self.REGISTRY.get(key).describe(ADA, **kw)

    def test_deleted(self) -> None:
        """A deletion names the actor, the noun and the quoted target label."""
        assert self.describe("lead.deleted", target=ACME) == "Ada Lovelace deleted lead “Acme Corp”"

    def test_status_changed(self) -> None:
        """A change lists field, old and new value."""
        text = self.describe(
            "lead.status_changed", target=ACME, changes={"status": ("New", "Contacted")}
        )
        assert text == "Ada Lovelace changed lead “Acme Corp” status from New to Contacted"

    def test_several_changes(self) -> None:
        """Several changes are joined by commas, empty values read "none"."""
        text = self.describe(
            "lead.updated", target=ACME,
            changes={"name": ("Acme", "Acme Corp"), "company": (None, "Acme"), "notes": ("x", "")},
        )
        assert text == (
            "Ada Lovelace updated lead “Acme Corp” name from Acme to Acme Corp, "
            "company from none to Acme, notes from x to none"
        )

    def test_bulk_from_count(self) -> None:
        """A bulk action counts items from ``metadata["count"]``."""
        assert self.describe("lead.bulk_deleted", metadata={"count": 12}) == (
            "Ada Lovelace deleted 12 leads"
        )

    def test_bulk_from_ids(self) -> None:
        """Without a count, a bulk action counts ``metadata["ids"]`` (list or tuple)."""
        ids = [str(i) for i in range(12)]
        assert self.describe("lead.bulk_deleted", metadata={"ids": ids}) == (
            "Ada Lovelace deleted 12 leads"
        )
        assert self.describe("lead.bulk_deleted", metadata={"ids": tuple(ids)}) == (
            "Ada Lovelace deleted 12 leads"
        )

    def test_count_wins_over_ids(self) -> None:
        """An explicit count is used even when ids are given too."""
        assert self.describe("lead.bulk_deleted", metadata={"count": 3, "ids": ["a"]}) == (
            "Ada Lovelace deleted 3 leads"
        )

    def test_bulk_singular(self) -> None:
        """One item reads singular."""
        assert self.describe("lead.bulk_deleted", metadata={"count": 1}) == (
            "Ada Lovelace deleted 1 lead"
        )
        assert self.describe("lead.bulk_deleted", metadata={"ids": ["7"]}) == (
            "Ada Lovelace deleted 1 lead"
        )

    def test_bulk_without_count(self) -> None:
        """A bulk action without count or ids reads "multiple"."""
        assert self.describe("lead.bulk_deleted") == "Ada Lovelace deleted multiple leads"
        assert self.describe("lead.bulk_deleted", metadata={"ids": "a,b"}) == (
            "Ada Lovelace deleted multiple leads"
        )

    def test_bulk_with_changes(self) -> None:
        """A bulk status change names the count and the change."""
        text = self.describe(
            "task.bulk_status_changed", metadata={"count": 4},
            changes={"status": ("Pending", "Completed")},
        )
        assert text == (
            "Ada Lovelace changed the status of 4 tasks (status from Pending to Completed)"
        )
        without = self.describe("task.bulk_status_changed", metadata={"count": 4})
        assert without == "Ada Lovelace changed the status of 4 tasks"

    def test_missing_target(self) -> None:
        """Without a target the sentence simply ends, with no dangling space or quotes."""
        assert self.describe("lead.deleted") == "Ada Lovelace deleted lead"
        assert self.describe("lead.updated") == "Ada Lovelace updated lead"

    def test_target_without_label(self) -> None:
        """A target without a label is shown by its id."""
        assert self.describe("lead.deleted", target=Target("lead", 42)) == (
            "Ada Lovelace deleted lead #42"
        )

    def test_irregular_nouns(self) -> None:
        """Multi-word nouns and nouns ending in y, s, x, ch pluralize as English does."""
        registry = ActionRegistry.empty()
        registry.add_category("C")
        cases = {"timesheet entry": "timesheet entries", "address": "addresses",
                 "box": "boxes", "batch": "batches", "day": "days", "API key": "API keys"}
        for i, (noun, plural) in enumerate(cases.items()):
            action = registry.register(f"x{i}.bulk", category="C", noun=noun,
                                       template="{actor} removed {items}")
            assert action.describe(ADA, metadata={"count": 2}) == f"Ada Lovelace removed 2 {plural}"

    def test_noun_defaults_to_key_prefix(self) -> None:
        """Without a noun, ``{items}`` uses the key's first part with spaces for underscores."""
        registry = ActionRegistry.empty()
        registry.add_category("C")
        action = registry.register("purchase_order.bulk_deleted", category="C",
                                   template="{actor} deleted {items}")
        assert action.describe(ADA, metadata={"count": 2}) == "Ada Lovelace deleted 2 purchase orders"

    def test_default_template(self) -> None:
        """A custom action without a template reads "<actor> <target>"."""
        registry = ActionRegistry.empty()
        registry.add_category("C")
        action = registry.register("x.y", category="C")
        assert action.describe(ADA, target=ACME) == "Ada Lovelace “Acme Corp”"
        assert action.describe(ADA) == "Ada Lovelace"

    def test_whitespace_collapses(self) -> None:
        """Optional parts left empty never leave doubled or trailing spaces."""
        registry = ActionRegistry.empty()
        registry.add_category("C")
        action = registry.register("x.y", category="C", template="{actor}  did {target}  {changes} .")
        assert action.describe(ADA) == "Ada Lovelace did ."

    def test_braces_in_values_are_literal(self) -> None:
        """Braces in names and labels are not treated as placeholders."""
        text = ActionRegistry().get("lead.deleted").describe(
            Actor("u9", "{actor}"), Target("lead", "1", "{target}")
        )
        assert text == "{actor} deleted lead “{target}”"
