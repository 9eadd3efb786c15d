"""Exports are byte-for-byte stable: a fixed log, hostile text included, exports to the files
kept in ``tests/golden/`` (made by the exporter before its fast paths existed).

Regenerate the files only when the export format itself is meant to change:
``python tests/test_export_golden.py`` rewrites them.
"""

from __future__ import annotations

import contextlib
import io
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

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
