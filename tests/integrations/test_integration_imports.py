"""Integrations are optional: the core imports no framework, a missing one names its extra."""

from __future__ import annotations

import subprocess
import sys

FRAMEWORKS = ("django", "rest_framework", "flask", "starlette", "fastapi", "celery")


def run(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)


class TestOptionalFrameworks:
    def test_import_activitylog_imports_no_framework(self) -> None:
        """Neither the core nor its integration package pulls a framework in."""
        proc = run(
            "import sys, activitylog, activitylog.integrations, activitylog.integrations._http\n"
            f"print(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules))"
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "[]"

    def test_a_missing_framework_names_its_extra(self) -> None:
        """Without its framework, importing an integration says which extra to install."""
        cases = {"django": "django", "drf": "rest_framework", "flask": "flask",
                 "starlette": "starlette", "fastapi": "fastapi", "celery": "celery"}
        proc = run(
            "import importlib, sys\n"
            f"for module, blocked in {cases!r}.items():\n"
            "    saved = sys.modules.get(blocked)\n"
            "    sys.modules[blocked] = None\n"
            "    try:\n"
            "        importlib.import_module('activitylog.integrations.' + module)\n"
            "    except ImportError as exc:\n"
            "        print(module, exc)\n"
            "    sys.modules.pop(blocked)\n"
            "    sys.modules.pop('activitylog.integrations.' + module, None)\n"
        )
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert len(lines) == len(cases)
        for line, module in zip(lines, cases, strict=True):
            # each integration's extra is named after its module
            assert line.startswith(module + " ")
            assert f"pip install 'activitylog[{module}]'" in line
