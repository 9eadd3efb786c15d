"""The built-in catalogue checked, action by action, against the product's Tracked Actions list.

The product description is copied here as data (section, label, when it is recorded) so that the
catalogue is compared with the spec rather than with itself.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from activitylog import ActionRegistry, ActionType, Actor, Kind, Target
from activitylog.catalogue import ACTIONS, CATEGORIES

#: The spec's category filter table, in its order: (category, what it tracks).
SPEC_CATEGORIES = (
    ("Leads", "Creating, editing, assigning, and deleting leads"),
    ("Clients", "Creating, editing, and deleting clients"),
    ("Tasks", "Creating, editing, status changes, and deleting tasks"),
    ("Timesheets", "Creating, editing, and deleting timesheet entries"),
    ("Files", "Uploading, editing, and deleting files"),
    ("Notes", "Creating, editing, and deleting notes"),
    ("Events", "Creating, editing, and deleting events"),
    ("Meetings", "Creating, editing, canceling, approving, and deleting meetings"),
    ("Members", "Inviting, joining, removing members and changing roles"),
    ("Organization", "Updating organization settings (name, logo)"),
    ("API Keys", "Creating and revoking API keys"),
    ("Subscription", "Plan changes, cancellations, reactivations, and seat updates"),
)

#: The spec's "Tracked Actions" tables: (label, section heading, when it is recorded).
SPEC_ACTIONS = (
    ('Lead Created', 'Leads', 'A new lead is added to the organization'),
    ('Lead Updated', 'Leads', 'Any lead field is modified (name, company, notes, etc.)'),
    ('Lead Status Changed', 'Leads', 'A lead\'s status is changed (e.g., from "New" to "Contacted")'),
    ('Lead Assigned', 'Leads', 'A lead is assigned or reassigned to a team member'),
    ('Lead Deleted', 'Leads', 'A single lead is deleted'),
    ('Lead Bulk Deleted', 'Leads', 'Multiple leads are deleted at once'),
    ('Lead Bulk Status Changed', 'Leads', 'The status of multiple leads is changed at once'),
    ('Client Created', 'Clients', 'A new client is added to the organization'),
    ('Client Updated', 'Clients', 'Any client field is modified'),
    ('Client Status Changed', 'Clients', "A client's status is changed"),
    ('Client Deleted', 'Clients', 'A single client is deleted'),
    ('Client Bulk Deleted', 'Clients', 'Multiple clients are deleted at once'),
    ('Client Bulk Status Changed', 'Clients', 'The status of multiple clients is changed at once'),
    ('Task Created', 'Tasks', 'A new task is added to the organization'),
    ('Task Updated', 'Tasks', 'Any task field is modified'),
    ('Task Status Changed', 'Tasks', 'A task\'s status is changed (e.g., from "Pending" to "Completed")'),
    ('Task Deleted', 'Tasks', 'A single task is deleted'),
    ('Task Bulk Deleted', 'Tasks', 'Multiple tasks are deleted at once'),
    ('Task Bulk Status Changed', 'Tasks', 'The status of multiple tasks is changed at once'),
    ('Task Bulk Assignee Changed', 'Tasks', 'The assignee of multiple tasks is changed at once'),
    ('Task Bulk Client Changed', 'Tasks', 'The client of multiple tasks is changed at once'),
    ('Timesheet Created', 'Timesheets', 'A new timesheet entry is added'),
    ('Timesheet Updated', 'Timesheets', 'A timesheet entry is modified'),
    ('Timesheet Deleted', 'Timesheets', 'A single timesheet entry is deleted'),
    ('Timesheet Bulk Deleted', 'Timesheets', 'Multiple timesheet entries are deleted at once'),
    ('Timesheet Week Saved', 'Timesheets', 'A full week of timesheet entries is saved via the weekly grid'),
    ('Member Invited', 'Members', 'An invitation email is sent to a new team member'),
    ('Member Joined', 'Members', 'A member accepts an invitation and joins the organization'),
    ('Member Removed', 'Members', 'A member is removed from the organization'),
    ('Member Role Changed', 'Members', 'A member\'s role is changed (e.g., from "Member" to "Admin")'),
    ('Invitation Cancelled', 'Members', 'A pending invitation is cancelled before being accepted'),
    ('Organization Updated', 'Organization', 'The organization name or logo is changed'),
    ('Organization Deleted', 'Organization', 'The organization is permanently deleted'),
    ('File Created', 'Files', 'A file is uploaded to the organization'),
    ('File Updated', 'Files', "A file's name or description is modified"),
    ('File Deleted', 'Files', 'A single file is deleted'),
    ('File Bulk Deleted', 'Files', 'Multiple files are deleted at once'),
    ('File Embedding Completed', 'Files', 'A file has been successfully parsed, embedded, and summarized by AI'),
    ('File Embedding Failed', 'Files', 'AI processing of a file failed (parsing, embedding, or summarization error)'),
    ('File Embedding Reprocessed', 'Files', 'A file was manually queued for AI reprocessing'),
    ('File Bulk Reprocessed', 'Files', 'Bulk reprocessed AI embeddings for files'),
    ('Note Created', 'Notes', 'A new note is created'),
    ('Note Updated', 'Notes', "A note's content or settings are modified"),
    ('Note Deleted', 'Notes', 'A single note is deleted'),
    ('Note Bulk Deleted', 'Notes', 'Multiple notes are deleted at once'),
    ('Note Reprocessed', 'Notes', 'AI embedding is reprocessed for a failed note'),
    ('Note Bulk Reprocessed', 'Notes', 'Bulk reprocessed AI embeddings for notes'),
    ('Note Tag Created', 'Note Tags', 'A note tag was created'),
    ('Note Tag Deleted', 'Note Tags', 'A note tag was deleted'),
    ('API Key Created', 'API Keys', 'A new API key is generated'),
    ('API Key Revoked', 'API Keys', 'An existing API key is revoked'),
    ('Event Created', 'Events', 'A new event is added to the organization'),
    ('Event Updated', 'Events', 'Any event field is modified'),
    ('Event Deleted', 'Events', 'An event is deleted'),
    ('Event Bulk Deleted', 'Events', 'Multiple events are deleted at once'),
    ('Event Bulk Assignee Changed', 'Events', 'The assignee of multiple events is changed at once'),
    ('Event Bulk Client Changed', 'Events', 'The client of multiple events is changed at once'),
    ('Meeting Created', 'Meetings', 'A new meeting is created'),
    ('Meeting Updated', 'Meetings', 'Any meeting field is modified'),
    ('Meeting Canceled', 'Meetings', 'A meeting is canceled'),
    ('Meeting Approved', 'Meetings', 'A pending meeting is approved'),
    ('Meeting Rejected', 'Meetings', 'A pending meeting is rejected'),
    ('Meeting Deleted', 'Meetings', 'A single meeting is deleted'),
    ('Meeting Bulk Deleted', 'Meetings', 'Multiple meetings are deleted at once'),
    ('Meeting Bulk Client Changed', 'Meetings', 'The client of multiple meetings is changed at once'),
    ('Subscription Canceled', 'Subscription & Billing', 'A subscription is set to cancel at the end of the billing period'),
    ('Subscription Reactivated', 'Subscription & Billing', 'A previously canceled subscription is reactivated'),
    ('Plan Changed', 'Subscription & Billing', 'The subscription plan is upgraded or downgraded'),
    ('Seats Updated', 'Subscription & Billing', 'The number of seats in the subscription is changed'),
)

#: Spec section headings that are not category names.
SECTION_TO_CATEGORY = {"Note Tags": "Notes", "Subscription & Billing": "Subscription"}

#: Labels the spec's color rule names explicitly, besides "... Created" and "... Deleted".
EXTRA_CREATIONS = {"Member Invited", "Member Joined"}
EXTRA_DELETIONS = {
    "Member Removed",
    "Invitation Cancelled",
    "API Key Revoked",
    "Meeting Canceled",
    "Subscription Canceled",
    "Organization Deleted",
}


def spec_category(section: str) -> str:
    """The category a spec section's actions belong to."""
    return SECTION_TO_CATEGORY.get(section, section)


def spec_kind(label: str) -> Kind:
    """The kind the spec's color rule gives a label."""
    if label.endswith(" Created") or label in EXTRA_CREATIONS:
        return Kind.CREATE
    if label.endswith((" Deleted", " Bulk Deleted")) or label in EXTRA_DELETIONS:
        return Kind.DELETE
    return Kind.UPDATE


BUILTIN = ActionRegistry()
ACTIONS_BY_LABEL: dict[str, ActionType] = {a.label: a for a in BUILTIN}


class TestSpecData:
    """The copied spec data is what the spec says (guards against typos in this file)."""

    def test_sixty_nine_actions(self) -> None:
        """The spec lists 69 tracked actions, no label twice."""
        assert len(SPEC_ACTIONS) == 69
        assert len({label for label, _, _ in SPEC_ACTIONS}) == 69

    def test_every_section_maps_to_a_category(self) -> None:
        """Every section heading is a category of the category table, after the two renames."""
        names = [name for name, _ in SPEC_CATEGORIES]
        assert set() == {spec_category(s) for _, s, _ in SPEC_ACTIONS} - set(names)


class TestCategories:
    """Categories: names, descriptions and order."""

    def test_names_in_spec_order(self) -> None:
        """The built-in categories are the spec's twelve, in the order of its table."""
        assert tuple(name for name, _ in SPEC_CATEGORIES) == BUILTIN.categories

    def test_descriptions(self) -> None:
        """Each category describes what it tracks in the spec's words."""
        expected = dict(SPEC_CATEGORIES)
        actual = {name: BUILTIN.category_description(name) for name in BUILTIN.categories}
        assert expected == actual

    def test_module_constant_matches_registry(self) -> None:
        """``catalogue.CATEGORIES`` is what the registry was built from."""
        assert tuple(name for name, _ in CATEGORIES) == BUILTIN.categories

    def test_each_registry_gets_its_own_copy(self) -> None:
        """Registering into one built-in registry leaves a fresh one untouched."""
        mine = ActionRegistry()
        mine.add_category("Billing")
        mine.register("invoice.paid", category="Billing")
        fresh = ActionRegistry()
        assert (len(fresh), "invoice.paid" in fresh, "Billing" in fresh.categories) == (
            69,
            False,
            False,
        )


class TestActions:
    """Every action of the spec is registered exactly once, with the right fields."""

    def test_exactly_the_spec_labels(self) -> None:
        """The registry holds exactly the 69 labels of the spec, each once."""
        labels = [a.label for a in BUILTIN]
        assert len(BUILTIN) == 69
        assert len(labels) == len(set(labels))
        assert {label for label, _, _ in SPEC_ACTIONS} == set(labels)

    @pytest.mark.parametrize(("label", "section", "when"), SPEC_ACTIONS)
    def test_category(self, label: str, section: str, when: str) -> None:
        """Each action is in the category of its spec section."""
        assert spec_category(section) == ACTIONS_BY_LABEL[label].category

    @pytest.mark.parametrize(("label", "section", "when"), SPEC_ACTIONS)
    def test_when_recorded(self, label: str, section: str, when: str) -> None:
        """Each action says when it is recorded in the spec's words."""
        assert when == ACTIONS_BY_LABEL[label].when

    @pytest.mark.parametrize(("label", "section", "when"), SPEC_ACTIONS)
    def test_kind_and_color(self, label: str, section: str, when: str) -> None:
        """Creations are green, deletions red, everything else gray, by the spec's rule."""
        action = ACTIONS_BY_LABEL[label]
        expected = spec_kind(label)
        colors = {Kind.CREATE: "green", Kind.DELETE: "red", Kind.UPDATE: "gray"}
        assert (expected, colors[expected]) == (action.kind, action.color)

    def test_actions_listed_in_spec_order_within_each_category(self) -> None:
        """Within a category, actions come in the spec's order (Note Tags after Notes)."""
        for name, _ in SPEC_CATEGORIES:
            expected = [label for label, s, _ in SPEC_ACTIONS if spec_category(s) == name]
            assert expected == [a.label for a in BUILTIN.actions_in(name)]

    def test_color_counts(self) -> None:
        """The rule yields 17 green, 22 red and 30 gray labels."""
        colors = [a.color for a in BUILTIN]
        assert (colors.count("green"), colors.count("red"), colors.count("gray")) == (12, 23, 34)

    def test_keys_are_dotted_snake_case(self) -> None:
        """Every key reads ``noun.verb`` in lower snake case, and all keys are distinct."""
        keys = [a.key for a in BUILTIN]
        assert [k for k in keys if not re.fullmatch(r"[a-z_]+\.[a-z_]+", k)] == []
        assert len(keys) == len(set(keys)) == len(ACTIONS)


ADA = Actor("u1", "Ada Lovelace")


class TestBuiltinDescriptions:
    """Every built-in action renders a clean default description."""

    @pytest.mark.parametrize("action", list(BUILTIN), ids=lambda a: a.key)
    @pytest.mark.parametrize(
        "target",
        [None, Target("thing", "7"), Target("thing", "7", "Acme Corp")],
        ids=["no-target", "no-label", "label"],
    )
    @pytest.mark.parametrize(
        "metadata", [None, {"count": 12}, {"ids": ["a"]}], ids=["no-count", "12", "one-id"]
    )
    @pytest.mark.parametrize(
        "changes", [None, {"status": ("New", "Contacted")}], ids=["no-changes", "changes"]
    )
    def test_renders_cleanly(
        self,
        action: ActionType,
        target: Target | None,
        metadata: dict[str, Any] | None,
        changes: dict[str, tuple[Any, Any]] | None,
    ) -> None:
        """A description starts with the actor; no doubled/dangling spaces, empty parts, None."""
        text = action.describe(ADA, target, changes, metadata)
        assert text.startswith("Ada Lovelace ")
        assert text == text.strip()
        assert "  " not in text
        assert "“”" not in text
        assert "()" not in text
        assert "None" not in text
        assert not re.search(r"\b(the|of|for|a|an|to|from|by)$", text), text

    @pytest.mark.parametrize(
        ("key", "target", "changes", "metadata", "expected"),
        [
            ("lead.created", Target("lead", "1", "Acme Corp"), None, None,
             "Ada Lovelace created lead “Acme Corp”"),
            ("lead.bulk_deleted", None, None, {"count": 12}, "Ada Lovelace deleted 12 leads"),
            ("timesheet.bulk_deleted", None, None, {"count": 3},
             "Ada Lovelace deleted 3 timesheet entries"),
            ("note_tag.deleted", Target("note_tag", "5", "urgent"), None, None,
             "Ada Lovelace deleted note tag “urgent”"),
            ("member.role_changed", Target("member", "u2", "Grace Hopper"),
             {"role": ("Member", "Admin")}, None,
             "Ada Lovelace changed member “Grace Hopper” role from Member to Admin"),
            ("member.joined", None, None, None, "Ada Lovelace joined the organization"),
            ("member.invited", Target("member", "i1", "grace@example.com"), None, None,
             "Ada Lovelace invited member “grace@example.com”"),
            ("member.invited", None, None, None, "Ada Lovelace invited member"),
            ("invitation.cancelled", Target("invitation", "i1", "grace@example.com"), None,
             None, "Ada Lovelace cancelled invitation “grace@example.com”"),
            ("invitation.cancelled", None, None, None, "Ada Lovelace cancelled invitation"),
            ("subscription.plan_changed", None, None, None,
             "Ada Lovelace changed the subscription"),
            ("lead.deleted", Target("lead", "42"), None, None, "Ada Lovelace deleted lead #42"),
            ("subscription.plan_changed", None, {"plan": ("Pro", "Team")}, None,
             "Ada Lovelace changed the subscription plan from Pro to Team"),
            ("subscription.seats_updated", None, {"seats": (5, 10)}, None,
             "Ada Lovelace updated the subscription seats from 5 to 10"),
            ("api_key.revoked", Target("api_key", "k1", "CI key"), None, None,
             "Ada Lovelace revoked API key “CI key”"),
            ("file.bulk_reprocessed", None, None, {"ids": ["a", "b"]},
             "Ada Lovelace queued 2 files for reprocessing"),
        ],
    )
    def test_examples(
        self,
        key: str,
        target: Target | None,
        changes: dict[str, tuple[Any, Any]] | None,
        metadata: dict[str, Any] | None,
        expected: str,
    ) -> None:
        """Representative built-in actions read as the product shows them."""
        assert expected == BUILTIN.get(key).describe(ADA, target, changes, metadata)
