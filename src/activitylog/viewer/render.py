"""The page dict as server-rendered HTML.

Every value that comes from the page dict passes through :func:`esc` (``html.escape`` with
quotes), and nothing is ever placed in a script, a style or an event attribute, so stored text
renders as text. The page has no inline script or style: behaviour lives in ``viewer.js`` and
looks in ``data-*`` attributes for the URLs it needs, which keeps the Content-Security-Policy
free of ``unsafe-inline``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from string import Template
from typing import Any

from . import static

_SHELL = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>$title</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="$css">
<script src="$js" defer></script>
</head>
<body>
<main id="activity-log" class="al"$data>
$body
</main>
</body>
</html>
""")

ARROWS = {True: "↓", False: "↑"}


def esc(value: object) -> str:
    """Text made safe for HTML content and quoted attribute values."""
    return html.escape(str(value), quote=True)


def _attrs(**values: object) -> str:
    out = []
    for key, value in values.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        out.append(f" {name}" if value is True else f' {name}="{esc(value)}"')
    return "".join(out)


def shell(root: str, title: str, body: str, **data: object) -> str:
    """A whole document: ``body`` (already HTML) inside the page's frame and assets."""
    return _SHELL.substitute(
        title=esc(title),
        css=esc(static.url(root, "viewer.css")),
        js=esc(static.url(root, "viewer.js")),
        data=_attrs(**{f"data_{k}": v for k, v in data.items()}),
        body=body,
    )


def page(data: dict[str, Any], root: str, title: str = "Activity Log") -> str:
    """The Activity Log page for a page dict (see :func:`activitylog.viewer.core.build_page`)."""
    links = data["links"]
    parts = [
        _header(data, links),
        _filters(data, root),
        _scope(data),
        _toolbar(data, links),
        _table(data),
        _empty(data),
        _pager(data),
        '<p id="al-live" class="sr-only" role="status" aria-live="polite"></p>',
    ]
    return shell(root, title, "\n".join(p for p in parts if p), tz=data["filters"]["tz"],
                 tz_explicit="1" if data["filters"]["tz"] != "UTC" else None)


def rows(entries: Iterable[dict[str, Any]]) -> str:
    """The table rows of some entries."""
    return "\n".join(_row(e) for e in entries)


def _header(data: dict[str, Any], links: dict[str, str]) -> str:
    badge = ""
    if "integrity" in links:
        badge = (
            f'<p class="al-integrity" id="al-integrity" role="status"'
            f'{_attrs(data_url=links["integrity"])}>'
            f'<a href="{esc(links["integrity"])}">Check integrity</a></p>'
        )
    return (
        '<header class="al-head"><div><h1>Activity Log</h1>'
        "<p>Track every action performed within your organization for security, compliance, "
        f"and accountability.</p></div>{badge}</header>"
    )


def _hidden(data: dict[str, Any], skip: str) -> str:
    f = data["filters"]
    pairs: list[tuple[str, str]] = []
    if skip != "category":
        pairs += [("category", c) for c in f["category"]]
    for key in ("date", "actor"):
        if f[key] and key != skip:
            pairs.append((key, f[key]))
    if f["sort"] != "date":
        pairs.append(("sort", f["sort"]))
    if (f["order"] == "desc") != (f["sort"] == "date"):
        pairs.append(("order", f["order"]))
    if f["tz"] != "UTC":
        pairs.append(("tz", f["tz"]))
    if f["target"]:
        pairs.append(("target", f"{f['target']['type']}:{f['target']['id']}"))
    return "".join(f'<input type="hidden"{_attrs(name=k, value=v)}>' for k, v in pairs)


def _filters(data: dict[str, Any], root: str) -> str:
    f = data["filters"]
    search = (
        f'<form class="al-search" method="get" action="{esc(root)}" role="search">'
        '<label for="al-q" class="sr-only">Search the Activity Log</label>'
        f'<input type="search" id="al-q" name="q"{_attrs(value=f["q"])} '
        'placeholder="Search by action, description or member" autocomplete="off" '
        'aria-keyshortcuts="/">'
        f"{_hidden(data, 'q')}"
        '<button type="submit">Search</button></form>'
    )
    selected = [c["name"] for c in data["categories"] if c["selected"]]
    summary = "Category: " + (", ".join(selected) if selected else "All")
    items = "".join(
        f'<li><a class="al-option"{_attrs(href=c["toggle_url"], aria_pressed=str(c["selected"]).lower())}'
        f' role="button">{esc(c["name"])} <span class="al-count">{c["count"]:,}</span></a></li>'
        for c in data["categories"]
    )
    if not items:
        items = '<li class="al-none">No categories yet</li>'
    category = (
        '<details class="al-menu" id="al-category"><summary>'
        f"{esc(summary)}</summary>"
        f'<ul aria-label="Category filter">{items}</ul></details>'
    )
    dates = "".join(
        f'<a class="al-chip"{_attrs(href=d["url"], aria_pressed=str(d["selected"]).lower())}'
        f' role="button">{esc(d["label"])}</a>'
        for d in data["dates"]
    )
    date = f'<div class="al-dates" role="group" aria-label="Date filter">{dates}</div>'
    return f'<section class="al-filters" aria-label="Filters">{search}{category}{date}</section>'


def _scope(data: dict[str, Any]) -> str:
    f = data["filters"]
    entries = data["entries"]
    bits = []
    if f["target"]:
        # The record's label and the member's name as the newest entry shown has them.
        label = next((e["target"]["label"] for e in entries if e["target"]
                      and e["target"]["label"]), None)
        shown = f" “{esc(label)}”" if label else ""
        bits.append(f"History of {esc(f['target']['type'])} {esc(f['target']['id'])}{shown}")
    if f["actor"]:
        name = next((e["actor"]["name"] for e in entries), f["actor"])
        bits.append(f"Activity of {esc(name)}")
    if not bits:
        return ""
    return (
        f'<p class="al-scope" id="al-scope">{" · ".join(bits)} '
        f'<a href="{esc(data["clear_url"])}">Show the whole log</a></p>'
    )


def _toolbar(data: dict[str, Any], links: dict[str, str]) -> str:
    out = []
    if "chart" in links:
        out.append(
            f'<figure class="al-chart"><img{_attrs(src=links["chart"])} width="280" height="56" '
            'alt="Entries per day over the last 14 days, for the current filters">'
            "<figcaption>Entries per day, last 14 days</figcaption></figure>"
        )
    if "export" in links:
        out.append(
            f'<a class="al-button" id="al-export"{_attrs(href=links["export"])} download>'
            "Export CSV</a>"
        )
    if data["filtered"]:
        out.append(f'<a class="al-clear" href="{esc(data["clear_url"])}">Clear filters</a>')
    return f'<div class="al-toolbar">{"".join(out)}</div>' if out else ""


def _th(label: str, sort: dict[str, Any] | None) -> str:
    if sort is None:
        return f'<th scope="col">{label}</th>'
    if sort["active"]:
        aria = "descending" if sort["descending"] else "ascending"
        arrow = f' <span aria-hidden="true">{ARROWS[sort["descending"]]}</span>'
    else:
        aria, arrow = None, ""
    return (
        f'<th scope="col"{_attrs(aria_sort=aria)}><a class="al-sort"{_attrs(href=sort["url"])}>'
        f"{label}{arrow}</a></th>"
    )


def _table(data: dict[str, Any]) -> str:
    if not data["entries"]:
        return ""
    head = "".join((
        _th("Action", data["sort"]["action"]),
        _th("User", None),
        _th("Description", None),
        _th("Date", data["sort"]["date"]),
    ))
    return (
        '<table class="al-table" id="al-table">'
        '<caption class="sr-only">Activity Log entries. Keys: j and k move between rows, '
        "Enter opens the record's history, / searches.</caption>"
        f"<thead><tr>{head}</tr></thead>"
        f'<tbody id="al-rows">{rows(data["entries"])}</tbody></table>'
    )


def _avatar(actor: dict[str, Any]) -> str:
    # The picture covers the initials; viewer.js removes a picture that fails to load.
    photo = ""
    if actor["avatar_url"]:
        photo = (
            f'<img class="al-photo"{_attrs(src=actor["avatar_url"])} alt="" width="28" '
            'height="28" referrerpolicy="no-referrer">'
        )
    return (
        f'<span class="al-avatar al-initials" aria-hidden="true">{esc(actor["initials"])}'
        f"{photo}</span>"
    )


def _row(e: dict[str, Any]) -> str:
    actor, target = e["actor"], e["target"]
    api = ""
    if e["api_key"]:
        api = (
            f'<span class="al-api"{_attrs(title="Made through the API key " + e["api_key"]["name"])}>'
            f'API<span class="al-key"> · {esc(e["api_key"]["name"])}</span></span>'
        )
    history = ""
    if target is not None:
        label = f"History of {target['type']} {target['label'] or target['id']}"
        history = (
            f' <a class="al-history"{_attrs(href=target["history_url"], aria_label=label)}>'
            "History</a>"
        )
    return (
        f'<tr class="al-row"{_attrs(data_id=e["id"], data_seq=e["seq"])} tabindex="-1">'
        f'<td><span class="al-label al-{esc(e["color"])}">{esc(e["label"])}</span>{api}</td>'
        f'<td><span class="al-user">{_avatar(actor)}'
        f'<a class="al-actor"{_attrs(href=actor["url"], title="Activity of " + actor["name"])}>'
        f'{esc(actor["name"])}</a></span></td>'
        f'<td class="al-desc">{esc(e["description"])}{history}</td>'
        f'<td><time{_attrs(datetime=e["occurred_at"], title=e["exact_time"])}>'
        f'{esc(e["relative_time"])}<span class="sr-only">, {esc(e["exact_time"])}</span>'
        "</time></td></tr>"
    )


def _empty(data: dict[str, Any]) -> str:
    if data["entries"]:
        return ""
    if not data["first_page"]:
        return '<p class="al-empty" id="al-empty">No more entries.</p>'
    if data["filtered"]:
        return (
            '<div class="al-empty" id="al-empty"><h2>No matching entries</h2>'
            "<p>Nothing in the Activity Log matches these filters.</p>"
            f'<p><a href="{esc(data["clear_url"])}">Clear filters</a></p></div>'
        )
    return (
        '<div class="al-empty" id="al-empty"><h2>No activity yet</h2>'
        "<p>Actions your team performs (creating leads, inviting members, changing the plan...) "
        "will appear here.</p></div>"
    )


def _pager(data: dict[str, Any]) -> str:
    if not data["next_url"]:
        return ""
    return (
        '<p class="al-pager" id="al-pager">'
        f'<a class="al-button" id="al-more"{_attrs(href=data["next_url"])}>Load more</a></p>'
    )


def error_page(root: str, status: int, heading: str, message: str, back: str | None) -> str:
    """A page for a refused or malformed request; ``message`` is shown as text."""
    link = f'<p><a href="{esc(back)}">Back to the Activity Log</a></p>' if back else ""
    body = (
        f'<div class="al-error" id="al-error" role="alert"><h1>{esc(heading)}</h1>'
        f"<p>{esc(message)}</p>{link}</div>"
    )
    return shell(root, f"{status} {heading}", body)
