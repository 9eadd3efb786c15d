"""The page's own assets, shipped inside the package and served under content-hashed URLs.

Only files listed at import time are served: a request names an asset, never a path, so nothing
outside ``static/activitylog/`` can be reached, whatever the URL holds.
"""

from __future__ import annotations

import hashlib
from importlib import resources

import attrs

_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@attrs.frozen
class Asset:
    """One static file: its name, bytes, media type and content hash."""

    name: str
    body: bytes
    content_type: str
    digest: str


def _load() -> dict[str, Asset]:
    folder = resources.files("activitylog.viewer").joinpath("static").joinpath("activitylog")
    assets = {}
    for item in folder.iterdir():
        suffix = "." + item.name.rsplit(".", 1)[-1]
        if item.is_file() and suffix in _TYPES:
            body = item.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:12]
            assets[item.name] = Asset(item.name, body, _TYPES[suffix], digest)
    return assets


#: Every asset by file name.
ASSETS: dict[str, Asset] = _load()


def url(root: str, name: str) -> str:
    """The URL of an asset below the mount point ``root``, with its hash (cache forever)."""
    return f"{root}static/{name}?v={ASSETS[name].digest}"


def total_size() -> int:
    """The bytes of every asset together (the page's own weight beyond its HTML)."""
    return sum(len(asset.body) for asset in ASSETS.values())
