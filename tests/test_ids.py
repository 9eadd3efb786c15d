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
    def test_generated_id_lies_in_its_millisecond_band(self, moment: datetime) -> None:
        """An id made for an instant decodes to its millisecond and lies in that band."""
        value = ids.IdGenerator().next(moment)
        assert ids.time_of(value) == ids.floor_ms(moment)
        assert ids.floor_id(moment) <= value < ids.floor_id(moment) + ids.IDS_PER_MS

    @given(instants, st.integers(0, 2047))
    def test_ids_of_the_earlier_layout_lie_in_their_band(self, moment: datetime, n: int) -> None:
        """An id written as ``microseconds << 11 | n`` falls in its millisecond's band."""
        old = ids.to_micros(moment) << 11 | n
        assert ids.floor_id(moment) <= old < ids.floor_id(moment) + ids.IDS_PER_MS
        assert ids.time_of(old) == ids.floor_ms(moment)

    def test_floor_ms_drops_the_sub_millisecond_part(self) -> None:
        """``floor_ms`` keeps the millisecond and converts to UTC."""
        paris = datetime(2024, 5, 15, 14, 0, 0, 123_999, tzinfo=timezone(timedelta(hours=2)))
        assert ids.floor_ms(paris) == datetime(2024, 5, 15, 12, 0, 0, 123_000, tzinfo=timezone.utc)

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
        """Sorting ids sorts their instants, to the microsecond; all ids are distinct."""
        gen = ids.IdGenerator()
        made = {gen.next(m): m for m in dict.fromkeys(moments)}
        assert len(made) == len(dict.fromkeys(moments))
        assert [made[v] for v in sorted(made)] == sorted(dict.fromkeys(moments))

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

    def test_thousands_in_one_microsecond_keep_counting_up(self) -> None:
        """Far more than 2,048 ids fit one instant: they count up, in order, in its band."""
        gen = ids.IdGenerator()
        late = NOW + timedelta(microseconds=999)  # the last microsecond of its millisecond
        values = [gen.next(late) for _ in range(5000)]
        assert values == list(range(values[0], values[0] + 5000))
        assert {ids.time_of(v) for v in values} == {ids.floor_ms(late)}

    def test_an_overflowing_instant_is_ordered_before_later_microseconds(self) -> None:
        """Entries recorded later at a microsecond the overflow ran through come after it."""
        gen = ids.IdGenerator()
        burst = [gen.next(NOW) for _ in range(3000)]
        after = gen.next(NOW + timedelta(microseconds=1))
        assert after > max(burst)

    def test_a_backfill_within_the_millisecond_sorts_before(self) -> None:
        """An instant earlier in the same millisecond than the last one made sorts before it."""
        gen = ids.IdGenerator()
        later = gen.next(NOW + timedelta(microseconds=5))
        again = gen.next(NOW + timedelta(microseconds=5))
        earlier = gen.next(NOW + timedelta(microseconds=3))
        assert earlier < later < again

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 999), st.integers(1, 5)), min_size=1, max_size=30))
    def test_order_within_one_millisecond_is_microsecond_then_recording(
        self, runs: list[tuple[int, int]]
    ) -> None:
        """Runs of entries at instants inside one millisecond, in any order, get ids sorted by
        microsecond; the entries of one run keep their recording order."""
        gen = ids.IdGenerator()
        made = []
        for run, (us, count) in enumerate(runs):
            made += [(gen.next(NOW + timedelta(microseconds=us)), us, run, i) for i in range(count)]
        by_id = sorted(made)
        assert [us for _, us, _, _ in by_id] == sorted(us for _, us, _, _ in made)
        for run in range(len(runs)):
            assert [i for _, _, r, i in by_id if r == run] == list(range(runs[run][1]))

    def test_every_instant_has_room_for_its_minimum(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Even the last microsecond of a millisecond with the largest offset holds
        ``MIN_PER_INSTANT`` ids; the next one beyond the band is refused."""
        monkeypatch.setattr(ids.random, "getrandbits", lambda k: (1 << k) - 1)
        gen = ids.IdGenerator()
        late = NOW + timedelta(microseconds=999)
        first = gen.next(late)
        room = ids.floor_id(late) + ids.IDS_PER_MS - first
        assert room >= ids.MIN_PER_INSTANT >= 1_000_000
        # As if the instant had taken all but its last id:
        gen._last = first + room - 2
        gen._current = (gen._current[0], gen._last)
        assert ids.time_of(gen.next(late)) == ids.floor_ms(late)
        with pytest.raises(InvalidEntry, match="more than 2048000 entries share the instant"):
            gen.next(late)

    def test_move_up_stays_in_the_band(self) -> None:
        """``move_up`` gives the next id, and refuses to cross into the next millisecond."""
        top = ids.floor_id(NOW) + ids.IDS_PER_MS - 1
        assert ids.move_up(top - 1, NOW) == top
        with pytest.raises(InvalidEntry, match="share the instant"):
            ids.move_up(top, NOW)


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
        """An entry's id encodes its occurred_at to the millisecond, converted to UTC."""
        moment = datetime(2023, 3, 26, 2, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
        entry = log.record(
            "lead.deleted", org_id="acme", actor=ADA, target=Target("lead", 1), occurred_at=moment
        )
        assert moment == entry.occurred_at
        assert ids.time_of(ids.decode(entry.id)) == ids.floor_ms(moment)
        assert entry.occurred_at.tzinfo is timezone.utc

    def test_record_many_at_one_instant(self, log: ActivityLog) -> None:
        """Thousands of entries with one occurred_at are stored, id order = recording order."""
        items = [{"action": "lead.created", "org_id": "acme", "actor": ADA, "occurred_at": NOW,
                  "metadata": {"n": i}} for i in range(3000)]
        stored = log.record_many(items)
        assert [e.metadata["n"] for e in sorted(stored, key=lambda e: e.id)] == list(range(3000))
        assert len({e.id for e in stored}) == 3000

    def test_a_million_ids_at_one_instant(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """1,000,000 ids for one instant, at the worst place in its millisecond, all distinct,
        in order and in the band (what a 1,000,000-entry ``record_many()`` takes)."""
        monkeypatch.setattr(ids.random, "getrandbits", lambda k: (1 << k) - 1)
        gen = ids.IdGenerator()
        late = NOW + timedelta(microseconds=999)
        numbers = [gen.next(late) for _ in range(1_000_000)]
        assert numbers == list(range(numbers[0], numbers[0] + 1_000_000))
        assert numbers[-1] < ids.floor_id(late) + ids.IDS_PER_MS
