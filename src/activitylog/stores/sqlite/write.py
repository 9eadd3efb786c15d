"""SQLite appends: an append's rows, search rows, counts and chain heads in one transaction.

The caller holds the write transaction (``BEGIN IMMEDIATE`` or a SAVEPOINT); everything here
runs inside it, so a failure leaves nothing written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from ... import ids
from ...models import Entry
from .._sql.rows import Encoded, decode, decode_checked, placed, set_hash
from ..base import GENESIS, Chain, same_request
from . import schema
from .search import COLUMNS
from .transaction import plain_cursor

#: Appends of fewer entries than this put their search rows in the pending table rather than
#: the search index: FTS5 writes a new index segment at every commit, most of the cost of a
#: one-entry commit, and a few hundred rows index together for the cost of a few.
PENDING_BELOW = 64
#: When the pending table holds this many rows, the append that filled it moves them into the
#: search index. Searches check pending rows one by one (there are never more than this).
PENDING_LIMIT = 256
#: How many ids one statement checks for being taken.
ID_BATCH = 500

INSERT_ENTRY = (
    f"INSERT INTO {schema.ENTRIES} (id, org, seq, action, label, category, kind, actor_id, "
    "actor_name, actor_avatar_url, actor_kind, description, occurred_at, source, api_key_id, "
    "api_key_name, target_type, target_id, target_label, changes, metadata, idempotency_key, "
    "prev_hash, hash, haystack) VALUES (" + ", ".join("?" * 25) + ")"
)
INSERT_SEARCH = f"INSERT INTO {schema.SEARCH} (rowid, org, category, haystack) VALUES (?, ?, ?, ?)"
INSERT_PENDING = f"INSERT INTO {schema.PENDING} (id, org, category, text) VALUES (?, ?, ?, ?)"
COUNT_PENDING = f"SELECT count(*) FROM {schema.PENDING}"
INDEX_PENDING = (
    f"INSERT INTO {schema.SEARCH} (rowid, org, category, haystack) "
    f"SELECT id, org, category, text FROM {schema.PENDING} ORDER BY id"
)
#: Counts grow by an UPDATE, or start with an INSERT when there is none yet: an upsert would
#: be refused, since a conflicting insert on the count table is (see the schema's triggers).
ADD_COUNT = "UPDATE activitylog_counts SET n = n + ? WHERE org = ? AND category = ?"
INSERT_COUNT = "INSERT INTO activitylog_counts (org, category, n) VALUES (?, ?, ?)"
UPDATE_HEAD = "UPDATE activitylog_orgs SET head_seq = ?, head_hash = ? WHERE code = ?"
#: What every append reads first, in one statement: the schema cookie, the first
#: organization's head, the largest stored id (an id above it is free, so a batch of new ids,
#: the usual case, needs no "is it taken" lookups) and how many search rows are pending (so
#: that deciding to index them costs no statement after the insert).
START = (
    "SELECT (SELECT schema_version FROM pragma_schema_version), o.code, o.head_seq, "
    f"o.head_hash, (SELECT max(id) FROM {schema.ENTRIES}), "
    f"(SELECT count(*) FROM {schema.PENDING}) "
    "FROM (SELECT 1) LEFT JOIN activitylog_orgs o ON o.org_id = ?"
)


def append(
    conn: sqlite3.Connection,
    batch: list[Entry],
    statics: list[Encoded],
    chain: Chain | None,
    new_orgs: dict[str, int],
    new_categories: dict[str, int],
    *,
    check_layout: Callable[[sqlite3.Connection, int], schema.Layout],
    category_code: Callable[[sqlite3.Connection, str, dict[str, int]], int | None],
) -> list[Entry]:
    """Write ``batch`` (with its :func:`~activitylog.stores._sql.rows.encode` values) inside
    the caller's write transaction, as :meth:`Store.append` describes, and return it as stored.

    ``check_layout(conn, cookie)`` returns the database's layout, re-read when the schema
    cookie changed since the store opened; ``category_code(conn, name, created)`` returns a
    category's code, creating it (and noting it in ``created``) when new. Organizations
    created here are noted in ``new_orgs``: the caller caches both once the transaction commits.
    """
    cursor = plain_cursor(conn)
    first = batch[0].org_id
    cookie, first_code, first_seq, first_hash, top, pending_before = cursor.execute(
        START, (first,)
    ).fetchone()
    indexed = check_layout(conn, cookie).search_index
    top = -1 if top is None else top
    taken, checked = taken_ids(cursor, statics, top)
    heads: dict[str, list[Any]] = {}  # org_id -> [code, seq, hash, search-index token]
    if first_code is not None:
        org_token = schema.token(first_code) if indexed else ""
        heads[first] = [first_code, first_seq, first_hash, org_token]
    category_tokens: dict[str, str] = {}
    keys: dict[tuple[str, str], Entry] = {}
    new_ids: set[int] = set()
    rows: list[tuple[Any, ...]] = []
    search_rows: list[tuple[int, str, str, str]] = []
    counts: dict[tuple[int, str], int] = {}
    result: list[Entry] = []
    link = None if chain is None else chain.link
    for entry, (number, values, haystack) in zip(batch, statics, strict=True):
        org_id = entry.org_id
        head = heads.get(org_id)
        if head is None:
            code, seq, hash_ = head_for_write(cursor, org_id, new_orgs)
            head = heads[org_id] = [code, seq, hash_, schema.token(code) if indexed else ""]
        code = head[0]
        idempotency_key = entry.idempotency_key
        if idempotency_key is not None:
            key = (org_id, idempotency_key)
            seen = keys.get(key) or stored_by_key(cursor, code, key)
            if seen is not None:
                result.append(same_request(seen, entry))
                continue
        wanted = number
        while number in new_ids or (
            number <= top
            and (
                number in taken
                or (number not in checked and id_taken(cursor, number, taken, checked))
            )
        ):
            number = ids.move_up(number, entry.occurred_at)
        seq = head[1] + 1
        prev_hash = GENESIS if head[2] is None else head[2]
        stored = placed(entry, entry.id if number == wanted else ids.encode(number), seq, prev_hash)
        hash_ = None
        if link is not None:
            # ``stored`` is still private to this call: completing it in place saves a copy.
            hash_ = link(prev_hash, stored)
            set_hash(stored, hash_)
        head[1] = seq
        head[2] = hash_
        new_ids.add(number)
        rows.append((number, code, seq, *values, prev_hash, hash_, haystack))
        category = entry.category
        if indexed:
            token = category_tokens.get(category)
            if token is None:
                number_of_category = category_code(conn, category, new_categories)
                assert number_of_category is not None
                token = category_tokens[category] = schema.token(number_of_category)
            search_rows.append((number, head[3], token, schema.search_text(haystack)))
        counted = (code, category)
        counts[counted] = counts.get(counted, 0) + 1
        if idempotency_key is not None:
            keys[(org_id, idempotency_key)] = stored
        result.append(stored)
    if rows:
        # execute() for a single row: executemany() costs a few microseconds more per call,
        # which one-entry appends pay four times.
        count_rows = [(code, category, n) for (code, category), n in counts.items()]
        head_rows = [(seq, hash_, code) for code, seq, hash_, _ in heads.values()]
        pending = 0 < len(search_rows) < PENDING_BELOW
        writes: list[tuple[str, Sequence[tuple[Any, ...]]]] = [
            (INSERT_ENTRY, rows),
            (INSERT_PENDING if pending else INSERT_SEARCH, search_rows),
            (UPDATE_HEAD, head_rows),
        ]
        for sql, params in writes:
            if len(params) == 1:
                cursor.execute(sql, params[0])
            elif params:
                cursor.executemany(sql, params)
        for org, category, n in count_rows:
            if cursor.execute(ADD_COUNT, (n, org, category)).rowcount == 0:
                cursor.execute(INSERT_COUNT, (org, category, n))
        if pending and pending_before + len(search_rows) >= PENDING_LIMIT:
            cursor.execute(INDEX_PENDING)
            cursor.execute(f"DELETE FROM {schema.PENDING}")
    return result


def head_for_write(
    cursor: sqlite3.Cursor, org_id: str, new_orgs: dict[str, int]
) -> tuple[int, int, str | None]:
    row = cursor.execute(
        "SELECT code, head_seq, head_hash FROM activitylog_orgs WHERE org_id = ?", (org_id,)
    ).fetchone()
    if row is not None:
        code, seq, hash_ = row
        return int(code), int(seq), hash_
    cursor.execute(
        "INSERT INTO activitylog_orgs (org_id, head_seq, head_hash) VALUES (?, 0, NULL)",
        (org_id,),
    )
    assert cursor.lastrowid is not None
    new_orgs[org_id] = cursor.lastrowid
    return cursor.lastrowid, 0, None


def stored_by_key(cursor: sqlite3.Cursor, code: int, key: tuple[str, str]) -> Entry | None:
    row = cursor.execute(
        f"SELECT {COLUMNS} FROM {schema.ENTRIES} e WHERE e.org = ? AND e.idempotency_key = ?",
        (code, key[1]),
    ).fetchone()
    if row is None:
        return None
    return (decode if cursor.connection.text_factory is str else decode_checked)(row, key[0])


def taken_ids(
    cursor: sqlite3.Cursor, statics: list[Encoded], top: int
) -> tuple[set[int], set[int]]:
    """Which of the batch's ids are already stored (and the set that was checked); ``top`` is
    the largest stored id, above which none is looked up."""
    wanted = sorted({static[0] for static in statics if static[0] <= top})
    taken: set[int] = set()
    for start in range(0, len(wanted), ID_BATCH):
        chunk = wanted[start : start + ID_BATCH]
        marks = ", ".join("?" * len(chunk))
        taken.update(
            row[0]
            for row in cursor.execute(
                f"SELECT id FROM {schema.ENTRIES} WHERE id IN ({marks})", chunk
            )
        )
    return taken, set(wanted)


def id_taken(cursor: sqlite3.Cursor, number: int, taken: set[int], checked: set[int]) -> bool:
    if number not in checked:
        checked.add(number)
        row = cursor.execute(f"SELECT 1 FROM {schema.ENTRIES} WHERE id = ?", (number,)).fetchone()
        if row is not None:
            taken.add(number)
    return number in taken


# -- reading ----------------------------------------------------------------------------
