"""What verification reports: the kinds of damage, checkpoints, reports and chain records."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

import attrs
from dateutil.parser import isoparse

from .errors import InvalidQuery
from .stores.base import GENESIS

_HEX64 = re.compile(r"[0-9a-f]{64}")


class Problem(str, enum.Enum):
    """What kind of damage verification found."""

    #: An entry's content differs from what its (genuine) hash covers.
    MODIFIED = "modified"
    #: An entry is gone: a gap in ``seq``, a link to an entry that is not there, or a tail cut
    #: off behind the recorded head or a checkpoint.
    MISSING = "missing"
    #: An entry that was never part of the chain: the chain links past it, or it lies beyond
    #: the recorded head.
    INSERTED = "inserted"
    #: Genuine entries in the wrong place.
    REORDERED = "reordered"
    #: A stored hash the chain's key did not produce: recomputed without the key, or the log
    #: was opened with a wrong or missing ``integrity_key``.
    BAD_HASH = "bad hash"
    #: Every entry checks out, but the chain no longer passes through a checkpoint or the
    #: recorded head: history at or before that ``seq`` was rewritten consistently.
    REWRITTEN = "rewritten"


def _valid_hash(value: object) -> bool:
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


@attrs.frozen
class Checkpoint:
    """The head of an organization's chain at one moment; keep it somewhere else.

    ``seq`` 0 (with ``hash`` ``GENESIS``) is the checkpoint of an empty organization.
    """

    org_id: str
    seq: int
    hash: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"org_id": self.org_id, "seq": self.seq, "hash": self.hash, "at": self.at.isoformat()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        """The inverse of :meth:`to_dict`; raises :class:`InvalidQuery` on a malformed one."""
        try:
            org_id, seq, digest, at = data["org_id"], data["seq"], data["hash"], data["at"]
        except (KeyError, TypeError) as exc:
            raise InvalidQuery(f"not a checkpoint: missing {exc}") from None
        if not isinstance(org_id, str) or not org_id:
            raise InvalidQuery(f"checkpoint org_id must be a non-empty string, not {org_id!r}")
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise InvalidQuery(f"checkpoint seq must be a whole number >= 0, not {seq!r}")
        if not _valid_hash(digest):
            raise InvalidQuery(f"checkpoint hash must be 64 lowercase hex digits, not {digest!r}")
        try:
            moment = isoparse(str(at))
        except ValueError:
            raise InvalidQuery(f"checkpoint time is not ISO 8601: {at!r}") from None
        if moment.tzinfo is None:
            raise InvalidQuery(f"checkpoint time has no time zone: {at!r}")
        return cls(org_id=org_id, seq=seq, hash=digest, at=moment)


@attrs.frozen
class VerifyReport:
    """The outcome of verifying one organization's chain.

    ``ok`` is true when nothing is wrong; ``checked`` entries (seq 1 to ``head_seq``) verified,
    and ``head_hash`` is the hash of the last one (``GENESIS`` for an empty organization).
    Otherwise ``problem`` names the first problem found, ``seq`` the sequence number where it
    was found and ``detail`` says more; ``checked`` = ``head_seq`` = ``seq - 1`` entries come
    before it, and ``head_hash`` is the hash of the last of them when the pass still knows it.
    """

    org_id: str
    checked: int
    ok: bool
    problem: Problem | None = None
    seq: int | None = None
    detail: str = ""
    head_seq: int = 0
    head_hash: str | None = GENESIS

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return f"{self.org_id}: {self.checked} entries verified, head {self.head_hash}"
        assert self.problem is not None
        return f"{self.org_id}: {self.problem.value} at seq {self.seq}: {self.detail}"


class Link(NamedTuple):
    """One entry of a chain as :func:`verify` reads it: its place, its two hashes, its content.

    ``content`` is the entry or, from a store that offers ``chain_records``, its canonical
    text or the plain values of :func:`~activitylog.canonical.fields_text`.
    """

    seq: Any
    prev_hash: Any
    hash: Any
    content: Any


class Altered(NamedTuple):
    """Content a store hands to :func:`verify` for an entry whose derived data (search text,
    say) no longer matches its hashed fields: the entry is reported as modified, with
    ``detail`` saying what differs."""

    detail: str
