"""Django with the log in its own PostgreSQL database: entries share the app's transaction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services import require

HERE = Path(__file__).resolve().parent


class TestSameTransaction:
    def test_entries_commit_and_roll_back_with_the_apps_transaction(self) -> None:
        """Written in the app's transaction: invisible until COMMIT, gone on ROLLBACK."""
        pytest.importorskip("django")
        pytest.importorskip("psycopg")
        url = os.environ.get("ACTIVITYLOG_TEST_POSTGRES_URL")
        require(bool(url), "PostgreSQL",
                "source .ci/services/postgres.sh (sets ACTIVITYLOG_TEST_POSTGRES_URL)")
        assert url is not None
        done = subprocess.run(
            [sys.executable, "-W", "error", str(HERE / "al_same_transaction.py"), url],
            capture_output=True, text=True, timeout=120, check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        seen = json.loads(done.stdout)
        assert seen == {
            "checks": [],
            "stored_inside_uncommitted": 0,
            "returned_seq": seen["returned_seq"],
            "after_rollback": 0,
            "after_commit": 1,
            "after_autocommit": 2,
            "verify_ok": True,
        }
        assert isinstance(seen["returned_seq"], int)
