"""Time-ordered entry ids.

An id is a 63-bit integer ``microseconds since the Unix epoch << 11 | n`` shown as 16 hex digits.
Because the time part is the entry's own ``occurred_at``, ordering by id *is* ordering by date
(ties broken by ``n``), so every store can page by date with a single-column keyset and SQL
stores can use the id as their integer primary key. ``n`` starts at a random value for each new
microsecond (so that several processes writing one database rarely collide; stores resolve the
rare collision) and counts up within a microsecond, so ids made by one process are monotonic.
"""

from __future__ import annotations

import random
import re
import threading
from datetime import datetime, timezone

from .errors import InvalidEntry

SEQ_BITS = 11
SEQ_LIMIT = 1 << SEQ_BITS
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: The latest instant an id can encode (the 63-bit limit, in the year 2112), kept round.
MAX_TIME = datetime(2100, 1, 1, tzinfo=timezone.utc)
#: Ids fit a signed 64-bit integer (SQLite's INTEGER PRIMARY KEY).
MAX_ID = (1 << 63) - 1

_ID_TEXT = re.compile(r"[0-7][0-9a-f]{15}")


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime (exact, no float rounding)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The aware UTC datetime of a microsecond timestamp."""
    from datetime import timedelta

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
    """The smallest id an entry occurring at ``moment`` can have.

    Clamped to the range ids can take, so a far-past or far-future bound still compares
    correctly with every id (and fits a 64-bit integer column).
    """
    micros = min(max(0, to_micros(moment)), to_micros(MAX_TIME))
    return micros << SEQ_BITS


def time_of(value: int) -> datetime:
    """The instant encoded in an integer id."""
    return from_micros(value >> SEQ_BITS)


class IdGenerator:
    """Makes unique, time-ordered ids; thread-safe and monotonic for one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = -1

    def next(self, occurred_at: datetime) -> int:
        """A new id for an entry occurring at ``occurred_at`` (aware, 1970 ≤ t < 2100)."""
        if not (EPOCH <= occurred_at < MAX_TIME):
            raise InvalidEntry(
                f"occurred_at {occurred_at.isoformat()} is outside the supported range "
                f"{EPOCH.year}..{MAX_TIME.year - 1}"
            )
        base = to_micros(occurred_at) << SEQ_BITS
        with self._lock:
            last = self._last
            if last >> SEQ_BITS == base >> SEQ_BITS:
                if last + 1 >= base + SEQ_LIMIT:
                    raise InvalidEntry(
                        f"more than {SEQ_LIMIT} entries share the instant {occurred_at.isoformat()}"
                    )
                value = last + 1
            else:
                # Leave most of the range free for counting up within this microsecond. An
                # instant earlier than the last one (a backfill) may collide with an id made
                # before; stores resolve that by moving up within the microsecond.
                value = base + random.getrandbits(SEQ_BITS - 1)  # below SEQ_LIMIT // 2
            if value > last:
                self._last = value
            return value
