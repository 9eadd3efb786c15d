"""Tests that need a real server or browser: skip locally with how to start it, fail in CI.

``.ci/run`` starts every service and sets ``ACTIVITYLOG_CI=1``; there a missing service is a
failure, so a CI run can never go green by skipping the tests that matter most.
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    """Whether the run is ``.ci/run``'s, where every service must be present."""
    return os.environ.get("ACTIVITYLOG_CI") == "1"


def require(available: bool, what: str, how: str) -> None:
    """Skip (locally) or fail (in CI) unless ``available``; ``how`` says how to provide it."""
    if available:
        return
    message = f"{what} is not available: {how}"
    if in_ci():
        pytest.fail(f"{message} (ACTIVITYLOG_CI=1: .ci/run must provide it)", pytrace=False)
    pytest.skip(message)
