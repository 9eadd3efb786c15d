"""benchmarks/integrations.py runs end to end in its smallest mode (timings are not checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class TestIntegrationBenchmark:
    def test_smallest_run_reports_every_variant(self, tmp_path: Path) -> None:
        """Three variants timed, and the recorded variant really wrote its entries."""
        pytest.importorskip("django")
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.integrations", "--requests", "5", "--repeat", "1",
             "--workdir", str(tmp_path), "--only", "sqlite"],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        report = json.loads(done.stdout)
        assert set(report["seconds"]) == {"plain", "middleware", "recorded"}
        assert report["entries"] == 5 + 1  # timed requests plus the one warm-up
