"""The export button's CSV: every entry matching the current filters, streamed.

The columns and cell rules (formula-looking cells defused) are the command line's, so a file
exported from the page and one from ``activitylog export`` read the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from ..query import Query


def rows(query: Query) -> Iterator[bytes]:
    """The CSV file as UTF-8 chunks, a page of entries each (with a byte-order mark, which
    spreadsheets need)."""
    from ..cli.records import csv_pages

    yield "\ufeff".encode()
    for text, _ in csv_pages(query):
        yield text.encode("utf-8")


def filename(org_id: str, now: datetime) -> str:
    """A download name safe in a header: ``activity-log-<org>-<date>.csv``."""
    org = re.sub(r"[^A-Za-z0-9_.-]+", "-", org_id).strip("-.")[:60] or "org"
    return f"activity-log-{org}-{now.date().isoformat()}.csv"
