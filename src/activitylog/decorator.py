"""``@log.records(...)``: record an action after each successful call of a service function."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

import attrs

from .errors import ConfigurationError
from .models import Target

if TYPE_CHECKING:
    from .log import ActivityLog

__all__ = ["Call", "records"]

F = TypeVar("F", bound=Callable[..., Any])


@attrs.frozen
class Call:
    """What a ``@log.records`` callable sees: the call's bound arguments and its result."""

    args: Mapping[str, Any]
    result: Any

    def __getattr__(self, name: str) -> Any:
        # Only called for names that are not attributes. "args" itself can be missing while
        # copy/pickle rebuild the object; looking it up here would recurse forever.
        if name == "args" or name.startswith("__"):
            raise AttributeError(name)
        try:
            return self.args[name]
        except KeyError:
            raise AttributeError(
                f"{name!r}: the call has no such argument (arguments: {', '.join(self.args)})"
            ) from None


def records(
    log: ActivityLog,
    action: str,
    *,
    target: Target | Callable[[Call], Target | None] | None,
    metadata: Mapping[str, Any] | Callable[[Call], Mapping[str, Any] | None] | None,
    description: str | Callable[[Call], str | None] | None,
    changes: Mapping[str, Any] | Callable[[Call], Mapping[str, Any] | None] | None,
    when: Callable[[Call], bool] | None,
) -> Callable[[F], F]:
    """The decorator :meth:`ActivityLog.records` returns, recording into ``log``."""
    log.registry.get(action)  # fail at decoration time, not at the first call
    if when is not None and not callable(when):
        raise ConfigurationError(f"when must be a function of the call, not {when!r}")
    for name, value, kinds in (
        ("target", target, (Target,)),
        ("metadata", metadata, (Mapping,)),
        ("description", description, (str,)),
        ("changes", changes, (Mapping,)),
    ):
        if value is not None and not callable(value) and not isinstance(value, kinds):
            raise ConfigurationError(
                f"{name} must be a {kinds[0].__name__}, a function of the call or None, "
                f"not {type(value).__name__}"
            )

    def decorate(fn: F) -> F:
        if not callable(fn):
            raise ConfigurationError(f"@log.records decorates a function, not {fn!r}")
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"cannot decorate {fn!r}: {exc}") from None

        def fields_of(
            args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
        ) -> dict[str, Any] | None:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            call = Call(dict(bound.arguments), result)
            if when is not None and not when(call):
                return None

            def resolve(value: Any) -> Any:
                return value(call) if callable(value) else value

            return {
                "target": resolve(target),
                "metadata": resolve(metadata),
                "description": resolve(description),
                "changes": resolve(changes),
            }

        def after(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
            fields = fields_of(args, kwargs, result)
            if fields is not None:
                log.record(action, **fields)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                result = await fn(*args, **kwargs)
                fields = fields_of(args, kwargs, result)
                if fields is not None:
                    # Never block the event loop on the store: the write runs in a thread.
                    await log.arecord(action, **fields)
                return result

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = fn(*args, **kwargs)
            after(args, kwargs, result)
            return result

        return cast(F, wrapper)

    return decorate
