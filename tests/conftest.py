"""Shared fixtures: one parametrized store fixture, so every conformance test runs on every store.

Adding a store (or a configuration of one, such as SQLite without its search index) is one
line in ``STORE_URLS``. A store whose module is not importable (not written
yet, or its driver not installed) is left out of the parameters rather than skipped.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from activitylog import open_store
from activitylog.stores import SCHEMES, Store
from activitylog.testing import ORG, OTHER_ORG, START, Clock  # noqa: F401  (test modules import them from here)
from services import in_ci, require

#: store, clock, log, owner, admin and member come from the plugin shipped for third-party stores.
pytest_plugins = ["activitylog.testing.plugin"]

#: Store name -> URL of a fresh, empty store inside a test's temporary directory.
STORE_URLS: dict[str, Callable[[Path], str]] = {
    "memory": lambda tmp: "memory://",
    "sqlite": lambda tmp: f"sqlite:///{tmp / 'activity.db'}",
    "sqlite-scan": lambda tmp: f"sqlite:///{tmp / 'activity.db'}?fts=0",
    "postgresql": lambda tmp: postgres_url(),
}

#: The PostgreSQL server the "postgresql" store runs on (``.ci/services/postgres.sh`` sets it).
POSTGRES_ENV = "ACTIVITYLOG_TEST_POSTGRES_URL"
POSTGRES_HOW = f"source .ci/services/postgres.sh (it exports {POSTGRES_ENV})"
#: Schemas made by ``postgres_url`` and not dropped yet.
_postgres_schemas: set[str] = set()


def postgres_url() -> str:
    """The URL of a fresh, empty schema on the test server (dropped after the test)."""
    base = os.environ.get(POSTGRES_ENV, "postgresql://postgres@unset.invalid/activitylog")
    schema = f"test_{uuid.uuid4().hex[:16]}"
    _postgres_schemas.add(schema)
    return f"{base}{'&' if '?' in base else '?'}schema={schema}"


def drop_postgres_schemas(*urls: str) -> None:
    """Drop the schemas of these store URLs (every schema made so far when none is given)."""
    schemas = {u.rsplit("schema=", 1)[1] for u in urls} if urls else set(_postgres_schemas)
    base = os.environ.get(POSTGRES_ENV)
    if not schemas or not base:
        return
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            _postgres_schemas.discard(schema)


def _available(name: str) -> bool:
    scheme = STORE_URLS[name](Path("probe")).split("://", 1)[0]
    module = SCHEMES.get(scheme, "").split(":")[0]
    return bool(module) and importlib.util.find_spec(module) is not None


#: The stores every conformance test and reference property runs against.
STORES: list[str] = [name for name in STORE_URLS if _available(name)]

class StoreOpener:
    """Opens fresh stores of one kind, each in its own directory, and closes them all at the end."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self._root = root
        self._counter = itertools.count()
        self._opened: list[Store] = []
        self._schemas: list[str] = []

    def __call__(self) -> Store:
        """A new, empty store."""
        folder = self._root / f"{self.name}-{next(self._counter)}"
        folder.mkdir(parents=True)
        url = STORE_URLS[self.name](folder)
        store = open_store(url)
        self._opened.append(store)
        if url.startswith("postgresql://"):
            self._schemas.append(url)
        return store

    def close(self, store: Store) -> None:
        """Close one store now (it is not closed again at the end)."""
        self._opened.remove(store)
        store.close()

    def close_all(self) -> None:
        """Close every store still open (and drop the PostgreSQL schemas it made)."""
        while self._opened:
            self._opened.pop().close()
        drop_postgres_schemas(*self._schemas)
        self._schemas.clear()


@pytest.fixture(params=STORES)
def store_name(request: pytest.FixtureRequest) -> str:
    """The name of the store under test."""
    name: str = request.param
    if name == "postgresql":
        require(bool(os.environ.get(POSTGRES_ENV)), "a PostgreSQL server", POSTGRES_HOW)
    return name


@pytest.fixture(scope="session", autouse=True)
def _drop_postgres_schemas() -> Iterator[None]:
    """Drop every test schema still on the PostgreSQL server when the session ends."""
    yield
    drop_postgres_schemas()


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """The URL of a fresh schema on the PostgreSQL test server, dropped after the test."""
    require(bool(os.environ.get(POSTGRES_ENV)), "a PostgreSQL server", POSTGRES_HOW)
    made = postgres_url()
    yield made
    drop_postgres_schemas(made)


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
def french() -> Iterator[None]:
    """humanize speaks French for the test's duration."""
    from humanize import i18n

    i18n.activate("fr_FR")
    try:
        yield
    finally:
        i18n.deactivate()


# In CI every test must run: a skip there (a framework or driver that failed to install, an
# importorskip, a service that did not start) fails the run instead of turning it green.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Turn a test's skip into a failure when ``ACTIVITYLOG_CI=1``."""
    outcome = yield
    _fail_skips_in_ci(outcome.get_result())  # type: ignore[attr-defined]


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """Turn a whole module's skip (``pytest.importorskip`` at import) into a failure in CI."""
    outcome = yield
    _fail_skips_in_ci(outcome.get_result())  # type: ignore[attr-defined]


def _fail_skips_in_ci(report: pytest.TestReport | pytest.CollectReport) -> None:
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (ACTIVITYLOG_CI=1), which must run every test: {report.longrepr}"
