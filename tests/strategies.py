"""Hypothesis strategies: hostile names, whole ``record()`` calls, and random Activity Log queries."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from hypothesis import strategies as st

from activitylog import (
    ActionRegistry,
    ActivityLog,
    Actor,
    ActorKind,
    ApiKeyRef,
    DateBucket,
    Entry,
    Query,
    Source,
    Target,
    Viewer,
    ids,
)

#: Every built-in action key, so generated logs cover every category.
ACTION_KEYS: tuple[str, ...] = tuple(a.key for a in ActionRegistry())
CATEGORIES: tuple[str, ...] = ActionRegistry().categories

#: Pieces of text that trip up SQL, LIKE/GLOB patterns, FTS query syntax and case folding.
TRICKY: tuple[str, ...] = (
    "Zoë",
    "José",
    "Ünïcödé",
    "naïve",
    "😀",
    "👩‍💻",
    "🇫🇷",
    "%",
    "_",
    "%_",
    '"',
    "'",
    "''",
    "\\",
    "\\%",
    "ß",
    "Straße",
    "STRASSE",
    "İstanbul",
    "ı",
    "İ",
    "e\u0301",
    "é",
    "ﬁle",
    "ǅ",
    "Σίσυφος",
    "ΣΊΣΥΦΟΣ",
    "ς",
    "OR",
    "AND",
    "NOT",
    "NEAR",
    "*",
    "?",
    "[a-z]",
    "^",
    "-",
    ":",
    "(",
    ")",
    "{x}",
    "--",
    ";",
    "/*",
    "deleted",
    "Lead",
    "ab",
    "a",
    "x",
    "\u200b",
    "\u202e",
    "Ⅻ",
    "ｆｕｌｌ",
    "ŉ",
    "\ufb00",
)

#: Organizations of generated logs: two differ only by case.
ORGS: tuple[str, ...] = ("acme", "ACME", "globex")

_chars = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
_word = st.text(_chars, min_size=1, max_size=6).filter(lambda s: s.strip() != "")
_piece = st.one_of(st.sampled_from(TRICKY), _word)


@st.composite
def names(draw: st.DrawFn) -> str:
    """A display name of one to three pieces: accents, emoji, SQL and pattern metacharacters."""
    parts = draw(st.lists(_piece, min_size=1, max_size=3))
    text = draw(st.sampled_from((" ", ""))).join(parts)
    return text if text.strip() else "x" + text


@functools.cache
def actors() -> st.SearchStrategy[Actor]:
    """People and system actors with hostile names (ids drawn from a small pool to repeat)."""
    return st.builds(
        Actor,
        id=st.sampled_from(("u1", "u2", "u3", "u4", "svc")),
        name=names(),
        avatar_url=st.none() | st.just("https://example.com/a.png?x=1&y=%20"),
        kind=st.sampled_from(ActorKind),
    )


@functools.cache
def targets() -> st.SearchStrategy[Target | None]:
    """No target, or a target with or without a hostile label."""
    return st.none() | st.builds(
        Target,
        type=st.sampled_from(("lead", "client", "task", "file", "note", "meeting")),
        id=st.integers(1, 4) | st.integers(1, 10_000).map(str) | _word,
        label=st.none() | names(),
    )


_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(_chars, max_size=8),
)


@functools.cache
def json_values() -> st.SearchStrategy[Any]:
    """JSON values (no NUL): big ints, floats, bools, nested lists and objects."""
    return st.recursive(
        _json_leaf,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text(_chars, max_size=5), inner, max_size=3)
        ),
        max_leaves=8,
    )


@functools.cache
def metadata() -> st.SearchStrategy[dict[str, Any]]:
    """Metadata mappings, sometimes with the ``count``/``ids`` keys descriptions read."""
    return st.dictionaries(st.text(_chars, max_size=8), json_values(), max_size=4) | st.builds(
        lambda n: {"count": n}, st.integers(0, 500)
    )


@functools.cache
def changes() -> st.SearchStrategy[dict[str, tuple[Any, Any]] | None]:
    """No changes, or a few ``field: (old, new)`` pairs."""
    return st.none() | st.dictionaries(
        st.sampled_from(("status", "name", "owner", "plan", "seats")),
        st.tuples(_json_leaf, _json_leaf),
        min_size=1,
        max_size=2,
    )


#: A small pool of instants around one day, so many entries share an instant (id tie-breaks).
BASE = datetime(2024, 3, 13, 2, 30, tzinfo=timezone.utc)
INSTANTS: tuple[datetime, ...] = (
    BASE,
    BASE - timedelta(microseconds=1),
    BASE + timedelta(microseconds=1),
    BASE - timedelta(hours=3),
    BASE - timedelta(days=1),
    BASE - timedelta(days=3),
    BASE - timedelta(days=12),
    BASE - timedelta(days=40),
    BASE - timedelta(days=400),
)
ZONES: tuple[tzinfo, ...] = (
    timezone.utc,
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Kathmandu"),
    ZoneInfo("Pacific/Kiritimati"),
    timezone(timedelta(hours=-9, minutes=-30)),
)


@functools.cache
def instants() -> st.SearchStrategy[datetime]:
    """Aware instants: mostly from ``INSTANTS`` (many ties), some anywhere in 1970..2099."""
    anywhere = st.datetimes(
        min_value=datetime(1970, 1, 1),
        max_value=datetime(2099, 12, 30),
        timezones=st.just(timezone.utc),
    )
    near = st.builds(
        lambda base, minutes: base + timedelta(minutes=minutes),
        st.sampled_from(INSTANTS),
        st.integers(-2000, 2000),
    )
    return st.one_of(st.sampled_from(INSTANTS), st.sampled_from(INSTANTS), near, anywhere)


@functools.cache
def _optional() -> dict[str, st.SearchStrategy[Any]]:
    return {
        "target": targets(),
        "changes": changes(),
        "metadata": metadata(),
        "description": names(),
        "source": st.sampled_from(Source),
        "api_key": st.builds(ApiKeyRef, id=st.sampled_from(("k1", "k2")), name=names()),
        "idempotency_key": st.sampled_from(("op-1", "op-2", "op-3")),
    }


@st.composite
def record_args(draw: st.DrawFn, orgs: Sequence[str] = ORGS) -> dict[str, Any]:
    """The keyword arguments of one ``record()`` call, ``action`` included."""
    args: dict[str, Any] = {
        "action": draw(st.sampled_from(ACTION_KEYS)),
        "org_id": draw(st.sampled_from(orgs)),
        "actor": draw(actors()),
        "occurred_at": draw(instants()),
    }
    for field, strategy in _optional().items():
        if draw(st.booleans()):
            args[field] = draw(strategy)
    if "api_key" in args and args.get("source", Source.API) is not Source.API:
        args["source"] = Source.API  # an API key with another source is refused
    return args


def _retries(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # A key used again in an org is a true retry of its first use (possibly later): a key reused
    # for another entry is refused, which the conformance tests cover on their own.
    first: dict[tuple[str, str], dict[str, Any]] = {}
    out = []
    for args in batch:
        key = args.get("idempotency_key")
        if key is not None:
            seen = first.setdefault((args["org_id"], key), args)
            args = {**seen, "occurred_at": args["occurred_at"]}
        out.append(args)
    return out


def record_batches(
    orgs: Sequence[str] = ORGS, max_size: int = 25
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """A list of ``record()`` argument dicts spread over ``orgs``."""
    return st.lists(record_args(orgs), max_size=max_size).map(_retries)


def with_colliding_ids(entries: Sequence[Entry], picks: Sequence[int]) -> list[Entry]:
    """Entries whose ids are pushed onto the ends of their millisecond's band, so they collide.

    ``picks[i]`` is the offset in the band forced onto entry ``i``; a negative pick leaves it.
    """
    out = []
    for entry, n in zip(entries, picks, strict=False):
        if n < 0:
            out.append(entry)
            continue
        base = int(entry.id, 16) // ids.IDS_PER_MS * ids.IDS_PER_MS
        out.append(attrs.evolve(entry, id=format(base + n, "016x")))
    out.extend(entries[len(picks) :])
    return out


@attrs.frozen
class QueryPlan:
    """A random query, independent of any log: applied to a log with :meth:`apply`."""

    text: str = ""
    categories: tuple[str, ...] = ()
    bucket: DateBucket | None = None
    between: tuple[datetime | None, datetime | None] | None = None
    sort: str = "date"
    descending: bool | None = None
    size: int = 3
    tz: tzinfo = timezone.utc
    week_start: int = 0
    target: tuple[str, str | int] | None = None
    actor: str | int | None = None

    def apply(self, log: ActivityLog, org_id: str, viewer: Viewer) -> Query:
        """The query this plan describes, on ``log`` for ``org_id``."""
        query = log.query(org_id, viewer=viewer, tz=self.tz, week_start=self.week_start)
        query = query.search(self.text).category(*self.categories)
        if self.target is not None:
            query = query.target(*self.target)
        if self.actor is not None:
            query = query.actor(self.actor)
        if self.bucket is not None:
            query = query.date(self.bucket)
        elif self.between is not None:
            query = query.between(*self.between)
        return query.sort(self.sort, self.descending)


def _slices(text: str) -> st.SearchStrategy[str]:
    if not text:
        return st.just("")
    return st.tuples(st.integers(0, len(text)), st.integers(1, 12)).map(
        lambda ij: text[ij[0] : ij[0] + ij[1]]
    )


_case = st.sampled_from((str, str.upper, str.lower, str.swapcase, str.casefold))


@st.composite
def search_texts(draw: st.DrawFn, entries: Sequence[Entry]) -> str:
    """Search text: substrings of the entries' labels/descriptions/actor names, in any case,
    mixed with random short and long words and tricky pieces."""
    fields = [f for e in entries for f in (e.label, e.description, e.actor.name)]
    sources: list[st.SearchStrategy[str]] = [
        st.sampled_from(TRICKY),
        _word,
        st.text(_chars, min_size=7, max_size=20),
        st.sampled_from(("deleted", "created", "lead", "ad", "zz", "  ", "")),
    ]
    if fields:
        # Mostly words taken from the entries, so that searches usually find something.
        sources = [st.sampled_from(fields).flatmap(_slices)] * 6 + sources
    words = draw(st.lists(st.one_of(*sources), min_size=1, max_size=3))
    return " ".join(draw(_case)(w) for w in words)


def orgs_of(entries: Sequence[Entry]) -> st.SearchStrategy[str]:
    """An organization, usually one that has entries."""
    present = sorted({e.org_id for e in entries})
    if not present:
        return st.sampled_from(ORGS)
    return st.one_of(st.sampled_from(present), st.sampled_from(present), st.sampled_from(ORGS))


@st.composite
def query_plans(draw: st.DrawFn, entries: Sequence[Entry] = ()) -> QueryPlan:
    """A random query: search, category subset, a date bucket or range, sort, page size 1..7."""
    text = draw(search_texts(entries)) if draw(st.booleans()) else ""
    used = sorted({e.category for e in entries})
    names = st.sampled_from(used) if used and draw(st.booleans()) else st.sampled_from(CATEGORIES)
    categories = tuple(draw(st.lists(names, max_size=3, unique=True)))
    if draw(st.booleans()):
        categories = ()
    pool = sorted({e.occurred_at for e in entries} | set(INSTANTS))
    edges = st.one_of(
        st.sampled_from(pool),
        st.builds(
            lambda d, us: d + timedelta(microseconds=us),
            st.sampled_from(pool),
            st.sampled_from((-1, 1)),
        ),
    )
    bucket = None
    between = None
    choice = draw(st.sampled_from(("none", "none", "bucket", "range")))
    if choice == "bucket":
        bucket = draw(st.sampled_from(DateBucket))
    elif choice == "range":
        start = draw(st.none() | edges)
        end = draw(st.none() | edges)
        if start is not None and end is not None and start >= end:
            start, end = (end, start) if end < start else (start, None)
        between = (start, end)
    present_targets = sorted({(e.target.type, e.target.id) for e in entries if e.target})
    target_pool = st.tuples(st.sampled_from(("lead", "client", "note")),
                            st.integers(1, 4) | st.integers(1, 4).map(str))
    if present_targets:
        target_pool = st.sampled_from(present_targets) | target_pool
    target = draw(st.none() | st.none() | target_pool)
    actor_pool = st.sampled_from(("u1", "u2", "u3", "u4", "svc", "nobody"))
    actor = draw(st.none() | st.none() | actor_pool)
    return QueryPlan(
        target=target,
        actor=actor,
        text=text,
        categories=categories,
        bucket=bucket,
        between=between,
        sort=draw(st.sampled_from(("date", "action"))),
        descending=draw(st.none() | st.booleans()),
        size=draw(st.integers(1, 7)),
        tz=draw(st.sampled_from(ZONES)),
        week_start=draw(st.integers(0, 6)),
    )
