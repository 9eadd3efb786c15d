"""Time-ordered entry ids.

An id is a 63-bit integer shown as 16 hex digits. Each millisecond since the Unix epoch owns a
band of :data:`IDS_PER_MS` (2,048,000) consecutive ids, ``ms * IDS_PER_MS`` up to the next band.
Inside its band an entry starts at ``microsecond * 1024`` (its microsecond within the
millisecond) plus a small random offset, and the entries of one instant count up from there.
So:

- ordering by id is ordering by ``occurred_at`` to the millisecond, and within a millisecond by
  microsecond, then recording order for entries made one after another at one instant (ties),
  as long as no instant of that millisecond holds more than 1,024 entries. An instant holding more keeps counting up through
  the ids of the following microseconds of its millisecond, and is then ordered before entries
  recorded later at those microseconds;
- at least 1,024,000 entries (and up to 2,048,000 per millisecond) fit in one instant, so a
  1,000,000-entry ``record_many()`` with one ``occurred_at`` works;
- a date bound selects whole bands: :func:`floor_id` is the first id of a bound's millisecond,
  and every store applies ``since``/``until`` to the millisecond (see
  :class:`~activitylog.stores.base.QuerySpec`).

Ids written by earlier versions (``microseconds << 11 | n``) lie in the band of their own
millisecond too, so they keep their order and their date filtering.

A store resolves the rare collision (another process, a backfill) by moving the id up with
:func:`move_up`, which refuses to leave the millisecond's band.
"""

from __future__ import annotations

import random
import re
import threading
from datetime import datetime, timedelta, timezone

from .errors import InvalidEntry

#: Ids each millisecond owns (as many as the earlier ``microseconds << 11`` layout gave it).
IDS_PER_MS = 2_048_000
#: Ids between the starts of two consecutive microseconds inside a millisecond's band.
IDS_PER_US = 1024
#: Kept for stores written against the earlier layout: ``number % SEQ_LIMIT == 0`` still means
#: "``number`` has left the band of its millisecond".
SEQ_LIMIT = IDS_PER_MS
#: Entries one instant can always hold, wherever in its millisecond it falls.
MIN_PER_INSTANT = IDS_PER_MS - 1000 * IDS_PER_US
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: The latest instant an id can encode (the 63-bit limit, in the year 2112), kept round.
MAX_TIME = datetime(2100, 1, 1, tzinfo=timezone.utc)
#: Ids fit a signed 64-bit integer (SQLite's INTEGER PRIMARY KEY).
MAX_ID = (1 << 63) - 1

#: Random offset of an instant's first id, below this, so that processes writing one database
#: rarely collide (and a collision costs one ``move_up``).
_JITTER_BITS = 9

_ID_TEXT = re.compile(r"[0-7][0-9a-f]{15}")


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime (exact, no float rounding)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The aware UTC datetime of a microsecond timestamp."""
    return EPOCH + timedelta(microseconds=micros)


def encode(value: int) -> str:
    """The public text form of an integer id."""
    if not 0 <= value <= MAX_ID:
        raise ValueError(f"not an entry id: {value!r}")
    return format(value, "016x")


def decode(text: str) -> int:
    """The integer form of a public id; raises ``ValueError`` when it is not one.

    Only the exact form :func:`encode` writes is accepted (16 lowercase hex digits), so that
    every store agrees on which strings name an entry.
    """
    # int(text, 16) alone would also take "0x...", "-...", "_" separators and spaces.
    if not isinstance(text, str) or not _ID_TEXT.fullmatch(text):
        raise ValueError(f"not an entry id: {text!r}")
    return int(text, 16)


def floor_id(moment: datetime) -> int:
    """The first id of the millisecond band ``moment`` falls in.

    An entry's id is at least the floor of its ``occurred_at`` and below the floor of the next
    millisecond. Clamped to the range ids can take, so a far-past or far-future bound still
    compares correctly with every id (and fits a 64-bit integer column).
    """
    micros = min(max(0, to_micros(moment)), to_micros(MAX_TIME))
    return micros // 1000 * IDS_PER_MS


def floor_ms(moment: datetime) -> datetime:
    """``moment`` in UTC with its sub-millisecond part dropped: the precision of date bounds."""
    moment = moment.astimezone(timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def time_of(value: int) -> datetime:
    """The millisecond an id belongs to (the entry's ``occurred_at`` to the millisecond)."""
    return from_micros(value // IDS_PER_MS * 1000)


def move_up(value: int, occurred_at: datetime) -> int:
    """The id after ``value`` for a store whose ``value`` is taken; stays in the same band.

    Raises :class:`InvalidEntry` when the millisecond of ``occurred_at`` has no id left above.
    """
    value += 1
    if value % IDS_PER_MS == 0:
        raise InvalidEntry(
            f"more than {IDS_PER_MS} entries share the instant {occurred_at.isoformat()} "
            f"(its millisecond has no free id left)"
        )
    return value


class IdGenerator:
    """Makes unique, time-ordered ids; thread-safe and monotonic for one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = -1
        # Where the run of ids that ``_last`` belongs to started (its instant's natural place).
        self._run = -1
        # The instant (its natural place) of the id made last, and that id: a burst at one
        # instant below ``_last`` (a backfill) keeps counting up too.
        self._current = (-1, -1)

    def next(self, occurred_at: datetime) -> int:
        """A new id for an entry occurring at ``occurred_at`` (aware, 1970 ≤ t < 2100)."""
        if not (EPOCH <= occurred_at < MAX_TIME):
            raise InvalidEntry(
                f"occurred_at {occurred_at.isoformat()} is outside the supported range "
                f"{EPOCH.year}..{MAX_TIME.year - 1}"
            )
        ms, us = divmod(to_micros(occurred_at), 1000)
        band = ms * IDS_PER_MS
        start = band + us * IDS_PER_US
        with self._lock:
            last = self._last
            current_start, current = self._current
            if current_start == start:
                # The same instant again: ties keep their recording order.
                value = move_up(current, occurred_at)
                run = self._run if value > last else start
            elif self._run <= start <= last < band + IDS_PER_MS:
                # An earlier instant's overflow reached past this instant's place: continue it.
                value = move_up(last, occurred_at)
                run = self._run
            else:
                # A new instant. One earlier than the last (a backfill) may collide with an id
                # made before; stores resolve that with move_up().
                run = start
                value = start + random.getrandbits(_JITTER_BITS)
            if value > last:
                self._last, self._run = value, run
            self._current = (start, value)
            return value
