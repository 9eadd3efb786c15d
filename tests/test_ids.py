"""Entry ids: 16 hex digits, unique, time-ordered, monotonic within a process."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activitylog import ActivityLog, Actor, InvalidEntry, Target, ids

NOW = datetime(2024, 5, 15, 12, 0, tzinfo=timezone.utc)
ADA = Actor("u1", "Ada Lovelace")

instants = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59, 999_999),
    timezones=st.just(timezone.utc),
)


@pytest.fixture
def log() -> ActivityLog:
    """A memory-backed log whose clock always reads NOW."""
    return ActivityLog(clock=lambda: NOW)


@pytest.fixture
def no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every new microsecond start counting at 0, so collisions are certain."""
    monkeypatch.setattr(ids.random, "getrandbits", lambda k: 0)


class TestTextForm:
    """``encode`` and ``decode``."""

    @given(st.integers(min_value=0, max_value=ids.MAX_ID))
    def test_round_trip(self, value: int) -> None:
        """Every 63-bit id survives encode/decode and reads as 16 lowercase hex digits."""
        text = ids.encode(value)
        assert (len(text), text == text.lower(), ids.decode(text)) == (16, True, value)

    @given(st.integers(min_value=0, max_value=ids.MAX_ID), st.integers(0, ids.MAX_ID))
    def test_text_order_is_numeric_order(self, a: int, b: int) -> None:
        """Comparing id strings compares the ids (fixed width, zero padded)."""
        assert (ids.encode(a) < ids.encode(b)) == (a < b)

    @pytest.mark.parametrize(
        "text",
        ["", "123", "0" * 17, "0x00000000000001", "-000000000000001", "0000_0000_000001",
         " 00000000000001 ", "000000000000000G", "00000000000000FF", "8000000000000000",
         "ffffffffffffffff", "０００００００００００００００１"],
    )
    def test_decode_refuses_other_forms(self, text: str) -> None:
        """Only what ``encode`` writes decodes; prefixes, signs, separators, case are refused."""
        with pytest.raises(ValueError, match="not an entry id"):
            ids.decode(text)

    @pytest.mark.parametrize("value", [None, 12])
    def test_decode_non_string(self, value: Any) -> None:
        """A non-string raises ValueError, not TypeError."""
        with pytest.raises(ValueError, match="not an entry id"):
            ids.decode(value)

    @pytest.mark.parametrize("value", [-1, ids.MAX_ID + 1])
    def test_encode_out_of_range(self, value: int) -> None:
        """Negative or wider-than-63-bit values are not ids."""
        with pytest.raises(ValueError, match="not an entry id"):
            ids.encode(value)


class TestTime:
    """The time part of an id."""

    @given(instants)
    def test_micros_round_trip(self, moment: datetime) -> None:
        """Microsecond timestamps convert exactly, with no float rounding."""
        assert ids.from_micros(ids.to_micros(moment)) == moment

    @given(instants)
    def test_generated_id_encodes_its_instant(self, moment: datetime) -> None:
        """An id made for an instant decodes to that instant and is at least its floor."""
        value = ids.IdGenerator().next(moment)
        assert (ids.time_of(value), value >= ids.floor_id(moment)) == (moment, True)
        assert value < ids.floor_id(moment + timedelta(microseconds=1))

    def test_floor_clamps(self) -> None:
        """Floors before 1970 are 0; floors after the last encodable instant stay 63-bit."""
        assert ids.floor_id(datetime(1900, 1, 1, tzinfo=timezone.utc)) == 0
        far = ids.floor_id(datetime(9999, 1, 1, tzinfo=timezone.utc))
        assert far == ids.floor_id(ids.MAX_TIME)
        assert far <= ids.MAX_ID

    def test_floor_in_other_zones(self) -> None:
        """The floor depends on the instant, not on the zone it is written in."""
        tokyo = NOW.astimezone(timezone(timedelta(hours=9)))
        assert ids.floor_id(tokyo) == ids.floor_id(NOW)


class TestGenerator:
    """``IdGenerator``: unique, time-ordered, monotonic."""

    def test_same_instant_counts_up(self) -> None:
        """Ids made for one instant are consecutive integers."""
        gen = ids.IdGenerator()
        values = [gen.next(NOW) for _ in range(100)]
        assert values == list(range(values[0], values[0] + 100))

    @settings(max_examples=50, deadline=None)
    @given(st.lists(instants, min_size=1, max_size=50))
    def test_order_by_id_is_order_by_time(self, moments: list[datetime]) -> None:
        """Sorting ids sorts their instants; all ids are distinct (one microsecond each)."""
        gen = ids.IdGenerator()
        values = [gen.next(m) for m in dict.fromkeys(moments)]
        assert len(set(values)) == len(values)
        assert [ids.time_of(v) for v in sorted(values)] == sorted(dict.fromkeys(moments))

    def test_monotonic_with_advancing_clock(self) -> None:
        """With a clock that never goes back, each id is greater than the one before."""
        gen = ids.IdGenerator()
        values = [gen.next(NOW + timedelta(microseconds=i // 3)) for i in range(300)]
        assert values == sorted(set(values))

    def test_threads_share_one_sequence(self) -> None:
        """Threads taking ids for one instant get distinct, consecutive values."""
        gen = ids.IdGenerator()
        results: list[list[int]] = [[] for _ in range(8)]
        barrier = threading.Barrier(8, timeout=30)

        def work(n: int) -> None:
            barrier.wait()
            for _ in range(128):
                results[n].append(gen.next(NOW))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        every = sorted(v for r in results for v in r)
        assert every == list(range(every[0], every[0] + 1024))
        assert all(r == sorted(r) for r in results)

    @pytest.mark.parametrize(
        "moment",
        [datetime(1969, 12, 31, 23, 59, 59, tzinfo=timezone.utc), ids.MAX_TIME,
         datetime(2150, 1, 1, tzinfo=timezone.utc)],
    )
    def test_out_of_range(self, moment: datetime) -> None:
        """Instants before 1970 or from 2100 on raise InvalidEntry naming the range."""
        with pytest.raises(InvalidEntry, match=r"outside the supported range 1970\.\.2099"):
            ids.IdGenerator().next(moment)

    def test_range_edges(self) -> None:
        """The first and last encodable microseconds are accepted."""
        gen = ids.IdGenerator()
        first = gen.next(ids.EPOCH)
        last = gen.next(ids.MAX_TIME - timedelta(microseconds=1))
        assert (ids.time_of(first), ids.time_of(last) < ids.MAX_TIME, last <= ids.MAX_ID) == (
            ids.EPOCH, True, True,
        )

    def test_too_many_in_one_microsecond(self, no_jitter: None) -> None:
        """The 2049th id in one microsecond is refused rather than spilling into the next."""
        gen = ids.IdGenerator()
        values = [gen.next(NOW) for _ in range(ids.SEQ_LIMIT)]
        with pytest.raises(InvalidEntry, match="more than 2048 entries share the instant"):
            gen.next(NOW)
        assert {ids.time_of(v) for v in values} == {NOW}


class TestRecordedIds:
    """Ids of recorded entries."""

    def test_unique_and_time_ordered(self, log: ActivityLog) -> None:
        """Entries recorded at many instants have distinct ids in time order."""
        moments = [NOW - timedelta(seconds=s) for s in (5, 1, 3, 1, 0, 5, 2)]
        entries = [
            log.record("lead.created", org_id="acme", actor=ADA, occurred_at=m) for m in moments
        ]
        assert len({e.id for e in entries}) == len(entries)
        by_id = sorted(entries, key=lambda e: e.id)
        assert [e.occurred_at for e in by_id] == sorted(moments)

    def test_backfill_collision_moves_up(self, log: ActivityLog, no_jitter: None) -> None:
        """A backfilled entry whose id is taken gets the next free id in the same microsecond."""
        earlier = NOW - timedelta(hours=1)
        first = log.record("lead.created", org_id="acme", actor=ADA, occurred_at=earlier)
        log.record("lead.created", org_id="acme", actor=ADA)
        backfill = log.record("lead.created", org_id="acme", actor=ADA, occurred_at=earlier)
        assert ids.decode(backfill.id) == ids.decode(first.id) + 1
        assert ids.time_of(ids.decode(backfill.id)) == earlier == backfill.occurred_at

    def test_id_time_is_occurred_at(self, log: ActivityLog) -> None:
        """An entry's id encodes its occurred_at, converted to UTC."""
        moment = datetime(2023, 3, 26, 2, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
        entry = log.record(
            "lead.deleted", org_id="acme", actor=ADA, target=Target("lead", 1), occurred_at=moment
        )
        assert ids.time_of(ids.decode(entry.id)) == moment == entry.occurred_at
        assert entry.occurred_at.tzinfo is timezone.utc
