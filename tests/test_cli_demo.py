"""`activitylog demo`: what it shows, what it refuses, and the activity it simulates."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from activitylog import ActivityLog, Actor, Role, demo
from test_cli import (
    ANSI,
    ORG,
    OWNER,
    run,
)


class TestDemo:
    def test_demo_shows_what_an_owner_of_the_main_org_sees(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """The demo prints the first page, the categories, the date buckets and what to try."""
        db = tmp_path / "d.db"
        code, out, err = run(capsys, "demo", "--db", str(db))
        assert code == 0, err
        assert out.startswith(f"Created {db}: ")
        assert "Activity Log of Acme Corp (acme), as its Owner Olivia Bennett sees it" in out
        assert re.search(r"^ACTION +USER +DESCRIPTION +DATE$", out, re.MULTILINE)
        assert re.search(r"(minutes?|hours?) ago$", out, re.MULTILINE)
        for category in ("Leads", "Clients", "Tasks", "Timesheets", "Files", "Notes", "Events",
                         "Meetings", "Members", "Organization", "API Keys", "Subscription"):
            assert re.search(rf"^  {category} +[\d,]+$", out, re.MULTILINE), category
        for bucket in ("Today", "This week", "This month", "Older"):
            assert re.search(rf"^  {bucket} +[\d,]+  \w", out, re.MULTILINE), bucket
        assert "The buckets overlap, so they do not add up to the total" in out
        assert "Older" in out and "before this moment one calendar month ago" in out
        assert f"activitylog verify --db {db}" in out
        assert not ANSI.search(out)
        assert err == ""

    def test_demo_counts_match_the_database(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """The numbers the demo prints are the database's own counts."""
        db = tmp_path / "d.db"
        code, out, _ = run(capsys, "demo", "--db", str(db), "--seed", "3")
        assert code == 0
        with ActivityLog.open(f"sqlite:///{db}") as log:
            total = sum(len(list(log.store.chain(org))) for org in log.store.org_ids())
            cats = log.categories(ORG, viewer=OWNER)
            older = log.query(ORG, viewer=OWNER).date("older").count()
        assert f": {total:,} entries in 3 organizations" in out
        for name, count in cats:
            assert re.search(rf"^  {name} +{count:,}$", out, re.MULTILINE)
        assert re.search(rf"^  Older +{older:,}  ", out, re.MULTILINE)

    def test_running_again_shows_the_earlier_demo(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """A second `demo` on the same path shows that database again, unchanged."""
        db = tmp_path / "d.db"
        assert run(capsys, "demo", "--db", str(db))[0] == 0
        before = db.read_bytes()
        code, out, _ = run(capsys, "demo", "--db", str(db), "--seed", "99")
        assert code == 0
        assert out.startswith(f"Using the demo database {db} made earlier")
        assert "Activity Log of Acme Corp" in out
        assert db.read_bytes() == before

    def test_other_files_are_never_replaced(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """demo refuses a file that is not a demo database, with or without --fresh."""
        db = tmp_path / "d.db"
        db.write_text("precious")
        for extra in ([], ["--fresh"]):
            code, _, err = run(capsys, "demo", "--db", str(db), *extra)
            assert code == 2
            assert "not an activitylog database" in err
            assert "refusing to replace it" in err
        assert db.read_text() == "precious"

    def test_an_empty_database_is_filled_only_with_fresh(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """An empty activitylog database needs --fresh to become the demo."""
        db = tmp_path / "d.db"
        ActivityLog.open(f"sqlite:///{db}").close()
        code, _, err = run(capsys, "demo", "--db", str(db))
        assert code == 2
        assert "empty activitylog database; pass --fresh" in err
        assert run(capsys, "demo", "--db", str(db), "--fresh")[0] == 0

    def test_fresh_replaces_a_demo_database(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """--fresh rebuilds an earlier demo database from scratch."""
        db = tmp_path / "d.db"
        assert run(capsys, "demo", "--db", str(db), "--seed", "1")[0] == 0
        with ActivityLog.open(f"sqlite:///{db}") as log:
            before = [e.id for e in log.store.chain(ORG)]
        assert run(capsys, "demo", "--db", str(db), "--seed", "2", "--fresh")[0] == 0
        with ActivityLog.open(f"sqlite:///{db}") as log:
            after = [e.id for e in log.store.chain(ORG)]
            assert log.verify(ORG).ok
        assert set(before).isdisjoint(after)

    def test_fresh_never_replaces_a_database_with_other_organizations(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """A real activitylog database is not a demo one: --fresh refuses to delete it."""
        db = tmp_path / "real.db"
        with ActivityLog.open(f"sqlite:///{db}") as log:
            log.record("lead.created", org_id="customer-1", actor=Actor("u1", "Ada"))
        code, _, err = run(capsys, "demo", "--db", str(db), "--fresh")
        assert code == 2
        assert "customer-1" in err and "refusing to replace it" in err
        with ActivityLog.open(f"sqlite:///{db}") as log:
            assert log.store.org_ids() == ["customer-1"]

    def test_missing_folder_is_a_clear_error(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """demo into a folder that does not exist fails with one line."""
        code, _, err = run(capsys, "demo", "--db", str(tmp_path / "nope" / "d.db"))
        assert code == 2
        assert "does not exist" in err


class TestDemoData:
    NOW = datetime(2024, 5, 15, 14, 30, tzinfo=timezone.utc)

    @staticmethod
    def content(log: ActivityLog) -> list[tuple[object, ...]]:
        """Everything about the entries except ids and hashes (which carry randomness)."""
        return [
            (e.org_id, e.seq, e.action, e.actor, e.description, e.occurred_at, e.source,
             e.api_key, e.target, e.changes, dict(e.metadata))
            for org in log.store.org_ids() for e in log.store.chain(org)
        ]

    def test_same_seed_same_activity(self) -> None:
        """populate() is deterministic given the seed and the end time."""
        first, second, other = ActivityLog(), ActivityLog(), ActivityLog()
        demo.populate(first, seed=11, now=self.NOW)
        demo.populate(second, seed=11, now=self.NOW)
        demo.populate(other, seed=12, now=self.NOW)
        assert self.content(first) == self.content(second)
        assert self.content(first) != self.content(other)

    @pytest.mark.parametrize("seed", [7, 8])
    def test_every_action_and_source_is_exercised(self, seed: int) -> None:
        """The demo touches every catalogue action, every category and every source."""
        log = ActivityLog()
        demo.populate(log, seed=seed, now=self.NOW)
        main = list(log.store.chain(ORG))
        everything = [e for org in log.store.org_ids() for e in log.store.chain(org)]
        assert {a.key for a in log.registry} - {e.action for e in main} == {
            "organization.deleted"
        }
        assert "organization.deleted" in {e.action for e in everything}
        assert {e.category for e in main} == set(log.registry.categories)
        assert {e.source.value for e in main} == {"dashboard", "api", "system"}
        assert {e.actor.name for e in main if e.source.value == "system"} == {"AI pipeline"}
        assert all(e.api_key is not None for e in main if e.source.value == "api")
        assert log.store.org_ids() == demo.demo_org_ids()

    def test_activity_spans_ninety_days_ending_now(self) -> None:
        """Entries run from about 90 days ago up to the last hours, in chain order."""
        log = ActivityLog()
        demo.populate(log, seed=7, now=self.NOW)
        main = list(log.store.chain(ORG))
        times = [e.occurred_at for e in main]
        assert times == sorted(times)
        assert self.NOW - timedelta(days=90) <= times[0] < self.NOW - timedelta(days=89)
        assert self.NOW - timedelta(hours=1) < times[-1] <= self.NOW
        weekdays = {t.date() for t in times}
        assert len(weekdays) > 60

    def test_roles_decide_who_does_admin_work(self) -> None:
        """Members, invitations, API keys and billing are handled by Owners and Admins only."""
        log = ActivityLog()
        demo.populate(log, seed=7, now=self.NOW)
        admins = {p.id for _, p in demo.iter_people() if p.role in (Role.OWNER, Role.ADMIN)}
        admin_work = {"Organization", "API Keys", "Subscription"}
        for org in log.store.org_ids():
            for e in log.store.chain(org):
                if e.category in admin_work or e.action in ("member.invited", "member.removed"):
                    assert e.actor.id in admins, e

    def test_populate_restores_the_clock(self) -> None:
        """The log's own clock is back in place after the simulation."""
        log = ActivityLog()
        clock = log.clock
        demo.populate(log, seed=7, now=self.NOW)
        assert log.clock is clock
