"""The benchmark harness runs end to end in its smallest mode and writes well-formed results.

Timings are not checked here (they depend on the machine); the harness's own comparisons of
every query's result against the hand-written SQL are, since it stops on a disagreement.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EXPECTED = {
    "build", "ingest", "record.1", "record.8", "page.newest", "page.deep", "categories",
    "bucket.today.page", "bucket.today.count", "bucket.this-week.page", "bucket.this-week.count",
    "bucket.this-month.page", "bucket.this-month.count", "bucket.older.page",
    "bucket.older.count", "history.target", "history.actor", "sort.action", "search.rare.page", "search.rare.count",
    "search.common.page", "search.common.count", "search.two_words.page",
    "search.two_words.count", "search.short.page", "search.short.count", "verify", "export.csv",
    "export.jsonl", "file",
}  # fmt: skip


class TestHarness:
    def test_smallest_run_writes_every_measurement(self, tmp_path: Path) -> None:
        """`python -m benchmarks --entries 2000 --repeat 1` exits 0 and writes complete JSON."""
        out = tmp_path / "results.json"
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks", "--entries", "2000", "--repeat", "1",
             "--json", str(out), "--workdir", str(tmp_path / "work")],
            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        report = json.loads(out.read_text(encoding="utf-8"))
        assert set(report) == {"meta", "info", "results", "targets"}
        assert report["meta"]["entries"] == 2000
        assert {"cpus", "cpu", "python", "sqlite"} <= set(report["meta"]["machine"])
        rows = {row["key"]: row for row in report["results"]}
        assert set(rows) == EXPECTED
        for row in rows.values():
            assert row["ours"]["min"] <= row["ours"]["median"] <= row["ours"]["max"]
            if row["baseline"] == "raw":
                assert set(row["raw"]) == {"median", "min", "max"}
                assert row["ratio"]["median"] > 0
        for target in report["targets"]:
            assert target["key"] in rows
            assert isinstance(target["met"], bool)
        assert "| Measurement |" in done.stdout

    def test_script_entry_point_shows_its_options(self) -> None:
        """`python benchmarks/run.py --help` works from any directory and lists the options."""
        done = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--help"],
            cwd=ROOT.parent, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        for option in ("--entries", "--quick", "--repeat", "--json", "--peers"):
            assert option in done.stdout
