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
from collections import deque
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import attrs

from .models import Entry
from .stores.base import GENESIS, Store

#: Version of the canonical encoding; part of every encoded entry.
ENCODING_VERSION = 1

#: How far :func:`verify` looks around a broken link to tell a reordering from a removal.
REORDER_WINDOW = 1024


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_dict(entry: Entry) -> dict[str, Any]:
    """The fields an entry's hash covers, as JSON-ready values."""
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


def canonical(entry: Entry) -> bytes:
    """The canonical encoding: compact JSON, keys sorted, UTF-8, no ASCII escaping."""
    return json.dumps(
        canonical_dict(entry),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_unmappable,
    ).encode("utf-8")


def _unmappable(value: object) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


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
        message = prev_hash.encode("ascii") + b"\n" + canonical(entry)
        if self._key is None:
            return hashlib.sha256(message).hexdigest()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


class Problem(str, enum.Enum):
    """What kind of damage verification found."""

    MODIFIED = "modified"  # an entry's content differs from what its hash covers
    MISSING = "missing"  # an entry is gone (a gap, a cut link, or a truncated tail)
    INSERTED = "inserted"  # an entry that was never part of the chain
    REORDERED = "reordered"  # genuine entries in the wrong place
    BAD_HASH = "bad hash"  # a stored hash that the chain key did not produce


@attrs.frozen
class Checkpoint:
    """The head of an organization's chain at one moment; keep it somewhere else."""

    org_id: str
    seq: int
    hash: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"org_id": self.org_id, "seq": self.seq, "hash": self.hash, "at": self.at.isoformat()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        """The inverse of :meth:`to_dict`."""
        return cls(
            org_id=str(data["org_id"]),
            seq=int(data["seq"]),
            hash=str(data["hash"]),
            at=datetime.fromisoformat(str(data["at"])),
        )


@attrs.frozen
class VerifyReport:
    """The outcome of verifying one organization's chain.

    ``ok`` is true when nothing is wrong. Otherwise ``problem`` names the first problem found,
    ``seq`` the sequence number where it was found and ``detail`` says more.
    """

    org_id: str
    checked: int
    ok: bool
    problem: Problem | None = None
    seq: int | None = None
    detail: str = ""
    head_seq: int = 0

    def __bool__(self) -> bool:
        return self.ok


def verify(
    store: Store, org_id: str, chain: HashChain, since: Checkpoint | None = None
) -> VerifyReport:
    """Check one organization's chain in a single streaming pass (bounded memory)."""
    if since is not None and since.org_id != org_id:
        raise ValueError(f"checkpoint is for org {since.org_id!r}, not {org_id!r}")
    checked = 0
    prev_hash = GENESIS
    recent: deque[str] = deque(maxlen=REORDER_WINDOW)
    rows = _Peekable(store.chain(org_id))

    def fail(problem: Problem, seq: int, detail: str) -> VerifyReport:
        return VerifyReport(org_id, checked, False, problem, seq, detail, head_seq=checked)

    for entry in rows:
        expected = checked + 1
        seq = entry.seq or 0
        if seq > expected:
            return fail(Problem.MISSING, expected, f"sequence jumps from {expected - 1} to {seq}")
        if seq < expected:
            return fail(Problem.INSERTED, seq, f"a second entry claims sequence {seq}")
        self_ok = entry.hash is not None and hmac.compare_digest(
            chain.link(entry.prev_hash or "", entry), entry.hash
        )
        linked = entry.prev_hash == prev_hash
        if not self_ok:
            following = rows.peek()
            if following is not None:
                next_link = following.prev_hash
            else:
                head = store.head(org_id)
                next_link = head.hash if head is not None and head.seq == seq else None
            if linked and next_link == entry.hash:
                return fail(Problem.MODIFIED, seq, "the entry no longer matches its hash")
            if following is not None and next_link == prev_hash:
                return fail(Problem.INSERTED, seq, "the next entry links past this one")
            return fail(Problem.BAD_HASH, seq, "the stored hash was not produced by this chain")
        if not linked:
            ahead = {e.hash for e in rows.lookahead(REORDER_WINDOW)}
            if entry.prev_hash in recent or entry.prev_hash in ahead:
                return fail(Problem.REORDERED, seq, "a genuine entry is out of its place")
            return fail(Problem.MISSING, seq, "the entry this one follows is gone")
        if since is not None and seq == since.seq and entry.hash != since.hash:
            return fail(Problem.MODIFIED, seq, "history up to the checkpoint was rewritten")
        if entry.hash is not None:
            recent.append(entry.hash)
        prev_hash = entry.hash or GENESIS
        checked += 1
    head = store.head(org_id)
    if head is not None and head.seq > checked:
        return fail(Problem.MISSING, checked + 1, f"the log ends at {checked}, its head at {head.seq}")
    if since is not None and since.seq > checked:
        return fail(
            Problem.MISSING, checked + 1, f"the log ends at {checked}, the checkpoint at {since.seq}"
        )
    if head is not None and head.seq == checked and head.hash != prev_hash:
        return fail(Problem.MODIFIED, checked, "the last entry differs from the recorded head")
    return VerifyReport(org_id, checked, True, head_seq=checked)


class _Peekable:
    """An iterator that can look ahead without losing what it saw."""

    def __init__(self, source: Iterator[Entry]) -> None:
        self._source = source
        self._buffer: deque[Entry] = deque()

    def __iter__(self) -> _Peekable:
        return self

    def __next__(self) -> Entry:
        if self._buffer:
            return self._buffer.popleft()
        return next(self._source)

    def lookahead(self, n: int) -> list[Entry]:
        while len(self._buffer) < n:
            try:
                self._buffer.append(next(self._source))
            except StopIteration:
                break
        return list(self._buffer)[:n]

    def peek(self) -> Entry | None:
        ahead = self.lookahead(1)
        return ahead[0] if ahead else None
