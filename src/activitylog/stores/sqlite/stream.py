"""A query's stored rows, page by page and undecoded: what exports write their cells from.

Rows follow :mod:`activitylog.stores._sql.rows` (``FIELDS`` order). Each page comes with
whether its text was read the usual way: when it was not (a tampered byte), its rows must be
built with ``decode_checked``. Paging is the store's own keyset (``QuerySpec.after``), so the
rows and their order are those :meth:`SQLiteStore.page` pages through.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from ..base import QuerySpec
from .store import SQLiteStore


def pages(store: SQLiteStore, spec: QuerySpec, size: int) -> Iterator[tuple[list[Any], bool]]:
    """Every row matching ``spec`` (from its ``after``), ``size`` rows per page, each page
    read in its own snapshot as :class:`~activitylog.query.Query` iteration does."""
    after = spec.after
    while True:
        rows, plain = store.page_rows(attrs.evolve(spec, after=after, limit=size))
        if rows:
            yield rows, plain
        if len(rows) < size:
            return
        last = rows[-1]
        after = (last[0],) if spec.sort == "date" else (last[3], last[0])
