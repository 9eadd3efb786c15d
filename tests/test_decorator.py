"""``@log.records(...)``: decorated service functions record after each successful call."""

from __future__ import annotations

import asyncio
import copy
import inspect
import pickle
import threading
import time
from datetime import datetime, timezone
from typing import Any

import attrs
import pytest

from activitylog import (
    ActivityLog,
    Actor,
    Call,
    ConfigurationError,
    Entry,
    MissingContext,
    Target,
    UnknownAction,
)
from activitylog.stores.memory import MemoryStore

NOW = datetime(2024, 5, 15, 12, 0, tzinfo=timezone.utc)
ADA = Actor("u1", "Ada Lovelace")


@attrs.define
class Lead:
    """A host's lead record."""

    id: int
    name: str
    status: str = "New"


@pytest.fixture
def log() -> ActivityLog:
    """A memory-backed log whose clock always reads NOW."""
    return ActivityLog(clock=lambda: NOW)


@pytest.fixture
def acting(log: ActivityLog) -> Any:
    """Ada acting for acme for the duration of the test."""
    with log.context(org_id="acme", actor=ADA):
        yield


def stored(log: ActivityLog) -> list[Entry]:
    """Everything recorded for acme, in order."""
    return list(log.store.chain("acme"))


@pytest.mark.usefixtures("acting")
class TestRecording:
    """What gets recorded, and when."""

    def test_records_after_return(self, log: ActivityLog) -> None:
        """The entry is recorded after the function returns, not before."""
        seen_inside: list[int] = []

        @log.records("lead.created", target=lambda c: Target("lead", c.result.id, c.result.name))
        def create_lead(name: str) -> Lead:
            seen_inside.append(len(stored(log)))
            return Lead(1, name)

        create_lead("Acme Corp")
        assert seen_inside == [0]
        assert [(e.action, e.description) for e in stored(log)] == [
            ("lead.created", "Ada Lovelace created lead “Acme Corp”")
        ]

    def test_return_value_unchanged(self, log: ActivityLog) -> None:
        """The decorated function returns exactly what the original returns."""
        lead = Lead(1, "Acme")

        @log.records("lead.updated")
        def update() -> Lead:
            return lead

        assert update() is lead

    def test_exception_propagates_and_records_nothing(self, log: ActivityLog) -> None:
        """An exception leaves unchanged (same object) and nothing is recorded."""
        error = LookupError("no such lead")

        @log.records("lead.deleted", target=lambda c: Target("lead", c.lead_id))
        def delete(lead_id: int) -> None:
            raise error

        with pytest.raises(LookupError) as info:
            delete(42)
        assert info.value is error
        assert stored(log) == []

    def test_every_call_records(self, log: ActivityLog) -> None:
        """Each successful call records one entry."""

        @log.records("lead.deleted", target=lambda c: Target("lead", c.lead_id))
        def delete(lead_id: int) -> None:
            pass

        for i in range(3):
            delete(i)
        assert [e.target.id for e in stored(log) if e.target] == ["0", "1", "2"]

    def test_fixed_values(self, log: ActivityLog) -> None:
        """Target, metadata, description and changes may be plain values."""

        @log.records(
            "lead.status_changed", target=Target("lead", "7", "Acme"), metadata={"via": "rule"},
            changes={"status": ("New", "Lost")},
        )
        def expire() -> None:
            pass

        expire()
        entry = stored(log)[0]
        assert (entry.target, dict(entry.metadata), entry.changes, entry.description) == (
            Target("lead", "7", "Acme"), {"via": "rule"}, {"status": ("New", "Lost")},
            "Ada Lovelace changed lead “Acme” status from New to Lost",
        )

    def test_fixed_description(self, log: ActivityLog) -> None:
        """A plain description string replaces the template."""

        @log.records("lead.deleted", description="Nightly cleanup removed a lead")
        def cleanup() -> None:
            pass

        cleanup()
        assert stored(log)[0].description == "Nightly cleanup removed a lead"

    def test_callables_see_arguments_and_result(self, log: ActivityLog) -> None:
        """Callables get a Call with bound arguments (defaults applied) and the result."""
        calls: list[Call] = []

        def changes(call: Call) -> dict[str, tuple[str, str]]:
            calls.append(call)
            return {"status": (call.args["old"], call.result.status)}

        @log.records(
            "lead.status_changed",
            target=lambda c: Target("lead", c.lead.id, c.lead.name),
            changes=changes,
            metadata=lambda c: {"reason": c.reason},
            description=lambda c: None if c.reason == "default" else f"Moved by {c.reason}",
        )
        def set_status(lead: Lead, status: str, old: str = "New", *, reason: str = "default") -> Lead:
            return attrs.evolve(lead, status=status)

        set_status(Lead(1, "Acme"), "Contacted")
        set_status(Lead(2, "Globex"), status="Lost", old="Contacted", reason="rule")
        first, second = stored(log)
        assert first.description == "Ada Lovelace changed lead “Acme” status from New to Contacted"
        assert (second.description, dict(second.metadata), second.changes) == (
            "Moved by rule", {"reason": "rule"}, {"status": ("Contacted", "Lost")},
        )
        assert dict(calls[0].args) == {"lead": Lead(1, "Acme"), "status": "Contacted",
                                       "old": "New", "reason": "default"}
        assert calls[0].result == Lead(1, "Acme", "Contacted")

    def test_methods(self, log: ActivityLog) -> None:
        """Decorated methods see ``self`` among the arguments."""

        class LeadService:
            """A host service object."""

            prefix = "L"

            @log.records("lead.deleted", target=lambda c: Target("lead", c.self.prefix + c.n))
            def delete(self, n: str) -> None:
                """Delete one lead."""

        LeadService().delete("9")
        assert [e.target for e in stored(log)] == [Target("lead", "L9")]

    def test_when_skips(self, log: ActivityLog) -> None:
        """``when`` returning false skips recording; the call still happens."""

        @log.records("lead.deleted", target=lambda c: Target("lead", c.lead_id),
                     when=lambda c: c.result is True)
        def delete(lead_id: int) -> bool:
            return lead_id % 2 == 0

        results = [delete(i) for i in range(4)]
        assert results == [True, False, True, False]
        assert [e.target.id for e in stored(log) if e.target] == ["0", "2"]

    @pytest.mark.parametrize(
        ("metadata", "expected"),
        [(lambda c: {"count": len(c.ids)}, "Ada Lovelace deleted 3 leads"),
         (lambda c: {"ids": list(c.ids)}, "Ada Lovelace deleted 3 leads"),
         (lambda c: {"count": c.result}, "Ada Lovelace deleted 2 leads"),
         (None, "Ada Lovelace deleted multiple leads")],
    )
    def test_bulk(self, log: ActivityLog, metadata: Any, expected: str) -> None:
        """Bulk actions take their count from metadata count or ids."""

        @log.records("lead.bulk_deleted", metadata=metadata)
        def bulk_delete(ids: list[str]) -> int:
            return 2

        bulk_delete(["a", "b", "c"])
        assert stored(log)[0].description == expected

    def test_callable_returning_none(self, log: ActivityLog) -> None:
        """Callables may return None for "no target/metadata/changes"."""

        @log.records("lead.deleted", target=lambda c: None, metadata=lambda c: None,
                     changes=lambda c: None)
        def delete() -> None:
            pass

        delete()
        entry = stored(log)[0]
        assert (entry.target, dict(entry.metadata), entry.changes) == (None, {}, None)


class TestAsync:
    """Async functions are decorated into async functions."""

    def test_records_after_await(self, log: ActivityLog) -> None:
        """An async function records after it completes and returns its result."""

        @log.records("lead.created", target=lambda c: Target("lead", c.result.id, c.result.name))
        async def create(name: str) -> Lead:
            await asyncio.sleep(0)
            assert stored(log) == []
            return Lead(5, name)

        async def main() -> Lead:
            with log.context(org_id="acme", actor=ADA):
                return await create("Acme")

        assert asyncio.run(main()) == Lead(5, "Acme")
        assert [e.description for e in stored(log)] == ["Ada Lovelace created lead “Acme”"]

    def test_still_a_coroutine_function(self, log: ActivityLog) -> None:
        """The wrapper of an async function is itself a coroutine function."""

        @log.records("lead.created")
        async def create() -> None:
            pass

        assert inspect.iscoroutinefunction(create)

    def test_exception_records_nothing(self, log: ActivityLog) -> None:
        """An async exception propagates unchanged and records nothing."""

        @log.records("lead.created")
        async def create() -> None:
            raise ValueError("bad name")

        async def main() -> None:
            with log.context(org_id="acme", actor=ADA):
                await create()

        with pytest.raises(ValueError, match="bad name"):
            asyncio.run(main())
        assert stored(log) == []

    def test_concurrent_tasks_attributed_to_their_actor(self, log: ActivityLog) -> None:
        """Concurrent requests record under their own actor."""
        grace = Actor("u2", "Grace Hopper")

        @log.records("lead.created")
        async def create() -> None:
            await asyncio.sleep(0)

        async def request(actor: Actor) -> None:
            with log.context(org_id="acme", actor=actor):
                await create()

        async def main() -> None:
            await asyncio.gather(request(ADA), request(grace), request(ADA))

        asyncio.run(main())
        assert sorted(e.actor.name for e in stored(log)) == ["Ada Lovelace", "Ada Lovelace",
                                                              "Grace Hopper"]


class TestWrapping:
    """The decorated function looks like the original."""

    def test_name_doc_signature(self, log: ActivityLog) -> None:
        """Name, qualified name, docstring, signature and annotations are preserved."""

        def delete_lead(lead_id: int, *, hard: bool = False) -> bool:
            """Delete a lead."""
            return hard

        wrapped = log.records("lead.deleted")(delete_lead)
        assert (wrapped.__name__, wrapped.__qualname__, wrapped.__doc__, wrapped.__module__) == (
            "delete_lead", delete_lead.__qualname__, "Delete a lead.", __name__,
        )
        assert inspect.signature(wrapped) == inspect.signature(delete_lead)
        assert wrapped.__wrapped__ is delete_lead  # type: ignore[attr-defined]

    def test_async_signature(self, log: ActivityLog) -> None:
        """An async function's signature is preserved too."""

        async def create(name: str, owner: str | None = None) -> str:
            return name

        assert inspect.signature(log.records("lead.created")(create)) == inspect.signature(create)

    def test_unknown_action_fails_at_decoration(self, log: ActivityLog) -> None:
        """An unknown action raises UnknownAction when decorating, before any call."""
        with pytest.raises(UnknownAction, match=r"lead\.removed"):
            log.records("lead.removed")

    def test_custom_action(self) -> None:
        """Actions registered on a custom registry can be decorated."""
        log = ActivityLog(clock=lambda: NOW)
        log.registry.add_category("Billing")
        log.registry.register("invoice.paid", category="Billing",
                              template="{actor} marked invoice {target} paid")

        @log.records("invoice.paid", target=lambda c: Target("invoice", c.number, c.number))
        def pay(number: str) -> None:
            pass

        with log.context(org_id="acme", actor=ADA):
            pay("INV-7")
        assert stored(log)[0].description == "Ada Lovelace marked invoice “INV-7” paid"

    def test_missing_context_raises_after_call(self, log: ActivityLog) -> None:
        """Without org/actor the call happens, then recording fails loudly (no silent loss)."""
        calls: list[int] = []

        @log.records("lead.created")
        def create() -> None:
            calls.append(1)

        with pytest.raises(MissingContext, match="no org_id"):
            create()
        assert (calls, stored(log)) == ([1], [])


class TestCall:
    """The ``Call`` object callables receive."""

    def test_attribute_access(self) -> None:
        """Arguments read as attributes; unknown names raise AttributeError listing them."""
        call = Call({"lead_id": 4, "name": "Acme"}, result=None)
        assert (call.lead_id, call.name, call.result) == (4, "Acme", None)
        with pytest.raises(AttributeError, match="arguments: lead_id, name"):
            call.nope  # noqa: B018

    def test_copy_and_pickle(self) -> None:
        """A Call can be copied and pickled without recursing."""
        call = Call({"lead_id": 4}, result=[1])
        assert copy.copy(call) == call == pickle.loads(pickle.dumps(call))
        assert not hasattr(call, "__missing_dunder__")


class SlowStore(MemoryStore):
    """A memory store whose writes take ``delay`` seconds of blocking time, and which notes the
    thread each write ran on."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.threads: list[int] = []

    def append(self, entries: Any, chain: Any) -> list[Entry]:
        """Block like a slow disk, then store."""
        self.threads.append(threading.get_ident())
        time.sleep(self.delay)
        return super().append(entries, chain)


async def ticks_during(work: Any, period: float = 0.01) -> tuple[Any, int]:
    """Run ``work`` while a task ticks every ``period`` seconds; the result and the tick count."""
    count = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal count
        while not done.is_set():
            await asyncio.sleep(period)
            count += 1

    task = asyncio.create_task(ticker())
    try:
        result = await work
    finally:
        done.set()
        await task
    return result, count


class TestAsyncRecording:
    """``arecord``/``arecord_many`` and async decorated functions never block the event loop."""

    def test_arecord_keeps_the_loop_responsive(self) -> None:
        """While a 0.3 s store write runs, other tasks keep running; it runs off the loop's
        thread, with the task's context, and returns the stored entry."""
        store = SlowStore(0.3)
        log = ActivityLog(store, clock=lambda: NOW)

        async def main() -> tuple[Entry, int]:
            with log.context(org_id="acme", actor=ADA):
                return await ticks_during(log.arecord("lead.created", target=Target("lead", 1)))

        entry, ticks = asyncio.run(main())
        assert ticks >= 10  # a blocking write would have let the ticker run about once
        assert store.threads and store.threads[0] != threading.get_ident()
        assert (entry.org_id, entry.actor, entry.seq) == ("acme", ADA, 1)

    def test_blocking_record_would_stall_the_loop(self) -> None:
        """The control: the same write through record() stalls every other task."""
        log = ActivityLog(SlowStore(0.3), clock=lambda: NOW)

        async def write() -> Entry:
            return log.record("lead.created", org_id="acme", actor=ADA)

        _, ticks = asyncio.run(ticks_during(write()))
        assert ticks <= 2

    def test_async_decorated_function_writes_off_the_loop(self) -> None:
        """An ``async def`` decorated with ``@log.records`` writes through ``arecord``."""
        store = SlowStore(0.3)
        log = ActivityLog(store, clock=lambda: NOW)

        @log.records("lead.created", target=lambda call: Target("lead", call.result.id))
        async def create(name: str) -> Lead:
            return Lead(5, name)

        async def main() -> tuple[Lead, int]:
            with log.context(org_id="acme", actor=ADA):
                return await ticks_during(create("Acme"))

        lead, ticks = asyncio.run(main())
        assert (lead, ticks >= 10) == (Lead(5, "Acme"), True)
        assert [e.target for e in store.chain("acme")] == [Target("lead", "5")]

    def test_arecord_many_and_batches(self) -> None:
        """``arecord_many`` stores all or nothing off the loop; inside ``batch()`` both join
        the batch and are written at its end."""
        store = SlowStore(0.0)
        log = ActivityLog(store, clock=lambda: NOW)

        async def main() -> tuple[list[Entry], list[Entry]]:
            many = await log.arecord_many(
                [{"action": "lead.created", "org_id": "acme", "actor": ADA}] * 3
            )
            with log.batch() as batch:
                await log.arecord("task.created", org_id="acme", actor=ADA)
                await log.arecord_many([{"action": "note.created", "org_id": "acme",
                                         "actor": ADA}])
                assert len(store.threads) == 1  # nothing written yet
            return many, batch.entries

        many, batched = asyncio.run(main())
        assert [e.seq for e in many] == [1, 2, 3]
        assert [e.action for e in batched] == ["task.created", "note.created"]
        assert [e.seq for e in batched] == [4, 5]

    def test_arecord_checks_before_leaving_the_loop(self) -> None:
        """Invalid arguments raise at once, in the caller, and nothing is written."""
        store = SlowStore(0.0)
        log = ActivityLog(store, clock=lambda: NOW)
        with pytest.raises(MissingContext):
            asyncio.run(log.arecord("lead.created"))
        with pytest.raises(UnknownAction):
            asyncio.run(log.arecord("lead.nope", org_id="acme", actor=ADA))
        assert store.threads == []


class TestCheckedWhenDecorating:
    """Arguments of ``@log.records`` are checked when the decorator is made."""

    @pytest.mark.parametrize(
        "arguments",
        [{"target": "lead 42"}, {"metadata": ["a"]}, {"description": 42}, {"changes": "status"},
         {"when": True}],
    )
    def test_wrong_types_raise_configuration_error(
        self, log: ActivityLog, arguments: dict[str, Any]
    ) -> None:
        """A value of the wrong type (not a function either) raises ConfigurationError naming
        the argument, before any call."""
        name = next(iter(arguments))
        with pytest.raises(ConfigurationError, match=name):
            log.records("lead.created", **arguments)

    def test_not_a_function(self, log: ActivityLog) -> None:
        """Decorating something that is not callable raises ConfigurationError."""
        with pytest.raises(ConfigurationError, match="decorates a function"):
            log.records("lead.created")(42)  # type: ignore[type-var]
