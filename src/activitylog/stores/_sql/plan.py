"""Dialect-free query planning over :class:`~activitylog.stores.base.QuerySpec`.

Contract: every helper returns SQL fragments as ``(conditions, params)``: a list of
conditions to AND together and the list of their parameters, in order. Placeholders are
``mark`` (``"?"`` by default; ``"%s"`` for psycopg). Column names are passed in, so the
helpers fit any table alias or any id column (a search index's rowid, say). A helper returns
``None`` when no row can match, so that the store answers without a query.

Ids are SQL 64-bit integers (:data:`MAX_INT`); ``spec`` values beyond that range (cursors
are client-editable) are rewritten to equivalent conditions, never passed to the database.
Labels order as text in code point order (SQLite's default, PostgreSQL's ``COLLATE "C"``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..base import QuerySpec

#: The SQL 64-bit integer range; ids and cursor keys beyond it are compared as the reference does.
MAX_INT = 2**63 - 1
MIN_INT = -(2**63)

Conditions = tuple[list[str], list[Any]]


def storable(text: str) -> bool:
    """Whether a SQL text column can hold ``text`` exactly (valid UTF-8, so no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def direction(spec: QuerySpec) -> str:
    """``"DESC"`` or ``"ASC"``: the direction of every key of the sort."""
    return "DESC" if spec.descending else "ASC"


def order_by(spec: QuerySpec, id_col: str = "e.id", label_col: str = "e.label") -> str:
    """The ``ORDER BY`` list of ``spec``'s sort (without the keywords)."""
    way = direction(spec)
    if spec.sort == "date":
        return f"{id_col} {way}"
    return f"{label_col} {way}, {id_col} {way}"


def in_list(column: str, values: Sequence[Any], mark: str = "?") -> Conditions:
    """``column IN (...)`` for a non-empty list of values."""
    return [f"{column} IN (" + ", ".join([mark] * len(values)) + ")"], list(values)


def id_bounds(spec: QuerySpec, column: str, mark: str = "?") -> Conditions | None:
    """``since``/``until`` as conditions on the id column; ``None`` when nothing can match."""
    where: list[str] = []
    params: list[Any] = []
    since_id, until_id = spec.since_id, spec.until_id  # each computed at every access
    if since_id is not None:
        if since_id > MAX_INT:
            return None
        where.append(f"{column} >= {mark}")
        params.append(since_id)
    if until_id is not None and until_id <= MAX_INT:
        where.append(f"{column} < {mark}")
        params.append(until_id)
    return where, params


def keyset(
    spec: QuerySpec,
    id_col: str,
    label_col: str = "e.label",
    mark: str = "?",
    can_store: Callable[[str], bool] = storable,
) -> Conditions | None:
    """The condition "strictly after ``spec.after``"; ``None`` when nothing can match.

    Keys come from cursors, which a client can edit: integers beyond the 64-bit range and
    labels holding lone surrogates (which ``can_store`` refuses; no stored label holds one) are
    rewritten to equivalent conditions instead of failing.
    """
    if spec.after is None:
        return [], []
    before = spec.descending
    number = spec.after[-1]
    if spec.sort == "date":
        if number > MAX_INT:
            return ([], []) if before else None
        if number < MIN_INT:
            return None if before else ([], [])
        return [f"{id_col} {'<' if before else '>'} {mark}"], [number]
    label = spec.after[0]
    strict = True
    if not can_store(label):
        # No stored label equals it: cut it before its first unstorable character and bump
        # that position just past every surrogate, which orders the same against valid text.
        cut = next(i for i, ch in enumerate(label) if not can_store(ch))
        label = label[:cut] + "\ue000"
        number, strict = MIN_INT, before
    if number > MAX_INT:
        number, strict = MAX_INT, not before
    elif number < MIN_INT:
        number, strict = MIN_INT, before
    operator = ("<" if strict else "<=") if before else (">" if strict else ">=")
    return [f"({label_col}, {id_col}) {operator} ({mark}, {mark})"], [label, number]
