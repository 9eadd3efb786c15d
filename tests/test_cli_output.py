"""Where ``activitylog export --output`` writes, and how write errors end, as real processes."""

from __future__ import annotations

import os
import resource
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from test_cli import ORG, _env, demo_db, run_process

__all__ = ["demo_db"]  # the fixture, shared with test_cli

EXPORT = ("export", "--org", ORG, "--format", "csv")


def export(db: str, *argv: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run ``activitylog export`` of the demo organization as a process."""
    return run_process(*EXPORT, "--db", db, *argv, **kwargs)  # type: ignore[arg-type]


def export_bytes(db: str) -> bytes:
    """What ``activitylog export`` writes to standard output, byte for byte."""
    return subprocess.run(
        [sys.executable, "-m", "activitylog", *EXPORT, "--db", db],
        capture_output=True, env=_env(), check=True, timeout=120,
    ).stdout


def device(tmp_path: Path, name: str, major: int, minor: int) -> Path:
    """A character device of the machine's own (``/dev/null`` is 1,3, ``/dev/full`` 1,7).

    A twin made with mknod in a temporary folder when allowed (root), so that a regression
    could only ever replace the twin; the real device otherwise.
    """
    twin = tmp_path / name
    try:
        os.mknod(twin, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        with twin.open("w") as fh:  # a folder mounted nodev refuses to open devices
            fh.write("")
    except OSError:
        twin.unlink(missing_ok=True)
        return Path("/dev") / name
    return twin


def block_device(tmp_path: Path) -> Path:
    """A block device node: a twin of loop0 made with mknod (root), or one of the machine's.

    The export must refuse it before opening it, so the device itself is never touched.
    """
    twin = tmp_path / "blockdev"
    try:
        os.mknod(twin, 0o600 | stat.S_IFBLK, os.makedev(7, 0))
        return twin
    except OSError:
        pass
    for candidate in sorted(Path("/dev").iterdir()):
        if stat.S_ISBLK(os.lstat(candidate).st_mode):
            return candidate
    pytest.skip("no block device can be made or found on this machine")


def leftovers(folder: Path) -> list[str]:
    """Temporary files an export may have left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def one_error_line(err: str, message: str) -> None:
    """``err`` is exactly one ``activitylog: error:`` line holding ``message``."""
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith("activitylog: error: ") and message in err, err


class TestSpecialFiles:
    def test_dev_null_is_written_to_not_replaced(self, demo_db: str, tmp_path: Path) -> None:
        """--output /dev/null discards the export; the device stays a device."""
        null = device(tmp_path, "null", 1, 3)
        proc = export(demo_db, "--output", str(null))
        assert proc.returncode == 0, proc.stderr
        assert stat.S_ISCHR(os.lstat(null).st_mode)
        assert leftovers(null.parent) == []

    def test_dev_full_fails_with_one_line(self, demo_db: str, tmp_path: Path) -> None:
        """--output /dev/full: "No space left on device", exit 1, the device untouched."""
        full = device(tmp_path, "full", 1, 7)
        proc = export(demo_db, "--output", str(full))
        assert proc.returncode == 1
        one_error_line(proc.stderr, f"cannot write {full}: No space left on device")
        assert stat.S_ISCHR(os.lstat(full).st_mode)
        assert leftovers(full.parent) == []

    def test_stdout_on_dev_full_fails_with_one_line(self, demo_db: str, tmp_path: Path) -> None:
        """Standard output on /dev/full: one line, exit 1, for exports and for tables."""
        full = device(tmp_path, "full", 1, 7)
        for argv in (EXPORT, ("list", "--org", ORG)):
            with full.open("w") as sink:
                proc = subprocess.run(
                    [sys.executable, "-m", "activitylog", *argv, "--db", demo_db],
                    stdout=sink, stderr=subprocess.PIPE, text=True, env=_env(), check=False,
                    timeout=120,
                )
            assert proc.returncode == 1
            one_error_line(proc.stderr, "cannot write standard output: No space left on device")

    def test_fifo_is_written_to_not_replaced(self, demo_db: str, tmp_path: Path) -> None:
        """A FIFO receives the export, and stays a FIFO."""
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        received: list[bytes] = []
        reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
        reader.start()
        proc = export(demo_db, "--output", str(fifo))
        reader.join(timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
        assert received[0] == export_bytes(demo_db)
        assert leftovers(tmp_path) == []

    def test_symlink_to_a_file_keeps_the_link(self, demo_db: str, tmp_path: Path) -> None:
        """A symbolic link is followed: its file gets the export, the link stays a link."""
        target = tmp_path / "real.csv"
        target.write_text("old")
        link = tmp_path / "link.csv"
        link.symlink_to(target)
        proc = export(demo_db, "--output", str(link))
        assert proc.returncode == 0, proc.stderr
        assert link.is_symlink() and os.readlink(link) == str(target)
        assert target.read_text("utf-8-sig").startswith("id,occurred_at,")
        assert leftovers(tmp_path) == []

    def test_dangling_symlink_is_refused(self, demo_db: str, tmp_path: Path) -> None:
        """A link to nothing is refused: the export never creates a file somewhere else."""
        link = tmp_path / "link.csv"
        link.symlink_to(tmp_path / "elsewhere" / "x.csv")
        proc = export(demo_db, "--output", str(link))
        assert proc.returncode == 2
        one_error_line(proc.stderr, "symbolic link to a missing file")
        assert link.is_symlink() and not (tmp_path / "elsewhere").exists()

    def test_regular_file_is_replaced_keeping_its_mode(self, demo_db: str,
                                                      tmp_path: Path) -> None:
        """An existing file is replaced whole; its permission bits are kept."""
        target = tmp_path / "out.csv"
        target.write_text("old content that is longer than nothing\n" * 100)
        target.chmod(0o640)
        proc = export(demo_db, "--output", str(target))
        assert proc.returncode == 0, proc.stderr
        assert stat.S_IMODE(target.stat().st_mode) == 0o640
        assert target.read_bytes() == export_bytes(demo_db)
        assert leftovers(tmp_path) == []

    @pytest.mark.parametrize("kind", ["directory", "socket", "block device"])
    def test_other_kinds_are_refused(self, demo_db: str, tmp_path: Path, kind: str) -> None:
        """A directory, a socket or a block device is never written to or replaced."""
        path = tmp_path / "thing"
        if kind == "directory":
            path.mkdir()
        elif kind == "socket":
            sock = socket.socket(socket.AF_UNIX)
            sock.bind(str(path))
            sock.close()
        else:
            path = block_device(tmp_path)
        before = os.lstat(path)
        proc = export(demo_db, "--output", str(path))
        assert proc.returncode == 2
        one_error_line(proc.stderr, f"is a {kind}")
        after = os.lstat(path)
        assert (after.st_mode, after.st_ino, after.st_rdev) == (
            before.st_mode, before.st_ino, before.st_rdev)
        assert leftovers(path.parent) == []

    def test_dash_is_standard_output(self, demo_db: str) -> None:
        """--output - writes to standard output, as no --output does."""
        proc = export(demo_db, "--output", "-")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == export(demo_db).stdout
        assert proc.stdout.startswith("\ufeffid,")
        assert export_bytes(demo_db).count(b"\r\n") > 1000  # CSV's own line endings


class TestWriteErrors:
    def test_file_size_limit_leaves_the_old_file(self, demo_db: str, tmp_path: Path) -> None:
        """EFBIG (RLIMIT_FSIZE) ends with one line; the old file and no temporary file remain."""
        target = tmp_path / "out.csv"
        target.write_text("old\n")

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

        proc = subprocess.run(
            [sys.executable, "-m", "activitylog", *EXPORT, "--db", demo_db,
             "--output", str(target)],
            capture_output=True, text=True, env=_env(), preexec_fn=limit, check=False,
            timeout=120,
        )
        assert proc.returncode == 1
        one_error_line(proc.stderr, "cannot write")
        assert "File too large" in proc.stderr
        assert target.read_text() == "old\n"
        assert leftovers(tmp_path) == []

    @pytest.mark.parametrize("argv", [EXPORT, ("list", "--org", ORG, "--limit", "1000")])
    def test_a_closed_pipe_ends_silently_with_141(self, demo_db: str,
                                                  argv: tuple[str, ...]) -> None:
        """`| head -1`: the command stops with status 141 (SIGPIPE's), and says nothing."""
        with subprocess.Popen(
            [sys.executable, "-m", "activitylog", *argv, "--db", demo_db],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
        ) as proc:
            assert proc.stdout is not None and proc.stderr is not None
            proc.stdout.readline()
            proc.stdout.close()
            err = proc.stderr.read().decode()
            code = proc.wait(timeout=60)
        assert err == ""
        assert code == 141

    def test_missing_folder_is_a_usage_error(self, demo_db: str, tmp_path: Path) -> None:
        """An output in a folder that does not exist: one line, exit 2, nothing created."""
        proc = export(demo_db, "--output", str(tmp_path / "missing" / "x.csv"))
        assert proc.returncode == 2
        one_error_line(proc.stderr, "cannot write")
        assert not (tmp_path / "missing").exists()
