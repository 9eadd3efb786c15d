"""The Activity Log page in a real headless Chromium, checked against the query builder.

Needs Chromium (``CHROMIUM`` or ``/usr/bin/chromium``) and Playwright: skipped locally without
them, a failure in CI. One browser and one server serve every test of this module. With
``ACTIVITYLOG_SCREENSHOTS=docs/images`` the tests also save the documentation's screenshots.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from activitylog import ActivityLog, Query, Role, Viewer
from activitylog.viewer import ViewerApp, WSGIViewer
from services import require

from .conftest import ORG, clock_at_start, seed

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
HAVE_BROWSER = os.path.exists(CHROMIUM) and importlib.util.find_spec("playwright") is not None
SHOTS = os.environ.get("ACTIVITYLOG_SCREENSHOTS")

VIEWERS = {
    "owner": Viewer("u-owner", ORG, Role.OWNER),
    "member": Viewer("u-member", ORG, Role.MEMBER),
    "newcomer": Viewer("u-new", "initech", Role.OWNER),  # an organization with no entries yet
}


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No request log on stderr."""


def _cookie_viewer(environ: dict[str, Any]) -> Viewer | None:
    """The test host's sign-in: a ``who`` cookie naming one of ``VIEWERS``."""
    for part in environ.get("HTTP_COOKIE", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "who":
            return VIEWERS.get(value)
    return None


class Site:
    """The seeded log served by a WSGI server in a thread, mounted at ``/activity/``."""

    def __init__(self) -> None:
        self.log = ActivityLog(clock=clock_at_start)
        seed(self.log)
        checkpoint = self.log.checkpoint(ORG)
        app = ViewerApp(self.log, checkpoint=lambda org: checkpoint if org == ORG else None)
        viewer = WSGIViewer(app, _cookie_viewer)

        def mounted(environ: dict[str, Any], start_response: Any) -> Any:
            path = environ.get("PATH_INFO", "")
            if not path.startswith("/activity"):
                start_response("404 Not Found", [("Content-Type", "text/plain")])
                return [b"not here"]
            environ["SCRIPT_NAME"], environ["PATH_INFO"] = "/activity", path[len("/activity"):]
            return viewer(environ, start_response)

        self.server: WSGIServer = make_server("127.0.0.1", 0, mounted,
                                              handler_class=_QuietHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/activity/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        self.log.close()

    def query(self) -> Query:
        """The query builder over the same log, as the page's Owner."""
        return self.log.query(ORG, viewer=VIEWERS["owner"])


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """The served log."""
    served = Site()
    yield served
    served.close()


@pytest.fixture(scope="module")
def chrome() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (one per module)."""
    require(HAVE_BROWSER, "Chromium with Playwright",
            "apt-get install chromium and pip install playwright (or run .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


def _page(chrome: Any, site: Site, who: str | None, tz: str = "UTC") -> Any:
    context = chrome.new_context(timezone_id=tz, accept_downloads=True,
                                  viewport={"width": 1200, "height": 900})
    if who is not None:
        context.add_cookies([{"name": "who", "value": who, "url": site.url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


@pytest.fixture
def owner_page(chrome: Any, site: Site) -> Iterator[Any]:
    """A page signed in as an Owner, with every dialog and console error recorded."""
    page = _page(chrome, site, "owner")
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    page.context.close()


def ids(page: Any) -> list[str]:
    """The entry ids of the rows shown, in order."""
    return list(page.eval_on_selector_all("#al-rows > tr", "rows => rows.map(r => r.dataset.id)"))


def builder_ids(query: Query, n: int = 50) -> list[str]:
    """The first ``n`` ids the query builder returns."""
    return [e.id for e in query.page(n).entries]


def shot(page: Any, name: str) -> None:
    """Save a screenshot for the documentation when ACTIVITYLOG_SCREENSHOTS names a folder."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"viewer-{name}.png"), full_page=False)


class TestBrowser:
    def test_filters_and_sorting_match_the_query_builder(
        self, owner_page: Any, site: Site
    ) -> None:
        """Search, a category, a date bucket and both sort orders show the builder's entries."""
        from playwright.sync_api import expect

        page = owner_page
        page.goto(site.url)
        expect(page.locator("#al-integrity")).to_have_text(
            "Verified through entry 140 (checkpoint at entry 140)")
        assert ids(page) == builder_ids(site.query())
        # Grace's picture cannot load: her initials show instead.
        expect(page.locator("img.al-photo")).to_have_count(0)
        expect(page.locator(".al-avatar", has_text="GH").first).to_be_visible()
        shot(page, "default")

        page.get_by_role("searchbox", name="Search the Activity Log").fill("deleted")
        page.keyboard.press("Enter")
        page.wait_for_url("**q=deleted**")
        query = site.query().search("deleted")
        assert ids(page) == builder_ids(query)

        page.locator("#al-category summary").click()
        page.get_by_role("button", name="Leads").click()
        page.wait_for_url("**category=Leads**")
        query = query.category("Leads")
        assert ids(page) == builder_ids(query) != []

        page.get_by_role("button", name="This month").click()
        page.wait_for_url("**date=this-month**")
        query = query.date("this-month")
        assert ids(page) == builder_ids(query) != []
        shot(page, "filtered")

        page.get_by_role("link", name="Action").click()
        page.wait_for_url("**sort=action**")
        assert ids(page) == builder_ids(query.sort("action"))
        expect(page.locator("th[aria-sort]")).to_have_attribute("aria-sort", "ascending")
        page.get_by_role("link", name="Action").click()
        page.wait_for_url("**order=desc**")
        assert ids(page) == builder_ids(query.sort("action", True))
        page.get_by_role("link", name="Date").click()
        page.wait_for_url(lambda url: "sort=" not in url)
        assert ids(page) == builder_ids(query)
        assert owner_page.dialogs == []

    def test_load_more_appends_the_next_page(self, owner_page: Any, site: Site) -> None:
        """Load more appends the builder's next page, then disappears at the end."""
        from playwright.sync_api import expect

        page = owner_page
        page.goto(site.url + "?size=60")
        more = page.get_by_role("link", name="Load more")
        more.click()
        expect(page.locator("#al-rows > tr")).to_have_count(120)
        expect(page.locator("#al-rows > tr").nth(60)).to_be_focused()
        page.get_by_role("link", name="Load more").click()
        expect(page.locator("#al-rows > tr")).to_have_count(140)
        expect(page.get_by_role("link", name="Load more")).to_have_count(0)
        assert ids(page) == [e.id for e in site.query()]
        expect(page.locator("#al-live")).to_contain_text("20 more entries loaded")

    def test_history_keyboard_and_export(self, owner_page: Any, site: Site) -> None:
        """Keys reach a row and open its record's history; the export holds those entries."""
        from playwright.sync_api import expect

        page = owner_page
        page.goto(site.url)
        page.keyboard.press("/")
        expect(page.locator("#al-q")).to_be_focused()
        page.locator("h1").click()
        page.keyboard.press("j")
        page.keyboard.press("j")
        second = page.locator("#al-rows > tr").nth(1)
        expect(second).to_be_focused()
        entry_id = second.get_attribute("data-id")
        entry = next(e for e in site.query() if e.id == entry_id)
        assert entry.target is not None
        page.keyboard.press("Enter")
        page.wait_for_url("**target=**")
        expect(page.locator("#al-scope")).to_contain_text(
            f"History of {entry.target.type} {entry.target.id}")
        history = site.query().target(entry.target.type, entry.target.id)
        assert ids(page) == builder_ids(history) and entry_id in ids(page)

        with page.expect_download() as info:
            page.get_by_role("link", name="Export CSV").click()
        download = info.value
        text = Path(download.path()).read_text(encoding="utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [r["id"] for r in rows] == [e.id for e in history]
        assert download.suggested_filename.startswith("activity-log-acme-")

    def test_stored_script_and_img_stay_inert(self, owner_page: Any, site: Site) -> None:
        """A stored <script> and <img onerror> show as text: no dialog, no injected element."""
        page = owner_page
        page.goto(site.url + "?size=200")
        page.wait_for_load_state("networkidle")
        assert page.locator("#al-rows > tr").count() == 140
        assert page.evaluate("() => window.__pwned") is None
        assert page.locator("img[src='x']").count() == 0
        assert page.locator("#al-rows script").count() == 0
        assert page.get_by_text("<script>window.__pwned").count() > 0
        assert page.get_by_text("Mallory <img src=x").count() > 0
        assert owner_page.dialogs == []

    def test_member_gets_403(self, chrome: Any, site: Site) -> None:
        """A member's session gets 403 on the page, the API and the export, with no entries."""
        page = _page(chrome, site, "member")
        try:
            response = page.goto(site.url)
            assert response.status == 403
            assert page.locator("#al-error h1").inner_text() == "Access denied"
            assert page.locator("#al-rows").count() == 0
            shot(page, "forbidden")
            for path in ("api/entries", "export.csv"):
                answer = page.request.get(site.url + path)
                assert answer.status == 403 and b"Ada" not in answer.body()
        finally:
            page.context.close()

    def test_new_organization_sees_the_empty_state(self, chrome: Any, site: Site) -> None:
        """An Owner of an organization without entries sees "No activity yet" and no table."""
        from playwright.sync_api import expect

        page = _page(chrome, site, "newcomer")
        try:
            assert page.goto(site.url).status == 200
            assert page.locator("#al-empty h2").inner_text() == "No activity yet"
            assert page.locator("#al-table").count() == 0
            assert page.locator("#al-category li").text_content() == "No categories yet"
            expect(page.locator("#al-integrity")).to_have_text("No entries to verify yet")
            shot(page, "empty")
        finally:
            page.context.close()

    def test_empty_state_and_time_zone(self, chrome: Any, site: Site) -> None:
        """The browser's zone goes into the URL; a search without match shows its state."""
        page = _page(chrome, site, "owner", tz="Europe/Paris")
        try:
            page.goto(site.url + "?q=nothing-matches-this")
            page.wait_for_url("**tz=Europe%2FParis**")
            assert page.locator("#al-empty h2").inner_text() == "No matching entries"
            shot(page, "no-match")
            title = page.locator("time").count()
            assert title == 0
            page.goto(site.url + "?tz=Europe%2FParis")
            assert page.locator("time").first.get_attribute("title").endswith(("CET", "CEST"))
            # A date chip is a toggle button: the space bar picks it; buckets use Paris time.
            page.get_by_role("button", name="This week").focus()
            page.keyboard.press(" ")
            page.wait_for_url("**date=this-week**")
            paris = site.log.query(ORG, viewer=VIEWERS["owner"], tz="Europe/Paris")
            assert ids(page) == builder_ids(paris.date("this-week")) != []
        finally:
            page.context.close()
