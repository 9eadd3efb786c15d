"""SQLite page and count queries: a :class:`~activitylog.stores.base.QuerySpec` as SQL.

Every query reads one organization's rows through an index that starts with its code:
``(org, id)`` for date order, ``(org, category, id)`` for categories, ``(org, label, id)`` for
action order; ``since``/``until`` are id ranges and pages are keyset conditions
(:mod:`activitylog.stores._sql.plan`). Searches go through :mod:`.search`'s plan.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import attrs

from .._sql.plan import id_bounds, keyset, storable
from ..base import QuerySpec
from . import schema, search
from .search import COLUMNS, Context
from .transaction import plain_cursor

#: A search sorted by action sorts its matches when there are fewer than this; otherwise it
#: walks the label index, checking the text of at most LABEL_WALK rows before the ids.
SORT_MATCHES_BELOW = 5000
LABEL_WALK = 4000
#: A date-sorted search with a one- or two-character word first checks this many entries of
#: the range row by row (see :func:`walk_newest`).
SHORT_WORD_WALK = 500


def page_rows(ctx: Context, code: int, spec: QuerySpec) -> list[Any]:
    """The rows of one page of ``spec`` for the organization coded ``code``."""
    if spec.limit <= 0:
        return []
    if (
        spec.sort == "date"
        and ctx.search
        and spec.target is None
        and spec.actor_id is None
        and any(len(t) <= 2 and "\x00" not in t for t in spec.terms)
    ):
        walked, bound = walk_newest(ctx, code, spec)
        if bound is None or len(walked) >= spec.limit:
            return walked[: spec.limit]
        rest = attrs.evolve(spec, after=(bound,), limit=spec.limit - len(walked))
        plan = search.plan(ctx, code, rest, page=True)
        if plan is None:
            return walked
        return walked + select_page(ctx, code, rest, plan)
    plan = search.plan(ctx, code, spec, page=True)
    if plan is None:
        return []
    if plan.match is not None and spec.sort == "action":
        return action_search_rows(ctx, code, spec, plan)
    return select_page(ctx, code, spec, plan)


def walk_newest(ctx: Context, code: int, spec: QuerySpec) -> tuple[list[Any], int | None]:
    """A date-sorted search with a one- or two-character word: its matches among the first
    :data:`SHORT_WORD_WALK` entries of the range, and the id of the last of those entries
    (``None`` when the range holds no more).

    Looking a short word up in the index reads every trigram that starts with it, which
    costs most for the most common ones (and a common letter has too many to look up);
    yet those fill a page within a few hundred entries. So the organization's index is
    walked first, checking each entry's text, and only what remains of the page is asked
    of the index, after the walked entries.
    """
    names = tuple(n for n in dict.fromkeys(spec.categories) if storable(n))
    bounds = id_bounds(spec, "e.id")
    after = keyset(spec, "e.id")
    if (
        (spec.categories and not names)
        or not all(storable(term) for term in spec.terms)
        or bounds is None
        or after is None
    ):
        return [], None
    direction = "DESC" if spec.descending else "ASC"
    where = ["e.org = ?", *bounds[0], *after[0]]
    params: list[Any] = [code, *bounds[1], *after[1]]
    table = f"{schema.ENTRIES} e INDEXED BY activitylog_entries_org_id"
    cursor = plain_cursor(ctx.conn)
    row = cursor.execute(
        f"SELECT e.id FROM {table} WHERE {' AND '.join(where)} "
        f"ORDER BY e.id {direction} LIMIT 1 OFFSET ?",
        [*params, SHORT_WORD_WALK - 1],
    ).fetchone()
    bound = None if row is None else int(row[0])
    if bound is not None:
        where.append(f"e.id {'>=' if spec.descending else '<='} ?")
        params.append(bound)
    if names:
        where.append("e.category IN (" + ", ".join("?" * len(names)) + ")")
        params.extend(names)
    words = search.term_conditions(spec.terms)
    where += words[0]
    params += words[1]
    rows = cursor.execute(
        f"SELECT {COLUMNS} FROM {table} WHERE {' AND '.join(where)} "
        f"ORDER BY e.id {direction} LIMIT ?",
        [*params, spec.limit],
    ).fetchall()
    return rows, bound


def action_search_rows(ctx: Context, code: int, spec: QuerySpec, plan: search.Filter) -> list[Any]:
    """A search sorted by action.

    The search index yields matches in id order, so sorting them by label costs as much as
    there are matches. When there are few (fewer than :data:`SORT_MATCHES_BELOW`), their
    rows are read by id and sorted. Otherwise the label index is walked: first at most :data:`LABEL_WALK` rows
    checking each row's text (quick when matches are dense), then the rest of the index
    checking ids against the search index's matches (bounded by the organization's size,
    and reading only the index).
    """
    bounds = id_bounds(spec, "rowid")
    after = keyset(spec, "e.id")
    if bounds is None or after is None:
        return []
    where = " AND ".join(["1", *bounds[0]])
    cursor = plain_cursor(ctx.conn)
    found = (
        []
        if plan.indexed_none
        else cursor.execute(
            f"SELECT rowid FROM {schema.SEARCH}(?) WHERE {where} LIMIT ?",
            [plan.match, *bounds[1], SORT_MATCHES_BELOW],
        ).fetchall()
    )
    if len(found) < SORT_MATCHES_BELOW:
        pending_sql, pending_params = search.pending_sql(
            code, attrs.evolve(spec, after=None), plan, columns="e.id", ordered=False
        )
        if pending_sql is not None:
            found += cursor.execute(pending_sql, pending_params).fetchall()
        if not found:
            return []
        conditions = ["e.id IN (" + ", ".join("?" * len(found)) + ")", *after[0]]
        params: list[Any] = [row[0] for row in found] + after[1]
        words = search.term_conditions(plan.scan_terms)
        conditions += words[0]
        params += words[1]
        direction = "DESC" if spec.descending else "ASC"
        return cursor.execute(
            f"SELECT {COLUMNS} FROM {schema.ENTRIES} e WHERE {' AND '.join(conditions)} "
            f"ORDER BY e.label {direction}, e.id {direction} LIMIT ?",
            [*params, spec.limit],
        ).fetchall()
    walk = search.Filter(None, spec.terms, plan.category_names)
    bound = walk_bound(ctx, code, spec, walk)
    if bound is None:
        return select_page(ctx, code, spec, walk)
    first = select_page(ctx, code, spec, walk, upto=bound)
    if len(first) >= spec.limit:
        return first
    rest = attrs.evolve(spec, after=bound, limit=spec.limit - len(first))
    return first + select_page(ctx, code, rest, plan, via_labels=True)


def walk_bound(
    ctx: Context, code: int, spec: QuerySpec, walk: search.Filter
) -> tuple[str, int] | None:
    """The (label, id) of the last row a bounded label walk visits; ``None`` if it ends."""
    sql, params = select_sql(code, spec, walk, columns="e.label, e.id")
    if sql is None:
        return None
    row = (
        plain_cursor(ctx.conn)
        .execute(sql.removesuffix(" LIMIT ?") + " LIMIT 1 OFFSET ?", [*params, LABEL_WALK - 1])
        .fetchone()
    )
    return None if row is None else (row[0], row[1])


def select_page(
    ctx: Context,
    code: int,
    spec: QuerySpec,
    plan: search.Filter,
    upto: tuple[str, int] | None = None,
    via_labels: bool = False,
) -> list[Any]:
    sql, params = select_sql(code, spec, plan, upto=upto, via_labels=via_labels)
    if sql is None:
        return []
    cursor = plain_cursor(ctx.conn)
    if plan.match is None or via_labels:
        return cursor.execute(sql, [*params, spec.limit]).fetchall()
    rows = [] if plan.indexed_none else cursor.execute(sql, [*params, spec.limit]).fetchall()
    pending_sql, pending_params = search.pending_sql(code, spec, plan, upto=upto)
    if pending_sql is None:
        return rows
    pending = cursor.execute(pending_sql, [*pending_params, spec.limit]).fetchall()
    if not pending:
        return rows
    # Label order in SQLite (UTF-8 bytes) is code point order, as in Python.
    key: Callable[[Any], Any] = (
        operator.itemgetter(0) if spec.sort == "date" else operator.itemgetter(3, 0)
    )
    return sorted(rows + pending, key=key, reverse=spec.descending)[: spec.limit]


def select_sql(
    code: int,
    spec: QuerySpec,
    plan: search.Filter,
    columns: str = COLUMNS,
    upto: tuple[str, int] | None = None,
    via_labels: bool = False,
) -> tuple[str | None, list[Any]]:
    """One page's SQL (ending in ``LIMIT ?``) and its parameters but the limit.

    ``upto`` (action sort only) also stops at that (label, id), inclusive. ``via_labels``
    (action sort only) walks the label index and keeps the ids the search index matches.
    """
    direction = "DESC" if spec.descending else "ASC"
    from_index = plan.match is not None and not via_labels
    id_col = "s.rowid" if from_index else "e.id"
    bounds = id_bounds(spec, id_col)
    after = keyset(spec, id_col)
    if bounds is None or after is None:
        return None, []
    where = [*bounds[0], *after[0]]
    params = [*bounds[1], *after[1]]
    if upto is not None:
        where.append(f"(e.label, e.id) {'>=' if spec.descending else '<='} (?, ?)")
        params.extend(upto)
    words = search.term_conditions(plan.scan_terms, plan.haystack)
    where += [*plan.narrow[0], *words[0]]
    params += [*plan.narrow[1], *words[1]]
    if spec.sort == "date":
        order = f"{id_col} {direction}"
    else:
        order = f"e.label {direction}, e.id {direction}"
    if from_index:
        # CROSS JOIN keeps the search index as the outer loop: the planner may otherwise
        # walk entries and run the full-text match once per row.
        sql = (
            f"SELECT {columns} FROM {schema.SEARCH}(?) s "
            f"CROSS JOIN {schema.ENTRIES} e ON e.id = s.rowid"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        return f"{sql} ORDER BY {order} LIMIT ?", [plan.match, *params]
    if via_labels:
        # The search index's matches, or rows still pending that hold every word.
        words = search.term_conditions(plan.terms)
        pending = " AND ".join([f"e.id IN (SELECT id FROM {schema.PENDING})", *words[0]])
        if plan.indexed_none:
            where.append(f"({pending})")
        else:
            where.append(f"(e.id IN (SELECT rowid FROM {schema.SEARCH}(?)) OR ({pending}))")
            params.append(plan.match)
        params.extend(words[1])
    names = plan.category_names
    if spec.sort == "date" and len(names) > 1:
        # One ordered index range per category, merged: never more than limit * len(names)
        # rows, however rare the categories are.
        arms = []
        arm_params: list[Any] = []
        for name in names:
            arm_where = " AND ".join(["e.org = ?", "e.category = ?", *where])
            arms.append(
                f"SELECT * FROM (SELECT {columns} FROM {schema.ENTRIES} e "
                f"WHERE {arm_where} ORDER BY {order} LIMIT ?)"
            )
            arm_params.extend([code, name, *params, spec.limit])
        sql = " UNION ALL ".join(arms) + f" ORDER BY 1 {direction} LIMIT ?"
        return sql, arm_params
    head = ["e.org = ?"]
    head_params: list[Any] = [code]
    if names:
        head.append("e.category IN (" + ", ".join("?" * len(names)) + ")")
        head_params.extend(names)
    table = f"{schema.ENTRIES} e"
    if via_labels:
        table += " INDEXED BY activitylog_entries_org_label"
    sql = (
        f"SELECT {columns} FROM {table} WHERE "
        + " AND ".join(head + where)
        + f" ORDER BY {order} LIMIT ?"
    )
    return sql, [*head_params, *params]


def count(ctx: Context, code: int, spec: QuerySpec) -> int:
    """How many entries of the organization coded ``code`` match ``spec``."""
    plan = search.plan(ctx, code, spec)
    if plan is None:
        return 0
    cursor = plain_cursor(ctx.conn)
    names = plan.category_names
    ranged = spec.since_id is not None or spec.until_id is not None
    if plan.match is None and not plan.scan_terms and not ranged and not plan.narrow[0]:
        sql = "SELECT coalesce(sum(n), 0) FROM activitylog_counts WHERE org = ?"
        params: list[Any] = [code]
        if names:
            sql += " AND category IN (" + ", ".join("?" * len(names)) + ")"
            params.extend(names)
        return int(cursor.execute(sql, params).fetchone()[0])
    pending = 0
    if plan.match is not None:
        pending_sql, pending_params = search.pending_sql(
            code, attrs.evolve(spec, after=None), plan, columns="count(*)", ordered=False
        )
        if pending_sql is None:
            return 0
        pending = int(cursor.execute(pending_sql, pending_params).fetchone()[0])
        if plan.indexed_none:
            return pending
    where: list[str] = []
    params = []
    if plan.match is None:
        id_col = "e.id"
        where.append("e.org = ?")
        params.append(code)
        if names:
            where.append("e.category IN (" + ", ".join("?" * len(names)) + ")")
            params.extend(names)
        source = f"{schema.ENTRIES} e"
    else:
        id_col = "s.rowid"
        params.append(plan.match)
        source = f"{schema.SEARCH}(?) s"
        if plan.scan_terms:
            source += f" CROSS JOIN {schema.ENTRIES} e ON e.id = s.rowid"
    bounds = id_bounds(spec, id_col)
    if bounds is None:
        return 0
    where.extend(bounds[0])
    params.extend(bounds[1])
    words = search.term_conditions(plan.scan_terms, plan.haystack)
    where += [*plan.narrow[0], *words[0]]
    params += [*plan.narrow[1], *words[1]]
    sql = f"SELECT count(*) FROM {source}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return pending + int(cursor.execute(sql, params).fetchone()[0])
