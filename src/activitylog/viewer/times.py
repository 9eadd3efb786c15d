"""The page's times, cheap enough to compute for every entry of every page.

:func:`relative_time` gives exactly what :meth:`activitylog.Entry.relative_time` gives
("2 hours ago", "just now", "in 3 days"), which goes through ``humanize.naturaltime``: that
function converts its argument, looks up its translation catalogue for every word and reads
the clock, some 10 µs an entry, as much as reading the entry from the store. Here the same
rules are plain integer arithmetic on the delta's days and seconds (humanize's rules as of
humanize 4: months of 30.5 days, years of 365, Python's ``round``). The equivalence is checked
against ``Entry.relative_time`` over the whole range of deltas by the viewer's tests. The page
falls back to humanize itself while humanize has a language other than English activated, and
where the installed humanize rounds differently (its rounding of years changed between 4.16 and
4.17): :func:`matches_humanize` checks that once.
"""

from __future__ import annotations

import functools
import gettext
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import humanize
from humanize import i18n

from ..models import CLOCK_SKEW, Entry, relative_text


def english() -> bool:
    """Whether humanize speaks English now (no translation activated in this thread)."""
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


def relative_time(occurred_at: datetime, now: datetime) -> str:
    """What ``Entry.relative_time(now)`` says of an entry that occurred at ``occurred_at``.

    Computed here in English when that is exact (see :func:`matches_humanize`), by humanize
    otherwise; both datetimes are aware.
    """
    if not (english() and matches_humanize()):
        return relative_text(occurred_at, now)
    delta = now - occurred_at
    if delta.days < 0:  # ahead of now: "just now" within the clock skew, else "in ..."
        ahead = -delta
        if ahead > CLOCK_SKEW:
            return "in " + natural_delta(ahead.days, ahead.seconds)
        return "just now"
    if delta.days == 0 and delta.seconds == 0:
        return "just now"
    return natural_delta(delta.days, delta.seconds) + " ago"


def exact_time(moment: datetime, tz: tzinfo) -> str:
    """The full local time of a moment, e.g. ``"2024-03-13 03:30:00 CET"``."""
    return moment_texts(moment, tz)[1]


def moment_texts(moment: datetime, tz: tzinfo) -> tuple[str, str]:
    """``moment.isoformat()`` and :func:`exact_time` of it, in one go.

    ``isoformat`` is the costly part of both; a local time with the moment's own offset (a
    UTC entry seen in UTC, the default) has the same ISO text, so it is written once.
    """
    text = moment.isoformat()
    local = moment.astimezone(tz)
    offset = local.utcoffset()
    local_text = text if offset == moment.utcoffset() else local.isoformat()
    return text, local_text[:10] + " " + local_text[11:19] + " " + (local.tzname() or "UTC")


def _utc_suffix(tz: tzinfo) -> str | None:
    """`` UTC`` (the zone's name after a space) when ``tz`` is UTC at every moment, else None.

    Only :class:`ZoneInfo` and :class:`timezone` are asked: both answer ``utcoffset(None)``
    with their offset when it never changes (and ZoneInfo with None when it does).
    """
    if not isinstance(tz, (ZoneInfo, timezone)) or tz.utcoffset(None) != timedelta(0):
        return None
    return " " + (tz.tzname(None) or "UTC")


class PageTimes:
    """The times of one page's entries, seen at ``now`` from ``tz``: ISO, exact, relative.

    Decided once per page: whether "2 hours ago" can be computed here (humanize speaks
    English) and whether the viewer's zone is UTC, in which case an entry stored in UTC has
    its exact local time in its ISO text already.
    """

    def __init__(self, now: datetime, tz: tzinfo) -> None:
        self.now = now
        self.tz = tz
        self.fast = english() and matches_humanize()
        self._utc = _utc_suffix(tz)

    def texts(self, entry: Entry) -> tuple[str, str, str]:
        """``occurred_at`` in ISO, the exact local time, and ``entry.relative_time(now)``."""
        moment = entry.occurred_at
        if self._utc is not None and moment.tzinfo is timezone.utc:
            iso = moment.isoformat()
            exact = iso[:10] + " " + iso[11:19] + self._utc
        else:
            iso, exact = moment_texts(moment, self.tz)
        if self.fast:
            return iso, exact, relative_time(moment, self.now)
        return iso, exact, entry.relative_time(self.now)
