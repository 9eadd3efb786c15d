"""Relative times ("2 hours ago", "just now", "in 3 days"), exactly as humanize words them.

``humanize.naturaltime`` converts its argument, looks up its translation catalogue for every
word and reads the clock: some 10 µs a call, as much as reading an entry from a store. While
humanize speaks English the same words come here from plain integer arithmetic on the delta's
days and seconds (humanize's rules as of humanize 4: months of 30.5 days, years of 365,
Python's ``round``). Where that could differ, humanize itself answers: while a translation is
activated, and where the installed humanize rounds differently (its rounding of years changed
between 4.16 and 4.17), which :func:`matches_humanize` checks once.
"""

from __future__ import annotations

import functools
import gettext
from datetime import datetime, timedelta, timezone

import humanize
from humanize import i18n

__all__ = [
    "CLOCK_SKEW", "elapsed", "english", "english_text", "fast", "humanize_text", "matches_humanize",
    "natural_delta", "relative_text",
]

#: How far ahead of now an entry may be and still read "just now" (servers' clocks disagree).
CLOCK_SKEW = timedelta(minutes=5)


def english() -> bool:
    """Whether humanize speaks English now (no translation activated in this thread)."""
    # Asked through humanize's public get_translation every time: a shortcut through its
    # private state saved a microsecond but would give English words, silently, should a
    # later humanize keep its translations elsewhere.
    return type(i18n.get_translation()) is gettext.NullTranslations


def natural_delta(days: int, seconds: int) -> str:
    """``humanize.naturaldelta`` of a duration of at least one second, in English.

    ``days`` and ``seconds`` are a non-negative :class:`~datetime.timedelta`'s fields.
    """
    years, rest = divmod(days, 365)
    if years == 0 and rest == 0:
        if seconds == 1:
            return "a second"
        if seconds < 60:
            return f"{seconds} seconds"
        if seconds < 3600:
            minutes = round(seconds / 60)
            if minutes == 1:
                return "a minute"
            return "an hour" if minutes == 60 else f"{minutes} minutes"
        hours = round(seconds / 3600)
        if hours == 1:
            return "an hour"
        return "a day" if hours == 24 else f"{hours} hours"
    months = round(rest / 30.5)
    if years == 0:
        if rest == 1:
            return "a day"
        if months == 0:
            return f"{rest} days"
        if months == 1:
            return "a month"
        return "a year" if months == 12 else f"{months} months"
    if years == 1:
        if months == 0:
            if rest == 0:
                return "a year"
            return "1 year, 1 day" if rest == 1 else f"1 year, {rest} days"
        if months == 1:
            return "1 year, 1 month"
        return "2 years" if months == 12 else f"1 year, {months} months"
    return f"{round(days / 365):,} years"


#: (days, seconds) of durations that reach every rule of :func:`natural_delta`, its rounding
#: edges included.
_PROBES = (
    (0, 1), (0, 59), (0, 89), (0, 90), (0, 3569), (0, 3570), (0, 5399), (0, 5400), (0, 84599),
    (0, 84600), (1, 0), (15, 0), (16, 0), (45, 0), (46, 0), (350, 0), (364, 0), (365, 0),
    (366, 0), (380, 0), (396, 0), (700, 0), (729, 0), (730, 0), (912, 0), (913, 0), (1000, 0),
    (1277, 0), (1278, 0), (36500, 0),
)


@functools.cache
def matches_humanize() -> bool:
    """Whether :func:`natural_delta` says what the installed humanize says in English.

    Call it only while :func:`english` holds (its answer is kept).
    """
    return all(
        natural_delta(days, seconds) == humanize.naturaldelta(timedelta(days=days, seconds=seconds))
        for days, seconds in _PROBES
    )


def fast() -> bool:
    """Whether :func:`english_text` says what humanize would, now and in this thread."""
    return english() and matches_humanize()


def elapsed(occurred_at: datetime, now: datetime) -> timedelta:
    """The time from ``occurred_at`` to ``now`` (both aware), across DST changes too.

    Python subtracts two datetimes of the same tzinfo object by their wall clocks, which in
    a zone with DST is an hour off across a change; those are compared in UTC.
    """
    zone = now.tzinfo
    if occurred_at.tzinfo is zone and not isinstance(zone, timezone):
        return now.astimezone(timezone.utc) - occurred_at.astimezone(timezone.utc)
    return now - occurred_at


def humanize_text(occurred_at: datetime, now: datetime) -> str:
    """What humanize says of a moment ``occurred_at`` seen at ``now`` (both aware)."""
    delta = elapsed(occurred_at, now)
    if -delta > CLOCK_SKEW:
        return f"in {humanize.naturaldelta(-delta)}"
    if delta.total_seconds() < 1:
        return "just now"
    return humanize.naturaltime(delta)


def english_text(occurred_at: datetime, now: datetime) -> str:
    """:func:`humanize_text` computed here, in English; exact only while :func:`fast` holds."""
    delta = elapsed(occurred_at, now)
    if delta.days < 0:  # ahead of now: "just now" within the clock skew, else "in ..."
        ahead = -delta
        if ahead > CLOCK_SKEW:
            return "in " + natural_delta(ahead.days, ahead.seconds)
        return "just now"
    if delta.days == 0 and delta.seconds == 0:
        return "just now"
    return natural_delta(delta.days, delta.seconds) + " ago"


def relative_text(occurred_at: datetime, now: datetime) -> str:
    """How long before ``now`` a moment ``occurred_at`` was, in humanize's words.

    A moment ahead of ``now`` by at most :data:`CLOCK_SKEW` reads ``"just now"``; further
    ahead it reads ``"in 3 days"``. Both datetimes are aware.
    """
    if english() and matches_humanize():
        return english_text(occurred_at, now)
    return humanize_text(occurred_at, now)
