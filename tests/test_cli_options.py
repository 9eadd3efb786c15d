"""Command-line options and messages: help, values that start with "-", plurals, the errors a
CLI user can act on, JSON Lines pages, and one record's or one person's history."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from activitylog import ActivityLog, Actor, Target
from activitylog.cli import app
from test_cli import ORG, OWNER, _env, demo_db, demo_log, run, run_process

__all__ = ["demo_db", "demo_log"]  # fixtures shared with test_cli


@pytest.fixture
def small_db(tmp_path: Path) -> str:
    """A database with exactly one entry in organization ``solo``."""
    path = tmp_path / "small.db"
    with ActivityLog.open(f"sqlite:///{path}") as log:
        log.record("lead.created", org_id="solo", actor=Actor("u1", "Ada"),
                   target=Target("lead", "1", "Grace"))
    return str(path)


class TestHelp:
    def test_bare_command_prints_help(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`activitylog` alone prints the help (every command), and succeeds."""
        code, out, err = run(capsys)
        assert code == 0 and err == ""
        assert out.startswith("usage: activitylog")
        for name in app.COMMANDS:
            assert f"    {name}" in out

    @pytest.mark.parametrize("argv", [(), ("--help",), ("--version",), ("list", "--help")])
    def test_help_to_a_full_disk_fails(self, argv: tuple[str, ...]) -> None:
        """Help and version written to /dev/full fail with one line, not a silent success."""
        with open("/dev/full", "w") as full:
            proc = subprocess.run([sys.executable, "-m", "activitylog", *argv], stdout=full,
                                  stderr=subprocess.PIPE, text=True, env=_env(), check=False,
                                  timeout=60)
        assert proc.returncode == 1
        assert proc.stderr == ("activitylog: error: cannot write standard output: "
                               "No space left on device\n")


class TestDashValues:
    def test_search_for_a_word_starting_with_a_dash(self, capsys: pytest.CaptureFixture[str],
                                                    small_db: str) -> None:
        """`--search -deleted` searches for "-deleted" instead of failing as an unknown option."""
        code, out, err = run(capsys, "list", "--db", small_db, "--org", "solo",
                             "--search", "-deleted")
        assert code == 0, err
        assert out == "No entries match.\n"

    def test_known_options_still_need_their_value(self, capsys: pytest.CaptureFixture[str],
                                                  small_db: str) -> None:
        """`--search --org solo` is still missing the search text: the next word is an option."""
        code, _, err = run(capsys, "list", "--db", small_db, "--search", "--org", "solo")
        assert code == 2
        assert "--search: expected one argument" in err

    def test_rewriting(self) -> None:
        """Only values of options that take one, not themselves options, are attached."""
        parser = app.build_parser()
        assert app.dash_values(parser, ["list", "--search", "-x", "--asc"]) == [
            "list", "--search=-x", "--asc"]
        assert app.dash_values(parser, ["list", "--search", "--asc"]) == [
            "list", "--search", "--asc"]
        assert app.dash_values(parser, ["export", "--output", "-"]) == [
            "export", "--output", "-"]
        assert app.dash_values(parser, ["list", "--", "--search", "-x"]) == [
            "list", "--", "--search", "-x"]


class TestPlurals:
    def test_one_entry_reads_entry(self, capsys: pytest.CaptureFixture[str], small_db: str,
                                   tmp_path: Path) -> None:
        """Counts of one are singular in every message."""
        code, out, _ = run(capsys, "verify", "--db", small_db)
        assert code == 0
        assert "All 1 organization intact (1 entry)." in out
        code, _, err = run(capsys, "export", "--db", small_db, "--org", "solo", "--format",
                           "jsonl", "--output", str(tmp_path / "x.jsonl"))
        assert code == 0
        assert err == f"Exported 1 entry to {tmp_path / 'x.jsonl'}\n"
        code, out, _ = run(capsys, "stats", "--db", small_db, "--org", "solo")
        assert code == 0
        assert "solo: 1 entry since" in out and "(1 entry); each block" in out


class TestUsageErrors:
    def test_week_start_names_the_days(self, capsys: pytest.CaptureFixture[str],
                                       small_db: str) -> None:
        """A bad --week-start names the option and every valid day."""
        for command in ("list", "stats"):
            code, _, err = run(capsys, command, "--db", small_db, "--org", "solo",
                               "--week-start", "funday")
            assert code == 2
            assert ("argument --week-start: 'funday' is not a day of the week; use one of "
                    "monday, tuesday, wednesday, thursday, friday, saturday, sunday") in err

    def test_week_start_ignores_case(self, capsys: pytest.CaptureFixture[str],
                                     small_db: str) -> None:
        """--week-start Sunday is sunday."""
        code, _, err = run(capsys, "stats", "--db", small_db, "--org", "solo", "--week-start",
                           "Sunday", "--format", "json")
        assert code == 0, err

    def test_reversed_range_names_the_flags(self, capsys: pytest.CaptureFixture[str],
                                            small_db: str) -> None:
        """--since after --until says which flag is which, in CLI terms."""
        code, _, err = run(capsys, "list", "--db", small_db, "--org", "solo", "--since",
                           "2024-06-01", "--until", "2024-05-01")
        assert code == 2
        assert err.startswith("activitylog: error: --since 2024-06-01 is not before --until "
                              "2024-05-01")
        assert "since=" not in err and "until=" not in err

    def test_foreign_database_names_the_flag(self, capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
        """Another application's SQLite file: what it holds, and what --db takes."""
        path = tmp_path / "crm.sqlite"
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE customers (id INTEGER)")
        conn.close()
        code, _, err = run(capsys, "list", "--db", str(path), "--org", "acme")
        assert code == 2
        assert "is an SQLite database of another application (it holds customers)" in err
        assert "--db takes a file written by activitylog" in err
        assert "connection=" not in err  # a Python API argument means nothing here
        assert err.count("\n") == 1

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (("--target", "lead"), "argument --target: 'lead' is not TYPE:ID"),
            (("--target", ":42"), "is not TYPE:ID"),
            (("--tz", "Mars/Base"), "--tz: unknown time zone 'Mars/Base'"),
            (("--limit", "5000"), "--limit must be between 1 and 1,000, not 5000"),
        ],
    )
    def test_messages_name_the_flag(self, capsys: pytest.CaptureFixture[str], small_db: str,
                                    argv: tuple[str, ...], message: str) -> None:
        """Errors about an option's value start from the option's name."""
        code, _, err = run(capsys, "list", "--db", small_db, "--org", "solo", *argv)
        assert code == 2
        assert message in err


class TestJsonLines:
    def test_list_jsonl_is_the_json_entries(self, capsys: pytest.CaptureFixture[str],
                                            demo_db: str) -> None:
        """`list --format jsonl`: one entry per line, the same objects as `--format json`."""
        code, out, err = run(capsys, "list", "--db", demo_db, "--org", ORG, "--limit", "7",
                             "--format", "jsonl")
        assert code == 0
        lines = [json.loads(line) for line in out.split("\n") if line]
        code, out, _ = run(capsys, "list", "--db", demo_db, "--org", ORG, "--limit", "7",
                           "--format", "json")
        data = json.loads(out)
        assert lines == data["entries"] and len(lines) == 7
        assert err == f"Next page: add --after {data['next_cursor']}\n"

    def test_jsonl_pages_continue(self, capsys: pytest.CaptureFixture[str],
                                  demo_db: str) -> None:
        """The cursor on standard error gives the next page."""
        _, out, err = run(capsys, "list", "--db", demo_db, "--org", ORG, "--limit", "3",
                          "--format", "jsonl")
        cursor = err.rsplit(" ", 1)[1].strip()
        _, out2, _ = run(capsys, "list", "--db", demo_db, "--org", ORG, "--limit", "3",
                         "--format", "jsonl", "--after", cursor)
        _, both, _ = run(capsys, "list", "--db", demo_db, "--org", ORG, "--limit", "6",
                         "--format", "jsonl")
        assert out + out2 == both


class TestSubject:
    def test_target_is_one_records_history(self, capsys: pytest.CaptureFixture[str],
                                           demo_db: str, demo_log: ActivityLog) -> None:
        """--target TYPE:ID lists what the library's .target(type, id) finds, and only that."""
        some = demo_log.query(ORG, viewer=OWNER).category("Leads").page(50).entries
        lead = next(e.target for e in some if e.target is not None)
        expected = [e.id for e in demo_log.query(ORG, viewer=OWNER)
                    .target(lead.type, lead.id).page(1000).entries]
        code, out, err = run(capsys, "list", "--db", demo_db, "--org", ORG, "--target",
                             f"{lead.type}:{lead.id}", "--format", "json", "--limit", "1000")
        assert code == 0, err
        entries = json.loads(out)["entries"]
        assert [e["id"] for e in entries] == expected and expected
        assert {(e["target"]["type"], e["target"]["id"]) for e in entries} == {
            (lead.type, lead.id)}

    def test_actor_is_one_persons_activity(self, capsys: pytest.CaptureFixture[str],
                                           demo_db: str, demo_log: ActivityLog) -> None:
        """--actor ID on list, export and stats matches the library's .actor(id)."""
        query = demo_log.query(ORG, viewer=OWNER).actor("acme-olivia")
        total = query.count()
        assert total > 0
        _, out, _ = run(capsys, "list", "--db", demo_db, "--org", ORG, "--actor",
                        "acme-olivia", "--format", "json")
        assert json.loads(out)["total"] == total
        _, out, _ = run(capsys, "export", "--db", demo_db, "--org", ORG, "--actor",
                        "acme-olivia", "--format", "jsonl")
        rows = [json.loads(line) for line in out.split("\n") if line]
        assert len(rows) == total and {r["actor"]["id"] for r in rows} == {"acme-olivia"}
        _, out, _ = run(capsys, "stats", "--db", demo_db, "--org", ORG, "--actor",
                        "acme-olivia", "--weeks", "20", "--format", "json")
        assert json.loads(out)["total"] == total

    def test_target_and_actor_combine_with_filters(self, capsys: pytest.CaptureFixture[str],
                                                   demo_db: str, demo_log: ActivityLog) -> None:
        """--actor with --category and --search narrows as the query builder does."""
        expected = (demo_log.query(ORG, viewer=OWNER).actor("acme-olivia").category("Leads")
                    .search("deleted").count())
        _, out, _ = run(capsys, "list", "--db", demo_db, "--org", ORG, "--actor",
                        "acme-olivia", "--category", "leads", "--search", "deleted",
                        "--format", "json")
        assert json.loads(out)["total"] == expected


class TestDemoText:
    def test_demo_explains_its_date_buckets(self, demo_db: str) -> None:
        """The demo says the buckets overlap and what Older means."""
        proc = run_process("demo", "--db", demo_db)
        assert proc.returncode == 0, proc.stderr
        assert "The buckets overlap, so they do not add up to the total" in proc.stdout
        assert "before this moment one calendar month ago" in proc.stdout


def _immutable(paths: list[Path], on: bool) -> bool:
    """Set or clear the immutable attribute (even root cannot then create or change files)."""
    proc = subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)],
                          capture_output=True, check=False)
    return proc.returncode == 0


class TestReadOnly:
    @pytest.mark.parametrize(
        "argv",
        [
            ("list", "--org", "solo"),
            ("list", "--org", "solo", "--format", "jsonl"),
            ("categories", "--org", "solo"),
            ("export", "--org", "solo", "--format", "jsonl"),
            ("stats", "--org", "solo"),
            ("verify",),
        ],
    )
    def test_reading_a_file_in_a_folder_nobody_can_write(self, small_db: str,
                                                         argv: tuple[str, ...]) -> None:
        """The reading commands open the file read-only: they work where nothing can be
        written (an immutable folder and file, as on a read-only mount), create no journal,
        -wal or -shm file, and leave every byte as it was."""
        folder = Path(small_db).parent
        content = Path(small_db).read_bytes()
        locked = [Path(small_db), folder]
        frozen = _immutable(locked, True)  # where chattr works; else the checks below still run
        try:
            proc = run_process(*argv, "--db", small_db)
        finally:
            if frozen:
                _immutable(locked, False)
        assert proc.returncode == 0, proc.stderr
        assert sorted(p.name for p in folder.iterdir()) == ["small.db"]
        assert Path(small_db).read_bytes() == content
