"""What search matches, defined once for every store.

Search is a case-insensitive (Unicode casefold) substring match over an entry's action label,
description and actor name. The text is split into words on whitespace and every word must
match; no character has a special meaning, so ``%``, ``_``, quotes and backslashes are literal.
"""

from __future__ import annotations

from .models import Entry

#: Separates the searchable fields; a search word never contains it, so no match spans fields.
FIELD_SEPARATOR = "\n"


def terms(text: str) -> tuple[str, ...]:
    """The casefolded words of a search; empty when the text is blank."""
    if not isinstance(text, str):
        raise TypeError(f"search text must be a string, not {type(text).__name__}")
    # Deduplicated (order kept) so stores never repeat work for "a a".
    return tuple(dict.fromkeys(text.casefold().split()))


def haystack(label: str, description: str, actor_name: str) -> str:
    """The casefolded text a search runs over."""
    return FIELD_SEPARATOR.join((label, description, actor_name)).casefold()


def entry_haystack(entry: Entry) -> str:
    """:func:`haystack` of an entry."""
    return haystack(entry.label, entry.description, entry.actor.name)


def matches(text: str, words: tuple[str, ...]) -> bool:
    """Whether every search word occurs in the casefolded haystack ``text``."""
    return all(word in text for word in words)
