"""Tamper evidence: each organization's entries form a hash chain that :func:`verify` checks.

``hash = SHA-256(prev_hash + "\\n" + canonical(entry))`` (HMAC-SHA-256 with the log's
``integrity_key`` when one is set), where ``canonical`` is the versioned encoding documented in
``docs/integrity.md``. ``seq`` is not part of the encoding: an entry's place is fixed by its
``prev_hash`` link, and verification checks that ``seq`` runs 1, 2, 3... without gaps.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import re
from collections import deque
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

import attrs
from dateutil.parser import isoparse

from .errors import InvalidQuery
from .models import Entry
from .stores.base import GENESIS, ChainHead, Store

#: Version of the canonical encoding; part of every encoded entry (``"v"``).
ENCODING_VERSION = 1

#: How many entries :func:`verify` reads ahead of a broken link, and how many hashes of
#: verified entries it keeps, to tell a reordering from an insertion or a removal: the most
#: it ever holds at once.
REORDER_WINDOW = 1024

#: The fields of :class:`~activitylog.models.Entry` the chain stores rather than hashes.
CHAIN_FIELDS = ("seq", "prev_hash", "hash")

_HEX64 = re.compile(r"[0-9a-f]{64}")


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("occurred_at must be timezone-aware to be encoded")
    utc = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def canonical_dict(entry: Entry) -> dict[str, Any]:
    """The fields an entry's hash covers, as JSON-ready values (every field but seq/prev_hash/hash)."""
    return {
        "v": ENCODING_VERSION,
        "id": entry.id,
        "org_id": entry.org_id,
        "action": entry.action,
        "label": entry.label,
        "category": entry.category,
        "kind": entry.kind.value,
        "actor": {
            "id": entry.actor.id,
            "name": entry.actor.name,
            "avatar_url": entry.actor.avatar_url,
            "kind": entry.actor.kind.value,
        },
        "description": entry.description,
        "occurred_at": _timestamp(entry.occurred_at),
        "source": entry.source.value,
        "api_key": None
        if entry.api_key is None
        else {"id": entry.api_key.id, "name": entry.api_key.name},
        "target": None
        if entry.target is None
        else {"type": entry.target.type, "id": entry.target.id, "label": entry.target.label},
        "changes": None
        if entry.changes is None
        else {k: [old, new] for k, (old, new) in entry.changes.items()},
        "metadata": dict(entry.metadata),
        "idempotency_key": entry.idempotency_key,
    }


def _unmappable(value: object) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


# Entries hold JSON round-trip copies, which cannot be circular; skipping that check makes
# encoding a third faster.
_ENCODER = json.JSONEncoder(
    sort_keys=True,
    separators=(",", ":"),
    ensure_ascii=False,
    allow_nan=False,
    check_circular=False,
    default=_unmappable,
)


def canonical(entry: Entry) -> bytes:
    """The canonical encoding: compact JSON, keys sorted, UTF-8, no ASCII escaping."""
    return _ENCODER.encode(canonical_dict(entry)).encode("utf-8")


def _message(prev_hash: str, entry: Entry) -> bytes:
    return prev_hash.encode("ascii") + b"\n" + canonical(entry)


class HashChain:
    """Links entries with SHA-256, or HMAC-SHA-256 when given a secret ``key``."""

    def __init__(self, key: bytes | str | None = None) -> None:
        if isinstance(key, str):
            key = key.encode("utf-8")
        if key is not None and not key:
            raise ValueError("integrity_key must not be empty")
        self._key = key

    @property
    def keyed(self) -> bool:
        """Whether links are HMACs (forging them needs the key)."""
        return self._key is not None

    def link(self, prev_hash: str, entry: Entry) -> str:
        """The hash of ``entry`` chained after ``prev_hash`` (both lowercase hex)."""
        message = _message(prev_hash, entry)
        if self._key is None:
            return hashlib.sha256(message).hexdigest()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


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


class _Lookahead:
    """An iterator that can look a bounded distance ahead without losing what it saw."""

    def __init__(self, source: Iterator[Entry]) -> None:
        self._source = source
        self._buffer: deque[Entry] = deque()

    def __iter__(self) -> _Lookahead:
        return self

    def __next__(self) -> Entry:
        if self._buffer:
            return self._buffer.popleft()
        return next(self._source)

    def _fill(self, n: int) -> None:
        while len(self._buffer) < n:
            try:
                self._buffer.append(next(self._source))
            except StopIteration:
                return

    def peek(self) -> Entry | None:
        """The next entry, or ``None`` at the end."""
        self._fill(1)
        return self._buffer[0] if self._buffer else None

    def ahead(self, n: int) -> Iterator[Entry]:
        """Up to ``n`` next entries (buffered, still to be returned by ``next``)."""
        self._fill(n)
        return iter(self._buffer)


def verify(
    store: Store, org_id: str, chain: HashChain, since: Checkpoint | None = None
) -> VerifyReport:
    """Check one organization's chain in a single streaming pass and report the first problem.

    Memory stays bounded: the pass keeps the hashes of the last :data:`REORDER_WINDOW`
    entries, and only after a broken link reads up to that many entries ahead, to tell a
    reordering from an insertion or a removal. Besides every entry's hash and link, it checks
    the chain against the head the store recorded (read before the pass, so that entries
    appended meanwhile are not mistaken for damage) and, with ``since``, against a checkpoint
    kept elsewhere: that catches a chain rewritten consistently, which an unkeyed chain cannot
    reveal on its own. Raises :class:`InvalidQuery` when ``since`` belongs to another
    organization.
    """
    if since is not None and since.org_id != org_id:
        raise InvalidQuery(f"the checkpoint is for org {since.org_id!r}, not {org_id!r}")
    return _Verifier(store, org_id, chain, since).run()


class _Verifier:
    """One verification pass; see :func:`verify`."""

    def __init__(
        self, store: Store, org_id: str, chain: HashChain, since: Checkpoint | None
    ) -> None:
        self.store = store
        self.org_id = org_id
        self.chain = chain
        self.since = since
        self.checked = 0
        # Hashes of the last verified entries, newest last; GENESIS stands for seq 0.
        self.recent: deque[str] = deque([GENESIS], maxlen=REORDER_WINDOW + 1)

    @property
    def prev_hash(self) -> str:
        return self.recent[-1]

    def fail(self, problem: Problem, seq: int, detail: str) -> VerifyReport:
        intact = seq - 1
        back = self.checked - intact  # how far behind the last verified entry that one is
        last = self.recent[-1 - back] if 0 <= back < len(self.recent) else None
        return VerifyReport(
            self.org_id, intact, False, problem, seq, detail, head_seq=intact, head_hash=last
        )

    def self_ok(self, entry: Entry, chain: HashChain | None = None) -> bool:
        """Whether the entry's stored hash is its link from its stored ``prev_hash``."""
        if not (_valid_hash(entry.prev_hash) and _valid_hash(entry.hash)):
            return False
        assert entry.prev_hash is not None and entry.hash is not None
        try:
            expected = (chain or self.chain).link(entry.prev_hash, entry)
        except (TypeError, ValueError, AttributeError, OverflowError):
            # A tampered row the store could only hand back raw cannot match any hash.
            return False
        return hmac.compare_digest(expected.encode("ascii"), entry.hash.encode("ascii"))

    def run(self) -> VerifyReport:
        head = self.store.head(self.org_id)
        rows = _Lookahead(self.store.chain(self.org_id))
        for entry in rows:
            report = self.check(entry, rows, head)
            if report is not None:
                return report
            self.recent.append(entry.hash or "")
            self.checked += 1
        return self.finish(head)

    def check(self, entry: Entry, rows: _Lookahead, head: ChainHead | None) -> VerifyReport | None:
        """Verify one entry in place; a report when it is where the damage begins."""
        expected = self.checked + 1
        seq = entry.seq
        if not isinstance(seq, int) or isinstance(seq, bool):
            return self.fail(Problem.MODIFIED, expected, f"the entry's seq is {seq!r}")
        if seq > expected:
            return self.fail(
                Problem.MISSING, expected, f"the sequence jumps from {expected - 1} to {seq}"
            )
        if seq < expected:
            return self.fail(Problem.INSERTED, seq, f"a second entry claims seq {seq}")
        intact = self.self_ok(entry)
        linked = entry.prev_hash == self.prev_hash
        if intact and linked:
            return self.against_records(entry, seq, rows, head)
        if entry.hash is None:
            return self.fail(
                Problem.BAD_HASH, seq, "the entry has no hash (recorded with integrity off)"
            )
        following = rows.peek()
        if not linked:
            return self.broken_link(entry, seq, rows, following)
        if following is not None and following.prev_hash == self.prev_hash:
            return self.fail(Problem.INSERTED, seq, "the next entry links past this one")
        if following is None and self.beyond_head(seq):
            return self.fail(Problem.INSERTED, seq, "a broken entry after the recorded head")
        if self.chain.keyed and self.self_ok(entry, HashChain()):
            return self.fail(
                Problem.BAD_HASH, seq, "the stored hash is a plain SHA-256, made without the key"
            )
        if following is not None:
            next_link = following.prev_hash
        elif head is not None and head.seq == seq:
            next_link = head.hash
        elif self.since is not None and self.since.seq == seq:
            next_link = self.since.hash
        else:
            next_link = None
        if next_link is not None and next_link == entry.hash:
            if following is not None and not self.self_ok(following):
                return self.fail(
                    Problem.BAD_HASH,
                    seq,
                    "consecutive entries do not match their hashes although every link holds:"
                    " the integrity key is wrong or missing, or the hashes were forged",
                )
            return self.fail(Problem.MODIFIED, seq, "the entry no longer matches its hash")
        return self.fail(
            Problem.BAD_HASH, seq, "the stored hash was not produced by this chain's key"
        )

    def broken_link(
        self, entry: Entry, seq: int, rows: _Lookahead, following: Entry | None
    ) -> VerifyReport:
        """Explain an entry that does not link to the one before it."""
        if _valid_hash(entry.hash) and self.self_ok(attrs.evolve(entry, prev_hash=self.prev_hash)):
            return self.fail(Problem.MODIFIED, seq, "the entry's prev_hash was altered")
        if entry.prev_hash is not None and any(
            e.hash == entry.prev_hash for e in rows.ahead(REORDER_WINDOW)
        ):
            return self.fail(
                Problem.REORDERED, seq, "the entry this one follows comes later in the log"
            )
        if following is not None and following.prev_hash == self.prev_hash:
            return self.fail(Problem.INSERTED, seq, "the next entry links past this one")
        recent = list(self.recent)
        if entry.prev_hash in recent[:-1]:
            back = len(recent) - 1 - recent.index(entry.prev_hash)
            first = seq - back
            return self.fail(
                Problem.INSERTED,
                first,
                f"seq {seq} links back to seq {first - 1}: the entries between were put in",
            )
        if following is None and self.beyond_head(seq):
            return self.fail(Problem.INSERTED, seq, "a broken entry after the recorded head")
        return self.fail(Problem.MISSING, seq, "the entry this one follows is gone")

    def against_records(
        self, entry: Entry, seq: int, rows: _Lookahead, head: ChainHead | None
    ) -> VerifyReport | None:
        """Compare a verified entry with the checkpoint and the head recorded at its seq."""
        for recorded, what in ((self.since, "checkpoint"), (head, "recorded head")):
            if recorded is None or recorded.seq != seq or recorded.hash == entry.hash:
                continue
            if any(e.hash == recorded.hash for e in rows.ahead(REORDER_WINDOW)):
                # The recorded entry comes later: entries were put in before it, and its link
                # will break where they end; let that explain the damage.
                continue
            return self.fail(
                Problem.REWRITTEN,
                seq,
                f"the chain no longer passes through the {what}: entries up to seq {seq} were"
                f" rewritten{' (or the head was)' if what == 'recorded head' else ''}",
            )
        return None

    def beyond_head(self, seq: int) -> bool:
        """Whether ``seq`` lies after the head the store records now."""
        latest = self.store.head(self.org_id)
        return latest is None or latest.seq < seq

    def finish(self, head: ChainHead | None) -> VerifyReport:
        """Check the end of the chain against the recorded head and the checkpoint."""
        n = self.checked
        if head is not None and head.seq > n:
            return self.fail(
                Problem.MISSING, n + 1, f"the log ends at seq {n}, its recorded head at {head.seq}"
            )
        if self.since is not None and self.since.seq > n:
            return self.fail(
                Problem.MISSING,
                n + 1,
                f"the log ends at seq {n}, the checkpoint of {self.since.at.isoformat()}"
                f" at {self.since.seq}",
            )
        # Read again: entries appended during the pass moved the head past the first reading.
        latest = self.store.head(self.org_id)
        recorded = 0 if latest is None else latest.seq
        if recorded < n:
            return self.fail(
                Problem.INSERTED,
                recorded + 1,
                f"the recorded head is at seq {recorded} but the log goes on to seq {n}",
            )
        if latest is not None and latest.seq == n and latest.hash != self.prev_hash:
            return self.fail(
                Problem.REWRITTEN,
                n,
                "the chain no longer ends at the recorded head: entries were rewritten"
                " (or the head was)",
            )
        return VerifyReport(self.org_id, n, True, head_seq=n, head_hash=self.prev_hash)
