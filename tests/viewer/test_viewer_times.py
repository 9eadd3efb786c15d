"""The page's fast times say exactly what ``Entry.relative_time`` and the exact time said."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone, tzinfo
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from activitylog import Actor, Entry, Viewer, reltime
from activitylog.query import DateBucket
from activitylog.viewer import ViewerApp, core, times

from .conftest import START
from .test_viewer_app import api

NOW = datetime(2024, 3, 13, 2, 30, tzinfo=timezone.utc)


def entry_at(moment: datetime) -> Entry:
    """An entry that occurred at ``moment``."""
    return Entry(id="e1", org_id="acme", action="lead.created", label="Lead Created",
                 category="Leads", kind="create", actor=Actor("u1", "Ada"),
                 description="Ada created lead", occurred_at=moment, source="dashboard")


class TestRelativeTime:
    """The page's "2 hours ago" is ``activitylog.reltime``'s, tested in tests/test_reltime.py."""

    def test_english_only_while_humanize_speaks_english(self, french: None) -> None:
        """With a humanize translation active the page leaves the wording to humanize."""
        assert not reltime.english()
        moment = NOW - timedelta(hours=2)
        links = core._Links(core.Params(), "/")
        data = core.entry_dict(entry_at(moment), times.PageTimes(NOW, timezone.utc), links)
        assert data["relative_time"] == entry_at(moment).relative_time(NOW) != "2 hours ago"

    def test_page_in_another_language(self, app: ViewerApp, owner: Viewer,
                                      french: None) -> None:
        """The API's entries carry humanize's translated wording when it is active."""
        for entry in api(app, owner)["entries"]:
            moment = datetime.fromisoformat(entry["occurred_at"])
            assert entry["relative_time"] == entry_at(moment).relative_time(START)

    def test_english_by_default(self) -> None:
        """Nothing activated: the page decides once to word the times itself."""
        assert times.PageTimes(NOW, timezone.utc).fast is reltime.fast()


class TestExactTime:
    @settings(max_examples=300, deadline=None)
    @given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                        timezones=st.sampled_from([timezone.utc, ZoneInfo("Europe/Paris")])),
           st.sampled_from(["UTC", "Europe/Paris", "America/St_Johns", "Asia/Kathmandu",
                            "Australia/Lord_Howe"]))
    def test_as_written_before(self, moment: datetime, zone: str) -> None:
        """Date, time to the second and the zone's abbreviation, as isoformat gives them,
        with the moment's own ISO text alongside."""
        tz = ZoneInfo(zone)
        local = moment.astimezone(tz)
        expected = local.isoformat(" ", "seconds")[:19] + " " + (local.tzname() or "UTC")
        assert times.exact_time(moment, tz) == expected
        assert times.moment_texts(moment, tz) == (moment.isoformat(), expected)


class TestHistoryUrl:
    @settings(max_examples=300, deadline=None)
    @given(st.text(min_size=1, max_size=12), st.text(min_size=1, max_size=12))
    @example("lead", "42")
    @example("deal", "a b+c/d:e")
    def test_as_quote_plus_of_type_and_id(self, type_: str, id_: str) -> None:
        """A record's history URL quotes ``type:id`` exactly as quote_plus does."""
        links = core._Links(core.Params(q="x"), "/api/entries")
        url = links.target(type_, id_)
        assert url == "/api/entries?q=x&target=" + quote_plus(f"{type_}:{id_}", safe="")

    def test_in_the_page(self, app: ViewerApp, owner: Viewer) -> None:
        """Every entry's history URL names its own target."""
        for entry in api(app, owner)["entries"]:
            target = entry["target"]
            assert target is not None
            expected = quote_plus(f"{target['type']}:{target['id']}", safe="")
            assert entry["target"]["history_url"].endswith("target=" + expected)
            assert json.dumps(entry)  # plain JSON values only



class TestPageTimes:
    @settings(max_examples=300, deadline=None)
    @given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                        timezones=st.sampled_from([timezone.utc, ZoneInfo("UTC"),
                                                   ZoneInfo("Europe/Paris")])),
           st.sampled_from([ZoneInfo("UTC"), ZoneInfo("Etc/UTC"), ZoneInfo("Etc/GMT"),
                            ZoneInfo("Etc/GMT+5"), ZoneInfo("Europe/Paris"), timezone.utc,
                            timezone(timedelta(0), "Z"), timezone(timedelta(hours=-3))]))
    def test_as_each_text_alone(self, moment: datetime, tz: tzinfo) -> None:
        """ISO text, exact local time and relative time, whichever zones the entry and the
        viewer have (UTC ones taking the short way), are what each gives alone."""
        entry = entry_at(moment)
        assert times.PageTimes(NOW, tz).texts(entry) == (
            entry.occurred_at.isoformat(), times.exact_time(entry.occurred_at, tz),
            entry.relative_time(NOW),
        )


_words = st.text(st.characters(codec="utf-8"), max_size=8)
_params = st.builds(
    core.Params,
    q=_words,
    categories=st.lists(st.text(min_size=1, max_size=6), max_size=3, unique=True).map(tuple),
    date=st.none() | st.sampled_from(list(DateBucket)),
    sort=st.sampled_from(["date", "action"]),
    descending=st.booleans(),
    tz=st.sampled_from(["UTC", "Europe/Paris"]),
    target=st.none() | st.tuples(st.text(min_size=1, max_size=5), st.text(min_size=1, max_size=5)),
    actor=st.none() | st.text(min_size=1, max_size=5),
    cursor=st.none() | st.text(min_size=1, max_size=10),
    size=st.sampled_from([core.DEFAULT_SIZE, 10, 200]),
)


class TestPageUrls:
    @settings(max_examples=300, deadline=None)
    @given(_params, st.lists(st.text(min_size=1, max_size=6), max_size=3).map(tuple),
           st.none() | st.sampled_from(list(DateBucket)), st.sampled_from(["date", "action"]),
           st.booleans(), st.text(min_size=1, max_size=10))
    def test_as_params_url(self, params: core.Params, categories: tuple[str, ...],
                           bucket: DateBucket | None, sort: str, descending: bool,
                           cursor: str) -> None:
        """The page's category, date, sort and next-page URLs are Params.url's, part for part."""
        urls = core._Urls(params, "/log/")
        assert urls.categories(categories) == params.url("/log/", categories=categories)
        assert urls.date(bucket) == params.url("/log/", date=bucket)
        assert urls.sort(sort, descending) == params.url("/log/", sort=sort, descending=descending)
        assert urls.cursor(cursor) == params.url("/log/", cursor=cursor)
