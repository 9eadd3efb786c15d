"""``copy_log``: a log moved between stores keeps its ids, seqs and hashes, resumes after an
interruption, refuses a target holding another log, and reads back equal.

The target is every store kind under test (``open_fresh``): memory, SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest

from activitylog import ActivityLog, Actor, Target
from activitylog.copying import CopyError, CopyProgress, copy_log
from activitylog.errors import ConfigurationError
from activitylog.models import Entry
from activitylog.stores.memory import MemoryStore
from conftest import START, STORES, Clock, StoreOpener

KEY = "copy-test-key"
ADA = Actor("u1", "Ada Lovelace")


def filled(n: int = 23, *, integrity: bool = True) -> ActivityLog:
    """A memory log with ``n`` entries over two organizations, with varied fields."""
    clock = Clock(START)
    log = ActivityLog(MemoryStore(), clock=clock, integrity_key=KEY, integrity=integrity)
    for i in range(n):
        clock.advance(minutes=7)
        log.record(
            ("lead.created", "lead.updated", "task.deleted")[i % 3],
            org_id=("acme", "globex")[i % 4 == 0],
            actor=ADA,
            target=Target("lead", i, f"Lead {i}"),
            changes={"stage": ["new", "won"]} if i % 3 == 1 else None,
            metadata={"n": i, "tags": ["a", "é"]},
            idempotency_key=f"k{i}" if i % 5 == 0 else None,
        )
    return log


def chains(store: Any, orgs: Sequence[str]) -> dict[str, list[Entry]]:
    """Every organization's chain, as lists."""
    return {org: list(store.chain(org)) for org in orgs}


class TestCopy:
    def test_a_copy_is_the_same_log_and_verifies(self, open_fresh: StoreOpener):
        """Ids, seqs, hashes and every field survive; the copy verifies with the same key."""
        source = filled()
        target = open_fresh()
        report = copy_log(source.store, target, batch_size=4)
        orgs = source.store.org_ids()
        assert report.copied == report.compared == 23 and report.skipped == 0
        assert chains(target, orgs) == chains(source.store, orgs)
        copied = ActivityLog(target, integrity_key=KEY)
        assert all(copied.verify(org).ok for org in orgs)
        later = copied.record("lead.created", org_id="acme", actor=ADA)
        assert later.seq == source.store.head("acme").seq + 1  # type: ignore[union-attr]

    def test_a_log_without_integrity_copies(self, open_fresh: StoreOpener):
        """Entries recorded without the chain (no hash) copy as they are."""
        source = filled(9, integrity=False)
        target = open_fresh()
        copy_log(source.store, target, batch_size=2)
        assert chains(target, ["acme", "globex"]) == chains(source.store, ["acme", "globex"])

    def test_progress_counts_every_entry_batch_by_batch(self, open_fresh: StoreOpener):
        """Progress is reported after each batch, up to the total."""
        seen: list[CopyProgress] = []
        copy_log(filled().store, open_fresh(), batch_size=5, progress=seen.append)
        assert seen[-1].done == seen[-1].total == 23
        assert [p.done for p in seen] == sorted(p.done for p in seen)
        assert len(seen) == 4 + 2  # acme's 17 entries five at a time, then globex's 6

    def test_an_interrupted_copy_resumes(self, open_fresh: StoreOpener):
        """A copy stopped after a batch continues where the target's log ends."""
        source = filled()
        target = open_fresh()

        def stop(progress: CopyProgress) -> None:
            if progress.done >= 8:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            copy_log(source.store, target, batch_size=4, progress=stop)
        report = copy_log(source.store, target, batch_size=4)
        assert report.skipped == 8 and report.copied == 15
        orgs = source.store.org_ids()
        assert chains(target, orgs) == chains(source.store, orgs)

    def test_a_target_with_another_log_is_refused_untouched(self, open_fresh: StoreOpener):
        """A target holding other entries for an organization stops the copy before it writes."""
        target = open_fresh()
        other = ActivityLog(target, clock=Clock(START + timedelta(days=1)))
        other.record("lead.created", org_id="globex", actor=ADA)
        with pytest.raises(CopyError, match="not the source's"):
            copy_log(filled().store, target)
        assert target.org_ids() == ["globex"]
        assert [e.seq for e in target.chain("globex")] == [1]

    def test_memory_stays_bounded_by_one_batch(self, open_fresh: StoreOpener):
        """The source's chain is read lazily: never more than a batch ahead of the target."""
        source = filled(40)
        target = open_fresh()
        ahead: list[int] = []

        class Reading:
            """The source, counting entries read ahead of what the target has stored."""

            def __getattr__(self, name: str) -> Any:
                return getattr(source.store, name)

            def chain(self, org_id: str, after_seq: int = 0) -> Iterator[Entry]:
                for entry in source.store.chain(org_id, after_seq):
                    head = target.head(org_id)
                    ahead.append((entry.seq or 0) - (head.seq if head else 0))
                    yield entry

        copy_log(Reading(), target, batch_size=6, compare=False)  # type: ignore[arg-type]
        assert max(ahead) <= 6

    def test_a_bad_batch_size_is_refused(self):
        """batch_size must be a positive integer: anything else is a ConfigurationError."""
        for bad in (0, -1, True, 2.5, "10"):
            with pytest.raises(ConfigurationError, match="batch_size"):
                copy_log(MemoryStore(), MemoryStore(), batch_size=bad)  # type: ignore[arg-type]


class TestCopyCommand:
    # A memory store does not outlive the command, so the copy is checked on the others.
    @pytest.mark.parametrize(
        "store_name", [name for name in STORES if name != "memory"], indirect=True
    )
    def test_copy_a_file_into_every_store(
        self, store_url: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
    ):
        """``activitylog copy SRC DST`` copies a SQLite file into a store URL, twice is a no-op,
        and ``verify`` then passes on the copy."""
        from activitylog import cli

        source = tmp_path / "source.db"
        log = filled()
        with ActivityLog.open(f"sqlite:///{source}") as src:
            copy_log(log.store, src.store)
        assert cli.main(["copy", str(source), store_url, "--batch-size", "5"]) == 0
        assert "Copied 23 entries of 2 organizations" in capsys.readouterr().out
        assert cli.main(["copy", str(source), store_url]) == 0
        assert "(23 already there)" in capsys.readouterr().out
        with ActivityLog.open(store_url, integrity_key=KEY) as copied:
            assert copied.verify("acme").ok and copied.verify("globex").ok
            assert copied.store.head("acme") == log.store.head("acme")

    def test_a_diverging_target_fails_with_exit_1(
        self, tmp_path: Any, capsys: pytest.CaptureFixture[str]
    ):
        """A target holding another log for an organization: exit 1, nothing written."""
        from activitylog import cli

        source, target = tmp_path / "a.db", tmp_path / "b.db"
        with ActivityLog.open(f"sqlite:///{source}") as a, ActivityLog.open(
            f"sqlite:///{target}"
        ) as b:
            a.record("lead.created", org_id="acme", actor=ADA)
            b.record("task.created", org_id="acme", actor=ADA)
        assert cli.main(["copy", str(source), str(target)]) == 1
        assert "Not copied" in capsys.readouterr().out

    def test_usage_errors(self, tmp_path: Any, capsys: pytest.CaptureFixture[str]):
        """A missing source, an unknown organization or a zero batch size: exit 2."""
        from activitylog import cli

        source = tmp_path / "a.db"
        with ActivityLog.open(f"sqlite:///{source}") as a:
            a.record("lead.created", org_id="acme", actor=ADA)
        target = str(tmp_path / "b.db")
        assert cli.main(["copy", str(tmp_path / "missing.db"), target]) == 2
        assert cli.main(["copy", str(source), target, "--org", "nobody"]) == 2
        assert cli.main(["copy", str(source), target, "--batch-size", "0"]) == 2
