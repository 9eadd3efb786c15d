"""The fixed world the conformance suite runs in: two organizations, a start instant, a clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

#: The organization the suite's viewers belong to, and a second one for isolation tests.
ORG = "acme"
OTHER_ORG = "globex"
#: The fixed instant the ``clock`` fixture starts at: Wednesday 13 March 2024, 02:30 UTC.
START = datetime(2024, 3, 13, 2, 30, tzinfo=timezone.utc)


class Clock:
    """A controllable clock: ``clock()`` returns ``clock.now``, which tests move by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward by a ``timedelta(**delta)`` and return the new time."""
        self.now += timedelta(**delta)
        return self.now
