"""Exports are byte-for-byte stable: a fixed log, hostile text included, exports to the files
kept in ``tests/golden/`` (made by the exporter before its fast paths existed).

Regenerate the files only when the export format itself is meant to change:
``python tests/test_export_golden.py`` rewrites them.
"""

from __future__ import annotations

import contextlib
import io
import sqlite3
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import pytest

from activitylog import (
    ActivityLog,
    Actor,
    ActorKind,
    ApiKeyRef,
    Entry,
    Kind,
    Role,
    Source,
    Target,
    Viewer,
    cli,
    ids,
)
from activitylog.cli import export as cli_export
from activitylog.cli import records
from activitylog.cli.outfile import GuardedStream
from activitylog.cli.terminal import Progress
from activitylog.stores._sql import rows
from activitylog.stores.sqlite import SQLiteStore
from activitylog.viewer import export as viewer_export

GOLDEN = Path(__file__).parent / "golden"
ORG = "golden"
#: Text that must stay inert wherever it lands: formula prefixes, control and bidi characters,
#: CSV and JSON syntax, non-BMP characters, line and paragraph separators.
HOSTILE = [
    "=HYPERLINK(\"http://x\",\"y\")", "+1 555 0100", "-SUM(A1:A9)", "@cmd", "\tTabbed",
    "\rCarriage", "Zoë \u202eevil\u202c 日本 🎉", "quote \" and, comma", "line\nbreak\r\nend",
    "\x1b[31mred\x1b[0m\x07", "sep\u2028para\u2029end", "'already quoted", " leading space",
    "back\\slash", "\x7fdel\x85nel", "\u200bzero-width", "ﷺ\ufeff bom",
]  # fmt: skip
START = datetime(2025, 3, 30, 0, 59, 59, 999_999, tzinfo=timezone.utc)


def _text(i: int) -> str:
    return HOSTILE[i % len(HOSTILE)]


def entries() -> list[Entry]:
    """The fixed log: every optional field present and absent, odd JSON values."""
    made = []
    for i in range(60):
        hostile = _text(i)
        metadata: dict[str, Any] = {}
        if i % 3 == 0:
            metadata = {"n": [1, 2.5, None, True, False], hostile: {"nested": [hostile, {}]},
                        "big": 2**70, "neg": -0.0, "tiny": 5e-324, "huge": 1.7976931348623157e308,
                        "": ""}  # fmt: skip
        elif i % 3 == 1:
            metadata = {"ip": "203.0.113.7", "=x": "-y", "ünï": "🎉"}
        changes: dict[str, tuple[Any, Any]] | None = None
        if i % 4 == 1:
            changes = {"status": ("Pending", hostile), "amount": (10, 12.75), "gone": (None, [])}
        elif i % 4 == 2:
            changes = {hostile: ({"a": 1}, None)}
        made.append(
            Entry(
                id=ids.encode(ids.to_micros(START + timedelta(seconds=i * 7919)) * 1000 + i),
                org_id=ORG,
                action=["lead.created", "=lead.deleted", "task.status_changed"][i % 3],
                label=[hostile, "Lead created", "-Deleted"][i % 3],
                category=["Leads", "@Tasks", hostile][i % 3],
                kind=list(Kind)[i % 3],
                actor=Actor(
                    f"u{i % 5}" if i % 7 else hostile,
                    hostile if i % 2 else f"User {i % 5}",
                    None if i % 4 else f"https://x.test/{i}.png?a=1&b={hostile}",
                    list(ActorKind)[i % 2],
                ),
                description=f"{hostile} did {i}" if i % 2 else hostile,
                occurred_at=START + timedelta(seconds=i * 7919, microseconds=i * 37),
                source=list(Source)[i % 3],
                api_key=ApiKeyRef(f"k{i}", hostile) if i % 3 == 1 else None,
                target=None
                if i % 5 == 4
                else Target(hostile if i % 2 else "lead", str(i), None if i % 5 == 3 else hostile),
                changes=changes,
                metadata=metadata,
                idempotency_key=None if i % 6 else f"{hostile}-{i}",
            )
        )
    return made


def export(db: Path, fmt: str, *extra: str) -> bytes:
    """What ``activitylog export`` writes for the golden organization."""
    out = db.parent / f"out.{fmt}"
    with contextlib.redirect_stderr(io.StringIO()):
        code = cli.main(["export", "--db", str(db), "--org", ORG, "--format", fmt,
                         "--output", str(out), *extra])  # fmt: skip
    assert code == 0
    return out.read_bytes()


def build(path: Path) -> ActivityLog:
    """The fixed log in a SQLite file at ``path``."""
    log = ActivityLog.open(f"sqlite:///{path}")
    log.store.append(entries(), log.chain)
    return log


@pytest.fixture
def golden_db(tmp_path: Path) -> Path:
    """A SQLite file holding the fixed log."""
    path = tmp_path / "golden.db"
    build(path).close()
    return path


class TestExportGolden:
    @pytest.mark.parametrize("fmt", ["csv", "jsonl"])
    def test_export_matches_golden_file(self, golden_db: Path, fmt: str) -> None:
        """The command line's export of the fixed log is byte-identical to the golden file."""
        assert export(golden_db, fmt) == (GOLDEN / f"export.{fmt}").read_bytes()

    @pytest.mark.parametrize("fmt", ["csv", "jsonl"])
    def test_descending_export_is_the_golden_file_reversed(self, golden_db: Path, fmt: str) -> None:
        """--desc writes the same lines, newest first."""
        golden = (GOLDEN / f"export.{fmt}").read_bytes()
        got = export(golden_db, fmt, "--desc")
        if fmt == "csv":
            # Records, not lines: hostile cells hold quoted line breaks.
            import csv

            def records(data: bytes) -> list[list[str]]:
                text = data.decode("utf-8-sig")
                return list(csv.reader(io.StringIO(text, newline="")))

            want = records(golden)
            assert records(got) == [want[0], *reversed(want[1:])]
        else:
            assert got.splitlines(keepends=True) == list(reversed(golden.splitlines(keepends=True)))

    def test_viewer_export_button_writes_the_same_csv(self, golden_db: Path) -> None:
        """The Activity Log page's export button streams the same bytes as the command line."""
        log = ActivityLog.open(f"sqlite:///{golden_db}")
        try:
            query = log.query(ORG, viewer=Viewer("v", ORG, Role.OWNER)).sort("date", False)
            got = b"".join(viewer_export.rows(query))
        finally:
            log.close()
        assert got == (GOLDEN / "export.csv").read_bytes()

    @pytest.mark.parametrize("fmt", ["csv", "jsonl"])
    def test_entries_of_any_store_export_the_same(self, fmt: str) -> None:
        """The same log in the memory store (written from its entries, not from stored rows)
        exports the same text."""
        log = ActivityLog()
        log.store.append(entries(), log.chain)
        query = log.query(ORG, viewer=Viewer("v", ORG, Role.OWNER)).sort("date", False)
        buffer = io.StringIO()
        progress = Progress("x", stream=io.StringIO())
        assert cli_export.write_export(query, fmt, GuardedStream(buffer, "x"), progress) == 60
        golden = (GOLDEN / f"export.{fmt}").read_bytes().decode("utf-8")
        assert buffer.getvalue() == golden.removeprefix("\ufeff")

    def test_cells_stay_inert(self) -> None:
        """No CSV cell of the golden file starts with a formula character."""
        import csv

        text = (GOLDEN / "export.csv").read_bytes().decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert len(rows) == 61
        for row in rows[1:]:
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def main() -> None:
    """Rewrite the golden files from the current exporter."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "golden.db"
        build(db).close()
        GOLDEN.mkdir(exist_ok=True)
        for fmt in ("csv", "jsonl"):
            (GOLDEN / f"export.{fmt}").write_bytes(export(db, fmt))


if __name__ == "__main__":
    sys.exit(main())


def stored_rows(db: Path) -> list[tuple[Any, ...]]:
    """The fixed log's stored rows, as the SQLite store reads them."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            f"SELECT {rows.columns()} FROM activitylog_entries e ORDER BY e.id"
        ).fetchall()
    finally:
        conn.close()


#: Values a tampered row may hold in any column.
ODD = [None, "", " ", "\u3000", "x\x00y", "=x", "-1", 5, -1, 2**70, 1.5, b"raw", "{", "[1]",
       "null", '{"a":[1]}', '{"a":"ab"}', '{"a":[1,2,3]}', '{"a":{"b":1}}', '{"x":1,"x":2}',
       '{ "a" : [1, 2] }', '{"a":[1,2]}', "create", "api", "user"]  # fmt: skip


def outcome(make: Callable[[], Any]) -> Any:
    """What ``make`` returns, or the type of what it raises."""
    try:
        return make()
    except Exception as exc:  # noqa: BLE001 - the exception's type is the outcome compared
        return type(exc)


class TestStoredRows:
    def test_cells_and_records_are_those_of_the_decoded_entries(self, golden_db: Path) -> None:
        """CSV cells and JSON lines made straight from stored rows equal those made from the
        entries the rows decode to, for every row of the fixed log."""
        stored = stored_rows(golden_db)
        assert records.stored_csv_rows(stored, ORG, True) == [
            records.csv_row(rows.decode(row, ORG)) for row in stored
        ]
        assert records.stored_jsonl(stored, ORG, True) == [
            records.jsonl_json(records.entry_record(rows.decode(row, ORG))) + "\n" for row in stored
        ]

    @pytest.mark.parametrize("column", range(len(rows.FIELDS)))
    def test_tampered_rows_export_as_their_entries_do(self, golden_db: Path, column: int) -> None:
        """A row with any column tampered with exports exactly as the entry it decodes to
        (or fails the same way), read as usual or leniently."""
        stored = stored_rows(golden_db)
        for base in (stored[1], stored[2], stored[4]):
            for value in ODD:
                row = (*base[:column], value, *base[column + 1 :])
                for plain in (True, False):
                    assert outcome(partial(records.stored_csv_rows, [row], ORG, plain)) == (
                        outcome(partial(entry_cells, row, plain))
                    ), (rows.FIELDS[column], value, plain)
                    assert outcome(partial(records.stored_jsonl, [row], ORG, plain)) == (
                        outcome(partial(entry_line, row, plain))
                    ), (rows.FIELDS[column], value, plain)


def entry_cells(row: tuple[Any, ...], plain: bool) -> list[list[str]]:
    """The CSV row of the entry a stored row decodes to."""
    return [records.csv_row((rows.decode if plain else rows.decode_checked)(row, ORG))]


def entry_line(row: tuple[Any, ...], plain: bool) -> list[str]:
    """The JSON line of the entry a stored row decodes to."""
    entry = (rows.decode if plain else rows.decode_checked)(row, ORG)
    return [records.jsonl_json(records.entry_record(entry)) + "\n"]


class TestStreaming:
    def test_export_reads_bounded_pages(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A SQLite export reads its rows a bounded page at a time, never the whole log."""
        db = tmp_path / "big.db"
        log = ActivityLog.open(f"sqlite:///{db}")
        base = entries()[1]
        log.store.append(
            [attrs.evolve(base, id=ids.encode(int(base.id, 16) + 1000 * i)) for i in range(2500)],
            log.chain,
        )
        log.close()
        limits: list[int] = []
        original = SQLiteStore.page_rows

        def spy(store: SQLiteStore, spec: Any) -> Any:
            limits.append(spec.limit)
            return original(store, spec)

        monkeypatch.setattr(SQLiteStore, "page_rows", spy)
        out = export(db, "jsonl")
        assert len(out.splitlines()) == 2500
        assert len(limits) == 3
        assert max(limits) <= 1000
