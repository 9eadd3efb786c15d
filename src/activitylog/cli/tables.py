"""Aligned text tables, measured in terminal columns."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from .terminal import Style


def text_width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide East Asian characters count twice)."""
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def truncate(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, ending with "…" when cut."""
    if text_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = text_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[tuple[str, str | None]]],
    style: Style,
    *,
    width: int | None = None,
    flex: int | None = None,
    right: Sequence[int] = (),
) -> list[str]:
    """Aligned lines of a table; cells are ``(text, color)``.

    With ``width`` (a terminal), column ``flex`` is cut so that lines fit.
    """
    widths = [text_width(h) for h in headers]
    for row in rows:
        for i, (text, _) in enumerate(row):
            widths[i] = max(widths[i], text_width(text))
    if width is not None and flex is not None:
        others = sum(w for i, w in enumerate(widths) if i != flex) + 2 * (len(widths) - 1)
        widths[flex] = max(text_width(headers[flex]), min(widths[flex], width - others - 1))

    def line(cells: Sequence[tuple[str, str | None]]) -> str:
        parts = []
        for i, (text, color) in enumerate(cells):
            text = truncate(text, widths[i])
            pad = " " * (widths[i] - text_width(text))
            last = i == len(cells) - 1
            if i in right:
                parts.append(pad + style(text, color))
            else:
                parts.append(style(text, color) + ("" if last else pad))
        return "  ".join(parts).rstrip()

    out = [line([(h, "bold") for h in headers])]
    out.extend(line(row) for row in rows)
    return out
