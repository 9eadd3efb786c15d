"""Tamper evidence: each organization's entries form a hash chain that :func:`verify` checks.

``hash = SHA-256(prev_hash + "\\n" + canonical(entry))`` (HMAC-SHA-256 with the log's
``integrity_key`` when one is set), where ``canonical`` is the versioned encoding documented in
``docs/integrity.md``. ``seq`` is not part of the encoding: an entry's place is fixed by its
``prev_hash`` link, and verification checks that ``seq`` runs 1, 2, 3... without gaps.

The encoding and :class:`HashChain` live in :mod:`.canonical`, what a verification reports in
:mod:`.reports`; this module verifies and re-exports both.
"""

from __future__ import annotations

import hmac
from collections import deque
from collections.abc import Iterator
from typing import Any

from .canonical import (
    _ENCODING_ERRORS,
    _MAX_MICROS,  # noqa: F401  (importable from here, as before the split)
    CHAIN_FIELDS,
    ENCODING_VERSION,
    RECORD_FIELDS,
    HashChain,
    _canonical_text,
    _micros_timestamp,  # noqa: F401
    canonical,
    canonical_dict,
    fields_text,
    timestamp,
)
from .errors import InvalidQuery
from .reports import Altered, Checkpoint, Link, Problem, VerifyReport, _valid_hash
from .stores.base import GENESIS, ChainHead, Store

__all__ = [
    "CHAIN_FIELDS",
    "ENCODING_VERSION",
    "RECORD_FIELDS",
    "REORDER_WINDOW",
    "Altered",
    "Checkpoint",
    "HashChain",
    "Link",
    "Problem",
    "VerifyReport",
    "canonical",
    "canonical_dict",
    "fields_text",
    "timestamp",
    "verify",
]


#: How many entries :func:`verify` reads ahead of a broken link, and how many hashes of
#: verified entries it keeps, to tell a reordering from an insertion or a removal: the most
#: it ever holds at once.
REORDER_WINDOW = 1024


def _content_text(content: Any) -> str:
    if type(content) is str:
        return content
    if type(content) is tuple:
        return fields_text(content)
    if type(content) is Altered:
        raise ValueError(content.detail)  # matches no hash
    return _canonical_text(content)


def _links(store: Store, org_id: str) -> Iterator[tuple[Any, Any, Any, Any]]:
    """The chain as ``(seq, prev_hash, hash, content)`` tuples.

    A store may offer ``chain_records(org_id)`` yielding such tuples itself, with the plain
    values of :func:`fields_text` as content where it can vouch for them: verifying then needs
    no entry objects, or :class:`Altered` for an entry whose derived data was changed.
    Otherwise each entry of :meth:`Store.chain` is its own content.
    """
    records = getattr(store, "chain_records", None)
    if records is not None:
        return iter(records(org_id))
    return ((e.seq, e.prev_hash, e.hash, e) for e in store.chain(org_id))


class _Lookahead:
    """An iterator that can look a bounded distance ahead without losing what it saw."""

    def __init__(self, source: Iterator[tuple[Any, ...]]) -> None:
        self._source = source
        self._buffer: deque[tuple[Any, ...]] = deque()

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        # A generator rather than __next__: one resumption per entry instead of a method call
        # and a call of next() (a tenth of a clean pass). Entries looked at ahead come first.
        buffer, source = self._buffer, self._source
        while True:
            while buffer:
                yield buffer.popleft()
            for item in source:
                yield item
                if buffer:
                    break
            else:
                return

    def _fill(self, n: int) -> None:
        while len(self._buffer) < n:
            try:
                self._buffer.append(next(self._source))
            except StopIteration:
                return

    def peek(self) -> Link | None:
        """The next entry, or ``None`` at the end."""
        self._fill(1)
        return Link._make(self._buffer[0]) if self._buffer else None

    def ahead(self, n: int) -> Iterator[Link]:
        """Up to ``n`` next entries (buffered, still to be returned by ``next``)."""
        self._fill(n)
        return map(Link._make, self._buffer)


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

    def self_ok(self, entry: Link, chain: HashChain | None = None) -> bool:
        """Whether the entry's stored hash is its link from its stored ``prev_hash``."""
        if not (_valid_hash(entry.prev_hash) and _valid_hash(entry.hash)):
            return False
        try:
            expected = (chain or self.chain).digest(entry.prev_hash, _content_text(entry.content))
        except _ENCODING_ERRORS:
            # A tampered row the store could only hand back raw cannot match any hash.
            return False
        return hmac.compare_digest(expected.encode("ascii"), entry.hash.encode("ascii"))

    def run(self) -> VerifyReport:
        head = self.store.head(self.org_id)
        rows = _Lookahead(_links(self.store, self.org_id))
        # Seqs where the chain must also meet a recorded head or checkpoint (see check()).
        stops = {recorded.seq for recorded in (head, self.since) if recorded is not None}
        # ``last`` is always a hash verified here (or GENESIS): ASCII.
        digest = self.chain.ascii_digest()
        recent = self.recent
        last = recent[-1]
        expected = self.checked + 1
        for item in rows:
            # The clean case inline: the entry is next in seq, links to the last one and its
            # hash is its link (then both hashes are well formed). Anything else, check().
            seq, prev_hash, hash_, content = item
            if seq == expected and prev_hash == last and type(seq) is int and seq not in stops:
                try:
                    text = content if type(content) is str else _content_text(content)
                    intact = digest(last, text) == hash_
                except _ENCODING_ERRORS:
                    intact = False
                if intact:
                    recent.append(hash_)
                    last = hash_
                    expected += 1
                    continue
            self.checked = expected - 1
            report = self.check(Link._make(item), rows, head)
            if report is not None:
                return report
            recent.append(hash_ or "")
            last = recent[-1]
            expected += 1
        self.checked = expected - 1
        return self.finish(head)

    def check(self, entry: Link, rows: _Lookahead, head: ChainHead | None) -> VerifyReport | None:
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
            if type(entry.content) is Altered:
                return self.fail(Problem.MODIFIED, seq, entry.content.detail)
            return self.fail(Problem.MODIFIED, seq, "the entry no longer matches its hash")
        return self.fail(
            Problem.BAD_HASH, seq, "the stored hash was not produced by this chain's key"
        )

    def broken_link(
        self, entry: Link, seq: int, rows: _Lookahead, following: Link | None
    ) -> VerifyReport:
        """Explain an entry that does not link to the one before it."""
        if _valid_hash(entry.hash) and self.self_ok(entry._replace(prev_hash=self.prev_hash)):
            return self.fail(Problem.MODIFIED, seq, "the entry's prev_hash was altered")
        if entry.prev_hash is not None and any(
            e.hash == entry.prev_hash for e in rows.ahead(REORDER_WINDOW)
        ):
            return self.fail(
                Problem.REORDERED, seq, "the entry this one follows comes later in the log"
            )
        if following is not None and following.prev_hash == self.prev_hash:
            return self.fail(Problem.INSERTED, seq, "the next entry links past this one")
        if following is None and self.beyond_head(seq) and not self.self_ok(entry):
            # Before looking back: a copy of an earlier entry put after the head links back to
            # where the original is, but the copy (a new id, so no longer its hash) is what
            # was put in. A genuine entry linking back means the ones between were put in.
            return self.fail(Problem.INSERTED, seq, "a broken entry after the recorded head")
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
        self, entry: Link, seq: int, rows: _Lookahead, head: ChainHead | None
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
        derived = getattr(self.store, "derived_problem", None)
        found = None if derived is None else derived(self.org_id, n)
        if found is not None:
            # Derived data (a search index, say) that no longer matches intact entries.
            seq, detail = found
            return VerifyReport(self.org_id, seq - 1, False, Problem.MODIFIED, seq, detail,
                                head_seq=seq - 1, head_hash=None)  # fmt: skip
        return VerifyReport(self.org_id, n, True, head_seq=n, head_hash=self.prev_hash)
