"""The conformance suite on every store of this package (``conftest.STORES``).

The suite itself ships as :mod:`activitylog.testing.conformance`, so that a third-party store
runs exactly these tests; ``conftest.py`` supplies ``open_fresh`` for each store here.
"""

from __future__ import annotations

from activitylog.testing.conformance import *
