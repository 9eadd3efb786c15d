"""The write path's shortcuts: each gives exactly what the general path gives."""

from __future__ import annotations

import random
import sqlite3
import unicodedata
from pathlib import Path

import attrs
import pytest

from activitylog import ActivityLog, Actor, ids, search
from activitylog.stores.sqlite import SQLiteStore
from activitylog.stores.sqlite import write as sqlite_write

ADA = Actor("u1", "Ada Lovelace")


def _fold(text: str) -> str:
    """The documented search folding, step by step, with no shortcut."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    bare = "".join(c for c in folded if unicodedata.combining(c) == 0)
    return "".join(search.FOLDED_LETTERS.get(c, c) for c in bare)


class TestNormalizeShortcut:
    """Text of ASCII and characters no folding step changes is folded by ``str.lower``."""

    def test_every_character_the_shortcut_takes_is_unchanged_by_folding(self) -> None:
        """Each non-ASCII character outside the shortcut's class folds to itself."""
        unchanged = search._unchanged()
        taken = [chr(c) for c in range(0x80, 0x110000)
                 if not 0xD800 <= c < 0xE000 and unchanged.search(chr(c)) is None]  # fmt: skip
        assert "\u201c" in taken and "\u2014" in taken  # curly quotes and dashes take it
        assert "é" not in taken and "…" not in taken and "ı" not in taken and "Σ" not in taken
        assert [c for c in taken if _fold(c) != c] == []

    def test_mixed_text_folds_as_documented(self) -> None:
        """Random text of ASCII and unchanged characters folds to its lower case, as the
        documented steps fold it."""
        unchanged = search._unchanged()
        alphabet = [chr(c) for c in range(0x20, 0x7F)] + [
            chr(c) for c in range(0x80, 0x3000) if unchanged.search(chr(c)) is None
        ]
        rng = random.Random(15)
        for _ in range(3000):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40)))
            assert search.normalize(text) == _fold(text) == text.lower()

    def test_text_with_a_changed_character_takes_the_general_path(self) -> None:
        """One character the shortcut does not take sends the text through every step."""
        assert search.normalize("“Ünïcode” — ΣΑΣ …") == _fold("“Ünïcode” — ΣΑΣ …")
        assert search.normalize("Straße ﬁ İ") == "strasse fi i"


class TestIdLookups:
    """A batch's ids are looked up ("is it taken") only when they are not above every stored id."""

    @pytest.fixture()
    def statements(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """The SQL the append path runs, as SQLite traces it."""
        seen: list[str] = []
        original = sqlite_write.plain_cursor

        def traced(conn: sqlite3.Connection) -> sqlite3.Cursor:
            conn.set_trace_callback(seen.append)
            return original(conn)

        monkeypatch.setattr(sqlite_write, "plain_cursor", traced)
        return seen

    def test_new_ids_need_no_lookup_and_stored_ones_move_up(
        self, tmp_path: Path, statements: list[str]
    ) -> None:
        """Batches newer than every stored entry run no id lookup; a batch holding stored ids
        looks them up and moves each up to a free id within its millisecond."""
        calls = [{"action": "lead.created", "org_id": "acme", "actor": ADA}] * 30
        with SQLiteStore(tmp_path / "log.db") as store:
            log = ActivityLog(store)
            first = log.record_many(calls)
            log.record("lead.created", org_id="acme", actor=ADA)
            log.record_many(calls)
            assert not [s for s in statements if "WHERE id IN (" in s or "WHERE id = " in s]
            again = [attrs.evolve(entry, seq=None, prev_hash=None, hash=None) for entry in first]
            stored = store.append(again[:3], log.chain)
            assert [s for s in statements if "WHERE id IN (" in s]
        for old, new in zip(first[:3], stored, strict=True):
            moved = int(new.id, 16)
            assert moved > int(old.id, 16)
            assert moved // ids.IDS_PER_MS == int(old.id, 16) // ids.IDS_PER_MS
        assert len({e.id for e in stored} | {e.id for e in first}) == 33
