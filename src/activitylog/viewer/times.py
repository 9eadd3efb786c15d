"""The page's times, cheap enough to compute for every entry of every page.

"2 hours ago" is :mod:`activitylog.reltime`'s, decided once per page: whether humanize speaks
English (then it is plain arithmetic) or humanize itself words it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from .. import reltime
from ..models import Entry


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
        self.fast = reltime.fast()
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
            return iso, exact, reltime.english_text(moment, self.now)
        return iso, exact, reltime.humanize_text(moment, self.now)
