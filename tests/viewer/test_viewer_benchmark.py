"""``python -m benchmarks.viewer`` runs end to end in its smallest mode (timings unchecked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class TestViewerBenchmark:
    def test_smallest_run_writes_every_case(self, tmp_path: Path) -> None:
        """A tiny run exits 0, prints the table and writes every case with its ratios."""
        out = tmp_path / "viewer.json"
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.viewer", "--entries", "400", "--repeat", "1",
             "--min-time", "0.001", "--workdir", str(tmp_path / "work"), "--json", str(out)],
            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "| first page |" in done.stdout and "budget 61,440: met" in done.stdout
        report = json.loads(out.read_text(encoding="utf-8"))
        assert report["entries"] == 400
        names = [case["case"] for case in report["cases"]]
        assert names[0] == "first page" and "next page (cursor)" in names
        assert all(case["api_ratio"] > 0 and case["html_ratio"] > 0 for case in report["cases"])
