"""Copying a log from one store to another (SQLite to PostgreSQL, say), entry for entry.

Each organization's chain is read in ``seq`` order and appended to the target in batches, with
the source's ids, seqs and hashes: a batch is one append (all or nothing), and the links are
the source's own hashes, so the copy verifies with the same key as the original without the
key being needed to copy. Memory stays bounded by one batch, whatever the log's size.

Copying is resumable: an organization the target already holds part of continues after the
target's head, provided that head is the source's entry at the same ``seq`` (same hash);
anything else (a target written by someone else) stops the copy before it writes.
When all is copied, every organization copied is read back from both stores and compared
entry by entry, and a difference raises :class:`CopyError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice

import attrs

from .errors import ActivityLogError, ConfigurationError
from .models import Entry
from .stores.base import Store


class CopyError(ActivityLogError):
    """The target cannot take the source's log unchanged (it diverges, or a copy differs)."""


@attrs.frozen
class CopyProgress:
    """How far a copy is: entries ``done`` of ``total``, now in organization ``org_id``."""

    org_id: str
    done: int
    total: int


@attrs.frozen
class CopyReport:
    """What a copy did: entries written now, entries found already copied, and compared."""

    copied: int
    skipped: int
    compared: int
    org_ids: tuple[str, ...]


class _SourceLinks:
    """A chain that links each entry with the hash it has in the source.

    The target calls ``link(prev_hash, entry)`` inside its append with its own head as
    ``prev_hash`` and the entry at its new ``seq``; both must be the source's, or the copy
    would not be the same chain.
    """

    def __init__(self, batch: Sequence[Entry]) -> None:
        self._by_seq = {entry.seq: entry for entry in batch}

    def link(self, prev_hash: str, entry: Entry) -> str:
        source = self._by_seq.get(entry.seq)
        if source is None or source.hash is None or source.prev_hash != prev_hash:
            raise CopyError(
                f"organization {entry.org_id!r}: the target placed entry {entry.id} at seq "
                f"{entry.seq} after {prev_hash[:12]}…, not where the source has it"
            )
        return source.hash


def copy_log(
    source: Store,
    target: Store,
    *,
    org_ids: Iterable[str] | None = None,
    batch_size: int = 1000,
    progress: Callable[[CopyProgress], None] | None = None,
    compare: bool = True,
) -> CopyReport:
    """Copy every organization's log (or those of ``org_ids``) from ``source`` to ``target``.

    ``progress`` is called after each batch. With ``compare`` (the default) both logs are read
    back at the end and must be equal entry for entry. Raises :class:`CopyError` when the
    target holds a different log for an organization, or the copy differs from the source.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(f"batch_size must be a positive integer, not {batch_size!r}")
    orgs = list(source.org_ids() if org_ids is None else org_ids)
    heads = {org: source.head(org) for org in orgs}
    total = sum(head.seq for head in heads.values() if head is not None)
    start = {org: _resume_point(source, target, org) for org in orgs}
    skipped = sum(start.values())
    done = skipped
    copied = 0
    for org in orgs:
        for batch in _batches(source.chain(org, start[org]), batch_size):
            for run in _runs(batch):
                stored = target.append(run, None if run[0].hash is None else _SourceLinks(run))
                _check_placed(run, stored)
            copied += len(batch)
            done += len(batch)
            if progress is not None:
                progress(CopyProgress(org, done, total))
    compared = sum(_compare(source, target, org) for org in orgs) if compare else 0
    return CopyReport(copied, skipped, compared, tuple(orgs))


def _resume_point(source: Store, target: Store, org: str) -> int:
    """The ``seq`` the target's log of ``org`` ends at, checked to be the source's there."""
    head = target.head(org)
    if head is None:
        return 0
    mine = next(iter(source.chain(org, head.seq - 1)), None)
    if mine is None or mine.seq != head.seq or mine.hash != head.hash:
        raise CopyError(
            f"organization {org!r}: the target already holds {head.seq} entries that are not "
            "the source's first ones; copy into an empty store"
        )
    return head.seq


def _batches(entries: Iterator[Entry], size: int) -> Iterator[list[Entry]]:
    while batch := list(islice(entries, size)):
        yield batch


def _runs(batch: list[Entry]) -> Iterator[list[Entry]]:
    """The batch cut where entries switch between hashed and unhashed (a log recorded partly
    without integrity): each run is appended with the matching chain."""
    start = 0
    for i in range(1, len(batch) + 1):
        if i == len(batch) or (batch[i].hash is None) != (batch[start].hash is None):
            yield batch[start:i]
            start = i


def _check_placed(run: Sequence[Entry], stored: Sequence[Entry]) -> None:
    for want, got in zip(run, stored, strict=True):
        if (got.id, got.seq, got.prev_hash, got.hash) != (want.id, want.seq, want.prev_hash,
                                                          want.hash):  # fmt: skip
            raise CopyError(
                f"organization {want.org_id!r}: entry {want.id} (seq {want.seq}) was stored as "
                f"{got.id} (seq {got.seq}); the target holds other entries with its id or key"
            )


def _compare(source: Store, target: Store, org: str) -> int:
    """Read both logs of ``org`` in ``seq`` order; the number of entries, all equal."""
    count = 0
    mine, theirs = source.chain(org), target.chain(org)
    for count, (a, b) in enumerate(zip(mine, theirs, strict=False), start=1):  # noqa: B007
        if a != b:
            raise CopyError(f"organization {org!r}: the copy of seq {a.seq} differs from the source")
    if next(mine, None) is not None or next(theirs, None) is not None:
        raise CopyError(f"organization {org!r}: the copy does not hold as many entries")
    return count
