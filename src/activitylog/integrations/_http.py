"""Request details (request id, user agent, client IP), without any web framework.

Every integration turns its framework's request into a :class:`RequestDetails` with
:func:`details_from` and binds it for the request with :func:`bound_details`; a log passed
through :func:`attach` then adds the bound details to each entry's metadata, under
``"request"``. Each detail can be switched off (:class:`RequestSettings`) for privacy.
"""

from __future__ import annotations

import contextvars
import functools
import ipaddress
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import attrs

from ..errors import ConfigurationError
from ..log import ActivityLog
from ..models import Entry

#: The metadata key the details are recorded under.
METADATA_KEY = "request"

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# A request id is echoed from a client header: only short, plain tokens are kept, anything
# else (control characters, markup, megabytes) is replaced by a fresh id.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
MAX_USER_AGENT = 512


def _networks(value: Iterable[str] | str | None) -> tuple[_Network, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    networks = []
    for item in value:
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise ConfigurationError(
                f"trusted proxy {item!r} is not an IP address or network (e.g. '10.0.0.0/8')"
            ) from None
    return tuple(networks)


def _header_name(value: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9-]+", value):
        raise ConfigurationError(f"request_id_header must be an HTTP header name, not {value!r}")
    return value.lower()


@attrs.frozen
class RequestSettings:
    """Which request details are recorded, and whom to believe about the client's address.

    ``trusted_proxies`` lists the addresses or networks of the reverse proxies in front of the
    application. ``X-Forwarded-For`` is read only when the connection comes from one of them,
    and then only up to the first address that is not one of them; with no trusted proxies
    the client IP is the connection's peer address.
    """

    ip: bool = True
    user_agent: bool = True
    request_id: bool = True
    trusted_proxies: tuple[_Network, ...] = attrs.field(default=(), converter=_networks)
    request_id_header: str = attrs.field(default="X-Request-ID", converter=_header_name)

    @classmethod
    def off(cls) -> RequestSettings:
        """Record no request details at all."""
        return cls(ip=False, user_agent=False, request_id=False)


@attrs.frozen
class RequestDetails:
    """What is recorded about the HTTP request an entry was made in."""

    request_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None

    def as_metadata(self) -> dict[str, str]:
        """The details as stored in an entry's metadata (absent details are left out)."""
        values = {"id": self.request_id, "ip": self.ip, "user_agent": self.user_agent}
        return {key: value for key, value in values.items() if value is not None}

    @classmethod
    def from_metadata(cls, value: Any) -> RequestDetails | None:
        """The details back from :meth:`as_metadata` (``None`` for anything else)."""
        if not isinstance(value, Mapping):
            return None
        fields = {}
        for key, name in (("id", "request_id"), ("ip", "ip"), ("user_agent", "user_agent")):
            item = value.get(key)
            if isinstance(item, str):
                fields[name] = item
        return cls(**fields)


def _address(value: str | None) -> _Address | None:
    if not value:
        return None
    return _parse_address(value)


# Peers and proxies repeat from request to request; parsing an address is the costly part.
@functools.lru_cache(maxsize=4096)
def _parse_address(value: str) -> _Address | None:
    text = value.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_ip(
    peer: str | None, forwarded_for: str | None, trusted: tuple[_Network, ...] = ()
) -> str | None:
    """The client's address: the peer, or the ``X-Forwarded-For`` hop just before the
    trusted proxies when the peer is one of them (``None`` if no valid address is known)."""
    address = _address(peer)
    if address is None or not trusted:
        return str(address) if address is not None else None

    def is_trusted(candidate: _Address) -> bool:
        return any(candidate in network for network in trusted)

    if not is_trusted(address) or not forwarded_for:
        return str(address)
    # Walk from the nearest hop back: each trusted proxy vouches for the hop before it.
    for hop in reversed(forwarded_for.split(",")):
        candidate = _address(hop)
        if candidate is None:
            return str(address)  # a hop nobody can vouch for: keep the last known good one
        address = candidate
        if not is_trusted(candidate):
            break
    return str(address)


def _clean(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    text = _CONTROL.sub("", value).strip()[:limit]
    return text or None


def new_request_id() -> str:
    """A fresh request id (32 hex digits)."""
    return uuid.uuid4().hex


class Headers(Protocol):
    """A request's headers, looked up case-insensitively (Django's, Werkzeug's, Starlette's)."""

    def get(self, key: str, /) -> str | None: ...


def details_from(headers: Headers, peer: str | None, settings: RequestSettings) -> RequestDetails:
    """The details of one request; ``headers`` finds values by lower-case header names."""
    request_id = None
    if settings.request_id:
        given = headers.get(settings.request_id_header)
        request_id = given if given and _REQUEST_ID.fullmatch(given) else new_request_id()
    ip = None
    if settings.ip:
        ip = client_ip(peer, headers.get("x-forwarded-for"), settings.trusted_proxies)
    agent = _clean(headers.get("user-agent"), MAX_USER_AGENT) if settings.user_agent else None
    return RequestDetails(request_id=request_id, ip=ip, user_agent=agent)


_details: contextvars.ContextVar[RequestDetails | None] = contextvars.ContextVar(
    "activitylog_request_details", default=None
)


def current_details() -> RequestDetails | None:
    """The details of the request being handled, if any."""
    return _details.get()


@contextmanager
def bound_details(details: RequestDetails | None) -> Iterator[RequestDetails | None]:
    """Make ``details`` the current request's for the duration of the block."""
    token = _details.set(details)
    try:
        yield details
    finally:
        _details.reset(token)


_ATTACHED = "_activitylog_request_details"


def attach(log: ActivityLog) -> ActivityLog:
    """Make ``log`` add the current request's details to the metadata of every entry it builds.

    Metadata the caller gives under ``"request"`` wins. Attaching twice changes nothing.
    """
    if getattr(log, _ATTACHED, False):
        return log
    build = log.build

    @functools.wraps(build)
    def build_with_request(action: str, **fields: Any) -> Entry:
        details = _details.get()
        if details is not None:
            recorded = details.as_metadata()
            metadata = fields.get("metadata")
            if recorded and (
                metadata is None
                or (isinstance(metadata, Mapping) and METADATA_KEY not in metadata)
            ):
                fields["metadata"] = {**(metadata or {}), METADATA_KEY: recorded}
        return build(action, **fields)

    # The instance attribute shadows the method, so record(), record_many() and records()
    # (which all build through self.build) pick the details up.
    setattr(log, "build", build_with_request)  # noqa: B010
    setattr(log, _ATTACHED, True)
    return log
