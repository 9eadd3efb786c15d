"""The pytest fixtures the conformance suite runs on, given one fixture of yours: ``open_fresh``.

``open_fresh`` returns a callable that opens a new, empty store of the kind under test each time
it is called (and closes them after the test). Everything else is provided here: ``store``,
``clock`` (fixed at :data:`~activitylog.testing.START`), ``log``, and the viewers ``owner``,
``admin`` and ``member`` of :data:`~activitylog.testing.ORG`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ..access import Role, Viewer
from ..log import ActivityLog
from ..stores.base import Store
from ._base import ORG, Clock


@pytest.fixture
def store(open_fresh: Callable[[], Store]) -> Store:
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
