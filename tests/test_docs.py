"""The documentation names what the package exports, and its code runs."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path

import activitylog

ROOT = Path(__file__).resolve().parent.parent


def _is_class(obj: object) -> bool:
    """A class, and not a parametrized generic alias of one."""
    return inspect.isclass(obj) and typing.get_origin(obj) is None


class TestApiPage:
    def test_every_public_name_is_on_the_api_page(self) -> None:
        """docs/api.md mentions every name in activitylog.__all__."""
        page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
        missing = [name for name in activitylog.__all__ if f"`{name}" not in page]
        assert missing == []

    def test_every_public_name_has_a_docstring(self) -> None:
        """Every exported class and function documents itself.

        Type aliases such as ``Policy = Callable[[Viewer], bool]`` are not classes (though
        ``inspect.isclass`` says they are on Python 3.10) and have no docstring of their own.
        """
        undocumented = [
            name
            for name in activitylog.__all__
            if (_is_class(obj := getattr(activitylog, name)) or inspect.isfunction(obj))
            and not (obj.__doc__ or "").strip()
        ]
        assert undocumented == []


class TestReadme:
    def test_readme_has_exactly_two_setup_commands(self) -> None:
        """The README's set-up section holds the main-job and the test command, nothing else."""
        text = (ROOT / "README.md").read_text(encoding="utf-8")
        setup = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
        commands = re.findall(r"```sh\n(.*?)\n```", setup, re.DOTALL)
        assert len(commands) == 2
        assert commands[0].endswith("activitylog demo")
        assert "pytest" in commands[1]
