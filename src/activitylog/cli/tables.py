"""Aligned text tables that fit the terminal, measured in terminal columns.

Every cell is escaped (:func:`.text.escape`): a table shows stored text, which is untrusted.
On a terminal (``width`` given) a table too wide for it gives way column by column: first the
other text columns narrow to their longest word, then the ``flex`` column (the main content,
such as an entry's description) narrows to what is left; narrowed cells wrap onto more lines,
so nothing is lost (rows are then set apart by a blank line). Numbers and ``fixed`` columns keep their width. Without a width (a pipe, a
file) every row is one line, whole, for ``grep`` and friends.
"""

from __future__ import annotations

from collections.abc import Sequence

from .terminal import Style
from .text import escape, text_width, wrap

#: The narrowest the ``flex`` column gets before the table overflows the terminal instead.
MIN_FLEX = 20
GAP = "  "


def _longest_word(texts: Sequence[str]) -> int:
    return max((text_width(w) for t in texts for w in t.split(" ")), default=0)


def fit(
    natural: Sequence[int],
    floors: Sequence[int],
    width: int,
    flex: int | None,
) -> list[int]:
    """Column widths adding up (with gaps) to at most ``width`` where the floors allow it."""
    widths = list(natural)
    excess = sum(widths) + len(GAP) * (len(widths) - 1) - width
    # The other columns give way first, the widest above its floor first.
    while excess > 0:
        give = [i for i in range(len(widths)) if i != flex and widths[i] > floors[i]]
        if not give:
            break
        i = max(give, key=lambda k: widths[k] - floors[k])
        step = min(excess, widths[i] - floors[i], max(1, (widths[i] - floors[i]) // 2))
        widths[i] -= step
        excess -= step
    if excess > 0 and flex is not None:
        widths[flex] -= min(excess, max(0, widths[flex] - floors[flex]))
    return widths


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[tuple[str, str | None]]],
    style: Style,
    *,
    width: int | None = None,
    flex: int | None = None,
    right: Sequence[int] = (),
    fixed: Sequence[int] = (),
) -> list[str]:
    """Aligned lines of a table; cells are ``(text, color)``.

    With ``width`` (a terminal's), the table fits it as the module describes; column ``flex``
    gives way last. Columns in ``right`` are right-aligned and, like ``fixed`` ones, never
    narrowed.
    """
    cells = [[(escape(text), color) for text, color in row] for row in rows]
    columns = list(zip(*[[t for t, _ in row] for row in cells], strict=True)) if cells else []
    natural = [
        max([text_width(h), *(text_width(t) for t in (columns[i] if columns else ()))])
        for i, h in enumerate(headers)
    ]
    widths = natural
    if width is not None:
        floors = []
        for i, h in enumerate(headers):
            column = columns[i] if columns else ()
            if i in right or i in fixed:
                floors.append(natural[i])
            elif i == flex:
                floors.append(min(natural[i], max(text_width(h), MIN_FLEX)))
            else:
                floors.append(min(natural[i], max(text_width(h), _longest_word(column))))
        widths = fit(natural, floors, width, flex)

    def lines_of(row: Sequence[tuple[str, str | None]]) -> list[str]:
        wrapped = [wrap(text, widths[i]) if text_width(text) > widths[i] else [text]
                   for i, (text, _) in enumerate(row)]
        height = max(len(w) for w in wrapped)
        out = []
        for n in range(height):
            parts = []
            for i, (_, color) in enumerate(row):
                text = wrapped[i][n] if n < len(wrapped[i]) else ""
                pad = " " * max(0, widths[i] - text_width(text))
                if i in right:
                    parts.append(pad + style(text, color))
                else:
                    parts.append(style(text, color) + ("" if i == len(row) - 1 else pad))
            out.append(GAP.join(parts).rstrip())
        return out

    out = lines_of([(escape(h), "bold") for h in headers])
    body = [lines_of(row) for row in cells]
    spaced = any(len(lines) > 1 for lines in body)
    for lines in body:
        if spaced:  # where a row takes several lines, a blank line shows where the next starts
            out.append("")
        out.extend(lines)
    return out
