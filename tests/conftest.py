"""Shared fixtures: one parametrized store fixture, so every conformance test runs on every store.

Adding a store (or a configuration of one, such as SQLite without its search index) is one
line in ``STORE_URLS``. A store whose module is not importable (not written
yet, or its driver not installed) is left out of the parameters rather than skipped.
"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from activitylog import ActivityLog, Role, Viewer, open_store
from activitylog.stores import SCHEMES, Store

#: Store name -> URL of a fresh, empty store inside a test's temporary directory.
STORE_URLS: dict[str, Callable[[Path], str]] = {
    "memory": lambda tmp: "memory://",
    "sqlite": lambda tmp: f"sqlite:///{tmp / 'activity.db'}",
    "sqlite-scan": lambda tmp: f"sqlite:///{tmp / 'activity.db'}?fts=0",
}


def _available(name: str) -> bool:
    scheme = STORE_URLS[name](Path("probe")).split("://", 1)[0]
    module = SCHEMES.get(scheme, "").split(":")[0]
    return bool(module) and importlib.util.find_spec(module) is not None


#: The stores every conformance test and reference property runs against.
STORES: list[str] = [name for name in STORE_URLS if _available(name)]

#: The organization the fixtures' viewers belong to, and a second one for isolation tests.
ORG = "acme"
OTHER_ORG = "globex"
#: The fixed instant the ``clock`` fixture starts at: Wednesday 13 March 2024, 02:30 UTC.
START = datetime(2024, 3, 13, 2, 30, tzinfo=timezone.utc)


class Clock:
    """A controllable clock: ``clock()`` returns ``clock.now``, which tests move by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward by a ``timedelta(**delta)`` and return the new time."""
        self.now += timedelta(**delta)
        return self.now


class StoreOpener:
    """Opens fresh stores of one kind, each in its own directory, and closes them all at the end."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self._root = root
        self._counter = itertools.count()
        self._opened: list[Store] = []

    def __call__(self) -> Store:
        """A new, empty store."""
        folder = self._root / f"{self.name}-{next(self._counter)}"
        folder.mkdir(parents=True)
        store = open_store(STORE_URLS[self.name](folder))
        self._opened.append(store)
        return store

    def close(self, store: Store) -> None:
        """Close one store now (it is not closed again at the end)."""
        self._opened.remove(store)
        store.close()

    def close_all(self) -> None:
        """Close every store still open."""
        while self._opened:
            self._opened.pop().close()


@pytest.fixture(params=STORES)
def store_name(request: pytest.FixtureRequest) -> str:
    """The name of the store under test."""
    name: str = request.param
    return name


@pytest.fixture
def store_url(store_name: str, tmp_path: Path) -> str:
    """The URL of a fresh store of the kind under test."""
    return STORE_URLS[store_name](tmp_path)


@pytest.fixture(autouse=True)
def _openers() -> Iterator[list[StoreOpener]]:
    """Close every store a test opened through the fixtures, whatever the test's outcome."""
    openers: list[StoreOpener] = []
    yield openers
    for opener in openers:
        opener.close_all()


@pytest.fixture
def open_fresh(
    store_name: str, tmp_path_factory: pytest.TempPathFactory, _openers: list[StoreOpener]
) -> StoreOpener:
    """Opens any number of fresh stores of the kind under test (closed after the test)."""
    opener = StoreOpener(store_name, tmp_path_factory.mktemp(store_name))
    _openers.append(opener)
    return opener


@pytest.fixture
def open_memory(
    tmp_path_factory: pytest.TempPathFactory, _openers: list[StoreOpener]
) -> StoreOpener:
    """Opens fresh reference (in-memory) stores."""
    opener = StoreOpener("memory", tmp_path_factory.mktemp("memory"))
    _openers.append(opener)
    return opener


@pytest.fixture
def store(open_fresh: StoreOpener) -> Store:
    """A fresh, empty store of the kind under test."""
    return open_fresh()


@pytest.fixture
def clock() -> Clock:
    """A clock fixed at ``START`` until the test moves it."""
    return Clock()


@pytest.fixture
def log(store: Store, clock: Clock) -> ActivityLog:
    """An Activity Log on the store under test, with the fixed ``clock``."""
    return ActivityLog(store, clock=clock)


@pytest.fixture
def owner() -> Viewer:
    """An Owner of ``ORG``."""
    return Viewer("u-owner", ORG, Role.OWNER)


@pytest.fixture
def admin() -> Viewer:
    """An Admin of ``ORG``."""
    return Viewer("u-admin", ORG, Role.ADMIN)


@pytest.fixture
def member() -> Viewer:
    """A regular Member of ``ORG`` (may not read the log)."""
    return Viewer("u-member", ORG, Role.MEMBER)
