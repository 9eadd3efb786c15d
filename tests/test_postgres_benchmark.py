"""``benchmarks/postgres.py`` runs end to end on a tiny workload (its shape, not its timings)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from conftest import POSTGRES_ENV, POSTGRES_HOW
from services import require

pytest.importorskip("psycopg")


class TestPostgresBenchmark:
    def test_a_tiny_run_reports_every_measurement(self, tmp_path: Path):
        """At 3,000 entries every comparison is measured and written, and its schemas dropped."""
        require(bool(os.environ.get(POSTGRES_ENV)), "a PostgreSQL server", POSTGRES_HOW)
        import psycopg
        from benchmarks import postgres

        prefix = f"test_bench_{uuid.uuid4().hex[:8]}"
        out = tmp_path / "pg.json"
        try:
            assert postgres.main([
                "--entries", "3000", "--batch", "500", "--per-commit", "5", "--repeat", "1",
                "--min-time", "0.001", "--schema-prefix", prefix, "--json", str(out),
            ]) == 0  # fmt: skip
            report = json.loads(out.read_text())
            keys = {row["key"] for row in report["rows"]}
            assert {"batch", "record", "append1", "page_newest", "page_deep", "search_rare",
                    "search_short", "categories"} <= keys  # fmt: skip
            assert all(row["ours"] > 0 and row["raw"] > 0 for row in report["rows"])
        finally:
            with psycopg.connect(os.environ[POSTGRES_ENV], autocommit=True) as conn:
                for name in ("main", "batch_ours", "batch_raw"):
                    conn.execute(f"DROP SCHEMA IF EXISTS {prefix}_{name} CASCADE")
