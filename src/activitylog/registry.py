"""The action registry: which actions exist, their category, kind, label and description."""

from __future__ import annotations

import string
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from .errors import DuplicateAction, InvalidAction, UnknownAction, UnknownCategory
from .models import Actor, Kind, Target

_PLACEHOLDERS = frozenset({"actor", "target", "changes", "items"})


def _plural(noun: str) -> str:
    # English regular plurals; enough for the nouns of an audit catalogue ("12 addresses").
    if noun.endswith("y") and noun[-2:-1] not in tuple("aeiou"):
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def _kind(value: Any) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        choices = ", ".join(k.value for k in Kind)
        raise InvalidAction(f"unknown kind {value!r} (choose {choices})") from None


def _nonempty(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidAction(f"an action's {attribute.name} must be a non-empty string: {value!r}")


def _validate_template(instance: ActionType, attribute: Any, template: str) -> None:
    if not isinstance(template, str):
        raise InvalidAction(f"action {instance.key!r}: the template must be a string")
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise InvalidAction(f"action {instance.key!r}: bad description template: {exc}") from None
    unknown = fields - _PLACEHOLDERS
    if unknown:
        raise InvalidAction(
            f"action {instance.key!r}: unknown placeholder(s) {sorted(unknown)} in template; "
            f"use {sorted(_PLACEHOLDERS)}"
        )


def _format_value(value: Any) -> str:
    if value is None or value == "":
        return "none"
    return str(value)


@attrs.frozen
class ActionType:
    """One kind of tracked action, e.g. ``lead.bulk_deleted`` ("Lead Bulk Deleted").

    ``template`` renders the default description; see :meth:`describe`.
    """

    key: str = attrs.field(validator=_nonempty)
    label: str = attrs.field(validator=_nonempty)
    category: str = attrs.field(validator=_nonempty)
    kind: Kind = attrs.field(converter=_kind)
    template: str = attrs.field(default="{actor} {target}", validator=_validate_template)
    noun: str = ""
    when: str = ""

    @property
    def color(self) -> str:
        """The color class of the label (``green``/``gray``/``red``)."""
        return self.kind.color

    def describe(
        self,
        actor: Actor,
        target: Target | None = None,
        changes: Mapping[str, tuple[Any, Any]] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Render the default description, e.g. "Ada Lovelace deleted lead “Acme Corp”"."""
        target_text = ""
        if target is not None:
            target_text = f"“{target.label}”" if target.label else f"#{target.id}"
        change_text = ", ".join(
            f"{field} from {_format_value(old)} to {_format_value(new)}"
            for field, (old, new) in (changes or {}).items()
        )
        metadata = metadata or {}
        count: Any = metadata.get("count")
        ids = metadata.get("ids")
        if count is None and isinstance(ids, (list, tuple)):
            count = len(ids)
        noun = self.noun or self.key.split(".")[0].replace("_", " ")
        if count is None:
            items = f"multiple {_plural(noun)}"
        else:
            items = f"{count} {noun if count == 1 else _plural(noun)}"
        text = self.template.format(
            actor=actor.name, target=target_text, changes=change_text, items=items
        )
        # Optional parts may be empty; never leave doubled or dangling spaces behind.
        return " ".join(text.split()).replace(" ()", "")


_ACTION_FIELDS = frozenset(a.name for a in attrs.fields(ActionType)) - {"key"}


class ActionRegistry:
    """The actions and categories a log accepts; thread-safe to register into.

    ``ActionRegistry()`` holds the built-in catalogue; ``ActionRegistry.empty()`` holds nothing,
    for hosts that define every action themselves.
    """

    def __init__(self, *, builtin: bool = True) -> None:
        self._lock = threading.Lock()
        self._actions: dict[str, ActionType] = {}
        self._categories: dict[str, str] = {}
        if builtin:
            from .catalogue import ACTIONS, CATEGORIES

            for name, what in CATEGORIES:
                self.add_category(name, what)
            for key, label, category, kind, noun, template, when in ACTIONS:
                self.register(
                    ActionType(key, label, category, kind, template=template, noun=noun, when=when)
                )

    @classmethod
    def empty(cls) -> ActionRegistry:
        """A registry with no categories and no actions."""
        return cls(builtin=False)

    def add_category(self, name: str, description: str = "") -> None:
        """Add a category; categories list in the order they were added."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidAction(f"a category name must be a non-empty string, not {name!r}")
        with self._lock:
            if name in self._categories:
                raise DuplicateAction(f"category {name!r} is already registered")
            self._categories[name] = description

    def register(self, action: ActionType | str, **fields: Any) -> ActionType:
        """Register an action, given as an :class:`ActionType` or as a key plus its fields.

        ``register("invoice.paid", label="Invoice Paid", category="Billing", kind="update")``.
        A missing label is derived from the key. The category must exist.
        """
        if isinstance(action, str):
            if not action.strip():
                raise InvalidAction("an action key must be a non-empty string")
            fields.setdefault("label", action.replace(".", " ").replace("_", " ").title())
            fields.setdefault("kind", Kind.UPDATE)
            unknown = sorted(set(fields) - _ACTION_FIELDS)
            if unknown or "category" not in fields:
                raise InvalidAction(
                    f"action {action!r}: "
                    + (f"unknown field(s) {', '.join(unknown)}" if unknown else "no category")
                    + f"; give {', '.join(sorted(_ACTION_FIELDS))} (category is required)"
                )
            action = ActionType(action, **fields)
        elif not isinstance(action, ActionType):
            raise InvalidAction(f"register an ActionType or a key, not {type(action).__name__}")
        elif fields:
            raise InvalidAction("pass either an ActionType or a key with fields, not both")
        with self._lock:
            if action.key in self._actions:
                raise DuplicateAction(f"action {action.key!r} is already registered")
            if action.category not in self._categories:
                raise UnknownCategory(action.category, self._categories)
            self._actions[action.key] = action
        return action

    def get(self, key: str) -> ActionType:
        """The action registered under ``key``; raises :class:`UnknownAction` naming it."""
        try:
            return self._actions[key]
        except (KeyError, TypeError):
            raise UnknownAction(str(key), self._actions) from None

    def check_category(self, name: str) -> str:
        """Return ``name`` when it is a registered category, else raise :class:`UnknownCategory`."""
        if not isinstance(name, str) or name not in self._categories:
            raise UnknownCategory(str(name), self._categories)
        return name

    @property
    def categories(self) -> tuple[str, ...]:
        """Category names in display order."""
        return tuple(self._categories)

    def category_description(self, name: str) -> str:
        """What a category tracks."""
        return self._categories[self.check_category(name)]

    def actions_in(self, category: str) -> tuple[ActionType, ...]:
        """The actions of one category, in registration order."""
        self.check_category(category)
        return tuple(a for a in self._actions.values() if a.category == category)

    def __contains__(self, key: object) -> bool:
        return key in self._actions

    def __iter__(self) -> Iterator[ActionType]:
        return iter(tuple(self._actions.values()))

    def __len__(self) -> int:
        return len(self._actions)
