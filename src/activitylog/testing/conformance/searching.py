"""Conformance: Search: what matches, folding, limits and literal text."""

from __future__ import annotations

import pytest

from activitylog import (
    ActivityLog,
    Actor,
    InvalidQuery,
    Target,
)
from activitylog.search import MAX_SEARCH_CHARS, MAX_SEARCH_WORDS

from ._support import (
    ADA,
    ALAN,
    ALL_KEYS,
    GRACE,
    ORG,
    Clock,
    ids,
    rec,
    search_ids,
    viewer_of,
)

# -- search ----------------------------------------------------------------------------------------



def test_search_is_case_insensitive_with_unicode_casefold(log: ActivityLog) -> None:
    """Search folds case the Unicode way: ADA finds Ada, STRASSE finds Straße, ΣΊΣΥΦΟΣ finds σίσυφος."""
    ada = rec(log, actor=ADA)
    strasse = rec(log, actor=Actor("u-s", "Hans Straße"))
    sisyphus = rec(log, actor=Actor("u-g", "σίσυφος"))
    full = rec(log, actor=Actor("u-f", "ＦＵＬＬ Width"))
    assert search_ids(log, "ADA") == {ada.id}
    assert search_ids(log, "lOvElAcE") == {ada.id}
    assert search_ids(log, "STRASSE") == {strasse.id}
    assert search_ids(log, "straße") == {strasse.id}
    assert search_ids(log, "ss") == {strasse.id}
    assert search_ids(log, "ΣΊΣΥΦΟΣ") == {sisyphus.id}
    assert search_ids(log, "ｆｕｌｌ") == {full.id}
    assert search_ids(log, "full") == {full.id}  # compatibility normalization


def test_search_folding_edge_cases_match_the_definition(log: ActivityLog) -> None:
    """Dotted İ, dotless ı, ligatures and combining marks fold as documented: NFKD, casefold,
    combining marks removed, ı to i."""
    istanbul = rec(log, actor=Actor("u-i", "İstanbul"))
    dotless = rec(log, actor=Actor("u-d", "ılık"))
    ligature = rec(log, actor=Actor("u-l", "ﬁnance"))
    combining = rec(log, actor=Actor("u-c", "Jose\u0301"))
    precomposed = rec(log, actor=Actor("u-p", "José"))
    everyone = {istanbul.id, dotless.id, ligature.id, combining.id, precomposed.id}
    assert search_ids(log, "i\u0307stanbul") == {istanbul.id}  # "İ".casefold()
    assert search_ids(log, "stanbul") == {istanbul.id}
    assert search_ids(log, "İ") == {istanbul.id, dotless.id, ligature.id}  # every i
    assert search_ids(log, "ılık") == {dotless.id}
    assert search_ids(log, "ILIK") == {dotless.id}
    assert search_ids(log, "FINANCE") == {ligature.id}
    assert search_ids(log, "ﬁ") == {ligature.id}
    assert search_ids(log, "josé") == {precomposed.id, combining.id}
    assert search_ids(log, "Jose\u0301") == {precomposed.id, combining.id}
    assert search_ids(log, "\u0301") == everyone  # nothing left to look for
    assert search_ids(log, "jose") == {precomposed.id, combining.id}
    assert search_ids(log, "created") == everyone


def test_search_ignores_case_and_diacritics(log: ActivityLog) -> None:
    """The searches people type find the names they stored, and the other way round."""
    names = ["Müller", "Café", "Cafe\u0301", "İstanbul", "Yılmaz", "ŞİŞLİ", "Øresund",
             "Łódź", "Æsir"]
    made = {name: rec(log, actor=Actor(f"u-{i}", name)).id for i, name in enumerate(names)}
    assert search_ids(log, "muller") == {made["Müller"]}
    assert search_ids(log, "MÜLLER") == {made["Müller"]}
    assert search_ids(log, "cafe") == {made["Café"], made["Cafe\u0301"]}
    assert search_ids(log, "café") == {made["Café"], made["Cafe\u0301"]}
    assert search_ids(log, "istanbul") == {made["İstanbul"]}
    assert search_ids(log, "yilmaz") == {made["Yılmaz"]}
    assert search_ids(log, "YILMAZ") == {made["Yılmaz"]}
    assert search_ids(log, "sisli") == {made["ŞİŞLİ"]}
    assert search_ids(log, "şişli") == {made["ŞİŞLİ"]}
    assert search_ids(log, "oresund") == {made["Øresund"]}
    assert search_ids(log, "lodz") == {made["Łódź"]}
    assert search_ids(log, "aesir") == {made["Æsir"]}


def test_search_limits_raise_invalid_query_naming_the_limit(log: ActivityLog) -> None:
    """Thousands of words, or a very long text, raise InvalidQuery with the limit; at the
    limits the search runs."""
    rec(log)
    query = log.query(ORG, viewer=viewer_of(ORG))
    words = [f"w{i}" for i in range(5000)]
    with pytest.raises(InvalidQuery, match=f"limit is {MAX_SEARCH_WORDS}"):
        query.search(" ".join(words[: MAX_SEARCH_WORDS + 1]))
    with pytest.raises(InvalidQuery, match=f"limit is {MAX_SEARCH_CHARS}"):
        query.search(" ".join(words))
    with pytest.raises(InvalidQuery, match="must be a string"):
        query.search(None)  # type: ignore[arg-type]
    assert query.search(" ".join(["ada"] * 200)).count() == 1  # one word, repeated
    many = query.search(" ".join(["lovelace", *words[: MAX_SEARCH_WORDS - 1]]))
    assert many.page().entries == ()
    longest = "ada " + "x" * (MAX_SEARCH_CHARS - 4)
    assert query.search(longest).count() == 0


def test_search_requires_every_word(log: ActivityLog) -> None:
    """Several words narrow the search: each must occur somewhere in the entry."""
    ada_lead = rec(log, "lead.created", actor=ADA)
    ada_task = rec(log, "task.created", actor=ADA)
    grace_lead = rec(log, "lead.created", actor=GRACE)
    assert search_ids(log, "ada") == {ada_lead.id, ada_task.id}
    assert search_ids(log, "ada lead") == {ada_lead.id}
    assert search_ids(log, "  lead \t ADA\n") == {ada_lead.id}
    assert search_ids(log, "lead created") == {ada_lead.id, grace_lead.id}
    assert search_ids(log, "lead hopper") == {grace_lead.id}
    assert search_ids(log, "lead nobody") == set()
    assert search_ids(log, "ada ada ada") == {ada_lead.id, ada_task.id}


def test_blank_search_matches_everything(log: ActivityLog) -> None:
    """An empty or whitespace-only search filters nothing."""
    recorded = {rec(log, a).id for a in ALL_KEYS[:5]}
    assert search_ids(log, "") == recorded
    assert search_ids(log, " \t\n\u3000") == recorded


def test_search_metacharacters_are_literal(log: ActivityLog) -> None:
    """% _ " ' \\ * ? [ ] ^ match only themselves, never as wildcards or syntax."""
    names = {
        "pct": "100% Sure",
        "under": "snake_case",
        "dq": 'Dwayne "The Rock"',
        "sq": "O'Brien",
        "bs": "back\\slash",
        "star": "Star*Lord",
        "q": "Who?",
        "br": "[bracket]",
        "caret": "x^y",
        "plain": "abc abbc aXc",
    }
    made = {k: rec(log, "note.created", actor=Actor(f"u-{k}", v)).id for k, v in names.items()}
    assert search_ids(log, "%") == {made["pct"]}
    assert search_ids(log, "0%") == {made["pct"]}
    assert search_ids(log, "_") == {made["under"]}
    assert search_ids(log, "e_c") == {made["under"]}
    assert search_ids(log, "a_c") == set()
    assert search_ids(log, "a%c") == set()
    assert search_ids(log, '"') == {made["dq"]}
    assert search_ids(log, '"the') == {made["dq"]}
    assert search_ids(log, "'") == {made["sq"]}
    assert search_ids(log, "o'brien") == {made["sq"]}
    assert search_ids(log, "\\") == {made["bs"]}
    assert search_ids(log, "k\\s") == {made["bs"]}
    assert search_ids(log, "*") == {made["star"]}
    assert search_ids(log, "a*c") == set()
    assert search_ids(log, "?") == {made["q"]}
    assert search_ids(log, "a?c") == set()
    assert search_ids(log, "[b") == {made["br"]}
    assert search_ids(log, "[a-z]") == set()
    assert search_ids(log, "^") == {made["caret"]}
    assert search_ids(log, "%%") == set()
    assert search_ids(log, "__") == set()


def test_sql_and_fts_syntax_in_search_is_literal(log: ActivityLog) -> None:
    """SQL injection attempts and FTS query syntax are searched for as plain text."""
    normal = rec(log, "lead.created", actor=ADA)
    odd = rec(log, "lead.created", actor=Actor("u-x", "Robert'); DROP TABLE entries;--"))
    for text in (
        "' OR '1'='1",
        '" OR ""="',
        "1=1 OR",
        "lead* NOT ada",
        "NEAR(lead ada)",
        "lead OR",
        "AND",
        "-ada",
        "^lead",
        "description:lead",
        "{label}",
        "ada)",
    ):
        assert search_ids(log, text) == set(), text
    assert search_ids(log, "'); drop table entries;--") == {odd.id}
    assert search_ids(log, "Robert');") == {odd.id}
    assert search_ids(log, "lead") == {normal.id, odd.id}


def test_search_deleted_finds_every_deletion(log: ActivityLog, clock: Clock) -> None:
    """Searching "deleted" finds every entry of every "… Deleted" action, and nothing else."""
    made: dict[str, str] = {}
    for key in ALL_KEYS:
        made[key] = rec(log, key, actor=GRACE, target=Target("thing", "1", "Thing")).id
        clock.advance(seconds=1)
    deletions = {made[k] for k in ALL_KEYS if k.endswith("deleted")}
    assert len(deletions) >= 15
    assert search_ids(log, "deleted") == deletions
    assert search_ids(log, "DELETED") == deletions


def test_a_members_name_finds_what_they_did(log: ActivityLog) -> None:
    """Searching a person's name finds the actions they performed (and nothing by others)."""
    by_grace = {
        rec(log, a, actor=GRACE).id
        for a in ("lead.created", "task.deleted", "subscription.plan_changed")
    }
    for action in ("lead.created", "client.updated"):
        rec(log, action, actor=ADA)
        rec(log, action, actor=ALAN)
    assert search_ids(log, "Grace Hopper") == by_grace
    assert search_ids(log, "hopper") == by_grace
    assert search_ids(log, "grace hop") == by_grace


def test_short_search_terms_match(log: ActivityLog) -> None:
    """One- and two-character words match like any other substring."""
    ada = rec(log, "lead.created", actor=ADA)
    alan = rec(log, "task.created", actor=ALAN)
    li = rec(log, "note.created", actor=Actor("u-li", "Li Xu"))
    emoji = rec(log, "note.created", actor=Actor("u-e", "Bo 🚀"))
    assert search_ids(log, "xu") == {li.id}
    assert search_ids(log, "Li") == {li.id}
    assert search_ids(log, "ad") == {ada.id}
    assert search_ids(log, "tu") == {alan.id}
    assert search_ids(log, "🚀") == {emoji.id}
    assert search_ids(log, "o 🚀") == {emoji.id}
    assert search_ids(log, "q") == set()
    assert search_ids(log, "z") == set()


def test_two_character_words_at_field_ends_and_beyond_the_bmp(log: ActivityLog) -> None:
    """Two-character words match at the very end of a field, and may be emoji or combining marks;
    a two-character word spanning two fields never matches."""
    end = rec(log, "note.created", actor=Actor("u-1", "Bo Qz"))
    astral = rec(log, "note.created", actor=Actor("u-2", "x 🚀🛸"))
    combining = rec(log, "note.created", actor=Actor("u-3", "Rene\u0301"))
    label_end = rec(log, "lead.deleted", actor=Actor("u-4", "Yu"), description="Wiped")
    assert search_ids(log, "qz") == {end.id}
    assert search_ids(log, "🚀🛸") == {astral.id}
    assert search_ids(log, "🛸") == {astral.id}
    assert search_ids(log, "ne\u0301") == {combining.id}  # folds to "ne"
    assert search_ids(log, "yu") == {label_end.id}
    assert search_ids(log, "dw") == set()  # label "…Deleted" + description "Wiped…"
    assert search_ids(log, "dy") == set()  # description "…wiped" + actor "Yu"


def test_a_two_character_word_shared_by_hundreds_of_trigrams_finds_every_entry(
    log: ActivityLog,
) -> None:
    """A short word followed by hundreds of different characters still finds every entry."""
    made = log.record_many(
        {"action": "note.created", "org_id": ORG, "actor": Actor(f"u{i}", f"Ab{chr(0x4E00 + i)}")}
        for i in range(300)
    )
    other = rec(log, "note.created", actor=Actor("u-x", "Zed"))
    assert search_ids(log, "ab") == set(ids(made))
    assert search_ids(log, "AB") == set(ids(made))
    assert search_ids(log, "b" + chr(0x4E00 + 7)) == {made[7].id}
    assert search_ids(log, "ze") == {other.id}
    assert search_ids(log, "ab ze") == set()


def test_search_words_no_entry_can_hold_find_nothing(log: ActivityLog) -> None:
    """Words with NUL or lone surrogates match nothing (and never everything)."""
    rec(log, actor=ADA)
    rec(log, actor=Actor("u-b", "Bob"))
    for text in (
        "\x00",
        "a\x00b",
        "ada\x00",
        "\x00ada",
        "ad\x00",
        "\ud800",
        "ad\udfff",
        "ada \x00",
    ):
        assert search_ids(log, text) == set(), repr(text)


def test_orgs_no_entry_can_belong_to_are_empty(log: ActivityLog) -> None:
    """Reading an org id with NUL or lone surrogates finds an empty log rather than failing."""
    rec(log)
    for org in ("ac\x00me", "acme\x00", "\ud800", "acm\udce9"):
        viewer = viewer_of(org)
        assert log.query(org, viewer=viewer).page().entries == ()
        assert log.query(org, viewer=viewer).search("ada").count() == 0
        assert log.categories(org, viewer=viewer) == []
        assert list(log.store.chain(org)) == []
        assert log.store.head(org) is None
        assert log.verify(org).ok


def test_search_terms_never_match_across_fields(log: ActivityLog) -> None:
    """A word only matches inside one field: the end of one and start of the next never join."""
    entry = rec(log, "lead.deleted", actor=ADA, description="Removed stale lead")
    assert search_ids(log, "deleted") == {entry.id}
    assert search_ids(log, "leadremoved") == set()  # label "…Deleted" + description "Removed…"
    assert search_ids(log, "deletedremoved") == set()
    assert search_ids(log, "leadada") == set()  # description "…lead" + actor "Ada…"
    assert search_ids(log, "deleted\nremoved") == {entry.id}  # whitespace splits the words
