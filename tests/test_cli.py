"""The ``activitylog`` command line, driven through ``main(argv)`` and as a real process."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from activitylog import ActivityLog, Actor, ApiKeyRef, Role, Target, Viewer, cli, demo
from activitylog.cli import app, filters, records, tables, terminal, text
from activitylog.stores.base import QuerySpec
from activitylog.stores.sqlite import SQLiteStore

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ORG = demo.MAIN_ORG.id
OWNER = Viewer("u", ORG, Role.OWNER)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``main(argv)`` in-process; return the exit code, stdout and stderr."""
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_process(*argv: str, env: dict[str, str] | None = None,
                cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m activitylog`` with stdout and stderr piped."""
    return subprocess.run(
        [sys.executable, "-m", "activitylog", *argv],
        capture_output=True, text=True, encoding="utf-8", env=_env(env), cwd=cwd, timeout=120,
        check=False,
    )


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra or {})
    return env


def run_in_terminal(*argv: str, env: dict[str, str] | None = None,
                    stdout_tty: bool = True) -> tuple[int, str, str]:
    """Run the command with stderr (and stdout unless told otherwise) on a pseudo-terminal.

    Returns the exit code, what the terminal showed, and what went to the pipe (if any).
    """
    import pty  # POSIX only, like the terminals this checks

    master, slave = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "activitylog", *argv],
        stdout=slave if stdout_tty else subprocess.PIPE, stderr=slave, env=_env(env),
    ) as proc:
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not data:
                break
            chunks.append(data)
        piped = proc.stdout.read().decode("utf-8") if proc.stdout is not None else ""
        code = proc.wait(timeout=120)
    os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace"), piped


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A demo database built once by ``activitylog demo`` (tests must not change it)."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    assert cli.main(["demo", "--db", str(path), "--seed", "7"]) == 0
    return str(path)


@pytest.fixture
def demo_log(demo_db: str) -> Iterator[ActivityLog]:
    """The demo database opened through the library, to compare the command line with."""
    log = ActivityLog.open(f"sqlite:///{demo_db}")
    yield log
    log.close()


def list_json(capsys: pytest.CaptureFixture[str], db: str, *argv: str) -> dict[str, object]:
    """The parsed output of ``list --format json``."""
    code, out, err = run(capsys, "list", "--db", db, "--org", ORG, "--format", "json", *argv)
    assert code == 0, err
    data: dict[str, object] = json.loads(out)
    return data


def ids_of(data: dict[str, object]) -> list[str]:
    """The entry ids of a ``list --format json`` result."""
    entries = data["entries"]
    assert isinstance(entries, list)
    return [e["id"] for e in entries]


class TestList:
    def test_table_page_with_cursor(self, capsys: pytest.CaptureFixture[str], demo_db: str) -> None:
        """The table shows labels, users, descriptions and relative dates, then the next cursor."""
        code, out, err = run(capsys, "list", "--db", demo_db, "--org", ORG, "--limit", "5")
        assert code == 0, err
        lines = out.splitlines()
        assert re.match(r"ACTION +USER +DESCRIPTION +DATE", lines[0])
        assert len([line for line in lines[1:6] if line.strip()]) == 5
        assert re.search(r"5 shown, [\d,]+ matching\.", out)
        assert re.search(r"^Next page: add --after \S+$", out, re.MULTILINE)
        assert not ANSI.search(out)

    def test_json_pages_walk_the_whole_log(
        self, capsys: pytest.CaptureFixture[str], demo_db: str, demo_log: ActivityLog
    ) -> None:
        """Following next_cursor visits every entry once, newest first, as the library does."""
        seen: list[str] = []
        cursor: str | None = None
        while True:
            extra = ["--after", cursor] if cursor else []
            data = list_json(capsys, demo_db, "--limit", "400", *extra)
            seen += ids_of(data)
            cursor = data["next_cursor"]  # type: ignore[assignment]
            if cursor is None:
                break
        expected = [e.id for e in demo_log.query(ORG, viewer=OWNER)]
        assert seen == expected
        assert seen == sorted(seen, reverse=True)
        assert data["total"] == len(expected)

    def test_json_entries_carry_every_field(
        self, capsys: pytest.CaptureFixture[str], demo_db: str
    ) -> None:
        """Each JSON entry holds the stored fields plus its color and relative time."""
        data = list_json(capsys, demo_db, "--limit", "3")
        entry = data["entries"][0]  # type: ignore[index]
        assert set(entry) >= {"id", "org_id", "action", "label", "category", "kind", "actor",
                              "description", "occurred_at", "source", "api_key", "target",
                              "changes", "metadata", "seq", "prev_hash", "hash", "color",
                              "relative_time"}
        assert entry["color"] in ("green", "gray", "red")
        assert entry["org_id"] == ORG

    @pytest.mark.parametrize(
        "argv",
        [
            ["--category", "leads"],
            ["--category", "api-keys", "--category", "MEMBERS"],
            ["--search", "deleted"],
            ["--search", "olivia CREATED"],
            ["--date", "this-week", "--tz", "UTC"],
            ["--date", "today", "--tz", "America/New_York", "--week-start", "sunday"],
            ["--date", "older", "--sort", "action"],
            ["--sort", "action", "--desc"],
            ["--sort", "date", "--asc", "--category", "files"],
        ],
    )
    def test_filters_match_the_library(
        self, capsys: pytest.CaptureFixture[str], demo_db: str, demo_log: ActivityLog,
        argv: list[str],
    ) -> None:
        """Every filter and sort gives exactly what the query builder gives."""
        data = list_json(capsys, demo_db, "--limit", "1000", *argv)
        args = cli.build_parser().parse_args(
            ["list", "--db", demo_db, "--org", ORG, *argv]
        )
        query = filters.build_query(demo_log, args)
        assert ids_of(data) == [e.id for e in query.page(1000)]
        assert data["total"] == query.count()
        assert len(ids_of(data)) > 0

    def test_category_filter_keeps_that_category(
        self, capsys: pytest.CaptureFixture[str], demo_db: str
    ) -> None:
        """--category is case-insensitive and keeps only entries of the named categories."""
        data = list_json(capsys, demo_db, "--category", "api keys", "--limit", "1000")
        assert {e["category"] for e in data["entries"]} == {"API Keys"}  # type: ignore[union-attr]

    def test_search_matches_every_word(
        self, capsys: pytest.CaptureFixture[str], demo_db: str
    ) -> None:
        """--search keeps entries whose label, description or user contain every word."""
        data = list_json(capsys, demo_db, "--search", "Marcus deleted", "--limit", "1000")
        entries = data["entries"]
        assert entries
        for e in entries:  # type: ignore[union-attr]
            text = f"{e['label']}\n{e['description']}\n{e['actor']['name']}".casefold()
            assert "marcus" in text and "deleted" in text

    def test_since_until_bound_the_dates(
        self, capsys: pytest.CaptureFixture[str], demo_db: str, demo_log: ActivityLog
    ) -> None:
        """--since is inclusive, --until exclusive; a date without offset is read in --tz."""
        data = list_json(capsys, demo_db, "--since", "2000-01-01", "--until",
                         "2100-01-01T00:00:00+00:00", "--limit", "5", "--tz", "Asia/Tokyo")
        assert data["total"] == demo_log.query(ORG, viewer=OWNER).count()
        newest = demo_log.query(ORG, viewer=OWNER).page(1).entries[0]
        moment = newest.occurred_at.isoformat()
        data = list_json(capsys, demo_db, "--since", moment, "--limit", "5")
        assert ids_of(data) == [newest.id]
        data = list_json(capsys, demo_db, "--until", moment, "--limit", "1")
        assert newest.id not in ids_of(data)

    def test_empty_result(self, capsys: pytest.CaptureFixture[str], demo_db: str) -> None:
        """A search that matches nothing says so."""
        code, out, _ = run(capsys, "list", "--db", demo_db, "--org", ORG,
                           "--search", "zzqqxx-no-such-thing")
        assert code == 0
        assert out.strip() == "No entries match."


class TestCategories:
    def test_table(self, capsys: pytest.CaptureFixture[str], demo_db: str,
                   demo_log: ActivityLog) -> None:
        """The table lists each category with entries, its count and what it tracks."""
        code, out, _ = run(capsys, "categories", "--db", demo_db, "--org", ORG)
        assert code == 0
        assert re.match(r"CATEGORY +ENTRIES +WHAT IT TRACKS", out)
        for name, count in demo_log.categories(ORG, viewer=OWNER):
            assert re.search(rf"^{name} +{count:,}  \S", out, re.MULTILINE)

    def test_json(self, capsys: pytest.CaptureFixture[str], demo_db: str,
                  demo_log: ActivityLog) -> None:
        """The JSON form is the library's categories with their descriptions."""
        code, out, _ = run(capsys, "categories", "--db", demo_db, "--org", "globex",
                           "--format", "json")
        assert code == 0
        data = json.loads(out)
        viewer = Viewer("u", "globex", Role.OWNER)
        assert [(d["category"], d["count"]) for d in data] == demo_log.categories(
            "globex", viewer=viewer
        )
        assert all(d["description"] for d in data)


def _small_db(path: Path, **options: object) -> Path:
    """A database holding a few hand-made entries, some with spreadsheet-hostile text."""
    with ActivityLog.open(f"sqlite:///{path}", **options) as log:  # type: ignore[arg-type]
        with log.context(org_id="shop", actor=Actor("u1", "=HYPERLINK(\"http://x\")")):
            log.record("lead.created", target=Target("lead", "1", "+1 555 0100"))
            log.record("lead.deleted", target=Target("lead", "2", "-SUM(A1)"),
                       description="@evil deleted a lead")
        with log.context(org_id="shop", actor=Actor("u2", "Zoë Ünal 日本"),
                         api_key=ApiKeyRef("k1", "Zapier, \"quoted\"")):
            log.record("task.status_changed", target=Target("task", "7", "Line\nbreak"),
                       changes={"status": ("Pending", "Done")}, metadata={"n": [1, 2]})
    return path


class TestExport:
    def test_csv_reads_back(self, capsys: pytest.CaptureFixture[str], demo_db: str,
                            demo_log: ActivityLog, tmp_path: Path) -> None:
        """The CSV has a BOM, the documented header, and one row per entry, oldest first."""
        out_file = tmp_path / "acme.csv"
        code, out, err = run(capsys, "export", "--db", demo_db, "--org", ORG, "--format", "csv",
                             "--output", str(out_file))
        assert code == 0, err
        assert out == ""
        raw = out_file.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        with out_file.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
        assert tuple(rows[0]) == records.CSV_COLUMNS
        expected = list(demo_log.query(ORG, viewer=OWNER).sort("date", descending=False))
        assert [r[0] for r in rows[1:]] == [e.id for e in expected]
        assert f"Exported {len(expected):,} entries" in err
        by_column = dict(zip(records.CSV_COLUMNS, rows[-1], strict=True))
        last = expected[-1]
        assert by_column["description"] == last.description
        assert by_column["actor_name"] == last.actor.name
        assert by_column["seq"] == str(last.seq)
        assert by_column["hash"] == last.hash

    def test_csv_cells_cannot_become_formulas(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """Cells starting with = + - @ get a leading quote; quotes, commas and newlines survive."""
        db = _small_db(tmp_path / "shop.db")
        code, out, _ = run(capsys, "export", "--db", str(db), "--org", "shop", "--format", "csv")
        assert code == 0
        assert out.startswith("\ufeff")
        rows = [dict(zip(records.CSV_COLUMNS, r, strict=True))
                for r in list(csv.reader(io.StringIO(out[1:], newline="")))[1:]]
        assert rows[0]["actor_name"] == "'=HYPERLINK(\"http://x\")"
        assert rows[0]["target_label"] == "'+1 555 0100"
        assert rows[1]["target_label"] == "'-SUM(A1)"
        assert rows[1]["description"] == "'@evil deleted a lead"
        assert rows[2]["actor_name"] == "Zoë Ünal 日本"
        assert rows[2]["api_key_name"] == "Zapier, \"quoted\""
        assert rows[2]["target_label"] == "Line\nbreak"
        assert json.loads(rows[2]["changes"]) == {"status": ["Pending", "Done"]}
        assert json.loads(rows[2]["metadata"]) == {"n": [1, 2]}
        for row in rows:
            for value in row.values():
                assert not value.startswith(("=", "+", "-", "@"))

    def test_jsonl_holds_every_stored_field(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """Each JSON line is the whole entry: rehashing it reproduces its chain hash."""
        db = _small_db(tmp_path / "shop.db")
        code, out, _ = run(capsys, "export", "--db", str(db), "--org", "shop",
                           "--format", "jsonl")
        assert code == 0
        lines = [json.loads(line) for line in out.splitlines()]
        assert [line["seq"] for line in lines] == [1, 2, 3]
        prev = "0" * 64
        for line in lines:
            assert line["prev_hash"] == prev
            body = {k: v for k, v in line.items() if k not in ("seq", "prev_hash", "hash")}
            body["v"] = 1
            canonical = json.dumps(body, sort_keys=True, separators=(",", ":"),
                                   ensure_ascii=False).encode("utf-8")
            digest = hashlib.sha256(prev.encode("ascii") + b"\n" + canonical).hexdigest()
            assert digest == line["hash"]
            prev = line["hash"]
        assert lines[2]["api_key"] == {"id": "k1", "name": "Zapier, \"quoted\""}
        assert lines[2]["changes"] == {"status": ["Pending", "Done"]}

    def test_filters_apply_to_exports(
        self, capsys: pytest.CaptureFixture[str], demo_db: str, demo_log: ActivityLog
    ) -> None:
        """Export takes the list filters; --desc flips it to newest first."""
        code, out, _ = run(capsys, "export", "--db", demo_db, "--org", ORG, "--format", "jsonl",
                           "--category", "Members", "--search", "invited", "--desc")
        assert code == 0
        ids = [json.loads(line)["id"] for line in out.splitlines()]
        query = demo_log.query(ORG, viewer=OWNER).category("Members").search("invited")
        assert ids == [e.id for e in query]
        assert ids

    def test_export_streams_page_by_page(
        self, capsys: pytest.CaptureFixture[str], demo_db: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Exports read bounded pages of stored rows, never the whole log at once."""
        sizes: list[int] = []
        original = SQLiteStore.page_rows

        def spy(store: SQLiteStore, spec: QuerySpec) -> object:
            sizes.append(spec.limit)
            return original(store, spec)

        monkeypatch.setattr(SQLiteStore, "page_rows", spy)
        code, out, _ = run(capsys, "export", "--db", demo_db, "--org", ORG, "--format", "jsonl")
        assert code == 0
        assert len(out.splitlines()) > 1000
        assert len(sizes) >= 2
        assert max(sizes) <= 1000

    def test_unwritable_output_is_a_clear_error(
        self, capsys: pytest.CaptureFixture[str], demo_db: str, tmp_path: Path
    ) -> None:
        """An output in a missing folder fails with one line and leaves nothing behind."""
        target = tmp_path / "missing" / "x.csv"
        code, _, err = run(capsys, "export", "--db", demo_db, "--org", ORG, "--format", "csv",
                           "--output", str(target))
        assert code == 2
        assert err.startswith("activitylog: error: cannot write")
        assert not target.parent.exists()

    def test_format_is_required(self, capsys: pytest.CaptureFixture[str], demo_db: str) -> None:
        """export needs --format csv or jsonl."""
        code, _, err = run(capsys, "export", "--db", demo_db, "--org", ORG)
        assert code == 2
        assert "--format" in err


def _tamper(db: str, tmp_path: Path) -> str:
    """A copy of ``db`` where one acme entry's description was rewritten behind the store."""
    copy = tmp_path / "tampered.db"
    shutil.copy(db, copy)
    conn = sqlite3.connect(copy)
    triggers = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")]
    for name in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    seq_table = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND sql LIKE '%description%'"
    ).fetchone()[0]
    conn.execute(f'UPDATE "{seq_table}" SET description = \'nothing to see\' WHERE seq = 17 '
                 "AND org = (SELECT code FROM activitylog_orgs WHERE org_id = 'acme')")
    assert conn.total_changes == 1
    conn.commit()
    conn.close()
    return str(copy)


class TestVerify:
    def test_intact_database(self, capsys: pytest.CaptureFixture[str], demo_db: str) -> None:
        """Every organization is reported intact and the exit code is 0."""
        code, out, _ = run(capsys, "verify", "--db", demo_db)
        assert code == 0
        for org in demo.demo_org_ids():
            assert re.search(rf"^{org} +[\d,]+  ok$", out, re.MULTILINE)
        assert "All 3 organizations intact" in out

    def test_tampered_entry_fails(self, capsys: pytest.CaptureFixture[str], demo_db: str,
                                  tmp_path: Path) -> None:
        """A rewritten row is found, named by organization and sequence, and exits 1."""
        db = _tamper(demo_db, tmp_path)
        code, out, _ = run(capsys, "verify", "--db", db)
        assert code == 1
        assert re.search(r"^acme +16  MODIFIED at entry #17", out, re.MULTILINE)
        assert re.search(r"^globex +[\d,]+  ok$", out, re.MULTILINE)
        assert "1 of 3 organizations failed verification." in out
        code, out, _ = run(capsys, "verify", "--db", db, "--org", "globex", "--format", "json")
        assert code == 0
        assert [r["ok"] for r in json.loads(out)] == [True]

    def test_json_report(self, capsys: pytest.CaptureFixture[str], demo_db: str,
                         tmp_path: Path) -> None:
        """The JSON report gives each organization's outcome."""
        code, out, _ = run(capsys, "verify", "--db", _tamper(demo_db, tmp_path), "--org", "acme",
                           "--format", "json")
        assert code == 1
        report = json.loads(out)
        assert report == [{"org_id": "acme", "ok": False, "checked": 16, "problem": "modified",
                           "seq": 17, "detail": report[0]["detail"]}]

    def test_hmac_key_from_the_environment(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """--key-env verifies an HMAC chain; without the right key it fails."""
        db = _small_db(tmp_path / "keyed.db", integrity_key="s3cret")
        monkeypatch.setenv("AL_KEY", "s3cret")
        assert run(capsys, "verify", "--db", str(db), "--key-env", "AL_KEY")[0] == 0
        monkeypatch.setenv("AL_KEY", "wrong")
        code, out, _ = run(capsys, "verify", "--db", str(db), "--key-env", "AL_KEY")
        assert code == 1
        assert "BAD HASH at entry #1" in out
        assert run(capsys, "verify", "--db", str(db))[0] == 1
        monkeypatch.delenv("AL_KEY")
        code, _, err = run(capsys, "verify", "--db", str(db), "--key-env", "AL_KEY")
        assert code == 2
        assert "AL_KEY is not set" in err

    def test_empty_database(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """A database with no entries has nothing to verify."""
        db = tmp_path / "empty.db"
        ActivityLog.open(f"sqlite:///{db}").close()
        code, out, _ = run(capsys, "verify", "--db", str(db))
        assert code == 0
        assert "nothing to verify" in out


class TestStats:
    def test_json_counts(self, capsys: pytest.CaptureFixture[str], demo_db: str,
                         demo_log: ActivityLog) -> None:
        """Per-category and per-day counts cover whole weeks up to today."""
        code, out, _ = run(capsys, "stats", "--db", demo_db, "--org", ORG, "--weeks", "3",
                           "--tz", "UTC", "--format", "json")
        assert code == 0
        data = json.loads(out)
        since = datetime.fromisoformat(data["since"]).replace(tzinfo=timezone.utc)
        assert since.weekday() == 0
        entries = list(demo_log.query(ORG, viewer=OWNER).between(since, None))
        assert data["total"] == len(entries)
        assert sum(data["days"].values()) == len(entries)
        assert sum(data["categories"].values()) == len(entries)
        days = list(data["days"])
        assert 14 < len(days) <= 21
        assert days[-1] == data["until"]
        assert data["days"][days[0]] == sum(
            1 for e in entries if e.occurred_at.date().isoformat() == days[0]
        )

    def test_chart(self, capsys: pytest.CaptureFixture[str], demo_db: str) -> None:
        """The chart draws category bars and a week-by-day grid with block characters."""
        code, out, _ = run(capsys, "stats", "--db", demo_db, "--org", ORG,
                           "--week-start", "sunday", "--tz", "UTC")
        assert code == 0
        assert "By category" in out and "By day" in out
        assert re.search(r"^  Leads +[\d,]+  █+", out, re.MULTILINE)
        assert re.search(r"week of +Sun Mon Tue Wed Thu Fri Sat +total", out)
        assert len(re.findall(r"^  \d{4}-\d\d-\d\d ", out, re.MULTILINE)) == 4
        assert "Busiest day:" in out

    def test_weeks_must_be_positive(self, capsys: pytest.CaptureFixture[str],
                                    demo_db: str) -> None:
        """--weeks 0 is a usage error."""
        code, _, err = run(capsys, "stats", "--db", demo_db, "--org", ORG, "--weeks", "0")
        assert code == 2
        assert "--weeks" in err


class TestTerminal:
    def test_piped_output_has_no_color(self, demo_db: str) -> None:
        """Output to a pipe carries no ANSI codes and no progress indicator."""
        proc = run_process("list", "--db", demo_db, "--org", ORG)
        assert proc.returncode == 0
        assert not ANSI.search(proc.stdout)
        assert proc.stderr == ""

    def test_terminal_output_is_colored_by_kind(self, demo_db: str) -> None:
        """On a terminal, labels are green for creations, gray for updates, red for deletions."""
        code, shown, _ = run_in_terminal("list", "--db", demo_db, "--org", ORG,
                                         "--search", "lead", "--limit", "200",
                                         env={"COLUMNS": "200"})
        assert code == 0
        assert "\x1b[32mLead Created" in shown
        assert "\x1b[90mLead Status Changed" in shown
        assert "\x1b[31mLead Deleted" in shown

    def test_no_color_turns_color_off_on_a_terminal(self, demo_db: str) -> None:
        """NO_COLOR wins over a terminal."""
        code, shown, _ = run_in_terminal("list", "--db", demo_db, "--org", ORG,
                                         env={"NO_COLOR": "1"})
        assert code == 0
        assert "Lead" in shown or "Task" in shown
        assert not ANSI.search(shown)

    def test_color_option(self, capsys: pytest.CaptureFixture[str], demo_db: str) -> None:
        """--color always colors even a pipe; --color never never colors."""
        code, out, _ = run(capsys, "categories", "--db", demo_db, "--org", ORG,
                           "--color", "always")
        assert code == 0 and ANSI.search(out)
        code, out, _ = run(capsys, "verify", "--db", demo_db, "--color", "never")
        assert code == 0 and not ANSI.search(out)

    def test_progress_only_on_a_terminal(self, demo_db: str, tmp_path: Path) -> None:
        """Long exports show progress on a terminal's stderr, and never in a pipe."""
        target = tmp_path / "x.jsonl"
        code, shown, _ = run_in_terminal("export", "--db", demo_db, "--org", ORG, "--format",
                                         "jsonl", "--output", str(target), stdout_tty=False)
        assert code == 0
        assert "Exporting" in shown and "\r" in shown
        proc = run_process("export", "--db", demo_db, "--org", ORG, "--format", "jsonl",
                           "--output", str(target))
        assert proc.returncode == 0
        assert "Exporting" not in proc.stderr
        assert proc.stderr.startswith("Exported ")

    def test_verify_and_demo_show_progress_on_a_terminal(self, demo_db: str,
                                                         tmp_path: Path) -> None:
        """verify and demo report progress on a terminal's stderr, and erase it when done."""
        code, shown, piped = run_in_terminal("verify", "--db", demo_db, stdout_tty=False)
        assert code == 0
        assert "Verifying" in shown and shown.endswith("\r\x1b[K")
        assert "Verifying" not in piped and "intact" in piped
        code, shown, piped = run_in_terminal("demo", "--db", str(tmp_path / "d.db"),
                                             stdout_tty=False)
        assert code == 0
        assert "Simulating day" in shown and "/90" in shown
        assert piped.startswith("Created ")

    def test_a_closed_pipe_ends_quietly(self, demo_db: str) -> None:
        """`activitylog export ... | head -1` stops without a traceback."""
        with subprocess.Popen(
            [sys.executable, "-m", "activitylog", "export", "--db", demo_db, "--org", ORG,
             "--format", "jsonl"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
        ) as proc:
            assert proc.stdout is not None and proc.stderr is not None
            first = proc.stdout.readline()
            proc.stdout.close()
            err = proc.stderr.read().decode()
            proc.wait(timeout=60)
        assert json.loads(first)["seq"] == 1
        assert "Traceback" not in err
        assert err == ""

    def test_wide_table_wraps_the_description_to_the_terminal(self) -> None:
        """On a narrow terminal, long descriptions wrap within their column; nothing is cut."""
        style = terminal.Style(False)
        rows = [[("Lead Created", "green"), ("Ada", None), ("word " * 40, None), ("now", None)]]
        lines = tables.table(records.ENTRY_HEADERS, rows, style, width=60, flex=2)
        assert all(text.text_width(line) <= 60 for line in lines)
        assert sum(line.count("word") for line in lines) == 40
        assert text.text_width("日本") == 4


class TestReference:
    def test_every_command_and_option_is_documented(self) -> None:
        """docs/cli.md has a section per command naming each of its options."""
        import argparse

        doc = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text("utf-8")
        parser = cli.build_parser()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        assert list(sub.choices) == app.COMMANDS
        for name, command in sub.choices.items():
            section = doc.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
            options = {o for a in command._actions for o in a.option_strings
                       if o.startswith("--") and o != "--help"}
            shared = {"--color"}  # documented once, under "Output, color and errors"
            missing = [o for o in sorted(options - shared) if o not in section
                       and not (name == "export" and o in doc.split("\n## list\n")[1])]
            assert missing == [], name
            assert "```" in section, f"{name} has no example"
        assert "--color always" in doc and "NO_COLOR" in doc
