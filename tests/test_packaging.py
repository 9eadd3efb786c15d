"""Packaging: license, version, classifiers, changelog, README on the package index, .gitignore,
and the entry-point group through which other distributions add store URL schemes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import activitylog
from activitylog import ActivityLog, Actor, ConfigurationError
from activitylog.stores import ENTRY_POINT_GROUP, SCHEMES, plugin_schemes

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest itself depends on tomli before 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
#: A Markdown link or image whose target is not an absolute URL (nor an anchor on the page).
RELATIVE_LINK = re.compile(r"!?\[[^\]]*\]\((?![a-z]+://|#)([^)]*)\)")


def index_readme() -> str:
    """README.md as the package index shows it: with pyproject's substitutions applied."""
    hook = PYPROJECT["tool"]["hatch"]["metadata"]["hooks"]["fancy-pypi-readme"]
    text = "".join((ROOT / f["path"]).read_text("utf-8") for f in hook["fragments"])
    for sub in hook.get("substitutions", []):
        text = re.sub(sub["pattern"], sub["replacement"], text)
    return text


class TestMetadata:
    def test_license_file_matches_the_metadata(self) -> None:
        """LICENSE holds the MIT license the metadata declares, and ships with it."""
        license_text = (ROOT / "LICENSE").read_text("utf-8")
        assert license_text.startswith("MIT License\n")
        assert "Permission is hereby granted, free of charge" in license_text
        assert PYPROJECT["project"]["license"] == "MIT"
        meta = metadata.metadata("activitylog")
        assert meta["License-Expression"] == "MIT"
        assert "LICENSE" in (meta.get_all("License-File") or [])
        classifiers = PYPROJECT["project"]["classifiers"]
        assert not [c for c in classifiers if c.startswith("License ::")]  # PEP 639

    def test_version_has_one_source(self) -> None:
        """__version__ is the installed metadata's version, which is pyproject.toml's."""
        assert activitylog.__version__ == metadata.version("activitylog")
        assert activitylog.__version__ == PYPROJECT["project"]["version"]
        literal = re.compile(r"__version__\s*=|" + re.escape(repr(activitylog.__version__)))
        written = [str(p.relative_to(ROOT)) for p in (ROOT / "src").rglob("*.py")
                   if literal.search(p.read_text("utf-8"))]
        assert written == []

    def test_classifiers_match_the_supported_pythons(self) -> None:
        """A classifier per CPython from requires-python's minimum to 3.13, and no other."""
        project = PYPROJECT["project"]
        minimum = re.fullmatch(r">=3\.(\d+)", project["requires-python"])
        assert minimum is not None
        versions = {c.rsplit(" ", 1)[1] for c in project["classifiers"]
                    if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}
        assert versions == {f"3.{m}" for m in range(int(minimum[1]), 14)}
        assert "Typing :: Typed" in project["classifiers"]
        assert (ROOT / "src" / "activitylog" / "py.typed").exists()

    def test_changelog_keeps_a_changelog(self) -> None:
        """CHANGELOG.md follows Keep a Changelog: Unreleased first, then the current version."""
        text = (ROOT / "CHANGELOG.md").read_text("utf-8")
        assert text.startswith("# Changelog\n")
        assert "keepachangelog.com" in text
        headings = re.findall(r"^## \[([^\]]+)\]", text, re.MULTILINE)
        assert headings[0] == "Unreleased"
        assert activitylog.__version__ in headings
        for section in re.findall(r"^### (.+)$", text, re.MULTILINE):
            assert section in {"Added", "Changed", "Deprecated", "Removed", "Fixed",
                               "Security"}, section


class TestReadme:
    def test_no_broken_link_on_the_package_index(self) -> None:
        """The package index resolves no relative link: none is left in what it shows."""
        shown = index_readme()
        assert RELATIVE_LINK.findall(shown) == []
        assert "## Set up" in shown  # the text itself is all there

    def test_links_work_in_the_repository(self) -> None:
        """Every relative link of README.md names a file or folder of the checkout."""
        text = (ROOT / "README.md").read_text("utf-8")
        targets = [t.split("#", 1)[0] for t in RELATIVE_LINK.findall(text)]
        missing = [t for t in targets if t and not (ROOT / t).exists()]
        assert missing == []

    def test_files_the_readme_creates_are_ignored(self) -> None:
        """What the README's commands write into the checkout is in .gitignore."""
        if shutil.which("git") is None or not (ROOT / ".git").exists():
            pytest.fail("the test needs git and a git checkout (as CI has)")
        text = (ROOT / "README.md").read_text("utf-8")
        created = {".venv/x", "activitylog-demo.db"}  # `python3 -m venv .venv`, `activitylog demo`
        created.update(re.findall(r"--output (\S+)", text))
        created.update(re.findall(r"sqlite:///([\w.-]+)", text))
        created.update(f"{db}-{suffix}" for db in list(created) if db.endswith(".db")
                       for suffix in ("wal", "shm", "journal"))
        proc = subprocess.run(["git", "check-ignore", "--no-index", "--stdin", "-v", "-n"],
                              input="\n".join(sorted(created)), capture_output=True, text=True,
                              cwd=ROOT, check=False)
        unignored = [line.split("\t")[1] for line in proc.stdout.splitlines()
                     if line.startswith("::")]
        assert unignored == []
        assert {"acme.csv", "activity.db"} <= created  # the README's own examples were found


def _install_plugin(folder: Path, scheme: str, target: str, module: str = "") -> None:
    """A throwaway distribution in ``folder`` registering ``scheme`` in the entry-point group."""
    dist = folder / f"thirdparty_store_{scheme}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: thirdparty-store-{scheme}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{scheme} = {target}\n")
    if module:
        (folder / f"{target.split(':')[0]}.py").write_text(module)


TOY_STORE = '''
from activitylog.stores.memory import MemoryStore

class ToyStore(MemoryStore):
    """A store of a third-party distribution (the memory store under another scheme)."""

    opened = []

    @classmethod
    def from_url(cls, url, **options):
        cls.opened.append((url, options))
        return cls()
'''


class TestStoreEntryPoints:
    def test_a_distribution_adds_a_scheme(self, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
        """A scheme registered by an installed distribution opens its store, lazily."""
        _install_plugin(tmp_path, "toy", "toy_store_plugin:ToyStore", TOY_STORE)
        monkeypatch.syspath_prepend(str(tmp_path))
        assert "toy" in plugin_schemes()
        assert "toy_store_plugin" not in sys.modules  # only opening a toy:// URL imports it
        log = ActivityLog.open("toy://anything")
        entry = log.record("lead.created", org_id="acme", actor=Actor("u1", "Ada"))
        assert log.verify("acme").ok and entry.seq == 1
        store_module = sys.modules["toy_store_plugin"]
        assert store_module.ToyStore.opened == [("toy://anything", {})]
        monkeypatch.delitem(sys.modules, "toy_store_plugin")

    def test_unknown_scheme_lists_plugins_too(self, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
        """The error for an unknown scheme names built-in and registered schemes."""
        _install_plugin(tmp_path, "toy", "toy_store_plugin:ToyStore", TOY_STORE)
        monkeypatch.syspath_prepend(str(tmp_path))
        with pytest.raises(ConfigurationError, match=r"known: .*sqlite://.*toy://"):
            ActivityLog.open("nope://x")

    def test_a_broken_plugin_is_a_configuration_error(self, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
        """A registered scheme whose module cannot be imported fails with ConfigurationError."""
        _install_plugin(tmp_path, "ghost", "no_such_module_anywhere:Store")
        monkeypatch.syspath_prepend(str(tmp_path))
        with pytest.raises(ConfigurationError, match=r"ghost:// .*cannot be loaded"):
            ActivityLog.open("ghost://x")

    def test_built_in_schemes_cannot_be_taken_over(self, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
        """A distribution registering "memory" does not replace the built-in memory store."""
        _install_plugin(tmp_path, "memory", "no_such_module_anywhere:Store")
        monkeypatch.syspath_prepend(str(tmp_path))
        assert "memory" in SCHEMES
        log = ActivityLog.open("memory://")
        assert type(log.store).__module__ == "activitylog.stores.memory"
