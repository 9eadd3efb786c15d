"""``settings.ACTIVITYLOG``: read once, cached, and re-read when a test overrides the setting."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from ...access import Role
from ...errors import ConfigurationError
from ...log import ActivityLog
from ...models import Actor, ApiKeyRef
from ...registry import ActionRegistry
from .._common import actor_from_user, api_key_from_token, default_error_body
from .._http import RequestSettings, attach

SETTING = "ACTIVITYLOG"

#: Every key ``settings.ACTIVITYLOG`` may hold, with its default.
DEFAULTS: dict[str, Any] = {
    "STORE": None,
    "STORE_OPTIONS": {},
    "REGISTRY": None,
    "INTEGRITY_KEY": None,
    "ORG": "activitylog.integrations.django.conf.default_org",
    "DEFAULT_ORG": None,
    "ACTOR": "activitylog.integrations.django.conf.default_actor",
    "API_KEY": "activitylog.integrations.django.conf.default_api_key",
    "ROLE": "activitylog.integrations.django.conf.default_role",
    "ANONYMOUS_ACTOR": None,
    "ERROR_BODY": "activitylog.integrations._common.default_error_body",
    "RECORD_IP": True,
    "RECORD_USER_AGENT": True,
    "RECORD_REQUEST_ID": True,
    "TRUSTED_PROXIES": [],
    "REQUEST_ID_HEADER": "X-Request-ID",
    "SAME_TRANSACTION": False,
    "DATABASE": "default",
    "VIEWER_ACCESS": None,
}


def _callable(key: str, value: Any) -> Callable[..., Any]:
    if isinstance(value, str):
        try:
            value = import_string(value)
        except ImportError as exc:
            raise ConfigurationError(f"ACTIVITYLOG[{key!r}]: cannot import {value!r}: {exc}") from None
    if not callable(value):
        raise ConfigurationError(f"ACTIVITYLOG[{key!r}] must be a callable or its dotted path")
    return value  # type: ignore[no-any-return]


def _registry(value: Any) -> ActionRegistry | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = import_string(value)
        except ImportError as exc:
            raise ConfigurationError(
                f"ACTIVITYLOG['REGISTRY']: cannot import {value!r}: {exc}"
            ) from None
    if callable(value) and not isinstance(value, ActionRegistry):
        value = value()
    if not isinstance(value, ActionRegistry):
        raise ConfigurationError(
            "ACTIVITYLOG['REGISTRY'] must name an ActionRegistry (or a function returning one), "
            f"not {type(value).__name__}"
        )
    return value


def _anonymous(value: Any) -> Actor | None:
    if value is None or isinstance(value, Actor):
        return value
    if isinstance(value, str) and value.strip():
        return Actor.system(value)
    raise ConfigurationError(
        "ACTIVITYLOG['ANONYMOUS_ACTOR'] must be None (record nothing), an Actor or a name"
    )


@attrs.frozen
class Config:
    """``settings.ACTIVITYLOG`` checked and resolved (dotted paths imported)."""

    store: str | None
    store_options: Mapping[str, Any]
    registry: ActionRegistry | None
    integrity_key: str | bytes | None
    org: Callable[[Any], Any]
    default_org: str | None
    actor: Callable[[Any], Actor | None]
    api_key: Callable[[Any], ApiKeyRef | None]
    role: Callable[[Any], Role | str | None]
    anonymous_actor: Actor | None
    error_body: Callable[[Any], bool]
    request: RequestSettings
    same_transaction: bool
    database: str
    viewer_access: Callable[[Any], bool] | None


def raw() -> dict[str, Any]:
    """The setting merged over :data:`DEFAULTS`; unknown keys raise."""
    given = getattr(settings, SETTING, None) or {}
    if not isinstance(given, Mapping):
        raise ConfigurationError("settings.ACTIVITYLOG must be a dict")
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ConfigurationError(
            f"settings.ACTIVITYLOG has unknown keys {', '.join(unknown)} "
            f"(known: {', '.join(DEFAULTS)})"
        )
    return {**DEFAULTS, **given}


@functools.cache
def get_config() -> Config:
    """The current configuration (cached until ``settings.ACTIVITYLOG`` changes)."""
    values = raw()
    store = values["STORE"]
    if store is not None and (not isinstance(store, str) or "://" not in store):
        raise ConfigurationError(
            f"ACTIVITYLOG['STORE'] must be a store URL such as 'sqlite:///activity.db', not {store!r}"
        )
    viewer_access = values["VIEWER_ACCESS"]
    return Config(
        store=store,
        store_options=dict(values["STORE_OPTIONS"]),
        registry=_registry(values["REGISTRY"]),
        integrity_key=values["INTEGRITY_KEY"],
        org=_callable("ORG", values["ORG"]),
        default_org=values["DEFAULT_ORG"],
        actor=_callable("ACTOR", values["ACTOR"]),
        api_key=_callable("API_KEY", values["API_KEY"]),
        role=_callable("ROLE", values["ROLE"]),
        anonymous_actor=_anonymous(values["ANONYMOUS_ACTOR"]),
        error_body=_callable("ERROR_BODY", values["ERROR_BODY"] or default_error_body),
        request=RequestSettings(
            ip=bool(values["RECORD_IP"]),
            user_agent=bool(values["RECORD_USER_AGENT"]),
            request_id=bool(values["RECORD_REQUEST_ID"]),
            trusted_proxies=values["TRUSTED_PROXIES"],
            request_id_header=values["REQUEST_ID_HEADER"],
        ),
        same_transaction=bool(values["SAME_TRANSACTION"]),
        database=str(values["DATABASE"]),
        viewer_access=None if viewer_access is None else _callable("VIEWER_ACCESS", viewer_access),
    )


_logs: list[ActivityLog] = []
_BUILTIN = ActionRegistry()


def get_registry() -> ActionRegistry:
    """The configured registry (the built-in catalogue if none is): what decorators check
    action names against, without opening the store."""
    return get_config().registry or _BUILTIN


def get_log() -> ActivityLog:
    """The project's Activity Log, opened from ``ACTIVITYLOG['STORE']`` on first use."""
    if _logs:
        return _logs[0]
    config = get_config()
    if config.store is None:
        raise ConfigurationError(
            "settings.ACTIVITYLOG['STORE'] is not set (e.g. 'sqlite:///activity.db')"
        )
    options: dict[str, Any] = dict(config.store_options)
    options["registry"] = get_registry()
    if config.integrity_key is not None:
        options["integrity_key"] = config.integrity_key
    log = attach(ActivityLog.open(config.store, **options))
    _logs.append(log)
    return log


def reset() -> None:
    """Forget the cached configuration and close the cached log."""
    get_config.cache_clear()
    while _logs:
        _logs.pop().close()


def _changed(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING:
        reset()


setting_changed.connect(_changed, dispatch_uid="activitylog.settings_changed")


# -- default resolvers ---------------------------------------------------------------------------


def _org_of(holder: Any) -> Any:
    for attribute in ("activitylog_org_id", "org_id", "organization_id"):
        value = getattr(holder, attribute, None)
        if value is not None:
            return value
    for attribute in ("org", "organization"):
        value = getattr(holder, attribute, None)
        if value is not None:
            return getattr(value, "pk", value)
    return None


def default_org(request: Any) -> Any:
    """The request's org: ``request.org_id``/``request.org`` (set by the host's tenant
    middleware), else the user's ``org_id``/``org``, else ``ACTIVITYLOG['DEFAULT_ORG']``."""
    value = _org_of(request)
    if value is None:
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            value = _org_of(user)
    return value if value is not None else get_config().default_org


def default_actor(request: Any) -> Actor | None:
    """The authenticated ``request.user`` as an :class:`Actor` (``None`` when anonymous)."""
    return actor_from_user(getattr(request, "user", None))


def default_api_key(request: Any) -> ApiKeyRef | None:
    """The API key DRF authenticated the request with (``request.auth``), if it is one."""
    return api_key_from_token(getattr(request, "auth", None))


def default_role(request: Any) -> Role | str | None:
    """``user.activitylog_role`` or ``user.role`` if set; else superusers are Owners, staff
    Admins, other users Members."""
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    for attribute in ("activitylog_role", "role"):
        value = getattr(user, attribute, None)
        if isinstance(value, (str, Role)) and value:
            return value
    if getattr(user, "is_superuser", False):
        return Role.OWNER
    if getattr(user, "is_staff", False):
        return Role.ADMIN
    return Role.MEMBER
