"""The viewer's framework-free handler: routes, access, filters in the URL, escaping, assets."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activitylog import ActivityLog, Query, Viewer
from activitylog.viewer import CSP, Params, Request, Response, ViewerApp, chart, core, static

from .conftest import IMG, ORG, SCRIPT, clock_at_start


def get(app: ViewerApp, viewer: Viewer | None, url: str, root: str = "/") -> Response:
    """The handler's answer to ``GET url`` (a path below ``root`` and a query string)."""
    path, _, qs = url.partition("?")
    if path.startswith(root):
        path = "/" + path[len(root):]
    return app.handle(Request("GET", path, qs, root=root), viewer)


def body(response: Response) -> bytes:
    """The whole body."""
    return b"".join(response.chunks())


def api(app: ViewerApp, viewer: Viewer, url: str = "/api/entries") -> dict[str, Any]:
    """The JSON page dict at ``url``."""
    response = get(app, viewer, url)
    assert response.status == 200, body(response)
    data: dict[str, Any] = json.loads(body(response))
    return data


def expected_ids(query: Query) -> list[str]:
    """Every entry id the query builder returns, in order."""
    return [e.id for e in query]


class Tags(HTMLParser):
    """Collects every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: bytes) -> Tags:
    """The page's tags and text."""
    tags = Tags()
    tags.feed(html.decode("utf-8"))
    return tags


class TestAccess:
    @pytest.mark.parametrize(
        "url", ["/", "/api/entries", "/export.csv", "/chart.svg", "/api/integrity",
                "/?q=Ada", "/api/entries?category=Leads"],
    )
    def test_members_and_strangers_get_403_and_no_data(
        self, app: ViewerApp, member: Viewer, url: str
    ) -> None:
        """A Member, a signed-out visitor and an Owner of another org get 403 with no entry."""
        fixed_org = ViewerApp(app.log, org_for=lambda viewer: ORG)
        for viewer_app, who in ((app, member), (app, None),
                                (fixed_org, Viewer("u-x", "globex", "owner"))):
            response = get(viewer_app, who, url)
            assert response.status == 403
            text = body(response)
            assert b"Ada" not in text and b"Lead" not in text and b"acme" not in text

    def test_owners_and_admins_read(self, app: ViewerApp, owner: Viewer, admin: Viewer) -> None:
        """Owners and Admins get the page and the API."""
        for who in (owner, admin):
            assert get(app, who, "/").status == 200
            assert api(app, who)["entries"]

    def test_other_org_entries_never_show(self, app: ViewerApp, owner: Viewer) -> None:
        """An Owner sees only their own organization's entries."""
        data = api(app, owner, "/api/entries?size=200")
        assert all("Other org" not in e["description"] for e in data["entries"])
        assert data["org_id"] == ORG
        theirs = api(app, Viewer("u-x", "globex", "owner"), "/api/entries?size=200")
        assert [e["description"] for e in theirs["entries"]] == [
            "Ada Lovelace created lead “Other org's lead”"
        ]


class TestFilters:
    def test_params_round_trip(self) -> None:
        """Parsing a query string and writing it back gives the same filters."""
        qs = ("q=ada+lead&category=Leads&category=Tasks&date=this-week&sort=action&order=desc"
              "&tz=Europe%2FParis&target=lead%3A4&actor=u-ada&size=20&cursor=abc")
        params = Params.parse(qs)
        assert Params.parse(params.query_string()) == params
        assert params.categories == ("Leads", "Tasks") and params.target == ("lead", "4")

    @pytest.mark.parametrize(
        ("qs", "message"),
        [("date=yesterday", "date filter"), ("sort=user", "sort by"), ("order=up", "order"),
         ("tz=Mars%2FOlympus", "time zone"), ("target=lead", "type:id"), ("size=0", "size"),
         ("size=%C2%B2", "size"), ("size=%D9%A1%D9%A2", "size"),
         ("category=Nope", "Nope"), ("cursor=garbage", "cursor")],
    )
    def test_bad_filters_get_400_with_the_reason(
        self, app: ViewerApp, owner: Viewer, qs: str, message: str
    ) -> None:
        """Every malformed filter is a 400 naming the problem, on the page and the API."""
        page = get(app, owner, "/?" + qs)
        assert page.status == 400
        assert message.encode() in body(page)
        response = get(app, owner, "/api/entries?" + qs)
        assert response.status == 400
        assert message in json.loads(body(response))["detail"]

    def test_each_filter_matches_the_query_builder(
        self, app: ViewerApp, seeded: ActivityLog, owner: Viewer
    ) -> None:
        """Search, category, date, sort, target and actor give the query builder's entries."""
        base = seeded.query(ORG, viewer=owner)
        cases = {
            "q=ada": base.search("ada"),
            "category=Leads&category=Tasks": base.category("Leads", "Tasks"),
            "date=this-month": base.date("this-month"),
            "date=older&sort=action": base.date("older").sort("action"),
            "sort=action&order=desc": base.sort("action", True),
            "order=asc": base.sort("date", False),
            "target=lead%3A3": base.target("lead", "3"),
            "actor=u-grace&q=deleted": base.actor("u-grace").search("deleted"),
        }
        for qs, query in cases.items():
            ids = [e["id"] for e in api(app, owner, f"/api/entries?size=200&{qs}")["entries"]]
            assert ids == expected_ids(query), qs
            assert ids, qs

    def test_next_url_walks_every_entry_keeping_the_filters(
        self, app: ViewerApp, seeded: ActivityLog, owner: Viewer
    ) -> None:
        """Following next_url to the end yields the builder's entries once each, filters kept."""
        url: str | None = "/api/entries?size=7&category=Leads&category=Tasks&sort=action"
        seen: list[str] = []
        for _ in range(100):
            assert url is not None
            data = api(app, owner, url)
            seen += [e["id"] for e in data["entries"]]
            assert data["filters"]["category"] == ["Leads", "Tasks"]
            url = data["next_url"]
            if url is None:
                break
            query = parse_qs(urlsplit(url).query)
            assert query["sort"] == ["action"] and query["size"] == ["7"] and "cursor" in query
        else:
            pytest.fail("next_url never ended")
        query = seeded.query(ORG, viewer=owner).category("Leads", "Tasks").sort("action")
        assert seen == expected_ids(query)

    def test_next_page_link_header(self, app: ViewerApp, owner: Viewer) -> None:
        """The API also names the next page in a Link header; the last page has none."""
        response = get(app, owner, "/api/entries?size=100")
        data = json.loads(body(response))
        assert response.header("Link") == f'<{data["next_url"]}>; rel="next"'
        last = get(app, owner, data["next_url"])
        assert last.header("Link") is None and json.loads(body(last))["next_url"] is None

    def test_category_counts_toggle_urls_and_presence(
        self, app: ViewerApp, seeded: ActivityLog, owner: Viewer
    ) -> None:
        """Only present categories are listed, with counts; toggle URLs add or remove one."""
        data = api(app, owner, "/api/entries?category=Leads&q=x")
        listed = [(c["name"], c["count"]) for c in data["categories"]]
        assert listed == seeded.categories(ORG, viewer=owner)
        leads = next(c for c in data["categories"] if c["name"] == "Leads")
        tasks = next(c for c in data["categories"] if c["name"] == "Tasks")
        assert leads["selected"] and not tasks["selected"]
        assert parse_qs(urlsplit(leads["toggle_url"]).query) == {"q": ["x"]}
        assert parse_qs(urlsplit(tasks["toggle_url"]).query)["category"] == ["Leads", "Tasks"]

    def test_sort_headers_flip_and_reset(self, app: ViewerApp, owner: Viewer) -> None:
        """The active column's link flips its order; the other column starts at its default."""
        data = api(app, owner, "/api/entries?sort=action")
        assert data["sort"]["action"]["active"] and not data["sort"]["action"]["descending"]
        assert "order=desc" in data["sort"]["action"]["url"]
        assert data["sort"]["date"]["url"] == "/api/entries"

    def test_entry_fields(self, app: ViewerApp, seeded: ActivityLog, owner: Viewer) -> None:
        """Entries carry color, initials, the API key's name, relative and exact times."""
        entries = api(app, owner, "/api/entries?size=200&tz=Europe%2FParis")["entries"]
        first = entries[0]
        assert first["color"] in {"green", "red", "gray"}
        assert first["relative_time"].endswith("ago")
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T", first["exact_time"])
        api_made = [e for e in entries if e["api_key"]]
        assert api_made and all(e["api_key"] == {"name": "Zapier sync"} for e in api_made)
        ada = next(e for e in entries if e["actor"]["id"] == "u-ada")
        assert ada["actor"]["initials"] == "AL" and ada["actor"]["avatar_url"] is None
        grace = next(e for e in entries if e["actor"]["id"] == "u-grace")
        assert grace["actor"]["avatar_url"] == "https://example.invalid/grace.png"

    def test_initials_and_avatar_urls(self) -> None:
        """Initials come from the first and last words; only http(s) avatars are kept."""
        assert core.initials("grace brewster hopper") == "GH"
        assert core.initials("Zoë") == "Z"
        assert core.initials("  ") == "?"
        assert core.safe_avatar("javascript:alert(1)") is None
        assert core.safe_avatar("data:image/svg+xml,<svg>") is None


class TestPage:
    def test_security_headers_on_every_answer(self, app: ViewerApp, owner: Viewer) -> None:
        """Every answer has the CSP (no unsafe-inline) and nosniff; data is never cached."""
        for url in ("/", "/api/entries", "/export.csv", "/chart.svg", "/nope"):
            response = get(app, owner, url)
            assert response.header("Content-Security-Policy") == CSP
            assert response.header("X-Content-Type-Options") == "nosniff"
        assert "unsafe-inline" not in CSP and "script-src 'self'" in CSP
        assert get(app, owner, "/").header("Cache-Control") == "no-store"

    def test_no_inline_script_or_style_or_handler(self, app: ViewerApp, owner: Viewer) -> None:
        """Scripts are external files only; no element has an event handler or style."""
        page = parse(body(get(app, owner, "/?size=200")))
        for tag, attributes in page.tags:
            assert not any(name.startswith("on") for name in attributes), (tag, attributes)
            assert "style" not in attributes
            if tag == "script":
                assert attributes["src"]
        scripts = [a for t, a in page.tags if t == "script"]
        assert len(scripts) == 1

    def test_stored_html_is_text(self, app: ViewerApp, owner: Viewer) -> None:
        """Hostile names and labels appear as text: no injected img, script or handler."""
        raw = body(get(app, owner, "/?size=200"))
        page = parse(raw)
        assert not any(t == "img" and a.get("src") == "x" for t, a in page.tags)
        text = "".join(page.text)
        assert SCRIPT in text and IMG in text
        assert b"<script>window" not in raw and b"<img src=x" not in raw

    def test_page_shows_labels_avatars_and_time(self, app: ViewerApp, owner: Viewer) -> None:
        """Rows have a colored label, an avatar or initials, and <time> with the exact time."""
        page = parse(body(get(app, owner, "/")))
        classes = " ".join(a.get("class") or "" for _, a in page.tags)
        assert "al-label al-green" in classes or "al-label al-red" in classes
        assert "al-initials" in classes
        times = [a for t, a in page.tags if t == "time"]
        assert len(times) == 50 and all(a["datetime"] and a["title"] for a in times)
        assert [a for t, a in page.tags if t == "a" and a.get("id") == "al-more"]

    def test_empty_state(self, owner: Viewer) -> None:
        """An empty log says so, with no table and no categories."""
        app = ViewerApp(ActivityLog(clock=clock_at_start))
        empty = body(get(app, owner, "/")).decode()
        assert "No activity yet" in empty and "<table" not in empty
        assert "No categories yet" in empty

    def test_no_match_state(self, app: ViewerApp, owner: Viewer) -> None:
        """A search that matches nothing shows the no-match state and a clear link."""
        page = body(get(app, owner, "/?q=zzzznothing")).decode()
        assert "No matching entries" in page and 'href="/"' in page

    def test_scope_banner_names_the_member_and_record(self, app: ViewerApp, owner: Viewer) -> None:
        """A member's activity and a record's history say whose and which, escaped."""
        page = body(get(app, owner, "/?actor=u-evil")).decode()
        assert "Activity of Mallory &lt;img src=x onerror=" in page
        page = body(get(app, owner, "/?target=lead%3A3")).decode()
        assert re.search(r"History of lead 3 “Lead #3”", page)

    def test_links_follow_the_mount_point(self, app: ViewerApp, owner: Viewer) -> None:
        """Mounted at /settings/activity/, every link and asset starts there."""
        root = "/settings/activity/"
        page = parse(body(get(app, owner, root + "?q=lead", root=root)))
        urls = [a.get("href") or a.get("src") or a.get("action") for _, a in page.tags]
        local = [u for u in urls if u and not u.startswith(("data:", "https:"))]
        assert local and all(u.startswith(root) for u in local), local

    def test_methods_and_unknown_paths(self, app: ViewerApp, owner: Viewer) -> None:
        """POST is 405 with Allow; HEAD has headers and no body; unknown paths are 404."""
        post = app.handle(Request("POST", "/"), owner)
        assert post.status == 405 and post.header("Allow") == "GET, HEAD"
        head = app.handle(Request("HEAD", "/"), owner)
        assert head.status == 200 and body(head) == b""
        assert get(app, owner, "/admin").status == 404


class TestAssets:
    def test_assets_are_hashed_and_cached(self, app: ViewerApp) -> None:
        """Assets are served to anyone, immutable under their hash URL."""
        for name, asset in static.ASSETS.items():
            response = get(app, None, static.url("/", name))
            assert response.status == 200 and body(response) == asset.body
            assert "immutable" in (response.header("Cache-Control") or "")

    @pytest.mark.parametrize(
        "path", ["../app.py", "..%2Fapp.py", "/etc/passwd", "activitylog/viewer.js", "",
                 "viewer.js/..", "..\\..\\app.py"],
    )
    def test_no_path_escapes_the_static_root(self, app: ViewerApp, path: str) -> None:
        """Only listed asset names are served; anything else is 404."""
        assert app.handle(Request("GET", "/static/" + path), None).status == 404

    def test_assets_stay_small(self) -> None:
        """The page's own CSS and JavaScript stay under 60 KB together."""
        assert set(static.ASSETS) == {"viewer.css", "viewer.js"}
        assert static.total_size() < 60 * 1024


class TestExport:
    def test_export_streams_the_current_filters(
        self, app: ViewerApp, seeded: ActivityLog, owner: Viewer
    ) -> None:
        """The CSV holds exactly the builder's entries for the filters, formulas defused."""
        response = get(app, owner, "/export.csv?category=Leads&q=lead")
        assert response.status == 200 and not isinstance(response.body, bytes)
        assert "attachment" in (response.header("Content-Disposition") or "")
        text = body(response).decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        query = seeded.query(ORG, viewer=owner).category("Leads").search("lead")
        assert [r["id"] for r in rows] == expected_ids(query)
        assert rows and all(r["category"] == "Leads" for r in rows)


class TestChartAndIntegrity:
    def test_chart_counts_per_day_match_the_builder(
        self, app: ViewerApp, seeded: ActivityLog, owner: Viewer
    ) -> None:
        """Each bar's count is the builder's count for that local day and the filters."""
        days = chart.count_days(seeded, ORG, owner, Params.parse("category=Leads"))
        assert len(days) == chart.DAYS
        counts = [c for _, c in days]
        assert None not in counts and sum(c or 0 for c in counts) > 0
        svg = body(get(app, owner, "/chart.svg?category=Leads")).decode()
        assert svg.count('class="bar"') == chart.DAYS
        assert [int(n) for n in re.findall(r'data-count="(\d+)"', svg)] == counts
        query = seeded.query(ORG, viewer=owner).category("Leads")
        for day, count in days:
            start = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
            assert query.between(start, start + timedelta(days=1)).count() == count, day

    def test_chart_stops_counting_when_its_budget_is_spent(
        self, seeded: ActivityLog, owner: Viewer
    ) -> None:
        """Past the budget the older days are drawn as not counted, never guessed."""
        days = chart.count_days(seeded, ORG, owner, Params(), budget=0.0)
        assert days[-1][1] is not None and [c for _, c in days[:-1]] == [None] * 13
        svg = chart.svg(days)
        assert svg.count('class="uncounted"') == 13 and "not counted" in svg

    def test_integrity_badge(self, seeded: ActivityLog, owner: Viewer) -> None:
        """The badge verifies through the last entry and names the checkpoint."""
        checkpoint = seeded.checkpoint(ORG)
        app = ViewerApp(seeded, checkpoint=lambda org: checkpoint)
        data = api(app, owner, "/api/integrity")
        assert data["ok"] is True and data["checked"] == checkpoint.seq == 140
        assert data["text"] == "Verified through entry 140 (checkpoint at entry 140)"

    def test_integrity_problem_is_shown(self, seeded: ActivityLog, owner: Viewer) -> None:
        """A chain that does not verify (here: the wrong key) turns the badge into a warning."""
        wrong_key = ActivityLog(seeded.store, clock=clock_at_start, integrity_key="not the key")
        data = api(ViewerApp(wrong_key), owner, "/api/integrity")
        assert data["ok"] is False and data["problem"] == "bad hash"
        assert data["text"] == "Integrity problem at entry 1: bad hash"

    def test_integrity_is_verified_once_per_ttl(
        self, seeded: ActivityLog, owner: Viewer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Opening the page again within the TTL reuses the result instead of re-reading."""
        calls: list[str] = []
        verify = seeded.verify

        def counting(org_id: str, **kwargs: Any) -> Any:
            calls.append(org_id)
            return verify(org_id, **kwargs)

        monkeypatch.setattr(seeded, "verify", counting)
        app = ViewerApp(seeded)
        first = api(app, owner, "/api/integrity")
        assert api(app, owner, "/api/integrity") == first and calls == [ORG]


_KEYS = st.sampled_from(["q", "category", "date", "sort", "order", "tz", "target", "actor",
                         "cursor", "size", "other"])
_VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["Leads", "today", "older", "action", "asc", "desc", "Europe/Paris",
                     "lead:3", "u-ada", "7", "200", "201", "0", "²", "١٢", "-1", " ", ""]),
)


class TestHostileQueryStrings:
    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(pairs=st.lists(st.tuples(_KEYS, _VALUES), max_size=6),
           path=st.sampled_from(["/", "/api/entries", "/chart.svg", "/export.csv"]))
    def test_any_query_string_answers_200_or_400(
        self, app: ViewerApp, owner: Viewer, pairs: list[tuple[str, str]], path: str
    ) -> None:
        """Whatever the parameters hold, the answer is the page or a 400 with a reason."""
        qs = urlencode(pairs)
        response = get(app, owner, f"{path}?{qs}")
        assert response.status in (200, 400), qs
        payload = body(response)
        if response.status == 400 and path != "/":
            assert json.loads(payload)["detail"]
