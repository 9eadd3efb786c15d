"""SQLite search planning: how a query's words and categories run on the FTS5 trigram index.

The index (:mod:`.schema`) holds, per entry, the organization and category as one-trigram
tokens and the haystack's distinct words; its rowid is the entry id, so matches come newest
first without sorting. Words of three characters or more are trigram phrases; shorter ones are
looked up as the indexed trigrams that start with them (:func:`expand`) or checked row by row.
Rows of small appends wait in the pending table (:func:`pending_sql`) until enough are indexed
together; every plan also checks them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

import attrs

from .._sql.plan import id_bounds, keyset, storable
from .._sql.rows import columns
from ..base import QuerySpec
from . import schema
from .transaction import plain_cursor

#: The select list of a row (:mod:`activitylog.stores._sql.rows`), table alias ``e``.
COLUMNS = columns("e")
#: A one- or two-character search word is looked up as the trigrams that start with it when
#: there are at most this many; beyond that it is checked on each candidate row instead.
MAX_EXPANSION = 256
#: Organizations with fewer entries than this are searched by walking their index: measured
#: faster than the search index below a few thousand entries.
SCAN_BELOW = 3000


@attrs.frozen
class Context:
    """What planning a read needs: the read transaction's connection, whether searches use the
    index, whether every index row holds ``schema.search_text()`` (one-character words can then
    be looked up), and the category code lookup (``None`` for an unknown category)."""

    conn: sqlite3.Connection
    search: bool
    search_words: bool
    category_code: Callable[[str], int | None]
    #: The SQL of an entry's search text: its column, or (a read-only file whose stored text
    #: was derived by another version) the text derived again by a registered function.
    haystack: str = "e.haystack"


def fts_string(text: str) -> str:
    """``text`` as an FTS5 string literal: every character literal, ``"`` doubled."""
    return '"' + text.replace('"', '""') + '"'


#: Above this many words, a row's words are checked by one condition over a JSON array
#: instead of one condition each: SQLite refuses expressions more than 1,000 deep.
MANY_TERMS = 16
#: At most this many words go to the search index; the others are checked row by row on its
#: matches (FTS5 refuses query expressions more than 256 deep, and the first words narrow
#: enough).
MAX_INDEXED_TERMS = 16


def term_conditions(
    terms: tuple[str, ...] | list[str], haystack: str = "e.haystack"
) -> tuple[list[str], list[Any]]:
    """Conditions that the ``haystack`` expression holds every word, and their parameters."""
    if len(terms) <= MANY_TERMS:
        return [f"instr({haystack}, ?) > 0"] * len(terms), list(terms)
    return [f"NOT EXISTS (SELECT 1 FROM json_each(?) w WHERE instr({haystack}, w.value) = 0)"], [
        json.dumps(list(terms))
    ]


def narrowing(spec: QuerySpec) -> tuple[list[str], list[Any]] | None:
    """``spec``'s target and actor filters as conditions on ``e``; ``None`` when nothing can
    match (a value no stored text can equal). Served by the ``(org, target_type, target_id,
    id)`` and ``(org, actor_id, id)`` indexes."""
    where: list[str] = []
    params: list[Any] = []
    if spec.target is not None:
        if not all(storable(part) for part in spec.target):
            return None
        where += ["e.target_type = ?", "e.target_id = ?"]
        params += list(spec.target)
    if spec.actor_id is not None:
        if not storable(spec.actor_id):
            return None
        where.append("e.actor_id = ?")
        params.append(spec.actor_id)
    return where, params


@attrs.frozen
class Filter:
    """How one query runs: the FTS5 match (or none) and the words checked row by row.

    With a match, rows still pending (not in the search index yet) are checked row by row for
    every word (``terms``); ``indexed_none`` says the index itself can match nothing (a short
    word none of its trigrams starts), so that only pending rows can.
    """

    match: str | None
    scan_terms: tuple[str, ...]
    category_names: tuple[str, ...]
    terms: tuple[str, ...] = ()
    indexed_none: bool = False
    #: Target and actor conditions on ``e`` (:func:`narrowing`); never with a match.
    narrow: tuple[tuple[str, ...], tuple[Any, ...]] = ((), ())
    #: What scanned words are looked for in (:attr:`Context.haystack`).
    haystack: str = "e.haystack"


def plan(ctx: Context, code: int, spec: QuerySpec, *, page: bool = False) -> Filter | None:
    """How to run ``spec``'s search and category filter; ``None`` when nothing can match.

    For a ``page``, a one- or two-character word is checked on the matches of the longer
    words when there are any: looking it up in the index reads every trigram that starts
    with it, which costs more than checking the few rows a page needs. A count keeps the
    lookup, which spares it joining every match with its row.
    """
    names = tuple(n for n in dict.fromkeys(spec.categories) if storable(n))
    if spec.categories and not names:
        return None
    if not all(storable(term) for term in spec.terms):
        return None  # no stored text contains a lone surrogate
    narrow = narrowing(spec)
    if narrow is None:
        return None
    if narrow[0]:
        # One record's or one person's entries: their index narrows more than the search
        # index would, and each candidate's text is checked.
        narrowed = (tuple(narrow[0]), tuple(narrow[1]))
        return Filter(None, tuple(spec.terms), names, narrow=narrowed, haystack=ctx.haystack)
    # The search index takes words of three characters or more, and shorter ones as the
    # trigrams that start with them (see _expand): two characters always, one character
    # in indexes whose every row holds search_text(). NUL never reaches it, as FTS5 query
    # strings cannot carry one.
    shortest = 1 if ctx.search_words else 2
    indexable = [t for t in spec.terms if len(t) >= shortest and "\x00" not in t]
    long_terms = [t for t in indexable if len(t) >= 3][:MAX_INDEXED_TERMS]
    short_terms = [t for t in spec.terms if t not in long_terms]
    if not ctx.search or not indexable or org_size(ctx, code) < SCAN_BELOW:
        return Filter(None, tuple(spec.terms), names, haystack=ctx.haystack)
    parts = [f"org : {fts_string(schema.token(code))}"]
    if names:
        codes = [c for c in (ctx.category_code(n) for n in names) if c is not None]
        if not codes:
            return None
        parts.append("category : (" + " OR ".join(fts_string(schema.token(c)) for c in codes) + ")")
    words = [f"haystack : {fts_string(term)}" for term in long_terms]
    scan: list[str] = []
    indexed_none = False
    for term in short_terms:
        lookup = term in indexable and not (page and long_terms)
        trigrams = expand(ctx, term) if lookup else None
        if trigrams is None:
            scan.append(term)
        elif not trigrams:
            indexed_none = True  # only rows not indexed yet can hold it
        else:
            words.append("haystack : (" + " OR ".join(fts_string(t) for t in trigrams) + ")")
    if not words and not indexed_none:
        # Nothing for the index to narrow: walk the organization's index.
        return Filter(None, tuple(spec.terms), names, haystack=ctx.haystack)
    match = " AND ".join(parts + (words or ['haystack : ""']))
    return Filter(match, tuple(scan), names, tuple(spec.terms), indexed_none)


def org_size(ctx: Context, code: int) -> int:
    row = (
        plain_cursor(ctx.conn)
        .execute("SELECT coalesce(sum(n), 0) FROM activitylog_counts WHERE org = ?", (code,))
        .fetchone()
    )
    return int(row[0])


def expand(ctx: Context, term: str) -> list[str] | None:
    """The indexed trigrams that start with a one- or two-character word, or ``None`` if
    there are too many.

    The index holds each word followed by newlines (:func:`schema.search_text`), so every
    occurrence of the word starts a trigram: the rows matching any of them are exactly the
    rows containing it.
    """
    rows = (
        plain_cursor(ctx.conn)
        .execute(
            f"SELECT term FROM {schema.SEARCH_TERMS} WHERE term > ? AND term <= ? LIMIT ?",
            (term, term + "\U0010ffff", MAX_EXPANSION + 1),
        )
        .fetchall()
    )
    if len(rows) > MAX_EXPANSION:
        return None
    return [row[0] for row in rows]


def pending_sql(
    code: int,
    spec: QuerySpec,
    plan: Filter,
    columns: str = COLUMNS,
    upto: tuple[str, int] | None = None,
    ordered: bool = True,
) -> tuple[str | None, list[Any]]:
    """The SQL (ending in ``LIMIT ?`` when ``ordered``) for the pending rows that match an
    index plan: the few rows of small appends not in the search index yet, each checked
    for every word."""
    bounds = id_bounds(spec, "e.id")
    after = keyset(spec, "e.id")
    if bounds is None or after is None:
        return None, []
    where = ["e.org = ?", *bounds[0], *after[0]]
    params: list[Any] = [code, *bounds[1], *after[1]]
    if upto is not None:
        where.append(f"(e.label, e.id) {'>=' if spec.descending else '<='} (?, ?)")
        params.extend(upto)
    if plan.category_names:
        where.append("e.category IN (" + ", ".join("?" * len(plan.category_names)) + ")")
        params.extend(plan.category_names)
    words = term_conditions(plan.terms)
    where += words[0]
    params += words[1]
    sql = (
        f"SELECT {columns} FROM {schema.PENDING} p "
        f"CROSS JOIN {schema.ENTRIES} e ON e.id = p.id WHERE " + " AND ".join(where)
    )
    if ordered:
        direction = "DESC" if spec.descending else "ASC"
        order = (
            f"e.id {direction}" if spec.sort == "date" else f"e.label {direction}, e.id {direction}"
        )
        sql += f" ORDER BY {order} LIMIT ?"
    return sql, params


def index_problem(conn: sqlite3.Connection, code: int, upto_seq: int) -> tuple[int, str] | None:
    """The first entry (lowest ``seq`` up to ``upto_seq``) of the organization coded ``code``
    that neither the search index holds under its organization nor the pending table: an entry
    hidden from search by editing derived rows. ``None`` when every one is there.

    Reads the organization's entries and its index rows in id order, side by side (bounded
    memory, one pass over each). The index stores no text, so its rows' words cannot be read
    back; and checking each row's category token would read every category's rows of every
    organization, so what is checked is that each entry is indexed under its organization (or
    pending under its organization and category).
    """
    conn.create_function("activitylog_token", 1, schema.token, deterministic=True)
    cursor = plain_cursor(conn)
    org_token = schema.token(code)
    # Pending rows are few (never more than the store's PENDING_LIMIT): their category token is
    # checked against the entry's category too.
    pending = {
        row[0]
        for row in cursor.execute(
            f"SELECT p.id FROM {schema.PENDING} p JOIN {schema.ENTRIES} e ON e.id = p.id "
            "JOIN activitylog_categories c ON c.name = e.category "
            "WHERE p.org = ? AND e.org = ? AND p.category = activitylog_token(c.code)",
            (org_token, code),
        )
    }
    indexed = (
        row[0]
        for row in plain_cursor(conn).execute(
            f"SELECT rowid FROM {schema.SEARCH}(?) ORDER BY rowid",
            (f"org : {fts_string(org_token)}",),
        )
    )
    current = next(indexed, None)
    missing: list[int] = []
    # Ids only, from the (org, id) index alone: reading seq too would visit every row.
    for (id_,) in plain_cursor(conn).execute(
        f"SELECT id FROM {schema.ENTRIES} WHERE org = ? ORDER BY id", (code,)
    ):
        while current is not None and current < id_:
            current = next(indexed, None)
        if current != id_ and id_ not in pending:
            missing.append(id_)
    first: tuple[int, str] | None = None
    for id_ in missing:
        seq = cursor.execute(f"SELECT seq FROM {schema.ENTRIES} WHERE id = ?", (id_,)).fetchone()[0]
        if isinstance(seq, int) and seq <= upto_seq and (first is None or seq < first[0]):
            first = (seq, "the entry is missing from the search index (it was hidden from search)")
    return first
