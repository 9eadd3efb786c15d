"""The entries-per-day chart: one count per local day, drawn on the server as a small SVG.

The image holds numbers and dates only (no stored text) and no script; it is served as its own
URL so the page's first answer never waits for the counts. Counting has a time budget: some
filters make each count slow on a large log (a one-letter search cannot use a search index), so
once the budget is spent the older days are drawn as "not counted" instead of being guessed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from ..log import ActivityLog
from .core import Params
from .render import esc

#: How many days the chart covers, today included.
DAYS = 14
#: Seconds of counting after which the remaining (older) days are left uncounted.
BUDGET = 0.25
WIDTH, HEIGHT = 280, 56
_BAR_GAP = 2


def count_days(
    log: ActivityLog, org_id: str, viewer: Any, params: Params, days: int = DAYS,
    budget: float = BUDGET,
) -> list[tuple[str, int | None]]:
    """Entries per local day for the filters: the last ``days`` days, oldest first.

    Days are counted newest first; a day left when ``budget`` seconds have gone has ``None``.
    """
    query = params.query(log, org_id, viewer)
    now = log.clock()
    tz = query.tz
    spec = query.spec(now)
    today = now.astimezone(tz).date()
    started = time.monotonic()
    result: list[tuple[str, int | None]] = []
    for back in range(days):
        day = today - timedelta(days=back)
        if back and time.monotonic() - started > budget:
            result.append((day.isoformat(), None))
            continue
        start = datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(timezone.utc)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
        end = end.astimezone(timezone.utc)
        since = start if spec.since is None else max(start, spec.since)
        until = end if spec.until is None else min(end, spec.until)
        count = 0 if since >= until else log.store.count(
            attrs.evolve(spec, since=since, until=until)
        )
        result.append((day.isoformat(), count))
    result.reverse()
    return result


def svg(days: Sequence[tuple[str, int | None]]) -> str:
    """A bar per day, oldest on the left; each bar's tooltip names its day and count."""
    counted = [count for _, count in days if count is not None]
    total = sum(counted)
    peak = max(counted, default=0)
    n = max(len(days), 1)
    slot = WIDTH / n
    label = f"{total:,} {'entry' if total == 1 else 'entries'} in the last {len(days)} days"
    if len(counted) < len(days):
        label = f"{total:,} {'entry' if total == 1 else 'entries'} in the last {len(counted)} days"
        label += f"; the {len(days) - len(counted)} days before were not counted (too slow)"
    bars = []
    for i, (day, count) in enumerate(days):
        if count is None:
            bars.append(
                f'<rect class="uncounted" x="{i * slot + _BAR_GAP / 2:.1f}" y="{HEIGHT - 6}" '
                f'width="{slot - _BAR_GAP:.1f}" height="5" fill="#e2e8f0" data-day="{esc(day)}">'
                f"<title>{esc(day)}: not counted</title></rect>"
            )
            continue
        height = 0.0 if peak == 0 else max(2.0, (HEIGHT - 4) * count / peak) if count else 0.0
        x = i * slot + _BAR_GAP / 2
        y = HEIGHT - height
        word = "entry" if count == 1 else "entries"
        bars.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot - _BAR_GAP:.1f}" '
            f'height="{height:.1f}" fill="#6366f1" data-day="{esc(day)}" data-count="{count}">'
            f"<title>{esc(day)}: {count:,} {word}</title></rect>"
        )
    baseline = f'<rect x="0" y="{HEIGHT - 1}" width="{WIDTH}" height="1" fill="#cbd5e1"/>'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{esc(label)}">'
        f"<title>{esc(label)}</title>{baseline}{''.join(bars)}</svg>"
    )
