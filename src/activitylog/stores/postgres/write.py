"""Appending to the PostgreSQL store: one transaction, two round trips, no forked chain.

An append is one transaction (a savepoint inside a host's open transaction) in pipeline mode:

1. one round trip creates missing head rows (``ON CONFLICT DO NOTHING``), locks the heads of
   every organization in the batch (``FOR UPDATE``, in org order, so writers never deadlock),
   takes the advisory locks of the id buckets the batch writes (ids are unique across
   organizations), and reads which ids are taken and which idempotency keys are stored;
2. the links are computed in Python (the chain may be keyed), then one round trip inserts the
   rows (``COPY`` for a large batch), moves the heads, adds to the category counts and commits.

The head row lock is held until commit, so the writers of one organization take turns and
each sees the head its predecessor committed: ``seq`` stays gapless and every ``prev_hash`` is
the hash before it. A rolled-back append leaves heads, counts and entries as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from ... import ids
from ...models import Entry
from .._sql import rows
from ..base import GENESIS, Chain, same_request
from .schema import ID_LOCKS, LOCK_CLASS

#: Batches of more rows than this are written with ``COPY`` (outside pipeline mode).
COPY_ABOVE = 200

_INSERT_COLUMNS = (
    "org_id, id, seq, action, label, category, kind, actor_id, actor_name, actor_avatar_url, "
    "actor_kind, description, occurred_at, source, api_key_id, api_key_name, target_type, "
    "target_id, target_label, changes, metadata, idempotency_key, prev_hash, hash, haystack"
)


class Statements:
    """The append's SQL for one schema (built once per store)."""

    def __init__(self, s: str) -> None:
        # One statement per organization (never one naming several): under Citus each is
        # routed to the one shard holding the organization.
        self.create_head = (
            f"INSERT INTO {s}.heads (org_id, seq, hash) VALUES (%s, 0, NULL) "
            "ON CONFLICT (org_id) DO NOTHING"
        )
        self.lock_head = f"SELECT seq, hash FROM {s}.heads WHERE org_id = %s FOR UPDATE"
        self.lock_ids = (
            "SELECT count(pg_advisory_xact_lock(%s, b)) FROM unnest(%s::int[]) WITH ORDINALITY "
            "AS t(b, i)"
        )
        self.taken = f"SELECT id FROM {s}.entries WHERE id = ANY(%s::bigint[])"
        self.taken_one = f"SELECT 1 FROM {s}.entries WHERE id = %s"
        self.by_key = (
            f"SELECT {rows.columns('e')} FROM {s}.entries e "
            "WHERE e.org_id = %s AND e.idempotency_key = ANY(%s::text[])"
        )
        self.insert = (
            f"INSERT INTO {s}.entries ({_INSERT_COLUMNS}) VALUES ("
            + ", ".join(["%s"] * 25)
            + ")"
        )
        self.copy = f"COPY {s}.entries ({_INSERT_COLUMNS}) FROM STDIN"
        self.move_head = f"UPDATE {s}.heads SET seq = %s, hash = %s WHERE org_id = %s"
        self.add_counts = (
            f"INSERT INTO {s}.category_counts AS c (org_id, category, n) VALUES (%s, %s, %s) "
            "ON CONFLICT (org_id, category) DO UPDATE SET n = c.n + excluded.n"
        )


def append(
    conn: Any,
    cursor: Any,
    sql: Statements,
    batch: Sequence[Entry],
    chain: Chain | None,
    decode: Any,
) -> list[Entry]:
    """Store ``batch`` in the open transaction of ``conn`` (see the module docstring).

    ``cursor()`` makes a cursor on ``conn`` that loads rows in :mod:`.._sql.rows` format;
    ``decode`` builds an entry from such a row. A batch of up to :data:`COPY_ABOVE` entries
    expects ``conn`` in pipeline mode already (with the transaction's BEGIN queued), so that
    reads and writes take one round trip each; a larger one is written with ``COPY``, which
    pipeline mode does not allow, so only its reads are pipelined here.
    """
    encoded = [rows.encode(entry) for entry in batch]
    orgs = sorted({entry.org_id for entry in batch})
    buckets = sorted({(number // ids.IDS_PER_MS) % ID_LOCKS + 1 for number, _, _ in encoded})
    keys_of: dict[str, list[str]] = {}
    for e in batch:
        if e.idempotency_key is not None:
            keys_of.setdefault(e.org_id, []).append(e.idempotency_key)
    wanted = sorted({number for number, _, _ in encoded})
    large = len(batch) > COPY_ABOVE

    # (Entering or leaving a nested pipeline costs a round trip: only the COPY path opens one.)
    with conn.pipeline() if large else nullcontext():
        head_curs = []
        for org in orgs:  # in org order, so that two writers never wait for each other in turn
            cursor().execute(sql.create_head, (org,))
            head_curs.append(cursor())
            head_curs[-1].execute(sql.lock_head, (org,))
        cursor().execute(sql.lock_ids, (LOCK_CLASS, buckets))
        taken_cur = cursor()
        taken_cur.execute(sql.taken, (wanted,))
        key_curs = []
        for org, keys in keys_of.items():
            key_curs.append((org, cursor()))
            key_curs[-1][1].execute(sql.by_key, (org, keys), binary=True)
        heads = {}
        for org, head_cur in zip(orgs, head_curs, strict=True):
            seq, hash_ = head_cur.fetchone()
            heads[org] = [seq, hash_]
        taken = {number for (number,) in taken_cur.fetchall()}
        stored_keys: dict[tuple[str, str], Entry] = {}
        for org, key_cur in key_curs:
            for row in key_cur.fetchall():
                entry = decode(row, org)
                stored_keys[(org, entry.idempotency_key)] = entry
    checked = set(wanted)

    result: list[Entry] = []
    out: list[tuple[Any, ...]] = []
    new_ids: set[int] = set()
    counts: dict[tuple[str, str], int] = {}
    link = None if chain is None else chain.link
    for entry, (number, values, haystack) in zip(batch, encoded, strict=True):
        org_id = entry.org_id
        key = entry.idempotency_key
        if key is not None:
            seen = stored_keys.get((org_id, key))
            if seen is not None:
                result.append(same_request(seen, entry))
                continue
        first = number
        while number in new_ids or number in taken or (
            number not in checked and _taken(cursor, sql, number, taken, checked)
        ):
            number = ids.move_up(number, entry.occurred_at)
        head = heads[org_id]
        seq = head[0] + 1
        prev_hash = GENESIS if head[1] is None else head[1]
        stored = rows.placed(entry, entry.id if number == first else ids.encode(number), seq,
                             prev_hash)  # fmt: skip
        hash_ = None
        if link is not None:
            hash_ = link(prev_hash, stored)
            rows.set_hash(stored, hash_)
        head[0], head[1] = seq, hash_
        new_ids.add(number)
        out.append(
            (org_id, number, seq, *values[:9], entry.occurred_at, *values[10:], prev_hash,
             hash_, haystack)
        )
        counted = (org_id, entry.category)
        counts[counted] = counts.get(counted, 0) + 1
        if key is not None:
            stored_keys[(org_id, key)] = stored
        result.append(stored)
    if not out:
        return result
    moved = [(seq, hash_, org) for org, (seq, hash_) in heads.items() if seq > 0]
    added = [(org, category, n) for (org, category), n in counts.items()]
    write = cursor()
    if large:
        with write.copy(sql.copy) as copy:
            for row in out:
                copy.write_row(row)
        write.executemany(sql.move_head, moved)
        write.executemany(sql.add_counts, added)
    else:
        write.executemany(sql.insert, out)
        write.executemany(sql.move_head, moved)
        write.executemany(sql.add_counts, added)
    return result


def _taken(cursor: Any, sql: Statements, number: int, taken: set[int], checked: set[int]) -> bool:
    """Whether ``number`` is stored (looked up once; a moved-up id is rarely in the batch)."""
    checked.add(number)
    if cursor().execute(sql.taken_one, (number,)).fetchone() is not None:
        taken.add(number)
    return number in taken
