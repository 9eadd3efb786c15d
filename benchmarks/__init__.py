"""Benchmarks of activitylog against raw ``sqlite3`` and against peer audit libraries.

Run ``python -m benchmarks --help`` (or ``python benchmarks/run.py --help``); the results and
how to read them are in ``docs/benchmarks.md``.
"""

from __future__ import annotations
