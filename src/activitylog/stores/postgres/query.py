"""Where a PostgreSQL page or count query's SQL comes from: a :class:`QuerySpec` in, SQL out.

The dialect-free parts (id ranges, keysets, ordering) come from :mod:`..._sql.plan`; this
module adds the organization scope, the filters and search.

Search has exactly the memory store's semantics: each word is normalized in Python
(:func:`activitylog.search.terms`) and must be a substring of the entry's ``haystack``, which
was normalized the same way when the entry was written; no collation, locale or ``lower()``
takes part. A word with a run of three letters or digits is matched with ``LIKE`` (its
``%``, ``_`` and ``\\`` escaped), which the pg_trgm GIN index serves; a shorter word is matched
with ``strpos``, which the index cannot serve and the planner therefore never tries to: pg_trgm
has no trigram to look up for it and would read the whole index.
"""

from __future__ import annotations

from typing import Any

import attrs

from .._sql import plan, rows
from ..base import QuerySpec

#: The select list of a row in :mod:`.._sql.rows` order (``occurred_at`` loads as micros).
COLUMNS = rows.columns("e")

#: A search word needs a run of this many letters or digits to be looked up in the index.
TRIGRAM = 3


@attrs.frozen
class Sql:
    """A statement, its parameters, and whether it searches (then it is never prepared, so
    that every execution is planned for its own words)."""

    text: str
    params: list[Any]
    searches: bool


def storable(text: str) -> bool:
    """Whether a PostgreSQL text value can hold ``text`` (valid UTF-8 without NUL)."""
    return "\x00" not in text and plan.storable(text)


def indexable(word: str) -> bool:
    """Whether pg_trgm can narrow a search for ``word`` (it has a 3-character alphanumeric run)."""
    run = 0
    for ch in word:
        run = run + 1 if ch.isalnum() else 0
        if run >= TRIGRAM:
            return True
    return False


def like_pattern(word: str) -> str:
    """``word`` as a ``LIKE`` pattern matching it anywhere, every character literal."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_conditions(terms: tuple[str, ...]) -> tuple[list[str], list[Any]] | None:
    """The conditions of a search; ``None`` when no stored text can contain some word."""
    where: list[str] = []
    params: list[Any] = []
    for word in terms:
        if not storable(word):
            return None  # stored text never holds NUL or a lone surrogate
        if indexable(word):
            where.append("e.haystack LIKE %s")
            params.append(like_pattern(word))
        else:
            where.append("strpos(e.haystack, %s) > 0")
            params.append(word)
    return where, params


def filters(spec: QuerySpec, *, ranged: bool = True) -> tuple[list[str], list[Any]] | None:
    """Every condition of ``spec`` but the keyset (``None``: nothing can match)."""
    if not storable(spec.org_id):
        return None
    where = ["e.org_id = %s"]
    params: list[Any] = [spec.org_id]
    if spec.categories:
        names = [name for name in spec.categories if storable(name)]
        if not names:
            return None  # no stored category is any of these
        if len(names) == 1:
            # Equality lets the (org_id, category, id) index return rows in id order.
            where.append("e.category = %s")
            params.append(names[0])
        else:
            where.append("e.category = ANY(%s)")
            params.append(names)
    if spec.target is not None:
        if not (storable(spec.target[0]) and storable(spec.target[1])):
            return None
        where.append("e.target_type = %s AND e.target_id = %s")
        params.extend(spec.target)
    if spec.actor_id is not None:
        if not storable(spec.actor_id):
            return None
        where.append("e.actor_id = %s")
        params.append(spec.actor_id)
    if ranged:
        bounds = plan.id_bounds(spec, "e.id", mark="%s")
        if bounds is None:
            return None
        where.extend(bounds[0])
        params.extend(bounds[1])
    found = search_conditions(spec.terms)
    if found is None:
        return None
    where.extend(found[0])
    params.extend(found[1])
    return where, params


def keyset(spec: QuerySpec) -> tuple[list[str], list[Any]] | None:
    """:func:`.._sql.plan.keyset`, also for a cursor label holding NUL, which PostgreSQL text
    cannot hold (nor any stored label): such a label orders exactly as its part before the
    NUL followed by U+0001 at the lowest id, which is how the condition is written."""
    if spec.sort == "action" and spec.after is not None and "\x00" in spec.after[0]:
        label = spec.after[0]
        cut = next(i for i, ch in enumerate(label) if ch == "\x00" or not plan.storable(ch))
        if label[cut] == "\x00":
            op = "<" if spec.descending else ">="
            return [f"(e.label, e.id) {op} (%s, %s)"], [label[:cut] + "\x01", plan.MIN_INT]
        spec = attrs.evolve(spec, after=(label[:cut + 1], *spec.after[1:]))
    return plan.keyset(spec, "e.id", "e.label", mark="%s")


def page_sql(table: str, spec: QuerySpec) -> Sql | None:
    """One page of ``spec``; ``None`` when nothing can match."""
    found = filters(spec)
    if found is None:
        return None
    after = keyset(spec)
    if after is None:
        return None
    where = [*found[0], *after[0]]
    params = [*found[1], *after[1], spec.limit]
    text = (
        f"SELECT {COLUMNS} FROM {table} e WHERE {' AND '.join(where)} "
        f"ORDER BY {plan.order_by(spec, 'e.id', 'e.label')} LIMIT %s"
    )
    return Sql(text, params, bool(spec.terms))


def count_sql(table: str, counts_table: str, spec: QuerySpec) -> Sql | None:
    """How many entries match ``spec``: from the count table when only categories filter."""
    simple = (
        not spec.terms
        and spec.target is None
        and spec.actor_id is None
        and spec.since is None
        and spec.until is None
    )
    if simple:
        if not storable(spec.org_id):
            return None
        text = f"SELECT coalesce(sum(n), 0) FROM {counts_table} WHERE org_id = %s"
        params: list[Any] = [spec.org_id]
        if spec.categories:
            names = [name for name in spec.categories if storable(name)]
            if not names:
                return None
            text += " AND category = ANY(%s)"
            params.append(names)
        return Sql(text, params, False)
    found = filters(spec)
    if found is None:
        return None
    text = f"SELECT count(*) FROM {table} e WHERE {' AND '.join(found[0])}"
    return Sql(text, found[1], bool(spec.terms))
