"""Test helpers for stores: the conformance suite every activitylog store passes, shipped.

A third-party store is correct when the same suite that checks the built-in stores passes on it.
It needs pytest (``pip install 'activitylog[testing]'``). In the store's own tests::

    # conftest.py
    import pytest
    from activitylog import open_store

    pytest_plugins = ["activitylog.testing.plugin"]

    @pytest.fixture
    def open_fresh(tmp_path_factory):
        opened = []
        def open_one():
            store = open_store(f"mystore:///{tmp_path_factory.mktemp('s')}/log")
            opened.append(store)
            return store
        yield open_one
        for store in opened:
            store.close()

    # test_conformance.py
    from activitylog.testing.conformance import *  # noqa: F403

Importing this package does not import pytest; :mod:`activitylog.testing.plugin` and
:mod:`activitylog.testing.conformance` do.
"""

from __future__ import annotations

from ._base import ORG, OTHER_ORG, START, Clock

__all__ = ["ORG", "OTHER_ORG", "START", "Clock"]
