"""Metadata and changes as stored: plain JSON, with everyday Python values converted.

An entry's ``metadata`` and ``changes`` are kept as JSON by every store. Values JSON has no type
for but that hosts hand over every day are converted on the way in (:func:`convert_value`);
anything else is refused with a :class:`~activitylog.errors.MetadataError` naming its key.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from .errors import MetadataError

#: The largest metadata (as compact JSON, in UTF-8 bytes) one entry may carry.
MAX_METADATA_BYTES = 64 * 1024
#: The largest ``changes`` (as compact JSON) one entry may carry.
MAX_CHANGES_BYTES = 64 * 1024
#: How many levels of objects and lists metadata or changes may have (the top object is one).
MAX_NESTING = 100


#: The JSON types metadata and changes hold as they are.
_PLAIN = (str, int, float, bool, type(None))


def convert_value(value: Any) -> Any:
    """The JSON form of an everyday value that JSON has no type for.

    ``datetime``, ``date`` and ``time`` become ISO 8601 text (``isoformat()``: an aware datetime
    keeps its offset), ``Decimal`` its exact text (``"12.50"``; NaN and infinities are refused),
    ``UUID`` its hyphenated text. Raises ``TypeError`` for anything else.
    """
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite number")
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(type(value).__name__)


def _where(what: str, path: list[Any]) -> str:
    return what + "".join(f"[{key!r}]" for key in path)


def _check_json_text(value: Any, what: str) -> None:
    # json.dumps turns 1, True and None keys into "1", "true" and "null", silently merging
    # {1: ..., "1": ...}, so object keys must already be strings. NUL is looked for in the
    # values themselves: in the JSON text "\\u0000" may just be an escaped backslash.
    # Iterative, so any depth can be checked without recursion. Errors name the key path.
    stack: list[tuple[Any, int, list[Any]]] = [(value, 0, [])]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise MetadataError(f"{_where(what, path)} contains a NUL character")
            continue
        if isinstance(item, (Mapping, list, tuple)) and depth >= MAX_NESTING:
            raise MetadataError(f"{what} is nested more than {MAX_NESTING} levels deep")
        if isinstance(item, Mapping):
            for key, child in reversed(list(item.items())):
                if not isinstance(key, str):
                    raise MetadataError(
                        f"{_where(what, path)}: keys must be strings, not {key!r}"
                    )
                if "\x00" in key:
                    raise MetadataError(f"{_where(what, path)}: key {key!r} contains a NUL character")
                stack.append((child, depth + 1, [*path, key]))
        elif isinstance(item, (list, tuple)):
            stack.extend(
                (child, depth + 1, [*path, i]) for i, child in reversed(list(enumerate(item)))
            )
        elif isinstance(item, float) and not math.isfinite(item):
            raise MetadataError(f"{_where(what, path)} is {item}, which JSON cannot hold")
        elif not isinstance(item, _PLAIN):
            try:
                convert_value(item)
            except (TypeError, ValueError) as exc:
                raise MetadataError(
                    f"{_where(what, path)}: cannot store a value of type {type(item).__name__} "
                    f"({exc if isinstance(exc, ValueError) else 'not JSON'}); use text, numbers, "
                    "booleans, None, lists, mappings, datetime, date, time, Decimal or UUID"
                ) from None


def _convert(value: Any) -> Any:
    try:
        return convert_value(value)
    except ValueError as exc:
        raise TypeError(str(exc)) from None


# json.dumps with options builds a new encoder on every call; most entries pay for two.
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_convert
)


def _json_copy(value: Any, what: str, limit: int) -> Any:
    """A JSON round-trip copy of ``value``: what every store will give back, checked once here.

    Values :func:`convert_value` knows are stored in their converted form.
    """
    if type(value) is dict and not value:
        return {}
    try:
        text = _ENCODER.encode(value)
    except (TypeError, ValueError):
        # Find the culprit and name its key (the encoder's message does not).
        _check_json_text(value, what)
        raise MetadataError(f"{what} must be JSON-serializable") from None
    except RecursionError:
        raise MetadataError(f"{what} is nested too deeply") from None
    try:
        size: int | None = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        size = None
    copy: Any = None
    # Most values are plain JSON already. A copy equal to the value proves every key was a
    # string; too few brackets to nest too deeply and no escaped NUL leave nothing else to
    # find, so only the other values are walked in full (in the order errors are reported).
    if (
        size is not None
        and size <= limit
        and "\\u0000" not in text
        and text.count("{") + text.count("[") < MAX_NESTING
    ):
        copy = json.loads(text)
        if copy == value:
            return copy
    _check_json_text(value, what)
    if size is None:
        raise MetadataError(f"{what} contains text that is not valid Unicode")
    if size > limit:
        raise MetadataError(f"{what} is {size} bytes as JSON; the limit is {limit}")
    if copy is not None:
        return copy
    try:
        return json.loads(text)
    except RecursionError:
        raise MetadataError(f"{what} is nested too deeply") from None
