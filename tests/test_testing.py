"""The shipped conformance suite runs in a third-party project, and catches a broken store."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import activitylog.testing.conformance as suite

CONFTEST = '''
import pytest
from activitylog.stores.memory import MemoryStore

pytest_plugins = ["activitylog.testing.plugin"]


class ThirdPartyStore(MemoryStore):
    """A store written outside activitylog (here: the reference store, maybe broken)."""

    BROKEN = {broken!r}

    def page(self, spec):
        rows = super().page(spec)
        if self.BROKEN:
            # A classic bug: the category filter forgotten on pages (counts stay right).
            import attrs
            rows = MemoryStore.page(self, attrs.evolve(spec, categories=()))
        return rows


@pytest.fixture
def open_fresh():
    opened = []

    def open_one():
        store = ThirdPartyStore()
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()
'''


def run_suite(tmp_path: Path, *, broken: bool) -> subprocess.CompletedProcess[str]:
    """Run the shipped suite with pytest in a fresh project directory of its own."""
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST.format(broken=broken)))
    (tmp_path / "test_my_store.py").write_text(
        "from activitylog.testing.conformance import *  # noqa: F403\n"
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         *(["-x"] if broken else []), str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )


class TestShippedSuite:
    def test_a_correct_third_party_store_passes_every_test(self, tmp_path: Path) -> None:
        """The suite collects every conformance test from the package and they all pass."""
        result = run_suite(tmp_path, broken=False)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        passed = re.search(r"(\d+) passed", result.stdout)
        assert passed is not None and int(passed.group(1)) >= len(suite.__all__)

    def test_a_store_with_a_bug_fails_it(self, tmp_path: Path) -> None:
        """A store that ignores the category filter on pages is caught."""
        result = run_suite(tmp_path, broken=True)
        assert result.returncode == 1
        failed = re.search(r"(\d+) failed", result.stdout)
        assert failed is not None and int(failed.group(1)) == 1  # -x: the first failure
        assert "FAILED test_my_store.py::test_" in result.stdout

    def test_importing_the_package_does_not_import_pytest(self) -> None:
        """activitylog.testing itself stays importable without pytest's machinery loaded."""
        code = "import sys, activitylog.testing; print('pytest' in sys.modules)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout
        assert out.strip() == "False"
