"""Stored text on the command line: inert in every human-readable output, exact in data formats,
and measured by the columns a terminal gives it."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitylog import ActivityLog, Actor, ApiKeyRef, Target
from activitylog.cli import records, tables, terminal, text
from test_cli import run_in_terminal, run_process

HOSTILE_NAME = "Eve\x1b]0;pwned\x07\x1b[2K\r\nFAKE ROW  x\u202eevil\x9b31m\x7f"
HOSTILE_LABEL = "Deal\x1b[31m\tRed\u2028Next\u2066"
#: What a terminal could act on: ESC, BEL, CR, LF, TAB, DEL, C1, line separators, bidi controls.
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
OUR_COLORS = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database whose actor name, target label and API key name hold control sequences."""
    path = tmp_path_factory.mktemp("hostile") / "h.db"
    log = ActivityLog.open(f"sqlite:///{path}")
    actor = Actor("u-eve", HOSTILE_NAME)
    log.record("lead.created", org_id="acme", actor=actor, target=Target("lead", "1", HOSTILE_LABEL))
    log.record("lead.deleted", org_id="acme", actor=Actor("u-ada", "Ada"),
               target=Target("lead", "2", "=cmd|' /C calc'!A0"))
    log.record("client.created", org_id="acme", actor=actor, source="api",
               api_key=ApiKeyRef("k1", "key\x1b[8m"), target=Target("client", "3", "日本語 Ünïcödé 👨‍👩‍👧"))
    log.close()
    return str(path)


def assert_inert(output: str) -> None:
    """No control character of the stored text reached the output raw."""
    assert not RAW_CONTROLS.search(OUR_COLORS.sub("", output).replace("\n", "").replace("\r", ""))
    assert "\x1b]" not in output and "\x1b[2K" not in output and "\x1b[8m" not in output


class TestEscape:
    @pytest.mark.parametrize(
        ("raw", "shown"),
        [
            ("a\x1b[2Kb", "a\\x1b[2Kb"),
            ("t\x1b]0;title\x07", "t\\x1b]0;title\\x07"),
            ("line\r\nnext\ttab", "line\\r\\nnext\\ttab"),
            ("c1\x9b\x85", "c1\\x9b\\x85"),
            ("del\x7f", "del\\x7f"),
            ("bidi\u202eoverride\u2066isolate\u200f", "bidi\\u202eoverride\\u2066isolate\\u200f"),
            ("sep\u2028para\u2029", "sep\\u2028para\\u2029"),
            ("Müller 日本 👨\u200d👩\u200d👧 e\u0301", "Müller 日本 👨\u200d👩\u200d👧 e\u0301"),
        ],
    )
    def test_controls_become_visible_notation(self, raw: str, shown: str) -> None:
        """Each kind of control character is shown as an escape; ordinary text is unchanged."""
        assert text.escape(raw) == shown

    @given(st.text())
    def test_escaped_text_is_inert_and_one_line(self, raw: str) -> None:
        """Whatever the text, its escaped form holds no control character at all."""
        shown = text.escape(raw)
        assert not RAW_CONTROLS.search(shown)
        assert "\n" not in shown and "\r" not in shown


class TestWidth:
    @pytest.mark.parametrize(
        ("value", "columns"),
        [
            ("abc", 3),
            ("日本", 4),  # wide
            ("e\u0301", 1),  # e + combining acute
            ("\u1100\u1161\u11a8", 2),  # a Hangul syllable from jamo
            ("👍", 2),
            ("👍🏽", 2),  # with a skin tone modifier
            ("👨\u200d👩\u200d👧", 2),  # a ZWJ family
            ("🇫🇷", 2),  # a flag: two regional indicators
            ("❤\ufe0f", 2),  # emoji presentation selector
            ("a\u200bb", 2),  # zero width space
        ],
    )
    def test_columns_of_clusters(self, value: str, columns: int) -> None:
        """Wide characters and emoji take two columns; marks and joiners none."""
        assert text.text_width(value) == columns

    def test_truncate_never_splits_a_cluster(self) -> None:
        """Cutting stops before a cluster that does not fit, whole."""
        assert text.truncate("👨\u200d👩\u200d👧👨\u200d👩\u200d👧abc", 4) == "👨\u200d👩\u200d👧…"
        assert text.truncate("e\u0301e\u0301e\u0301e\u0301", 3) == "e\u0301e\u0301…"

    @given(st.lists(st.sampled_from(["a", "日", " ", "e\u0301", "👍🏽", "word "]),
                    max_size=60).map("".join),
           st.integers(min_value=2, max_value=30))
    def test_wrapped_lines_fit_and_keep_every_cluster(self, value: str, width: int) -> None:
        """Wrapping keeps every non-space character, in order, in lines no wider than asked
        (a single cluster wider than the line is the only exception)."""
        lines = text.wrap(value, width)
        assert all(text.text_width(line) <= width for line in lines)
        assert "".join(lines).replace(" ", "") == value.replace(" ", "")


class TestTables:
    def test_columns_line_up_with_wide_and_combining_text(self) -> None:
        """The last column starts at the same terminal column on every line."""
        style = terminal.Style(False)
        rows = [
            [("Lead Created", None), ("日本語の名前", None), ("x", None), ("now", None)],
            [("Lead Created", None), ("Zoe\u0308", None), ("x", None), ("now", None)],
            [("Lead Created", None), ("👨\u200d👩\u200d👧 fam", None), ("x", None), ("now", None)],
        ]
        lines = tables.table(records.ENTRY_HEADERS, rows, style)
        starts = {text.text_width(line[: line.rindex("now" if "now" in line else "DATE")])
                  for line in lines}
        assert len(starts) == 1

    @pytest.mark.parametrize("width", [72, 80, 100, 120])
    def test_description_gives_way_last(self, width: int) -> None:
        """The other columns narrow before the description does; lines fit the terminal."""
        style = terminal.Style(False)
        rows = [[("Subscription Plan Changed", None), ("Samir Nagheenanajar · API", None),
                 ("a description of moderate length " * 3, None), ("3 minutes ago", None)]]
        natural = tables.table(records.ENTRY_HEADERS, rows, style)[0]
        lines = tables.table(records.ENTRY_HEADERS, rows, style, width=width, flex=2,
                             fixed=(3,))
        assert all(text.text_width(line) <= width for line in lines)
        header = lines[0]
        description = header.index("DATE") - header.index("DESCRIPTION")
        natural_description = natural.index("DATE") - natural.index("DESCRIPTION")
        if description < natural_description:  # the description narrowed: the others first
            assert header.index("USER") - header.index("ACTION") <= len("Subscription") + 2
            assert header.index("DESCRIPTION") - header.index("USER") <= len("Nagheenanajar") + 2
        assert "3 minutes ago" in "\n".join(lines)  # the date is never cut


class TestHostileText:
    @pytest.mark.parametrize(
        "argv",
        [
            ("list", "--org", "acme"),
            ("list", "--org", "acme", "--search", "Eve"),
            ("categories", "--org", "acme"),
            ("stats", "--org", "acme"),
            ("verify",),
        ],
    )
    def test_human_output_is_inert_in_a_pipe(self, hostile_db: str,
                                              argv: tuple[str, ...]) -> None:
        """Tables and charts show control characters escaped, one row per entry."""
        proc = run_process(*argv, "--db", hostile_db)
        assert proc.returncode == 0, proc.stderr
        assert_inert(proc.stdout)
        if argv[0] == "list":
            rows = [line for line in proc.stdout.split("\n")
                    if line.startswith(("Lead ", "Client "))]
            assert len(rows) == (2 if "--search" in argv else 3)
            assert "FAKE ROW" not in "".join(line for line in proc.stdout.splitlines()
                                             if line.startswith("FAKE"))
            assert "Eve\\x1b]0;pwned\\x07\\x1b[2K\\r\\nFAKE ROW" in proc.stdout

    def test_terminal_output_is_inert(self, hostile_db: str) -> None:
        """On a terminal (colored, wrapped to its width) the stored text stays inert too."""
        code, shown, _ = run_in_terminal("list", "--db", hostile_db, "--org", "acme",
                                         env={"COLUMNS": "80"})
        assert code == 0
        assert_inert(shown)

    def test_error_messages_are_inert(self, hostile_db: str) -> None:
        """An argument echoed in an error message cannot drive the terminal either."""
        proc = run_process("list", "--db", hostile_db, "--org", "x\x1b]0;t\x07\u202e")
        assert proc.returncode == 2
        assert proc.stderr.count("\n") == 1
        assert_inert(proc.stderr)

    def test_data_formats_stay_exact(self, hostile_db: str, tmp_path: Path) -> None:
        """JSON, JSON Lines and CSV carry the stored text exactly (CSV's formula guard aside)."""
        proc = run_process("list", "--db", hostile_db, "--org", "acme", "--format", "json")
        names = {e["actor"]["name"] for e in json.loads(proc.stdout)["entries"]}
        assert HOSTILE_NAME in names
        proc = run_process("export", "--db", hostile_db, "--org", "acme", "--format", "jsonl")
        # split on newlines only: U+2028 inside a JSON string is valid JSON, and kept exact
        lines = [json.loads(line) for line in proc.stdout.split("\n") if line]
        assert lines[0]["actor"]["name"] == HOSTILE_NAME
        assert lines[0]["target"]["label"] == HOSTILE_LABEL
        target = tmp_path / "x.csv"
        proc = run_process("export", "--db", hostile_db, "--org", "acme", "--format", "csv",
                           "--output", str(target))
        assert proc.returncode == 0, proc.stderr
        rows = list(csv.DictReader(io.StringIO(target.read_bytes().decode("utf-8-sig"),
                                               newline="")))
        assert rows[0]["actor_name"] == HOSTILE_NAME
        assert rows[0]["target_label"] == HOSTILE_LABEL
        assert rows[1]["target_label"] == "'=cmd|' /C calc'!A0"


class TestCharts:
    @pytest.mark.parametrize("columns", [50, 80])
    def test_category_bars_fit_the_terminal(self, hostile_db: str, columns: int) -> None:
        """`stats` draws its category bars within the terminal's width."""
        code, shown, _ = run_in_terminal("stats", "--db", hostile_db, "--org", "acme",
                                         env={"COLUMNS": str(columns), "NO_COLOR": "1"})
        assert code == 0
        chart = shown.split("By category", 1)[1].split("By day", 1)[0]
        bars = [line for line in chart.replace("\r", "").split("\n") if "█" in line]
        assert bars
        assert all(text.text_width(line) <= columns for line in bars)
