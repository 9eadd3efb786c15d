"""``python -m activitylog``: the same command line as the ``activitylog`` script."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
