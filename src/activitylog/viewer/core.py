"""The viewer's framework-free core: URL query parameters to a :class:`Query`, and one page dict.

The page dict is what both the HTML page and the JSON API show (the JSON API returns it as it
is). Every URL in it keeps the current filters and changes one thing only, so a view can be
bookmarked, shared and paged: a category's ``toggle_url`` adds or removes that category, a
sort header's ``url`` flips or sets the order, and ``next_url`` is the current URL with only the
cursor replaced.

Query parameters (all optional; repeated ``category`` keeps entries in any of them):

========  ==================================================================================
``q``         search words (action name, description, member name)
``category``  a category name, e.g. ``Leads`` (may be repeated)
``date``      ``today``, ``this-week``, ``this-month`` or ``older``
``sort``      ``date`` (default) or ``action``
``order``     ``desc`` or ``asc`` (default: ``desc`` for date, ``asc`` for action)
``tz``        the viewer's IANA time zone for the date buckets and exact times (default UTC)
``target``    ``type:id``: the history of one record
``actor``     an actor id: one member's activity
``cursor``    where the next page starts (from ``next_url``)
``size``      entries per page (1 to 200, default 50)
========  ==================================================================================
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote_plus

import attrs

from ..errors import InvalidQuery
from ..log import ActivityLog
from ..models import Actor, Entry, Kind, Source
from ..query import DateBucket, Query, resolve_tz
from .times import PageTimes

#: The largest page the viewer serves.
MAX_SIZE = 200
#: Entries per page unless ``size`` says otherwise.
DEFAULT_SIZE = 50

_DATE_LABELS = {
    DateBucket.TODAY: "Today",
    DateBucket.THIS_WEEK: "This week",
    DateBucket.THIS_MONTH: "This month",
    DateBucket.OLDER: "Older",
}
_DATES = tuple((bucket, bucket.value, _DATE_LABELS[bucket]) for bucket in DateBucket)
_KNOWN = frozenset({"q", "category", "date", "sort", "order", "tz", "target", "actor",
                    "cursor", "size"})


# What quote_plus(value, safe="") leaves as it is.
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch


@functools.lru_cache(maxsize=4096)
def _quote(value: str) -> str:
    # The same few values (categories, zones, sorts) recur in every URL of a page.
    return quote_plus(value, safe="")


def _categories_part(categories: tuple[str, ...]) -> str:
    return "&".join(["category=" + _quote(name) for name in categories])


def _sort_parts(sort: str, descending: bool) -> tuple[str, str]:
    return ("" if sort == "date" else "sort=" + _quote(sort),
            "" if descending == (sort == "date") else "order=" + ("desc" if descending else "asc"))


def _parts(v: dict[str, Any]) -> list[str]:
    """The query string's parts in their order, ``""`` where a value is left out."""
    target = v["target"]
    return [
        "q=" + _quote(v["q"]) if v["q"] else "",
        _categories_part(v["categories"]),
        "" if v["date"] is None else "date=" + v["date"].value,
        *_sort_parts(v["sort"], v["descending"]),
        "" if v["tz"] == "UTC" else "tz=" + _quote(v["tz"]),
        "" if target is None else "target=" + _quote(f"{target[0]}:{target[1]}"),
        "" if v["actor"] is None else "actor=" + _quote(v["actor"]),
        "" if v["size"] == DEFAULT_SIZE else f"size={v['size']}",
        "" if v["cursor"] is None else "cursor=" + quote_plus(v["cursor"], safe=""),
    ]


def _query_string(v: dict[str, Any]) -> str:
    return "&".join([part for part in _parts(v) if part])


# Where _parts puts each value.
_CATEGORIES, _DATE, _SORT, _ORDER, _CURSOR = 1, 2, 3, 4, 9


class _Urls:
    """One page's URLs that change one filter (and drop the cursor), from parts written once.

    The same as :meth:`Params.url` (they share :func:`_parts`); a page makes some twenty.
    """

    def __init__(self, params: Params, path: str) -> None:
        values = params._values()
        values["cursor"] = None
        self._path = path
        self._parts = _parts(values)

    def _url(self, changes: dict[int, str]) -> str:
        parts = self._parts.copy()
        for index, part in changes.items():
            parts[index] = part
        qs = "&".join([part for part in parts if part])
        return f"{self._path}?{qs}" if qs else self._path

    def categories(self, categories: tuple[str, ...]) -> str:
        """These categories instead."""
        return self._url({_CATEGORIES: _categories_part(categories)})

    def date(self, bucket: DateBucket | None) -> str:
        """This date bucket (or none) instead."""
        return self._url({_DATE: "" if bucket is None else "date=" + bucket.value})

    def sort(self, sort: str, descending: bool) -> str:
        """This sort instead."""
        by, order = _sort_parts(sort, descending)
        return self._url({_SORT: by, _ORDER: order})

    def cursor(self, cursor: str) -> str:
        """The next page."""
        return self._url({_CURSOR: "cursor=" + quote_plus(cursor, safe="")})


@attrs.frozen
class Params:
    """The viewer's filters as read from a URL's query string (see the module docstring)."""

    q: str = ""
    categories: tuple[str, ...] = ()
    date: DateBucket | None = None
    sort: str = "date"
    descending: bool = True
    tz: str = "UTC"
    target: tuple[str, str] | None = None
    actor: str | None = None
    cursor: str | None = None
    size: int = DEFAULT_SIZE

    @classmethod
    def parse(cls, query_string: str) -> Params:
        """Read a raw query string (``a=1&b=2``); raises :class:`InvalidQuery` on bad values.

        Unknown parameters are ignored, so hosts may add their own.
        """
        pairs = parse_qsl(query_string, keep_blank_values=True)
        single: dict[str, str] = {}
        categories: list[str] = []
        for key, value in pairs:
            if key == "category":
                if value.strip():
                    categories.append(value.strip())
            elif key in _KNOWN:
                single[key] = value
        date: DateBucket | None = None
        if single.get("date"):
            try:
                date = DateBucket(single["date"])
            except ValueError:
                choices = ", ".join(b.value for b in DateBucket)
                raise InvalidQuery(
                    f"unknown date filter {single['date']!r} (choose {choices})"
                ) from None
        sort = single.get("sort") or "date"
        if sort not in ("date", "action"):
            raise InvalidQuery(f"cannot sort by {sort!r}; sort by 'date' or 'action'")
        order = single.get("order") or ("desc" if sort == "date" else "asc")
        if order not in ("asc", "desc"):
            raise InvalidQuery(f"order must be 'asc' or 'desc', not {order!r}")
        tz = single.get("tz") or "UTC"
        resolve_tz(tz)  # an unknown zone is refused here, with the query's message
        target: tuple[str, str] | None = None
        if single.get("target"):
            type_, sep, id_ = single["target"].partition(":")
            if not sep or not type_ or not id_:
                raise InvalidQuery(
                    f"target must be 'type:id' (e.g. 'lead:42'), not {single['target']!r}"
                )
            target = (type_, id_)
        size = DEFAULT_SIZE
        if single.get("size"):
            raw = single["size"]
            if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_SIZE:
                raise InvalidQuery(f"size must be a whole number from 1 to {MAX_SIZE}, not {raw!r}")
            size = int(raw)
        return cls(
            q=single.get("q", "").strip(),
            categories=tuple(dict.fromkeys(categories)),
            date=date,
            sort=sort,
            descending=order == "desc",
            tz=tz,
            target=target,
            actor=single.get("actor") or None,
            cursor=single.get("cursor") or None,
            size=size,
        )

    def query_string(self) -> str:
        """These filters as a query string, defaults left out (the inverse of :meth:`parse`)."""
        return _query_string(self._values())

    def url(self, path: str, **changes: Any) -> str:
        """``path`` with these filters, ``changes`` applied; any change but ``cursor`` drops it."""
        values = self._values()
        values["cursor"] = None
        values.update(changes)
        qs = _query_string(values)
        return f"{path}?{qs}" if qs else path

    def _values(self) -> dict[str, Any]:
        # A plain dict, not attrs.evolve: a page builds some twenty URLs from it.
        return {"q": self.q, "categories": self.categories, "date": self.date,
                "sort": self.sort, "descending": self.descending, "tz": self.tz,
                "target": self.target, "actor": self.actor, "cursor": self.cursor,
                "size": self.size}

    def query(self, log: ActivityLog, org_id: str, viewer: Any) -> Query:
        """The query these filters ask for; the log's access policy checks ``viewer`` here."""
        query = log.query(org_id, viewer=viewer, tz=self.tz)
        if self.q:
            query = query.search(self.q)
        if self.categories:
            query = query.category(*self.categories)
        if self.date is not None:
            query = query.date(self.date)
        if self.target is not None:
            query = query.target(*self.target)
        if self.actor is not None:
            query = query.actor(self.actor)
        if self.sort == "date" and self.descending:
            return query  # the query's own order: newest first
        return query.sort(self.sort, self.descending)


@functools.lru_cache(maxsize=4096)
def initials(name: str) -> str:
    """Up to two letters for an avatar without a picture: ``"Ada Lovelace"`` -> ``"AL"``."""
    # Cached: an organization's pages show the same members again and again.
    words = [w for w in name.split() if w[:1].isalnum()]
    if not words:
        return (name.strip()[:1] or "?").upper()
    letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    return letters.upper()


def safe_avatar(url: str | None) -> str | None:
    """An avatar URL fit for ``<img src>``: http(s) only, anything else dropped."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


class _Links:
    """What one page's entries share: URLs with ``actor`` or ``target`` replaced, and actors.

    The filters' part of the query string is written once per page, and a page repeats the
    same few actors, so each actor's part of an entry is built once too.
    """

    def __init__(self, params: Params, path: str) -> None:
        values = params._values()
        values.update(cursor=None, actor=None, target=None)
        base = _query_string(values)
        self._prefix = f"{path}?{base}&" if base else f"{path}?"
        self._actors: dict[Actor, dict[str, Any]] = {}
        self._seen: dict[int, tuple[Actor, dict[str, Any]]] = {}
        self._targets: dict[str, str] = {}

    def actor(self, actor: Actor) -> dict[str, Any]:
        """The page's (shared, read-only) view of an actor."""
        # Stores hand out one Actor object per actor, so most entries find theirs by its id()
        # without hashing its fields; the pair keeps the object alive, so the id stays its own.
        seen = self._seen.get(id(actor))
        if seen is not None and seen[0] is actor:
            return seen[1]
        data = self._actors.get(actor)
        if data is None:
            data = self._actors[actor] = {
                "id": actor.id,
                "name": actor.name,
                "kind": actor.kind.value,
                "avatar_url": safe_avatar(actor.avatar_url),
                "initials": initials(actor.name),
                "url": self._prefix + "actor=" + _quote(actor.id),
            }
        self._seen[id(actor)] = (actor, data)
        return data

    def target(self, type_: str, id_: str) -> str:
        """The URL of a record's history."""
        # quote_plus works character by character, so "type:id" quotes as its two parts
        # around the colon's "%3A"; ids are mostly plain, which needs no quoting at all.
        start = self._targets.get(type_)
        if start is None:
            start = self._targets[type_] = self._prefix + "target=" + _quote(type_) + "%3A"
        return start + (id_ if _PLAIN(id_) else quote_plus(id_, safe=""))


# Enum .value goes through a descriptor; these lookups are plain dict reads.
_KINDS = {kind: (kind.value, kind.color) for kind in Kind}
_SOURCES = {source: source.value for source in Source}


def entry_dict(entry: Entry, times: PageTimes, links: _Links) -> dict[str, Any]:
    """One entry as the page shows it (JSON-ready)."""
    target, key = entry.target, entry.api_key
    kind, color = _KINDS[entry.kind]
    source = _SOURCES[entry.source]
    iso, exact, relative = times.texts(entry)
    return {
        "id": entry.id,
        "seq": entry.seq,
        "action": entry.action,
        "label": entry.label,
        "category": entry.category,
        "kind": kind,
        "color": color,
        "actor": links.actor(entry.actor),
        "description": entry.description,
        "occurred_at": iso,
        "relative_time": relative,
        "exact_time": exact,
        "source": source,
        "api_key": None if key is None or source != "api" else {"name": key.name},
        "target": None if target is None else {
            "type": target.type,
            "id": target.id,
            "label": target.label,
            "history_url": links.target(target.type, target.id),
        },
    }


def build_page(
    log: ActivityLog,
    org_id: str,
    viewer: Any,
    params: Params,
    path: str,
    *,
    links: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The page dict for ``params``: entries, counts, filters and URLs built on ``path``.

    Raises :class:`~activitylog.errors.PermissionDenied` before reading anything when the
    log's policy refuses ``viewer``, and :class:`~activitylog.errors.InvalidQuery` (or
    :class:`~activitylog.errors.InvalidCursor`) for filters that make no sense.
    ``links`` adds URLs of the other endpoints (export, chart...) as the caller names them.
    """
    query = params.query(log, org_id, viewer)
    page = query.page(params.size, after=params.cursor)
    entry_links = _Links(params, path)
    now = log.clock()
    times = PageTimes(now, query.tz)
    counts = log.categories(org_id, viewer=viewer)
    present = {name for name, _ in counts}
    # A selected category with no entries stays listed, so it can still be unselected.
    extra = [(name, 0) for name in params.categories if name not in present]
    urls = _Urls(params, path)
    categories = [
        {
            "name": name,
            "count": count,
            "selected": name in params.categories,
            "toggle_url": urls.categories(
                tuple(c for c in params.categories if c != name)
                if name in params.categories
                else (*params.categories, name),
            ),
        }
        for name, count in [*counts, *extra]
    ]
    dates = [
        {
            "value": value,
            "label": label,
            "selected": params.date is bucket,
            "url": urls.date(None if params.date is bucket else bucket),
        }
        for bucket, value, label in _DATES
    ]
    sorts = {}
    for field in ("action", "date"):
        active = params.sort == field
        # A click on the active column flips it; on the other column it starts at its default.
        descending = (not params.descending) if active else field == "date"
        sorts[field] = {
            "active": active,
            "descending": params.descending if active else None,
            "url": urls.sort(field, descending),
        }
    next_url = None
    if page.next_cursor is not None:
        next_url = urls.cursor(page.next_cursor)
    filtered = bool(params.q or params.categories or params.date or params.target or params.actor)
    return {
        "org_id": org_id,
        "filters": {
            "q": params.q,
            "category": list(params.categories),
            "date": None if params.date is None else params.date.value,
            "sort": params.sort,
            "order": "desc" if params.descending else "asc",
            "tz": params.tz,
            "target": None if params.target is None else
            {"type": params.target[0], "id": params.target[1]},
            "actor": params.actor,
            "size": params.size,
        },
        "filtered": filtered,
        "clear_url": path,
        "first_page": params.cursor is None,
        "total_in_org": sum(count for _, count in counts),
        "entries": [entry_dict(e, times, entry_links) for e in page.entries],
        "categories": categories,
        "dates": dates,
        "sort": sorts,
        "next_cursor": page.next_cursor,
        "next_url": next_url,
        "links": dict(links or {}),
        "now": now.isoformat(),
    }

