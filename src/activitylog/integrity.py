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
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timezone
from json.encoder import encode_basestring
from typing import Any, NamedTuple

import attrs
from dateutil.parser import isoparse

from . import ids
from .errors import InvalidQuery
from .models import ActorKind, Entry, Kind, Source
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


#: ``occurred_at`` as encoded: what ``isoformat(timespec="microseconds")`` writes, plus a ``Z``.
_TIMESTAMP = "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ"


def timestamp(moment: datetime) -> str:
    """An aware instant as the encoding writes it: UTC, microseconds, ``Z``."""
    if type(moment) is datetime and moment.tzinfo is timezone.utc:
        # The common case, formatted from the fields: twice as fast as converting first.
        return _TIMESTAMP % (
            moment.year, moment.month, moment.day,
            moment.hour, moment.minute, moment.second, moment.microsecond,
        )  # fmt: skip
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("occurred_at must be timezone-aware to be encoded")
    utc = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MAX_MICROS = ids.to_micros(ids.MAX_TIME)
_days: dict[int, str] = {}


def _micros_timestamp(micros: int) -> str:
    """``timestamp`` of the instant ``micros`` microseconds after the epoch.

    Computed from the number (with the date of each day cached) instead of through a
    ``datetime``: verification formats one per entry.
    """
    if not 0 <= micros <= _MAX_MICROS:
        return timestamp(ids.from_micros(micros))
    seconds, fraction = divmod(micros, 1_000_000)
    day, rest = divmod(seconds, 86_400)
    text = _days.get(day)
    if text is None:
        text = date.fromordinal(_EPOCH_ORDINAL + day).isoformat()
        if len(_days) >= 4096:
            _days.clear()
        _days[day] = text
    minutes, second = divmod(rest, 60)
    hour, minute = divmod(minutes, 60)
    return "%sT%02d:%02d:%02d.%06dZ" % (text, hour, minute, second, fraction)  # noqa: UP031


def canonical_dict(entry: Entry) -> dict[str, Any]:
    """The fields an entry's hash covers, as JSON-ready values (every field but seq/prev_hash/hash)."""
    actor, key, target, changes = entry.actor, entry.api_key, entry.target, entry.changes
    kind, source, actor_kind = entry.kind, entry.source, actor.kind
    return {
        "v": ENCODING_VERSION,
        "id": entry.id,
        "org_id": entry.org_id,
        "action": entry.action,
        "label": entry.label,
        "category": entry.category,
        # ``_value_`` is what ``value`` returns, without the descriptor call (exports build
        # this dict for every entry).
        "kind": kind._value_ if type(kind) is Kind else kind.value,
        "actor": {
            "id": actor.id,
            "name": actor.name,
            "avatar_url": actor.avatar_url,
            "kind": actor_kind._value_ if type(actor_kind) is ActorKind else actor_kind.value,
        },
        "description": entry.description,
        "occurred_at": timestamp(entry.occurred_at),
        "source": source._value_ if type(source) is Source else source.value,
        "api_key": None if key is None else {"id": key.id, "name": key.name},
        "target": None
        if target is None
        else {"type": target.type, "id": target.id, "label": target.label},
        "changes": None
        if changes is None
        else {k: [old, new] for k, (old, new) in changes.items()},
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


def _c_encoder() -> Callable[[Any], str]:
    """``_ENCODER.encode`` for dicts and lists, without making a new C encoder at each call."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the _json accelerator
        return _ENCODER.encode
    # The arguments JSONEncoder.iterencode passes for _ENCODER's settings.
    chunks = make(None, _unmappable, encode_basestring, None, ":", ",", True, False,
                            False)  # fmt: skip

    def encode(value: Any) -> str:
        return "".join(chunks(value, 0))

    return encode


_encode_json = _c_encoder()

#: The canonical object with its keys already in sorted order, filled in by ``%``.
_CANONICAL = (
    '{"action":%s,"actor":{"avatar_url":%s,"id":%s,"kind":%s,"name":%s},"api_key":%s,'
    '"category":%s,"changes":%s,"description":%s,"id":%s,"idempotency_key":%s,"kind":%s,'
    '"label":%s,"metadata":%s,"occurred_at":"%s","org_id":%s,"source":%s,"target":%s,"v":1}'
)
_API_KEY = '{"id":%s,"name":%s}'
_TARGET = '{"id":%s,"label":%s,"type":%s}'
_ENCODING_ERRORS = (TypeError, ValueError, AttributeError, OverflowError)


def _canonical_text(entry: Entry) -> str:
    """``canonical(entry)`` before UTF-8 encoding.

    Entries of the usual shape (text fields, real enum members, a UTC ``occurred_at``) are
    written straight into the sorted template, each string by the JSON encoder's own string
    routine: the same text as encoding :func:`canonical_dict`, at about half the cost. Any
    other entry, or one the template cannot encode, goes through :func:`canonical_dict`, so
    that what is encoded, and what is refused, never differs between the two.
    """
    try:
        actor = entry.actor
        kind, source, actor_kind = entry.kind, entry.source, actor.kind
        if type(kind) is Kind and type(source) is Source and type(actor_kind) is ActorKind:
            string = encode_basestring  # raises TypeError for anything but text
            key, target, changes = entry.api_key, entry.target, entry.changes
            avatar, idempotency_key = actor.avatar_url, entry.idempotency_key
            metadata = dict(entry.metadata)
            return _CANONICAL % (
                string(entry.action),
                "null" if avatar is None else string(avatar),
                string(actor.id),
                string(actor_kind),  # a str enum member encodes as its value
                string(actor.name),
                "null" if key is None else _API_KEY % (string(key.id), string(key.name)),
                string(entry.category),
                "null"
                if changes is None
                else _encode_json({k: [old, new] for k, (old, new) in changes.items()}),
                string(entry.description),
                string(entry.id),
                "null" if idempotency_key is None else string(idempotency_key),
                string(kind),
                string(entry.label),
                _encode_json(metadata) if metadata else "{}",
                timestamp(entry.occurred_at),
                string(entry.org_id),
                string(source),
                "null"
                if target is None
                else _TARGET
                % (
                    string(target.id),
                    "null" if target.label is None else string(target.label),
                    string(target.type),
                ),
            )
    except _ENCODING_ERRORS:
        pass  # the reference path below raises its own error, or encodes what it can
    return _ENCODER.encode(canonical_dict(entry))


def canonical(entry: Entry) -> bytes:
    """The canonical encoding: compact JSON, keys sorted, UTF-8, no ASCII escaping."""
    return _canonical_text(entry).encode("utf-8")


#: The plain values a store may hand to :func:`verify` instead of an entry (see
#: :func:`fields_text`), in this order.
RECORD_FIELDS = (
    "id", "org_id", "action", "label", "category", "kind", "actor.id", "actor.name",
    "actor.avatar_url", "actor.kind", "description", "occurred_at", "source", "api_key.id",
    "api_key.name", "target.type", "target.id", "target.label", "changes", "metadata",
    "idempotency_key",
)  # fmt: skip


def fields_text(fields: tuple[Any, ...]) -> str:
    """The canonical encoding (as text) of an entry given as plain values (RECORD_FIELDS order).

    A store that reads rows can verify them without building entries: ``kind``, ``source`` and
    ``actor.kind`` are the enum values as text, ``occurred_at`` is microseconds since the
    epoch, ``api_key``/``target`` are absent when their ``id``/``type`` is ``None``,
    ``changes`` is ``None`` or maps fields to ``(old, new)`` pairs and ``metadata`` is a
    mapping. The store vouches that these are the values the stored entry holds; then the
    text is exactly that of :func:`canonical`. Raises ``TypeError`` when a text field is not
    text, ``OverflowError`` for an instant no datetime holds.
    """
    (id_, org_id, action, label, category, kind, actor_id, actor_name, avatar, actor_kind,
     description, micros, source, key_id, key_name, target_type, target_id, target_label,
     changes, metadata, idempotency_key) = fields  # fmt: skip
    string = encode_basestring
    return _CANONICAL % (
        string(action),
        "null" if avatar is None else string(avatar),
        string(actor_id),
        string(actor_kind),
        string(actor_name),
        "null" if key_id is None else _API_KEY % (string(key_id), string(key_name)),
        string(category),
        "null" if changes is None else _encode_json(changes),
        string(description),
        string(id_),
        "null" if idempotency_key is None else string(idempotency_key),
        string(kind),
        string(label),
        _encode_json(metadata) if metadata else "{}",
        _micros_timestamp(micros),
        string(org_id),
        string(source),
        "null"
        if target_type is None
        else _TARGET
        % (
            string(target_id),
            "null" if target_label is None else string(target_label),
            string(target_type),
        ),
    )


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
        return self.digest(prev_hash, _canonical_text(entry))

    def digest(self, prev_hash: str, canonical_text: str) -> str:
        """The link of an entry given by its canonical encoding as text (see fields_text())."""
        message = prev_hash.encode("ascii") + b"\n" + canonical_text.encode("utf-8")
        if self._key is None:
            return hashlib.sha256(message).hexdigest()
        # The one-shot C HMAC: the same digest as hmac.new(...).hexdigest(), three times faster.
        return hmac.digest(self._key, message, "sha256").hex()


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

    ``content`` is the entry, or the plain values of :func:`fields_text` from a store that
    offers ``chain_records``.
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


def _content_text(content: Any) -> str:
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

    def __iter__(self) -> _Lookahead:
        return self

    def __next__(self) -> tuple[Any, ...]:
        if self._buffer:
            return self._buffer.popleft()
        return next(self._source)

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
        digest = self.chain.digest
        recent = self.recent
        last = recent[-1]
        expected = self.checked + 1
        for item in rows:
            # The clean case inline: the entry is next in seq, links to the last one and its
            # hash is its link (then both hashes are well formed). Anything else, check().
            seq, prev_hash, hash_, content = item
            if seq == expected and prev_hash == last and type(seq) is int and seq not in stops:
                try:
                    intact = digest(last, _content_text(content)) == hash_
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
