"""Relative times: the arithmetic says exactly what humanize says, and humanize answers where
it could not (a translation activated, an installed humanize that rounds differently)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from importlib.metadata import version
from typing import Any
from zoneinfo import ZoneInfo

import humanize
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from activitylog import Actor, Entry, reltime

NOW = datetime(2024, 3, 13, 2, 30, tzinfo=timezone.utc)


def entry_at(moment: datetime) -> Entry:
    """An entry that occurred at ``moment``."""
    return Entry(id="e1", org_id="acme", action="lead.created", label="Lead Created",
                 category="Leads", kind="create", actor=Actor("u1", "Ada"),
                 description="Ada created lead", occurred_at=moment, source="dashboard")


def check(delta: timedelta, now: datetime = NOW) -> None:
    """``relative_text`` and ``Entry.relative_time`` of a moment ``delta`` before ``now`` are
    humanize's words."""
    expected = reltime.humanize_text(now - delta, now)
    assert reltime.relative_text(now - delta, now) == expected, delta
    assert entry_at(now - delta).relative_time(now) == expected, delta


class TestRelativeText:
    def test_every_second_around_each_step_of_the_first_day(self) -> None:
        """Every second of the first two hours (seconds, minutes rounded half to even), and
        around each half hour after (hours rounded), ago and ahead, reads as humanize's."""
        seconds = set(range(7201))
        for half_hour in range(1800, 86400 + 1800, 1800):
            seconds.update(range(half_hour - 3, half_hour + 4))
        seconds.update(range(0, 86400, 61))
        for second in sorted(seconds):
            check(timedelta(seconds=second))
            check(timedelta(seconds=-second))

    def test_every_day_of_four_years_both_ways(self) -> None:
        """Each day up to four years (months of 30.5 days, years of 365), ago and ahead."""
        for days in range(4 * 365 + 2):
            for extra in (0, 1, 43199, 43201, 86399):
                check(timedelta(days=days, seconds=extra))
                check(-timedelta(days=days, seconds=extra))

    @settings(max_examples=600, deadline=None)
    @given(st.timedeltas(min_value=timedelta(days=-400_000), max_value=timedelta(days=400_000)))
    @example(timedelta(microseconds=999_999))
    @example(timedelta(microseconds=-1))
    @example(timedelta(minutes=-5))
    @example(timedelta(minutes=-5, microseconds=-1))
    @example(timedelta(seconds=90))  # round(1.5) is 2
    @example(timedelta(seconds=150))  # round(2.5) is 2
    @example(timedelta(days=365 * 1000))  # "1,000 years"
    def test_any_delta(self, delta: timedelta) -> None:
        """Any delta to microseconds, past and future, seconds to a millennium, reads as
        humanize's."""
        check(delta)

    @settings(max_examples=300, deadline=None)
    @given(st.sampled_from([1, 60, 3600, 86400, 30 * 86400, 365 * 86400, 10 * 365 * 86400]),
           st.floats(min_value=1, max_value=60), st.booleans())
    def test_each_scale(self, unit: int, count: float, ahead: bool) -> None:
        """Seconds, minutes, hours, days, months, years and decades, as many of each as
        random, read as humanize's (the wide draw above seldom lands on short ones)."""
        delta = timedelta(seconds=unit * count)
        check(-delta if ahead else delta)

    @settings(max_examples=200, deadline=None)
    @given(st.timedeltas(min_value=timedelta(days=-3000), max_value=timedelta(days=3000)),
           st.sampled_from(["UTC", "Europe/Paris", "America/St_Johns", "Asia/Kathmandu"]))
    def test_any_zone_of_now(self, delta: timedelta, zone: str) -> None:
        """The zone ``now`` and the moment are written in changes nothing, across DST
        changes too (one zone's wall clocks are an hour off there)."""
        now = NOW.astimezone(ZoneInfo(zone))
        moment = (NOW - delta).astimezone(ZoneInfo(zone))
        assert reltime.relative_text(moment, now) == reltime.humanize_text(NOW - delta, NOW)


class TestSelfCheck:
    @pytest.fixture
    def fresh_check(self) -> Iterator[None]:
        """The kept answer of ``matches_humanize`` is forgotten before and after the test."""
        reltime.matches_humanize.cache_clear()
        yield
        reltime.matches_humanize.cache_clear()

    def test_current_humanize_is_computed_here(self) -> None:
        """humanize 4.17 and later round as the arithmetic does, so the fast path is taken
        (older ones may not; the tests above hold either way)."""
        major, minor = (int(part) for part in version("humanize").split(".")[:2])
        assert reltime.fast() or (major, minor) < (4, 17)

    def test_humanize_rounding_otherwise_answers(self, monkeypatch: pytest.MonkeyPatch,
                                                 fresh_check: None) -> None:
        """A humanize that words one duration otherwise turns the arithmetic off: its own
        words are given, for every duration."""
        real = humanize.naturaldelta

        def rounding_otherwise(value: timedelta, *args: Any) -> str:
            return "3 years" if value == timedelta(days=912) else real(value, *args)

        # naturaltime calls the naturaldelta of its own module.
        monkeypatch.setattr(humanize, "naturaldelta", rounding_otherwise)
        monkeypatch.setattr(humanize.time, "naturaldelta", rounding_otherwise)
        assert not reltime.matches_humanize()
        assert not reltime.fast()
        moment = NOW - timedelta(days=912)
        assert reltime.english_text(moment, NOW) == "2 years ago"
        assert reltime.relative_text(moment, NOW) == "3 years ago"
        assert entry_at(moment).relative_time(NOW) == "3 years ago"
        assert reltime.relative_text(NOW + timedelta(days=912), NOW) == "in 3 years"

    def test_translation_otherwise_answers(self, french: None) -> None:
        """With a humanize translation active, humanize words it."""
        assert not reltime.english()
        assert not reltime.fast()
        moment = NOW - timedelta(hours=2)
        text = reltime.relative_text(moment, NOW)
        assert text == reltime.humanize_text(moment, NOW) == entry_at(moment).relative_time(NOW)
        assert text != "2 hours ago"

    def test_english_by_default(self) -> None:
        """Nothing activated: humanize speaks English."""
        assert reltime.english()
