"""Every public entry point answers a wrong type or value with an ``ActivityLogError``.

Hypothesis feeds each argument of each entry point values of every kind (wrong types, empty and
huge values, NaN, NUL, lone surrogates, datetimes at the edges of their range with an offset,
async functions...). A call may succeed, or raise an ``ActivityLogError`` subclass; a bare
``TypeError``, ``ValueError``, ``OverflowError``, ``AttributeError`` or ``UnicodeEncodeError`` is
a bug.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activitylog import (
    ActionRegistry,
    ActivityLog,
    ActivityLogError,
    Actor,
    ApiKeyRef,
    Checkpoint,
    ConfigurationError,
    InvalidEntry,
    InvalidQuery,
    Role,
    Target,
    Viewer,
)

NOW = datetime(2024, 5, 15, 12, 0, tzinfo=timezone.utc)
ADA = Actor("u1", "Ada Lovelace")
OWNER = Viewer("u1", "acme", Role.OWNER)
EAST = timezone(timedelta(hours=14))
WEST = timezone(timedelta(hours=-14))


async def _async_fn(*args: Any) -> bool:
    return True


class _Odd:
    """An object of no expected type, with a repr that says so."""

    def __repr__(self) -> str:
        return "<odd>"


#: Values of every kind, each wrong for most parameters.
HOSTILE: list[Any] = [
    None, True, False, 0, -1, 7, 2**70, -(2**70), 1.5, math.nan, math.inf, -math.inf,
    Decimal("NaN"), "", " ", "x", "\x00", "a\x00b", "\ud800", "é" * 300, b"", b"key",
    bytearray(b"k"), [], ["x"], {}, {"a": 1}, (), set(), _Odd(), object, _async_fn,
    lambda *a: None, datetime(2024, 5, 15, 12, 0), datetime.max.replace(tzinfo=WEST),
    datetime.min.replace(tzinfo=EAST), datetime.max.replace(tzinfo=timezone.utc),
    datetime(1969, 12, 31, tzinfo=timezone.utc), date(2024, 1, 1), timedelta(1),
    uuid.UUID(int=1), ADA, Target("lead", "1"), OWNER, "owner", "memory://", "sqlite://",
    "sqlite:///\x00.db", "postgresql://", "today", "date", "action", "Leads", "lead.created",
]
hostile = st.sampled_from(HOSTILE)

#: Leaks: exceptions that must never escape an entry point unwrapped.
LEAKS = (TypeError, ValueError, OverflowError, AttributeError, UnicodeError, KeyError,
         IndexError, RecursionError)


def answers(call: Callable[[], Any]) -> None:
    """Run ``call``; anything but success or an ActivityLogError fails the test."""
    try:
        result = call()
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    except ActivityLogError:
        pass
    except LEAKS as exc:  # pragma: no cover - what the test exists to catch
        raise AssertionError(f"leaked {type(exc).__name__}: {str(exc)[:200]}") from exc


@pytest.fixture(scope="module")
def log() -> ActivityLog:
    """A memory log with a few entries in acme."""
    log = ActivityLog(clock=lambda: NOW)
    for action in ("lead.created", "lead.deleted", "task.created"):
        log.record(action, org_id="acme", actor=ADA, target=Target("lead", "1"))
    return log


SETTINGS = settings(max_examples=150, deadline=None)
RECORD_FIELDS = ("org_id", "actor", "target", "changes", "description", "metadata", "source",
                 "api_key", "occurred_at", "idempotency_key")


class TestRecording:
    """``record``, ``record_many``, ``arecord``, ``build``, ``context`` and the decorator."""

    @SETTINGS
    @given(field=st.sampled_from(RECORD_FIELDS), value=hostile)
    def test_record_with_one_bad_field(self, log: ActivityLog, field: str, value: Any) -> None:
        """Any value in any field of record() is stored or refused with an ActivityLogError."""
        fields: dict[str, Any] = {"org_id": "acme", "actor": ADA, field: value}
        answers(lambda: log.build("lead.updated", **fields))
        answers(lambda: log.arecord("lead.updated", **fields))

    def test_unknown_arguments(self, log: ActivityLog) -> None:
        """A misspelt argument to record(), arecord() or a record_many() item raises
        InvalidEntry naming it."""
        with pytest.raises(InvalidEntry, match="metdata"):
            log.record("lead.created", org_id="acme", actor=ADA, metdata={})
        with pytest.raises(InvalidEntry, match="metdata"):
            asyncio.run(log.arecord("lead.created", org_id="acme", actor=ADA, metdata={}))
        with pytest.raises(InvalidEntry, match="metdata"):
            log.record_many([{"action": "lead.created", "org_id": "acme", "metdata": {}}])

    @SETTINGS
    @given(action=hostile, records=hostile)
    def test_action_and_record_many(self, log: ActivityLog, action: Any, records: Any) -> None:
        """Any action key, and any value given to record_many(), is an ActivityLogError."""
        answers(lambda: log.build(action, org_id="acme", actor=ADA))
        answers(lambda: log.record_many(records))
        answers(lambda: log.record_many([records]))
        answers(lambda: log.records(action))
        answers(lambda: log.records("lead.created", when=records))
        answers(lambda: log.records("lead.created")(records))

    @SETTINGS
    @given(field=st.sampled_from(("org_id", "actor", "source", "api_key")), value=hostile)
    def test_context(self, log: ActivityLog, field: str, value: Any) -> None:
        """Any value given to context() is taken or refused with an ActivityLogError."""

        def enter() -> None:
            with log.context(**{field: value}):
                pass

        answers(enter)

    @SETTINGS
    @given(field=st.sampled_from(("id", "name", "avatar_url", "kind")), value=hostile)
    def test_value_objects(self, field: str, value: Any) -> None:
        """Actor, Target, ApiKeyRef and Viewer refuse bad fields with an ActivityLogError."""
        answers(lambda: Actor(**{"id": "u1", "name": "Ada", field: value}))
        target_field = {"id": "id", "name": "type", "avatar_url": "label", "kind": "label"}[field]
        answers(lambda: Target(**{"type": "lead", "id": "1", target_field: value}))
        answers(lambda: ApiKeyRef(**{"id": "k", "name": "K", ("id" if field == "id" else "name"): value}))
        viewer_field = {"id": "user_id", "name": "org_id", "avatar_url": "role", "kind": "role"}
        answers(lambda: Viewer(**{"user_id": "u", "org_id": "acme", "role": "owner",
                                  viewer_field[field]: value}))


class TestConfiguration:
    """Constructors and ``open()`` check their configuration when the log is built."""

    @SETTINGS
    @given(option=st.sampled_from(("store", "registry", "clock", "integrity_key", "policy",
                                   "integrity")), value=hostile)
    def test_constructor(self, option: str, value: Any) -> None:
        """Every constructor option is checked: a bad one raises ConfigurationError at once."""
        answers(lambda: ActivityLog(**{option: value}))

    @SETTINGS
    @given(url=hostile, option=st.sampled_from(("timeout", "busy_timeout", "fts", "readonly",
                                                "pool", "x")), value=hostile)
    def test_open(self, url: Any, option: str, value: Any) -> None:
        """Any URL, and any option given to memory://, is opened or refused with an
        ActivityLogError."""
        def opened() -> None:
            ActivityLog.open(url).close()

        if not (isinstance(url, str) and url.startswith(("sqlite", "postgres"))):
            answers(opened)  # no file or server may be touched by a random URL
        answers(lambda: ActivityLog.open("memory://", **{option: value}))

    @pytest.mark.parametrize(
        ("options", "error"),
        [({"integrity_key": 42}, "bytes or text"), ({"integrity_key": ""}, "empty"),
         ({"integrity_key": b""}, "empty"), ({"policy": "deny"}, "policy"),
         ({"policy": _async_fn}, "synchronous"), ({"clock": "now"}, "clock"),
         ({"registry": {}}, "ActionRegistry"), ({"store": "memory://"}, "Store"),
         ({"integrity": "yes"}, "True or False")],
    )
    def test_named_mistakes(self, options: dict[str, Any], error: str) -> None:
        """The mistakes the review listed raise ConfigurationError naming the option."""
        with pytest.raises(ConfigurationError, match=error):
            ActivityLog(**options)

    def test_memory_takes_no_options(self) -> None:
        """Options given to memory:// raise ConfigurationError naming them."""
        with pytest.raises(ConfigurationError, match="takes no options; got busy_timeout"):
            ActivityLog.open("memory://", busy_timeout=1.0)
        with pytest.raises(ConfigurationError, match="nothing after the scheme"):
            ActivityLog.open("memory://somewhere")

    @pytest.mark.parametrize(("name", "error"), [("a\x00b.db", "NUL"), ("\ud800.db", "Unicode")])
    def test_unusable_text_in_a_url(self, tmp_path: Path, name: str, error: str) -> None:
        """A NUL or a lone surrogate in a store URL raises ConfigurationError, and no file
        is made."""
        with pytest.raises(ConfigurationError, match=error):
            ActivityLog.open(f"sqlite:///{tmp_path}/{name}")
        assert list(tmp_path.iterdir()) == []

    def test_a_clock_returning_nonsense(self) -> None:
        """A clock that returns something other than an aware datetime fails the record()
        with an ActivityLogError naming the clock."""
        for value in ("now", None, datetime(2024, 1, 1)):
            log = ActivityLog(clock=lambda value=value: value)
            with pytest.raises(ActivityLogError, match="clock"):
                log.record("lead.created", org_id="acme", actor=ADA)


class TestReading:
    """``query``, every ``Query`` method, ``categories``, ``verify`` and ``checkpoint``."""

    @SETTINGS
    @given(
        method=st.sampled_from(("search", "category", "date", "between", "sort", "page",
                                "target", "actor")),
        first=hostile, second=hostile,
    )
    def test_query_methods(self, log: ActivityLog, method: str, first: Any, second: Any) -> None:
        """Every Query method given any one or two values answers or raises an
        ActivityLogError, and so does running the query it returns."""
        query = log.query("acme", viewer=OWNER)

        def run() -> None:
            bound = getattr(query, method)
            if method in ("search", "date", "actor"):
                refined = bound(first)
            else:
                refined = bound(first, second)
            if method != "page":
                refined.page(2)
                refined.count()

        answers(run)

    @SETTINGS
    @given(org=hostile, viewer=hostile, tz=hostile, week_start=hostile)
    def test_query_and_categories(
        self, log: ActivityLog, org: Any, viewer: Any, tz: Any, week_start: Any
    ) -> None:
        """query() and categories() with any org, viewer, zone or week start."""
        answers(lambda: log.query(org, viewer=viewer, tz=tz, week_start=week_start))
        answers(lambda: log.query("acme", viewer=OWNER, tz=tz, week_start=week_start)
                .date("this-week").count())
        answers(lambda: log.categories(org, viewer=viewer))

    @SETTINGS
    @given(org=hostile, since=hostile, viewer=hostile)
    def test_verify_and_checkpoint(self, log: ActivityLog, org: Any, since: Any,
                                   viewer: Any) -> None:
        """verify() and checkpoint() with any org, checkpoint or viewer."""
        answers(lambda: log.verify(org))
        answers(lambda: log.verify("acme", since=since))
        answers(lambda: log.verify("acme", viewer=viewer))
        answers(lambda: log.checkpoint(org))

    def test_named_mistakes(self, log: ActivityLog) -> None:
        """search(None), verify(None), a foreign checkpoint and extreme bounds are
        InvalidQuery; record() at the edge of the datetime range is InvalidEntry."""
        query = log.query("acme", viewer=OWNER)
        with pytest.raises(InvalidQuery):
            query.search(None)  # type: ignore[arg-type]
        with pytest.raises(InvalidQuery):
            log.verify(None)  # type: ignore[arg-type]
        with pytest.raises(InvalidQuery):
            log.verify("acme", since="0" * 64)  # type: ignore[arg-type]
        with pytest.raises(InvalidQuery):
            query.between(datetime.min.replace(tzinfo=EAST))
        with pytest.raises(InvalidEntry, match="supported range"):
            log.record("lead.created", org_id="acme", actor=ADA,
                       occurred_at=datetime.max.replace(tzinfo=WEST))
        assert log.verify("acme", since=log.checkpoint("acme")).ok
        assert isinstance(log.checkpoint("acme"), Checkpoint)
        everything = query.count()
        assert query.between(None, datetime.max.replace(tzinfo=timezone.utc)).count() == everything

    def test_registry_mistakes(self) -> None:
        """Registering bad actions or categories raises RegistryError subclasses."""
        registry = ActionRegistry.empty()
        for call in (lambda: registry.register(42), lambda: registry.register("x", kind="boom"),
                     lambda: registry.register("x", label=3), lambda: registry.add_category(None),
                     lambda: registry.register("x.y", category="Nope"),
                     lambda: registry.register(Target("a", "b")),
                     lambda: registry.register("x", template="{nope}")):
            answers(call)
