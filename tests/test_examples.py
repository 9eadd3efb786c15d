"""The runnable examples run, and say what they are meant to show."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from activitylog import ActivityLog, Role, Viewer, demo

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``examples/<name>`` as a script."""
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True, text=True, encoding="utf-8", cwd=cwd, timeout=120, check=False,
    )


def load(name: str) -> ModuleType:
    """Import an example as a module (its ``__main__`` block does not run)."""
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), EXAMPLES / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestQuickstart:
    def test_records_and_reads_back_on_a_sqlite_file(self, tmp_path: Path) -> None:
        """The quickstart writes quickstart.db and prints the entry as an Owner sees it."""
        proc = run_example("quickstart.py", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines() == [
            "Lead Created green Ada Lovelace Ada Lovelace created lead “Grace Hopper” just now"
        ]
        assert (tmp_path / "quickstart.db").exists()

    def test_the_log_persists_between_runs(self, tmp_path: Path) -> None:
        """Run twice on the same file, the log holds both calls, newest first."""
        db = tmp_path / "q.db"
        assert run_example("quickstart.py", str(db), cwd=tmp_path).returncode == 0
        second = run_example("quickstart.py", str(db), cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert len(second.stdout.splitlines()) == 2
        with ActivityLog.open(f"sqlite:///{db}") as log:
            assert log.verify("acme").ok
            assert log.verify("acme").checked == 2

    def test_is_about_ten_lines(self) -> None:
        """The quickstart stays short: about ten lines of code."""
        code = [
            line for line in (EXAMPLES / "quickstart.py").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith(("#", '"""', "from __future__"))
        ]
        assert len(code) <= 12


class TestCrmService:
    def test_runs_as_a_script(self, tmp_path: Path) -> None:
        """The CRM example prints the log newest first and an intact chain."""
        proc = run_example("crm_service.py", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0].startswith("File Embedding Completed")
        assert lines[-2].startswith("Lead Created")
        assert lines[-1] == "integrity: intact"

    def test_dashboard_api_and_system_traffic(self) -> None:
        """Dashboard, API-key and AI pipeline calls are told apart; no-op edits are not logged."""
        lines = load("crm_service.py").main()
        assert [line[:26].strip() for line in lines[:-1]] == [
            "File Embedding Completed", "Task Created", "File Created", "API Key Created",
            "Lead Status Changed", "Lead Created",
        ]
        assert " system " in lines[0] and " api " in lines[1] and " dashboard " in lines[2]
        assert "status from New to Contacted" in lines[4]

    def test_runs_on_sqlite(self, tmp_path: Path) -> None:
        """Given a SQLite URL, the example writes its entries there."""
        db = tmp_path / "crm.db"
        proc = run_example("crm_service.py", f"sqlite:///{db}", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        with ActivityLog.open(f"sqlite:///{db}") as log:
            viewer = Viewer("u", "acme", Role.OWNER)
            assert log.query("acme", viewer=viewer).count() == 6

    def test_reexports_the_packaged_service(self) -> None:
        """The example is the packaged service, not a copy of it."""
        module = load("crm_service.py")
        assert module.Crm is demo.Crm
        assert module.Leads is demo.Leads


class TestService:
    def test_every_decorated_call_records_with_the_context(self) -> None:
        """Service calls record the action, target and changes; failures record nothing."""
        log = ActivityLog()
        crm = demo.Crm(log, "acme", "Acme Corp")
        ada = demo.ORGS[0].owner.actor
        with log.context(org_id="acme", actor=ada):
            lead = crm.leads.create("Grace", company="Navy")
            crm.leads.assign(lead.id, "Marcus Chen")
            crm.leads.bulk_change_status([lead.id], "Won")
            with pytest.raises(KeyError):
                crm.leads.delete("no-such-lead")
            crm.subscription.update_seats(5)
        entries = list(log.store.chain("acme"))
        assert [e.action for e in entries] == [
            "lead.created", "lead.assigned", "lead.bulk_status_changed",
            "subscription.seats_updated",
        ]
        assert entries[0].target is not None and entries[0].target.label == "Grace"
        assert entries[1].changes == {"assignee": (None, "Marcus Chen")}
        assert entries[2].description == (
            "Olivia Bennett changed the status of 1 lead (status from none to Won)"
        )
        assert entries[3].description == "Olivia Bennett updated the subscription seats from 1 to 5"


def run_in(folder: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` inside ``examples/<folder>`` (warnings are errors there too)."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "-W", "error", *args], cwd=EXAMPLES / folder, capture_output=True,
        text=True, encoding="utf-8", timeout=120, check=False, env=env,
    )


class TestFrameworkCrms:
    @pytest.mark.parametrize(("folder", "framework", "args"), [
        ("django_crm", "rest_framework", ("manage.py", "test", "-v", "2")),
        ("flask_crm", "flask", ("-m", "unittest", "-v", "test_app")),
        ("fastapi_crm", "fastapi", ("-m", "unittest", "-v", "test_app")),
        ("celery_jobs", "celery", ("-m", "unittest", "-v", "test_jobs")),
    ])
    def test_each_examples_own_tests_pass(self, folder: str, framework: str,
                                          args: tuple[str, ...]) -> None:
        """Each framework's CRM example runs its own test suite green."""
        pytest.importorskip(framework)
        proc = run_in(folder, *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert " ... ok" in proc.stderr and "FAIL" not in proc.stderr
