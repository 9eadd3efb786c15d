"""What search matches, defined once for every store.

Search is a substring match that ignores case and diacritics, as people expect of a search box.
The searched text (an entry's action label, description and actor name) and the query go
through the same :func:`normalize`:

1. compatibility decomposition (Unicode NFKD): "ﬁ" becomes "fi", full-width "ＡＢ" becomes
   "AB", "é" becomes "e" plus a combining acute accent however it was typed;
2. case folding (``str.casefold``): "Straße" and "STRASSE" both become "strasse", "İ" "i̇";
3. every combining mark removed (the accents, cedillas, dots and rings left by step 1);
4. a few letters that carry their mark inside them folded to their base letter:
   ``ı`` (dotless i) to ``i``, ``ø`` to ``o``, ``đ`` and ``ð`` to ``d``, ``ł`` to ``l``,
   ``ħ`` to ``h``, ``ŧ`` to ``t``, ``æ`` to ``ae``, ``œ`` to ``oe``.

So "muller" finds "Müller", "cafe" finds "Café", "istanbul" finds "İstanbul", "yilmaz" finds
"Yılmaz" and "sisli" finds "ŞİŞLİ"; "Müller" finds "Muller" too. The query is split into words
on whitespace and every word must occur; no character has a special meaning, so ``%``, ``_``,
quotes and backslashes are literal. A query may hold at most :data:`MAX_SEARCH_WORDS` words and
:data:`MAX_SEARCH_CHARS` characters, so that every store can run every query it is given.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from .errors import InvalidQuery
from .models import Entry

#: Separates the searchable fields; a search word never contains it, so no match spans fields.
FIELD_SEPARATOR = "\n"
#: The most words one search may hold.
MAX_SEARCH_WORDS = 32
#: The longest search text, in characters.
MAX_SEARCH_CHARS = 1000

#: Letters whose mark is part of the letter (no decomposition), folded after casefolding.
FOLDED_LETTERS = {
    "ı": "i", "ø": "o", "đ": "d", "ð": "d", "ł": "l", "ħ": "h", "ŧ": "t", "æ": "ae", "œ": "oe",
}
#: Every combining mark (non-zero canonical combining class) lies below this code point.
MARKS_BELOW = 0x20000
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


@functools.cache
def _marks() -> tuple[re.Pattern[str], re.Pattern[str]]:
    # Character classes of the combining marks, in and beyond the BMP: ``re`` tests a class of
    # BMP ranges with a bitmap, several times faster than a Python loop over the characters.
    bmp: list[str] = []
    astral: list[str] = []
    start = None
    for code in range(0x300, MARKS_BELOW + 1):
        mark = code < MARKS_BELOW and unicodedata.combining(chr(code)) != 0
        if mark and start is None:
            start = code
        elif not mark and start is not None:
            part = f"{re.escape(chr(start))}-{re.escape(chr(code - 1))}"
            (bmp if code <= 0x10000 else astral).append(part)
            start = None
    return re.compile(f"[{''.join(bmp)}]+"), re.compile(f"[{''.join(astral)}]+")


@functools.cache
def _unchanged() -> re.Pattern[str]:
    # A character beyond ASCII that no step changes: its own NFKD, no case, no combining mark,
    # not a folded letter. Text of ASCII and such characters folds to ``text.lower()``: every
    # step works character by character (NFKD reorders combining marks only, and there are
    # none), and ``str.lower`` only changes ASCII letters there (the final-sigma rule concerns
    # a cased letter). Descriptions quote with curly quotes and dashes, all of them unchanged.
    changed: list[str] = []
    start = None
    # Up to one past the BMP, which is always "changed": every range left open closes there.
    for code in range(0x80, 0x10001):
        char = chr(code)
        same = (
            code < 0x10000
            and not 0xD800 <= code < 0xE000
            and char.lower() == char
            and char.casefold() == char
            and unicodedata.normalize("NFKD", char) == char
            and unicodedata.combining(char) == 0
            and char not in FOLDED_LETTERS
        )
        if not same and start is None:
            start = code
        elif same and start is not None:
            changed.append(f"{re.escape(chr(start))}-{re.escape(chr(code - 1))}")
            start = None
    assert start is not None
    changed.append(f"{re.escape(chr(start))}-{re.escape(chr(0x10FFFF))}")
    return re.compile(f"[{''.join(changed)}]")


def normalize(text: str) -> str:
    """``text`` folded for search: NFKD, casefold, combining marks removed, a few letters folded."""
    if text.isascii() or _unchanged().search(text) is None:
        return text.lower()  # the same result, without the Unicode passes
    folded = unicodedata.normalize("NFKD", text).casefold()
    if folded.isascii():
        return folded
    if not unicodedata.is_normalized("NFKD", folded):  # casefolding can compose (rarely)
        folded = unicodedata.normalize("NFKD", folded)
    bmp, astral = _marks()
    folded = bmp.sub("", folded)
    if _ASTRAL.search(folded):
        folded = astral.sub("", folded)
    for letter, base in FOLDED_LETTERS.items():
        if letter in folded:
            folded = folded.replace(letter, base)
    return folded


def terms(text: str) -> tuple[str, ...]:
    """The normalized words of a search; empty when the text is blank.

    Raises :class:`~activitylog.errors.InvalidQuery` for a non-string and for a search longer
    than :data:`MAX_SEARCH_CHARS` characters or with more than :data:`MAX_SEARCH_WORDS` words.
    """
    if not isinstance(text, str):
        raise InvalidQuery(f"search text must be a string, not {type(text).__name__}")
    if len(text) > MAX_SEARCH_CHARS:
        raise InvalidQuery(
            f"search text is {len(text)} characters long; the limit is {MAX_SEARCH_CHARS}"
        )
    # Deduplicated (order kept) so stores never repeat work for "a a".
    words = tuple(dict.fromkeys(word for word in normalize(text).split() if word))
    if len(words) > MAX_SEARCH_WORDS:
        raise InvalidQuery(
            f"search has {len(words)} different words; the limit is {MAX_SEARCH_WORDS}"
        )
    return words


def haystack(label: str, description: str, actor_name: str) -> str:
    """The normalized text a search runs over."""
    return normalize(FIELD_SEPARATOR.join((label, description, actor_name)))


def entry_haystack(entry: Entry) -> str:
    """:func:`haystack` of an entry."""
    return haystack(entry.label, entry.description, entry.actor.name)


def matches(text: str, words: tuple[str, ...]) -> bool:
    """Whether every search word occurs in the normalized haystack ``text``."""
    return all(word in text for word in words)
