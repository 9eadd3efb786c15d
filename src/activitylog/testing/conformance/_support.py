"""What the conformance tests share: the people, the target, and helpers that record and walk."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from typing import Any

from activitylog import (
    ActionRegistry,
    ActivityLog,
    Actor,
    Entry,
    InvalidCursor,
    Query,
    Role,
    Target,
    Viewer,
)

from .._base import ORG, OTHER_ORG, START, Clock

__all__ = [
    "ADA", "ALAN", "ALL_KEYS", "GRACE", "LEAD", "ORG", "OTHER_ORG", "SORTS", "START", "Clock",
    "expected_order", "ids", "mirror", "outcome", "rec", "search_ids", "tamper", "viewer_of", "walk",
]

ADA = Actor("u-ada", "Ada Lovelace")
GRACE = Actor("u-grace", "Grace Hopper")
LEAD = Target("lead", "42", "Acme Corp")
ALAN = Actor("u-alan", "Alan Turing")
ALL_KEYS = tuple(a.key for a in ActionRegistry())
SORTS = (("date", True), ("date", False), ("action", True), ("action", False))


def rec(log: ActivityLog, action: str = "lead.created", **fields: Any) -> Entry:
    """Record into ``ORG`` as Ada unless told otherwise."""
    fields.setdefault("org_id", ORG)
    fields.setdefault("actor", ADA)
    return log.record(action, **fields)


def walk(query: Query, size: int, cursor: str | None = None) -> list[Entry]:
    """Every entry of ``query`` (after ``cursor``), page by page through the cursors."""
    seen: list[Entry] = []
    cursors: set[str | None] = set()
    while True:
        assert cursor not in cursors, "paging came back to a page it already gave"
        cursors.add(cursor)
        page = query.page(size, after=cursor)
        assert len(page) <= size
        seen.extend(page.entries)
        if page.next_cursor is None:
            return seen
        assert len(page) == size, "only the last page may be short"
        cursor = page.next_cursor


def ids(entries: Iterable[Entry]) -> list[str]:
    """The ids of ``entries`` in order."""
    return [e.id for e in entries]


def viewer_of(org: str) -> Viewer:
    """An Owner of ``org``."""
    return Viewer("u-owner", org, Role.OWNER)


def expected_order(entries: Iterable[Entry], sort: str, descending: bool) -> list[str]:
    """Ids in the documented order: by id, or by (label, id); both parts in one direction."""
    if sort == "date":
        ordered = sorted(entries, key=lambda e: int(e.id, 16), reverse=descending)
    else:
        ordered = sorted(entries, key=lambda e: (e.label, int(e.id, 16)), reverse=descending)
    return ids(ordered)


def mirror(log: ActivityLog, args: Sequence[dict[str, Any]]) -> tuple[ActivityLog, list[Entry]]:
    """Build entries once and append them to ``log``'s store and to a fresh reference log.

    Returns the reference log and the entries as ``log``'s store stored them (asserted equal to
    what the reference stored).
    """
    reference = ActivityLog(clock=log.clock)
    built = [log.build(a["action"], **{k: v for k, v in a.items() if k != "action"}) for a in args]
    stored = log.store.append(built, log.chain)
    expected = reference.store.append(built, log.chain)
    assert stored == expected
    return reference, stored


def tamper(cursor: str, key: Any) -> str:
    """``cursor`` with its keyset replaced by ``key`` (the fingerprint kept)."""
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw["k"] = key
    text = json.dumps(raw).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def outcome(query: Query, size: int, after: str) -> list[str] | str:
    """The ids a page holds, or the name of the error it raises."""
    try:
        return ids(query.page(size, after=after))
    except InvalidCursor:
        return "InvalidCursor"

def search_ids(log: ActivityLog, text: str, org: str = ORG) -> set[str]:
    """Ids of every entry of ``org`` a search for ``text`` finds (walked through pages)."""
    query = log.query(org, viewer=viewer_of(org)).search(text)
    found = walk(query, 7)
    assert query.count() == len(found)
    return set(ids(found))
