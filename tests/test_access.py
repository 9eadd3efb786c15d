"""Who may read an organization's Activity Log: its Owners and Admins, or a host's own policy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from activitylog import (
    ActivityLog,
    ActivityLogError,
    Actor,
    ConfigurationError,
    InvalidQuery,
    PermissionDenied,
    Role,
    Viewer,
    owners_and_admins,
)

NOW = datetime(2024, 5, 15, 12, 0, tzinfo=timezone.utc)
ADA = Actor("u1", "Ada Lovelace")

#: Every way of reading the log, as a function of (log, viewer) returning something comparable.
READS: dict[str, Callable[[ActivityLog, Any], Any]] = {
    "query": lambda log, viewer: log.query("acme", viewer=viewer).page(10).entries,
    "count": lambda log, viewer: log.query("acme", viewer=viewer).count(),
    "categories": lambda log, viewer: log.categories("acme", viewer=viewer),
}


@pytest.fixture
def log() -> ActivityLog:
    """A memory-backed log with two entries in acme and one in globex."""
    log = ActivityLog(clock=lambda: NOW)
    log.record("lead.created", org_id="acme", actor=ADA)
    log.record("api_key.created", org_id="acme", actor=ADA)
    log.record("lead.created", org_id="globex", actor=ADA)
    return log


class TestDefaultPolicy:
    """Owners and Admins of the same organization, nobody else."""

    @pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, "owner", "admin"])
    @pytest.mark.parametrize("read", list(READS))
    def test_owner_and_admin_allowed(self, log: ActivityLog, role: Any, read: str) -> None:
        """Owners and Admins of the org read its log, and only its own entries."""
        result = READS[read](log, Viewer("u1", "acme", role))
        expected = {"query": 2, "count": 2, "categories": [("Leads", 1), ("API Keys", 1)]}[read]
        assert (len(result) if read == "query" else result) == expected

    @pytest.mark.parametrize(
        "viewer",
        [Viewer("u2", "acme", Role.MEMBER), Viewer("u2", "acme", "member"),
         Viewer("u3", "globex", Role.OWNER), Viewer("u3", "globex", "admin"),
         Viewer("u4", "acme", "guest"), Viewer("u4", "acme", "")],
        ids=["member", "member-str", "other-owner", "other-admin", "guest", "no-role"],
    )
    @pytest.mark.parametrize("read", list(READS))
    def test_others_denied(self, log: ActivityLog, viewer: Viewer, read: str) -> None:
        """Members, unknown roles and other organizations' Owners/Admins are denied."""
        with pytest.raises(PermissionDenied):
            READS[read](log, viewer)

    @pytest.mark.parametrize("viewer", [None, "u1", {"user_id": "u1", "org_id": "acme",
                                                     "role": "owner"}])
    @pytest.mark.parametrize("read", list(READS))
    def test_no_viewer_denied(self, log: ActivityLog, viewer: Any, read: str) -> None:
        """Reading without a Viewer object is denied."""
        with pytest.raises(PermissionDenied, match="needs a Viewer"):
            READS[read](log, viewer)

    def test_denial_message(self, log: ActivityLog) -> None:
        """The error names the user, their role and org, and the org they asked for."""
        with pytest.raises(PermissionDenied) as info:
            log.query("acme", viewer=Viewer("u2", "acme", Role.MEMBER))
        assert str(info.value) == (
            "user 'u2' (member of org 'acme') may not read the Activity Log of org 'acme'; "
            "only its Owners and Admins can"
        )

    def test_error_classes(self) -> None:
        """PermissionDenied is an ActivityLogError and a PermissionError."""
        assert issubclass(PermissionDenied, ActivityLogError)
        assert issubclass(PermissionDenied, PermissionError)

    def test_policy_function(self) -> None:
        """``owners_and_admins`` answers directly."""
        assert [owners_and_admins(Viewer("u", "acme", r), "acme") for r in Role] == [
            True, True, False,
        ]
        assert owners_and_admins(Viewer("u", "acme", "owner"), "globex") is False

    def test_verify_checks_a_given_viewer(self, log: ActivityLog) -> None:
        """``verify`` refuses a viewer who may not read the log, and runs for an operator."""
        with pytest.raises(PermissionDenied):
            log.verify("acme", viewer=Viewer("u2", "acme", "member"))
        assert log.verify("acme", viewer=Viewer("u1", "acme", "admin")).ok
        assert log.verify("acme").ok


class TestCustomPolicy:
    """Hosts with their own roles pass their own policy."""

    @staticmethod
    def auditors(viewer: Viewer, org_id: str) -> bool:
        """Auditors may read any org; owners only their own."""
        return viewer.role == "auditor" or (viewer.org_id == org_id and viewer.role == "owner")

    def test_custom_roles(self) -> None:
        """A custom policy decides with the host's own roles."""
        log = ActivityLog(clock=lambda: NOW, policy=self.auditors)
        log.record("lead.created", org_id="acme", actor=ADA)
        assert log.query("acme", viewer=Viewer("a1", "audit-firm", "auditor")).count() == 1
        assert log.query("acme", viewer=Viewer("u1", "acme", "owner")).count() == 1
        with pytest.raises(PermissionDenied):
            log.query("acme", viewer=Viewer("u1", "acme", "admin"))
        with pytest.raises(PermissionDenied):
            log.categories("acme", viewer=Viewer("u1", "acme", "admin"))

    def test_policy_receives_viewer_and_org(self) -> None:
        """The policy is called with the viewer and the org asked for."""
        calls: list[tuple[Viewer, str]] = []

        def policy(viewer: Viewer, org_id: str) -> bool:
            calls.append((viewer, org_id))
            return True

        log = ActivityLog(clock=lambda: NOW, policy=policy)
        viewer = Viewer("u1", "x", "anything")
        log.query("acme", viewer=viewer)
        log.categories("globex", viewer=viewer)
        assert calls == [(viewer, "acme"), (viewer, "globex")]

    def test_denying_policy(self) -> None:
        """A policy that denies everyone locks even Owners out."""
        log = ActivityLog(clock=lambda: NOW, policy=lambda viewer, org_id: False)
        with pytest.raises(PermissionDenied):
            log.query("acme", viewer=Viewer("u1", "acme", Role.OWNER))

    def test_policy_through_open(self) -> None:
        """``ActivityLog.open`` accepts the policy too."""
        log = ActivityLog.open("memory://", policy=self.auditors, clock=lambda: NOW)
        log.record("lead.created", org_id="acme", actor=ADA)
        assert log.query("acme", viewer=Viewer("a1", "firm", "auditor")).count() == 1


class TestOnlyTrueGrants:
    """Only a policy answer that ``is True`` grants access; odd policies are refused up front."""

    @pytest.mark.parametrize("answer", ["deny", "allow", 1, [True], object(), None, 0.5])
    @pytest.mark.parametrize("read", list(READS))
    def test_truthy_answers_are_refusals(self, answer: Any, read: str) -> None:
        """A policy returning anything but True (a string, a number, an object) denies."""
        log = ActivityLog(clock=lambda: NOW, policy=lambda viewer, org_id: answer)
        with pytest.raises(PermissionDenied):
            READS[read](log, Viewer("u1", "acme", Role.OWNER))

    def test_a_coroutine_answer_is_a_refusal_and_is_closed(self) -> None:
        """A sync policy that returns a coroutine denies, and the coroutine is closed (no
        "never awaited" warning)."""

        async def allow() -> bool:
            return True

        log = ActivityLog(clock=lambda: NOW, policy=lambda viewer, org_id: allow())
        with pytest.raises(PermissionDenied):
            log.query("acme", viewer=Viewer("u1", "acme", Role.OWNER))

    def test_async_policies_are_refused_when_the_log_is_built(self) -> None:
        """An ``async def`` policy, or an object with an async ``__call__``, is refused by the
        constructor and by ``open()`` with ConfigurationError."""

        async def policy(viewer: Viewer, org_id: str) -> bool:
            return True

        class AsyncPolicy:
            async def __call__(self, viewer: Viewer, org_id: str) -> bool:
                return True

        for bad in (policy, AsyncPolicy()):
            with pytest.raises(ConfigurationError, match="synchronous"):
                ActivityLog(policy=bad)
            with pytest.raises(ConfigurationError, match="synchronous"):
                ActivityLog.open("memory://", policy=bad)

    @pytest.mark.parametrize("bad", ["deny", None, 42, True, Viewer])
    def test_non_callables_are_refused_when_the_log_is_built(self, bad: Any) -> None:
        """A policy that is not a function raises ConfigurationError naming its type."""
        with pytest.raises(ConfigurationError, match="policy must be a function"):
            ActivityLog(policy=bad)

    def test_callable_objects_are_fine(self) -> None:
        """An object with a synchronous ``__call__`` is a policy."""

        class Everyone:
            def __call__(self, viewer: Viewer, org_id: str) -> bool:
                return True

        log = ActivityLog(clock=lambda: NOW, policy=Everyone())
        assert log.query("acme", viewer=Viewer("u1", "other", "member")).count() == 0


class TestViewer:
    """Viewer fields are checked when it is made."""

    @pytest.mark.parametrize(
        "fields", [("", "acme", "owner"), ("u1", None, "owner"), ("u1", "acme", None),
                   ("u1", "acme", 3), (None, "acme", "owner"), ("u1", 3, "owner")],
    )
    def test_invalid(self, fields: tuple[Any, ...]) -> None:
        """Empty or wrong-typed fields raise InvalidQuery."""
        with pytest.raises(InvalidQuery, match="Viewer"):
            Viewer(*fields)

    def test_integer_user_id(self) -> None:
        """An integer user id is kept as text."""
        assert Viewer(7, "acme", "owner").user_id == "7"


class TestRecordingIsUnrestricted:
    """Access control guards reading only."""

    def test_any_member_action_is_recorded(self, log: ActivityLog) -> None:
        """A Member's actions are recorded without any viewer check."""
        member = Actor("u2", "Grace Hopper")
        entry = log.record("lead.deleted", org_id="acme", actor=member)
        owner = Viewer("u1", "acme", "owner")
        assert [e.id for e in log.query("acme", viewer=owner).search("Grace").page(5)] == [
            entry.id
        ]

    def test_denying_policy_does_not_block_recording(self) -> None:
        """Even a policy that denies every read lets entries be recorded."""
        log = ActivityLog(clock=lambda: NOW, policy=lambda viewer, org_id: False)
        with log.context(org_id="acme", actor=ADA):
            log.record("lead.created")
            log.record_many([{"action": "lead.deleted"}])
        assert [e.action for e in log.store.chain("acme")] == ["lead.created", "lead.deleted"]


def test_viewer_is_frozen() -> None:
    """A viewer cannot be altered after the check (e.g. promoted to owner)."""
    viewer = Viewer("u2", "acme", "member")
    with pytest.raises(AttributeError):
        viewer.role = "owner"  # type: ignore[misc]
