"""The command line's usage errors and help: one clear line, the right exit status."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import activitylog
from test_cli import (
    ORG,
    demo_db,
    list_json,
    run,
    run_process,
)

__all__ = ["demo_db"]  # the fixture, shared with test_cli


class TestErrors:
    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["list", "--org", "acme", "--category", "leeds"],
             "unknown category 'leeds'; did you mean 'Leads'?"),
            (["list", "--org", "acme", "--tz", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
            (["list", "--org", "acme", "--after", "not-a-cursor"], "malformed cursor"),
            (["list", "--org", "acm"], ("unknown organization 'acm': it has no entries; "
                                       "did you mean 'acme'?")),
            (["list", "--org", "zzz"], "organizations with entries: acme, globex, initech"),
            (["list", "--org", "acme", "--since", "yesterday"], "--since: not an ISO 8601"),
            (["list", "--org", "acme", "--since", "2024-05-02", "--until", "2024-05-01"],
             "--since 2024-05-02 is not before --until 2024-05-01"),
            (["list", "--org", "acme", "--date", "today", "--since", "2024-01-01"],
             "use either --date or --since/--until"),
            (["list", "--org", "acme", "--limit", "0"], "--limit must be between 1 and 1,000"),
            (["categories", "--org", "nobody"], "unknown organization 'nobody'"),
            (["export", "--org", "nobody", "--format", "csv"], "unknown organization"),
            (["verify", "--org", "nobody"], "unknown organization"),
            (["stats", "--org", "acme", "--tz", "Nowhere/Land"], "unknown time zone"),
        ],
    )
    def test_user_mistakes_exit_2_with_one_line(
        self, capsys: pytest.CaptureFixture[str], demo_db: str, argv: list[str], message: str
    ) -> None:
        """Each user mistake gives one clear line on stderr and exit code 2."""
        code, out, err = run(capsys, argv[0], "--db", demo_db, *argv[1:])
        assert code == 2
        assert out == ""
        assert err.startswith("activitylog: error: ")
        assert message in err
        assert err.count("\n") == 1

    def test_cursor_of_another_query_is_refused(
        self, capsys: pytest.CaptureFixture[str], demo_db: str
    ) -> None:
        """A cursor only continues the query that printed it."""
        cursor = list_json(capsys, demo_db, "--limit", "2")["next_cursor"]
        assert isinstance(cursor, str)
        code, _, err = run(capsys, "list", "--db", demo_db, "--org", ORG, "--category", "Leads",
                           "--after", cursor)
        assert code == 2
        assert "belongs to a different query" in err

    @pytest.mark.parametrize("command", ["list", "categories", "export", "stats", "verify"])
    def test_missing_database_is_never_created(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
    ) -> None:
        """Reading commands refuse a missing file and do not create it."""
        db = tmp_path / "missing.db"
        argv = [command, "--db", str(db)]
        if command != "verify":
            argv += ["--org", ORG]
        if command == "export":
            argv += ["--format", "jsonl"]
        code, _, err = run(capsys, *argv)
        assert code == 2
        assert f"no database at {db}" in err
        assert list(tmp_path.iterdir()) == []

    @pytest.mark.parametrize("content", [b"", b"hello, world\n", b"SQLite format 2\x00" * 8])
    def test_foreign_file_is_refused(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes
    ) -> None:
        """A file that is not a SQLite database is refused, untouched."""
        db = tmp_path / "other.db"
        db.write_bytes(content)
        code, _, err = run(capsys, "list", "--db", str(db), "--org", ORG)
        assert code == 2
        assert "is not an activitylog database" in err
        assert db.read_bytes() == content

    def test_another_applications_database_is_refused(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """A SQLite database of another application is refused, untouched."""
        db = tmp_path / "app.db"
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.commit()
        conn.close()
        before = db.read_bytes()
        code, _, err = run(capsys, "verify", "--db", str(db))
        assert code == 2
        assert "not an activitylog database" in err
        assert db.read_bytes() == before

    def test_directory_is_refused(self, capsys: pytest.CaptureFixture[str],
                                  tmp_path: Path) -> None:
        """A folder given as --db is a clear error."""
        code, _, err = run(capsys, "categories", "--db", str(tmp_path), "--org", ORG)
        assert code == 2
        assert "is a directory" in err

    @pytest.mark.parametrize(
        "argv",
        [["frobnicate"], ["list"], ["list", "--db", "x.db"], ["list", "--org", "acme"],
         ["list", "--db", "x", "--org", "a", "--sort", "size"],
         ["list", "--db", "x", "--org", "a", "--asc", "--desc"],
         ["export", "--db", "x", "--org", "a", "--format", "xml"],
         ["demo", "--seed", "many"]],
    )
    def test_bad_arguments_are_usage_errors(
        self, capsys: pytest.CaptureFixture[str], argv: list[str]
    ) -> None:
        """argparse mistakes exit 2 with the usage and a hint, not a traceback."""
        code, _out, err = run(capsys, *argv)
        assert code == 2
        assert "error:" in err
        assert "see `activitylog" in err
        assert "Traceback" not in err

    def test_process_errors_have_no_traceback(self, demo_db: str, tmp_path: Path) -> None:
        """Run as a program, user mistakes print one line and exit 2."""
        for argv in (["list", "--db", demo_db, "--org", "acme", "--category", "nope"],
                     ["list", "--db", str(tmp_path / "nope.db"), "--org", "acme"],
                     ["verify", "--db", demo_db, "--key-env", "SURELY_NOT_SET_ANYWHERE"]):
            proc = run_process(*argv)
            assert proc.returncode == 2, proc.stderr
            assert "Traceback" not in proc.stderr
            assert proc.stderr.startswith("activitylog: error: ")
            assert proc.stderr.count("\n") == 1


class TestHelp:
    @pytest.mark.parametrize("command", ["demo", "list", "categories", "export", "verify",
                                         "stats"])
    def test_every_command_has_help_with_examples(
        self, capsys: pytest.CaptureFixture[str], command: str
    ) -> None:
        """Each command's --help describes it, its options, and gives examples."""
        code, out, _ = run(capsys, command, "--help")
        assert code == 0
        assert out.startswith(f"usage: activitylog {command}")
        assert "examples:" in out
        assert f"  activitylog {command}" in out
        assert "--color" in out

    def test_top_level_help_lists_every_command(self) -> None:
        """python -m activitylog --help names every command."""
        proc = run_process("--help")
        assert proc.returncode == 0
        for command in ("demo", "list", "categories", "export", "verify", "stats"):
            assert re.search(rf"^    {command}\b", proc.stdout, re.MULTILINE), command

    def test_console_script_is_installed(self) -> None:
        """The `activitylog` script next to this Python runs the same command line."""
        script = Path(sys.executable).parent / "activitylog"
        proc = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                              timeout=60, check=False)
        assert proc.returncode == 0
        assert proc.stdout.strip() == f"activitylog {activitylog.__version__}"
