"""The fast paths of verification give exactly what the plain paths give.

Verification reads SQL rows into canonical texts without building entries or value tuples
(``stores._sql.chain``), keeps already-canonical JSON as stored, formats timestamps from a
per-hour prefix, hashes with one encoding and reads ahead through a generator. Each is checked
here against the path it replaces, on random entries and on rows edited to odd values.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activitylog import ActivityLog, HashChain, integrity
from activitylog.canonical import _canonical_text, _encode_json, _micros_timestamp
from activitylog.integrity import _Lookahead
from activitylog.models import Actor, ApiKeyRef, Entry, Kind, Source, Target
from activitylog.stores._sql import chain as sql_chain
from activitylog.stores._sql import rows as sql_rows
from activitylog.stores.base import GENESIS
from strategies import json_values, record_args

ORG = "org “north”"


def built(args: dict[str, Any]) -> Entry:
    """The entry ``record()`` would store for these arguments."""
    fields = dict(args)
    return ActivityLog().build(fields.pop("action"), **fields)


def row_of(entry: Entry, seq: int = 1, prev_hash: str = GENESIS, hash_: str = "0" * 64) -> tuple:
    """The entry as an SQL store reads it back (the :mod:`.rows` format)."""
    id_, values, _ = sql_rows.encode(entry)
    return (id_, seq, *values, prev_hash, hash_)


def old_text(row: tuple, org_id: str) -> str | None:
    """What verification hashed before the fast path: ``fields_text`` of :func:`record`'s plain
    values, ``None`` when it handed over the entry instead, ``"unencodable"`` when it raised."""
    content = sql_chain.record(row, org_id)[3]
    if type(content) is not tuple:
        return None
    try:
        return integrity.fields_text(content)
    except (TypeError, ValueError, AttributeError, OverflowError):
        return "unencodable"


#: The entry of the pinned hashes below: every optional part, text needing escapes, non-ASCII,
#: changes and metadata whose keys are out of order.
PINNED = Entry(
    id="309c0c6948548006",
    org_id=ORG,
    action="deal.updated",
    label="Deal Updated",
    category="Deals",
    kind=Kind.UPDATE,
    actor=Actor("u7", "Zoë Ünïcödé", "https://a.example/z.png"),
    description='Zoë moved deal "Ω" — stage\tfrom 1 to 2…',
    occurred_at=datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=timezone.utc),
    source=Source.API,
    api_key=ApiKeyRef("k1", "CI key"),
    target=Target("deal", "42", "Deal “Ω”"),
    changes={"stage": (1, 2), "amount": (None, 2.5)},
    metadata={"z": [1, {"b": True, "a": None}], "a": "ß"},
    idempotency_key="op-1",
)
#: Links of PINNED after GENESIS, computed before verification's fast paths existed: files
#: written since must keep verifying.
PINNED_SHA256 = "e3c54149160a29a02321fdde0923cb6aa40113c9310e7610c485bc8888fbefd2"
PINNED_HMAC = "6fb0efb3b869b36c39697002dbbb3ef30cd11c3b95790d6f746ca17058588cef"


class TestPinnedLinks:
    def test_link_is_unchanged(self) -> None:
        """HashChain.link produces the hashes it always produced, keyed and unkeyed."""
        assert HashChain().link(GENESIS, PINNED) == PINNED_SHA256
        assert HashChain(b"secret").link(GENESIS, PINNED) == PINNED_HMAC

    def test_row_path_hashes_the_same(self) -> None:
        """The text verification builds from the stored row hashes to the pinned links."""
        text = sql_chain._Texts(ORG)(row_of(PINNED))
        assert text == _canonical_text(PINNED)
        assert HashChain().ascii_digest()(GENESIS, text) == PINNED_SHA256
        assert HashChain(b"secret").ascii_digest()(GENESIS, text) == PINNED_HMAC

    def test_sqlite_file_verifies(self, tmp_path: Path) -> None:
        """An entry stored in SQLite is hashed as pinned and verifies through chain_records."""
        log = ActivityLog.open(f"sqlite:///{tmp_path / 'pinned.db'}")
        stored = log.store.append([PINNED], log.chain)
        assert stored[0].hash == PINNED_SHA256
        record = next(iter(log.store.chain_records(ORG)))  # type: ignore[attr-defined]
        assert record == (1, GENESIS, PINNED_SHA256, _canonical_text(PINNED))
        report = log.verify(ORG)
        assert report.ok and report.checked == 1
        log.close()


#: Values no entry holds, put into one column of a row: verification must treat such a row
#: exactly as before (its plain values, or its entry).
HOSTILE: dict[str, list[Any]] = {
    "id": [-1, 2**63, "309c0c6948548006", 1.5],
    "text": ["", " ", "\u2003", "a\x00b", 5, 1.5, None, "ok"],
    "enum": ["bogus", "", None, 1],
    "occurred_at": [-1, 10**18, 1.5, "2024-01-01", None],
    "changes": [
        '{"a": [1, 2]}', '{"b":[1,2],"a":[3,4]}', '{"a":[1,2],"b":[3,4]}', '{"a":[1.0,2]}',
        '{"a":[-0,1]}', '{"a":[NaN,1]}', '{"a":[Infinity,1]}', '{"a":[1]}', "[1,2]", "null",
        "not json", '{"a":["\\u00e9",1]}', '{"a":[{"y":1,"x":2},1]}', '{"a":[1,2],"a":[3,4]}',
        '{"a":["x\\n",1]}', '{"a":[12345678901234567890,1]}', '{"é":["ß","😀"]}', "{}", 5,
    ],
    "metadata": [
        '{"b":1,"a":2}', "{ }", "[]", "null", '{"a":1e5}', '{"a":"x"}', '{"count":12}',
        '{"a":[1,2]}', '{"a":-0}', '{"a":NaN}', "not json", "", None, 3, '{"a":"\\"q\\""}',
    ],
}  # fmt: skip
#: Row columns by what may be put into them.
COLUMNS: dict[str, list[int]] = {
    "id": [0],
    "text": [2, 3, 4, 6, 7, 8, 10, 13, 14, 15, 16, 17, 20],
    "enum": [5, 9, 12],
    "occurred_at": [11],
    "changes": [18],
    "metadata": [19],
}


#: Edits to a row: column index and the value put there.
edits = st.lists(
    st.sampled_from(sorted(HOSTILE)).flatmap(
        lambda kind: st.tuples(st.sampled_from(COLUMNS[kind]), st.sampled_from(HOSTILE[kind]))
    ),
    min_size=1,
    max_size=3,
)


def edited(row: tuple, changes: list[tuple[int, Any]]) -> tuple:
    """``row`` with the given columns set to the given values."""
    values = list(row)
    for column, value in changes:
        values[column] = value
    return tuple(values)


class TestRowTexts:
    @settings(max_examples=200, deadline=None)
    @given(args=record_args(orgs=[ORG]))
    def test_text_of_a_stored_row_is_the_canonical_text(self, args: dict[str, Any]) -> None:
        """The text built straight from a stored row is canonical(entry), as text."""
        entry = built(args)
        assert sql_chain._Texts(ORG)(row_of(entry)) == _canonical_text(entry)

    @settings(max_examples=400, deadline=None)
    @given(args=record_args(orgs=[ORG]), changes=edits)
    def test_edited_rows_read_as_before(
        self, args: dict[str, Any], changes: list[tuple[int, Any]]
    ) -> None:
        """A row with odd values gets the text fields_text() gave for it, or none where record()
        handed over the entry (or its values could not be encoded, or reading it raised): then
        records() hands over exactly what record() does, or raises as it did."""
        row = edited(row_of(built(args)), changes)
        text = sql_chain._Texts(ORG)(row)
        try:
            before = old_text(row, ORG)
        except Exception as exc:  # noqa: BLE001 - what reading the row raised before is expected
            assert text is None
            with pytest.raises(type(exc)):
                list(sql_chain.records([([row], True)], ORG))
            return
        if text is None:
            assert before is None or before == "unencodable"
            (record,) = sql_chain.records([([row], True)], ORG)
            assert repr(record) == repr(sql_chain.record(row, ORG))
        else:
            assert text == before

    def test_caches_fill_and_clear(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With tiny caches, cleared over and over, every row still gets its own text."""
        monkeypatch.setattr(sql_chain, "_CACHE", 2)
        texts = sql_chain._Texts(ORG)
        entries = [
            built({"action": "lead.created", "org_id": ORG, "actor": Actor(f"u{i}", f"N{i}"),
                   "api_key": ApiKeyRef(f"k{i}", "key"), "source": Source.API,
                   "metadata": {"n": i, "more": [i]}, "changes": {"f": (i, None), "e": (1, 2)}})
            for i in range(12)
        ]  # fmt: skip
        for _ in range(2):
            for entry in entries:
                assert texts(row_of(entry)) == _canonical_text(entry)

    @settings(max_examples=300, deadline=None)
    @given(key=st.text(max_size=5), old=json_values(), new=json_values(), value=json_values())
    def test_json_kept_as_stored_is_canonical(
        self, key: str, old: Any, new: Any, value: Any
    ) -> None:
        """Stored changes or metadata kept as they are already are their canonical encoding."""
        for stored, pattern in (
            (sql_rows.json_text({key: [old, new]}), sql_chain._CANONICAL_CHANGE),
            (sql_rows.json_text({key: value}), sql_chain._CANONICAL_ONE_VALUE),
        ):
            if pattern.fullmatch(stored):
                assert _encode_json(json.loads(stored)) == stored

    def test_usual_json_is_kept_as_stored(self) -> None:
        """The usual one-field changes and one-value metadata take the shortcut."""
        assert sql_chain._CANONICAL_CHANGE.fullmatch('{"status":["new","won"]}')
        assert sql_chain._CANONICAL_CHANGE.fullmatch('{"hours":[2,-6]}')
        assert sql_chain._CANONICAL_ONE_VALUE.fullmatch('{"count":12}')
        assert not sql_chain._CANONICAL_CHANGE.fullmatch('{"a":[1.50,2]}')


class TestSearchTextCheck:
    def test_altered_search_text_is_reported_on_the_row(self) -> None:
        """A row read with a search text its fields do not give is handed over as Altered; the
        same row with its true search text as its canonical text."""
        id_, values, haystack = sql_rows.encode(PINNED)
        row = (id_, 1, *values, GENESIS, PINNED_SHA256)
        clean, edited = (
            next(sql_chain.records([([(*row, text)], True)], ORG, search_text=True))
            for text in (haystack, haystack + " hidden")
        )
        assert clean == (1, GENESIS, PINNED_SHA256, _canonical_text(PINNED))
        assert type(edited[3]) is integrity.Altered


class TestTimestamps:
    @settings(max_examples=300, deadline=None)
    @given(micros=st.integers(0, integrity._MAX_MICROS))
    def test_hour_prefixes_give_the_datetime_text(self, micros: int) -> None:
        """Formatting from the cached hour prefix gives the datetime's own text, cache warm or not."""
        moment = datetime.fromtimestamp(micros // 1_000_000, timezone.utc).replace(
            microsecond=micros % 1_000_000
        )
        assert _micros_timestamp(micros) == _micros_timestamp(micros) == integrity.timestamp(moment)

    @pytest.mark.parametrize("micros", [0, 3_599_999_999, 3_600_000_000, 951_868_799_999_999])
    def test_hour_edges(self, micros: int) -> None:
        """The last and first microsecond of an hour, and of a leap day."""
        moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=micros)
        assert _micros_timestamp(micros) == integrity.timestamp(moment)


class TestDigest:
    @settings(max_examples=100, deadline=None)
    @given(
        text=st.text(st.characters(exclude_categories=("Cs",))),
        key=st.one_of(st.none(), st.binary(min_size=1)),
    )
    def test_ascii_digest_is_digest(self, text: str, key: bytes | None) -> None:
        """The per-entry digest function gives digest()'s link, keyed or not."""
        chain = HashChain(key)
        assert chain.ascii_digest()(PINNED_SHA256, text) == chain.digest(PINNED_SHA256, text)


class TestLookahead:
    @settings(max_examples=100, deadline=None)
    @given(n=st.integers(0, 30), peeks=st.dictionaries(st.integers(0, 30), st.integers(1, 12)))
    def test_looking_ahead_loses_and_repeats_nothing(self, n: int, peeks: dict[int, int]) -> None:
        """Every entry comes once, in order, however far ahead the pass looked on the way."""
        source = [(i, None, None, None) for i in range(n)]
        rows = _Lookahead(iter(source))
        seen = []
        for item in rows:
            seen.append(item)
            ahead = peeks.get(item[0])
            if ahead is not None:
                # At least the entries asked for (all that are buffered), in order.
                looked = [link.seq for link in rows.ahead(ahead)]
                assert looked == list(range(item[0] + 1, item[0] + 1 + len(looked)))
                assert len(looked) >= min(ahead, n - item[0] - 1)
                following = rows.peek()
                assert (following.seq if following else None) == (
                    item[0] + 1 if item[0] + 1 < n else None
                )
        assert seen == source
