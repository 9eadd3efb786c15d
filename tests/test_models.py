"""Value objects: Actor, Target, ApiKeyRef, Kind, Entry (immutability, color, relative time), Page."""

from __future__ import annotations

import copy
import json
import pickle
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from activitylog import (
    ActivityLog,
    Actor,
    ActorKind,
    ApiKeyRef,
    Entry,
    InvalidEntry,
    Kind,
    NaiveDatetime,
    Page,
    Role,
    Source,
    Target,
    Viewer,
)

NOW = datetime(2024, 5, 15, 12, 0, tzinfo=timezone.utc)
ADA = Actor("u1", "Ada Lovelace")
ACME = Target("lead", "42", "Acme Corp")


@pytest.fixture
def log() -> ActivityLog:
    """A memory-backed log whose clock always reads NOW."""
    return ActivityLog(clock=lambda: NOW)


def entry_at(log: ActivityLog, moment: datetime, **fields: Any) -> Entry:
    """A recorded lead deletion that occurred at ``moment``."""
    return log.record(
        "lead.deleted", org_id="acme", actor=ADA, target=ACME, occurred_at=moment, **fields
    )


class TestActor:
    """Actor snapshots."""

    def test_defaults(self) -> None:
        """An actor is a user without avatar unless told otherwise."""
        assert (ADA.id, ADA.name, ADA.avatar_url, ADA.kind) == (
            "u1", "Ada Lovelace", None, ActorKind.USER,
        )

    def test_system_actor(self) -> None:
        """``Actor.system`` makes a system actor with a derived id."""
        bot = Actor.system("AI pipeline")
        assert (bot.id, bot.name, bot.kind) == ("system:ai-pipeline", "AI pipeline",
                                                ActorKind.SYSTEM)
        assert Actor.system("Importer", id="imp-1").id == "imp-1"

    def test_kind_from_string(self) -> None:
        """The kind accepts its string value."""
        assert Actor("s", "Sync", kind="system").kind is ActorKind.SYSTEM

    @pytest.mark.parametrize("kind", ["robot", None, 3, ["user"]])
    def test_unknown_kind(self, kind: Any) -> None:
        """An unknown kind raises InvalidEntry listing the choices."""
        with pytest.raises(InvalidEntry, match=r"unknown actor kind.*user, system"):
            Actor("s", "Sync", kind=kind)

    @pytest.mark.parametrize(
        ("given", "kept"),
        [(42, "42"), (0, "0"), (uuid.UUID(int=7), "00000000-0000-0000-0000-000000000007")],
    )
    def test_integer_and_uuid_ids_are_kept_as_text(self, given: Any, kept: str) -> None:
        """An integer or UUID id (a Django primary key) is kept as text, for actors and keys;
        a bool is not an id."""
        assert Actor(given, "Ada").id == kept
        assert ApiKeyRef(given, "CI").id == kept
        with pytest.raises(InvalidEntry):
            Actor(True, "Ada")

    def test_integer_actor_ids_record_and_filter(self, log: ActivityLog) -> None:
        """An entry recorded by ``Actor(42, ...)`` is found by ``.actor(42)`` and ``.actor("42")``."""
        entry = log.record("lead.created", org_id="acme", actor=Actor(42, "Ada"))
        viewer = Viewer("o", "acme", Role.OWNER)
        assert entry.actor.id == "42"
        assert [e.id for e in log.query("acme", viewer=viewer).actor(42).page()] == [entry.id]
        assert log.query("acme", viewer=viewer).actor("42").count() == 1

    @pytest.mark.parametrize(
        "fields",
        [{"id": "", "name": "Ada"}, {"id": "u1", "name": "  "}, {"id": None, "name": "Ada"},
         {"id": "u1", "name": 7}, {"id": "u1", "name": "A\x00da"},
         {"id": "u1", "name": "Ada", "avatar_url": 3},
         {"id": "u1", "name": "\ud800"}],
    )
    def test_invalid(self, fields: dict[str, Any]) -> None:
        """Empty, non-string, NUL-containing or non-Unicode fields raise InvalidEntry."""
        with pytest.raises(InvalidEntry):
            Actor(**fields)

    def test_frozen(self) -> None:
        """An actor cannot be changed after creation."""
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            ADA.name = "Grace"  # type: ignore[misc]


class TestTarget:
    """Target snapshots."""

    def test_integer_id_becomes_text(self) -> None:
        """An integer id is kept as its decimal text."""
        assert Target("lead", 42).id == "42"  # type: ignore[arg-type]

    def test_uuid_id_becomes_text(self) -> None:
        """A UUID id is kept as its canonical text."""
        value = uuid.UUID("12345678-1234-5678-1234-567812345678")
        assert Target("lead", value).id == "12345678-1234-5678-1234-567812345678"  # type: ignore[arg-type]

    @pytest.mark.parametrize("bad", [None, True, "", "  ", object(), 1.5])
    def test_bad_id(self, bad: Any) -> None:
        """None, booleans, blanks and arbitrary objects are refused, not stringified."""
        with pytest.raises(InvalidEntry):
            Target("lead", bad)

    def test_label_optional(self) -> None:
        """A target may have no label."""
        assert Target("lead", "1").label is None

    def test_bad_label(self) -> None:
        """A non-string label is refused."""
        with pytest.raises(InvalidEntry):
            Target("lead", "1", 5)  # type: ignore[arg-type]


class TestApiKeyRef:
    """API key snapshots."""

    def test_fields(self) -> None:
        """An API key reference keeps id and name."""
        assert attrs.astuple(ApiKeyRef("k1", "CI key")) == ("k1", "CI key")

    @pytest.mark.parametrize(("key_id", "name"), [("", "CI"), ("k1", ""), ("k1", None)])
    def test_invalid(self, key_id: Any, name: Any) -> None:
        """Both fields must be non-empty strings."""
        with pytest.raises(InvalidEntry):
            ApiKeyRef(key_id, name)


class TestKind:
    """Kinds and their colors."""

    def test_colors(self) -> None:
        """Creations are green, updates gray, deletions red."""
        assert [k.color for k in Kind] == ["green", "gray", "red"]

    def test_string_values(self) -> None:
        """Kinds and sources compare equal to their string values."""
        assert (Kind("delete"), Source("api"), Kind.CREATE == "create") == (
            Kind.DELETE, Source.API, True,
        )


class TestEntryImmutability:
    """An entry reads the same forever."""

    def test_frozen(self, log: ActivityLog) -> None:
        """Assigning to any field raises."""
        entry = entry_at(log, NOW)
        for field in ("description", "org_id", "metadata", "seq", "hash"):
            with pytest.raises(attrs.exceptions.FrozenInstanceError):
                setattr(entry, field, "x")

    def test_metadata_read_only(self, log: ActivityLog) -> None:
        """Metadata cannot be changed through the entry."""
        entry = entry_at(log, NOW, metadata={"reason": "duplicate"})
        with pytest.raises(TypeError):
            entry.metadata["reason"] = "other"  # type: ignore[index]
        with pytest.raises(TypeError):
            del entry.metadata["reason"]  # type: ignore[attr-defined]
        assert dict(entry.metadata) == {"reason": "duplicate"}

    def test_metadata_is_a_copy(self, log: ActivityLog) -> None:
        """Changing the dict passed to record() afterwards does not change the entry."""
        given = {"reason": "duplicate", "ids": ["1"]}
        entry = entry_at(log, NOW, metadata=given)
        given["reason"] = "other"
        given["ids"].append("2")  # type: ignore[attr-defined]
        assert dict(entry.metadata) == {"reason": "duplicate", "ids": ["1"]}

    def test_nested_metadata_read_only(self, log: ActivityLog) -> None:
        """Lists and objects inside metadata refuse every kind of change."""
        entry = entry_at(log, NOW, metadata={"ids": ["1"], "by": {"rule": "dedupe"}})
        ids, by = entry.metadata["ids"], entry.metadata["by"]
        attempts = [
            lambda: ids.append("2"), lambda: ids.extend(["2"]), lambda: ids.insert(0, "2"),
            lambda: ids.pop(), lambda: ids.remove("1"), lambda: ids.clear(),
            lambda: ids.sort(), lambda: ids.reverse(), lambda: ids.__setitem__(0, "2"),
            lambda: ids.__delitem__(0), lambda: ids.__iadd__(["2"]), lambda: ids.__imul__(2),
            lambda: by.__setitem__("rule", "x"), lambda: by.__delitem__("rule"),
            lambda: by.update(rule="x"), lambda: by.pop("rule"), lambda: by.popitem(),
            lambda: by.setdefault("new", 1), lambda: by.clear(), lambda: by.__ior__({"a": 1}),
        ]
        for attempt in attempts:
            with pytest.raises(TypeError, match="read-only"):
                attempt()
        assert dict(entry.metadata) == {"ids": ["1"], "by": {"rule": "dedupe"}}

    def test_nested_metadata_behaves_as_plain_values(self, log: ActivityLog) -> None:
        """Frozen nested values equal, encode, copy and pickle like plain lists and dicts."""
        entry = entry_at(log, NOW, metadata={"ids": ["1", "2"], "by": {"rule": "x"}})
        ids = entry.metadata["ids"]
        assert (ids == ["1", "2"], isinstance(ids, list), sorted(ids, reverse=True)) == (
            True, True, ["2", "1"],
        )
        assert json.dumps(dict(entry.metadata)) == '{"ids": ["1", "2"], "by": {"rule": "x"}}'
        for copied in (copy.deepcopy(ids), pickle.loads(pickle.dumps(ids)), ids.copy()):
            copied.append("3")
            assert copied == ["1", "2", "3"]
        assert type(pickle.loads(pickle.dumps(entry.metadata["by"]))) is dict

    def test_reader_cannot_alter_the_stored_log(self, log: ActivityLog) -> None:
        """An entry read back cannot be changed in place, so the chain still verifies."""
        entry_at(log, NOW, metadata={"ids": ["1"]}, changes={"tags": (["a"], ["a", "b"])})
        owner = Viewer("u1", "acme", "owner")
        (read,) = log.query("acme", viewer=owner).page().entries
        for attempt in (lambda: read.metadata["ids"].append("2"),
                        lambda: read.changes["tags"][1].append("c")):  # type: ignore[index]
            with pytest.raises(TypeError):
                attempt()
        assert (next(log.store.chain("acme")).metadata["ids"], log.verify("acme").ok) == (
            ["1"], True,
        )

    def test_changes_read_only(self, log: ActivityLog) -> None:
        """Changes are read-only (old, new) pairs."""
        entry = log.record(
            "lead.status_changed", org_id="acme", actor=ADA, target=ACME,
            changes={"status": ["New", "Contacted"]},
        )
        assert entry.changes == {"status": ("New", "Contacted")}
        with pytest.raises(TypeError):
            entry.changes["status"] = ("a", "b")  # type: ignore[index]

    def test_hashable_and_equal(self, log: ActivityLog) -> None:
        """Entries can be put in sets; an entry equals an identical copy of itself."""
        entry = entry_at(log, NOW, metadata={"k": [1]})
        twin = attrs.evolve(entry)
        assert (entry == twin, len({entry, twin})) == (True, 1)

    def test_evolve_does_not_touch_the_original(self, log: ActivityLog) -> None:
        """``attrs.evolve`` makes a new entry and leaves the original as it was."""
        entry = entry_at(log, NOW)
        changed = attrs.evolve(entry, description="other")
        assert (entry.description, changed.description) == (
            "Ada Lovelace deleted lead “Acme Corp”", "other",
        )
        assert entry != changed


class TestEntryColor:
    """An entry's color follows its action's kind."""

    @pytest.mark.parametrize(
        ("action", "color"),
        [("lead.created", "green"), ("lead.updated", "gray"), ("lead.deleted", "red"),
         ("member.invited", "green"), ("api_key.revoked", "red"), ("meeting.approved", "gray")],
    )
    def test_color(self, log: ActivityLog, action: str, color: str) -> None:
        """The entry is colored like its action."""
        entry = log.record(action, org_id="acme", actor=ADA, target=ACME)
        assert entry.color == color


class TestRelativeTime:
    """``Entry.relative_time``: "2 hours ago", never in the future."""

    @pytest.mark.parametrize(
        ("ago", "expected"),
        [
            (timedelta(0), "just now"),
            (timedelta(milliseconds=999), "just now"),
            (timedelta(seconds=1), "a second ago"),
            (timedelta(seconds=30), "30 seconds ago"),
            (timedelta(minutes=1), "a minute ago"),
            (timedelta(minutes=5), "5 minutes ago"),
            (timedelta(hours=1), "an hour ago"),
            (timedelta(hours=2), "2 hours ago"),
            (timedelta(hours=2, minutes=10), "2 hours ago"),
            (timedelta(days=1), "a day ago"),
            (timedelta(days=3), "3 days ago"),
            (timedelta(days=45), "a month ago"),
            (timedelta(days=800), "2 years ago"),
        ],
    )
    def test_past(self, log: ActivityLog, ago: timedelta, expected: str) -> None:
        """Past moments read as how long ago they were."""
        assert entry_at(log, NOW - ago).relative_time(NOW) == expected

    @pytest.mark.parametrize(
        "ahead", [timedelta(microseconds=1), timedelta(seconds=2), timedelta(minutes=5)],
    )
    def test_slightly_ahead_reads_just_now(self, log: ActivityLog, ahead: timedelta) -> None:
        """A moment ahead of now by clock skew (up to five minutes) reads "just now"."""
        assert entry_at(log, NOW + ahead).relative_time(NOW) == "just now"

    @pytest.mark.parametrize(
        ("ahead", "expected"),
        [
            (timedelta(minutes=5, seconds=1), "in 5 minutes"),
            (timedelta(hours=2), "in 2 hours"),
            (timedelta(days=3), "in 3 days"),
            (timedelta(days=800), "in 2 years"),
        ],
    )
    def test_further_ahead_reads_in(self, log: ActivityLog, ahead: timedelta, expected: str) -> None:
        """A moment beyond clock skew in the future reads "in 3 days", not "just now"."""
        assert entry_at(log, NOW + ahead).relative_time(NOW) == expected

    def test_now_in_another_zone(self, log: ActivityLog) -> None:
        """``now`` may be given in any time zone."""
        now = NOW.astimezone(ZoneInfo("Asia/Tokyo"))
        assert entry_at(log, NOW - timedelta(hours=2)).relative_time(now) == "2 hours ago"

    def test_default_now_is_the_current_time(self, log: ActivityLog) -> None:
        """Without ``now`` the current time is used."""
        moment = datetime.now(timezone.utc) - timedelta(days=3, hours=1)
        assert entry_at(log, moment).relative_time() == "3 days ago"

    @pytest.mark.parametrize("now", ["now", 0, NOW.date()])
    def test_now_of_another_type(self, log: ActivityLog, now: Any) -> None:
        """A ``now`` that is not a datetime raises InvalidEntry naming it."""
        with pytest.raises(InvalidEntry, match="now must be a datetime"):
            entry_at(log, NOW).relative_time(now)

    def test_naive_now(self, log: ActivityLog) -> None:
        """A naive ``now`` raises NaiveDatetime instead of a TypeError."""
        with pytest.raises(NaiveDatetime):
            entry_at(log, NOW).relative_time(datetime(2024, 5, 15, 12))


class TestPage:
    """A page of entries."""

    def test_sequence_like(self, log: ActivityLog) -> None:
        """A page iterates over and counts its entries."""
        entries = (entry_at(log, NOW), entry_at(log, NOW))
        page = Page(entries, "cursor")
        assert (list(page), len(page), page.next_cursor) == (list(entries), 2, "cursor")
