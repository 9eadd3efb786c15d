"""Run the peer libraries (django-auditlog, django-activity-stream) in a throwaway virtualenv.

The peers are never dependencies of activitylog: they are installed into a virtualenv under the
system's temporary directory (reused by later runs) and measured by ``peers_worker.py``, which
prints one JSON object.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PEERS = ("django>=5.0,<6", "django-auditlog", "django-activity-stream")
VENV = Path(tempfile.gettempdir()) / "activitylog-bench-peers"
WORKER = Path(__file__).resolve().parent / "peers_worker.py"


def _python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def ensure_venv(venv: Path = VENV) -> Path:
    """The peers' virtualenv, created and filled on first use; returns its Python."""
    python = _python(venv)
    marker = venv / ".peers-installed"
    if not marker.exists():
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             *PEERS],
            check=True,
        )  # fmt: skip
        marker.write_text("\n".join(PEERS) + "\n", encoding="utf-8")
    return python


def run(entries: int, single: int, repeat: int, workdir: Path) -> dict[str, Any]:
    """Measure the peers with ``entries`` entries (``single`` of them one per commit)."""
    python = ensure_venv()
    db = workdir / "peers.db"
    done = subprocess.run(
        [str(python), str(WORKER), "--entries", str(entries), "--single", str(single),
         "--repeat", str(repeat), "--db", str(db)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    versions = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        check=True, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    wanted = {"django", "django-auditlog", "django-activity-stream"}
    result["versions"] = {
        p["name"].lower(): p["version"]
        for p in json.loads(versions.stdout)
        if p["name"].lower() in wanted
    }
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    return result
