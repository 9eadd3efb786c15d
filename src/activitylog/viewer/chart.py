"""The entries-per-day chart as a small SVG image, drawn on the server.

The image holds numbers and dates only (no stored text) and no script; it is served as its own
URL so the page's first answer never waits for the per-day counts.
"""

from __future__ import annotations

from collections.abc import Sequence

from .render import esc

WIDTH, HEIGHT = 280, 56
_BAR_GAP = 2


def svg(days: Sequence[tuple[str, int]]) -> str:
    """A bar per day, oldest on the left; each bar's tooltip names its day and count."""
    total = sum(count for _, count in days)
    peak = max((count for _, count in days), default=0)
    n = max(len(days), 1)
    slot = WIDTH / n
    label = f"{total:,} {'entry' if total == 1 else 'entries'} in the last {len(days)} days"
    bars = []
    for i, (day, count) in enumerate(days):
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
