"""Stored text made safe and measured for a terminal.

Stored text is untrusted: an actor name holding ``ESC ]0;...BEL`` would retitle the operator's
terminal, a carriage return or newline would forge a table row, a bidi override would reorder
what follows. :func:`escape` turns every such character into visible ``\\x1b``, ``\\n``,
``\\u202e``... notation; every human-readable output passes stored text through it, while the
machine formats (CSV, JSON Lines, JSON) keep it exact.

Widths are measured per grapheme cluster (what a terminal draws as one character): wide East
Asian characters and emoji take two columns; combining marks, zero-width joiners and the parts
of an emoji sequence after its first character take none.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from functools import lru_cache

#: Bidirectional formatting characters, which reorder the text around them.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ZWJ = "\u200d"
_VS16 = "\ufe0f"  # asks for the emoji (two-column) presentation of the character before it


def _unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in BIDI_CONTROLS


def escape(text: str) -> str:
    """``text`` with control characters (C0, DEL, C1, line separators, bidi) made visible."""
    if text.isprintable():  # the common case: nothing to do (isprintable is false for all above)
        return text
    out = []
    for ch in text:
        if _unsafe(ch):
            code = ord(ch)
            out.append(_NAMED.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"))
        else:
            out.append(ch)
    return "".join(out)


@lru_cache(maxsize=4096)
def _char_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    if "\u1160" <= ch <= "\u11ff":  # Hangul medial vowels and final consonants join the syllable
        return 0
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def _extends(ch: str) -> bool:
    """Whether ``ch`` belongs to the grapheme cluster before it."""
    return (
        _char_width(ch) == 0
        or "\U0001f3fb" <= ch <= "\U0001f3ff"  # emoji skin tone modifiers
    )


def _regional(ch: str) -> bool:
    return "\U0001f1e6" <= ch <= "\U0001f1ff"


def graphemes(text: str) -> Iterator[str]:
    """The grapheme clusters of ``text``: a character with its marks, joiners and modifiers;
    an emoji ZWJ sequence; a flag (a pair of regional indicators)."""
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        if _regional(text[i]) and j < n and _regional(text[j]):
            j += 1
        while j < n:
            if text[j - 1] == _ZWJ or _extends(text[j]):
                j += 1
            else:
                break
        yield text[i:j]
        i = j


def cluster_width(cluster: str) -> int:
    """Columns one grapheme cluster takes."""
    if _regional(cluster[0]):
        return 2
    width = _char_width(cluster[0])
    if width == 1 and _VS16 in cluster:
        return 2
    if width == 0 and len(cluster) == 1:
        return 0
    return max(width, 1) if cluster[0] != _ZWJ else 0


def text_width(text: str) -> int:
    """Columns ``text`` takes on a terminal."""
    if text.isascii():
        return len(text)
    return sum(cluster_width(c) for c in graphemes(text))


def truncate(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, ending with "…" when cut (never inside a cluster)."""
    if text_width(text) <= width:
        return text
    out, used = [], 0
    for cluster in graphemes(text):
        w = cluster_width(cluster)
        if used + w > width - 1:
            break
        out.append(cluster)
        used += w
    return "".join(out) + "…"


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns, broken between words where possible."""
    width = max(width, 2)
    if text_width(text) <= width:
        return [text]
    lines: list[str] = []
    line: list[str] = []
    used = 0
    word: list[str] = []
    word_width = 0

    def flush_word() -> None:
        nonlocal used, word_width
        line.extend(word)
        used += word_width
        word.clear()
        word_width = 0

    for cluster in graphemes(text):
        w = cluster_width(cluster)
        if cluster == " ":
            if used + word_width <= width:
                flush_word()
            if used + 1 <= width and line:
                line.append(" ")
                used += 1
            continue
        if used + word_width + w > width:
            if line and word_width + w <= width:
                # the word moves to the next line whole
                lines.append("".join(line).rstrip())
                line, used = [], 0
            elif word or line:
                # a word longer than the line: break it
                flush_word()
                lines.append("".join(line).rstrip())
                line, used = [], 0
        word.append(cluster)
        word_width += w
    flush_word()
    if line:
        lines.append("".join(line).rstrip())
    return lines or [""]


def ljust(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` columns."""
    return text + " " * max(0, width - text_width(text))


def plural(count: int, one: str, many: str) -> str:
    """``count`` with its noun: "1 entry", "2 entries", "1,000 entries"."""
    return f"{count:,} {one if count == 1 else many}"
