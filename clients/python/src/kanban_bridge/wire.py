"""Reading reply JSON with its types checked: a reply that breaks the protocol becomes a ProtocolError that
names the field, instead of a KeyError or a wrong type deep in the caller's code."""
from __future__ import annotations

from typing import Any, TypeVar

from .errors import ProtocolError

JSONObject = dict[str, Any]
T = TypeVar("T")


class Reader:
    """Typed access to one JSON object of a reply; `where` names it in errors (e.g. "task.get: task")."""

    def __init__(self, value: object, where: str) -> None:
        if not isinstance(value, dict):
            raise ProtocolError(f"{where}: expected a JSON object, got {type(value).__name__}")
        self.obj: JSONObject = value
        self.where = where

    def _get(self, key: str, types: tuple[type, ...], optional: bool) -> Any:
        if key not in self.obj:
            if optional:
                return None
            raise ProtocolError(f"{self.where}: missing '{key}'")
        value = self.obj[key]
        if value is None and optional:
            return None
        # bool is an int in Python; the protocol never sends a bool where a number belongs.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ProtocolError(f"{self.where}: '{key}' is {json_type(value)}, expected "
                                + " or ".join(t.__name__ for t in types) + (" or null" if optional else ""))
        return value

    def string(self, key: str) -> str:
        value: str = self._get(key, (str,), False)
        return value

    def opt_string(self, key: str) -> str | None:
        value: str | None = self._get(key, (str,), True)
        return value

    def integer(self, key: str) -> int:
        value: int = self._get(key, (int,), False)
        return value

    def opt_integer(self, key: str) -> int | None:
        value: int | None = self._get(key, (int,), True)
        return value

    def number(self, key: str) -> float:
        value: float = self._get(key, (int, float), False)
        return float(value)

    def boolean(self, key: str, default: bool = False) -> bool:
        value: bool | None = self._get(key, (bool,), True)
        return default if value is None else value

    def child(self, key: str) -> Reader:
        return Reader(self._get(key, (dict,), False), f"{self.where}.{key}")

    def opt_child(self, key: str) -> Reader | None:
        value = self._get(key, (dict,), True)
        return None if value is None else Reader(value, f"{self.where}.{key}")

    def raw_obj(self, key: str) -> JSONObject:
        value: JSONObject | None = self._get(key, (dict,), True)
        return value or {}

    def array(self, key: str, optional: bool = False) -> list[Any]:
        value: list[Any] | None = self._get(key, (list,), optional)
        return value or []

    def strings(self, key: str) -> list[str]:
        items = self.array(key, optional=True)
        for item in items:
            if not isinstance(item, str):
                raise ProtocolError(f"{self.where}: '{key}' holds {json_type(item)}, expected strings")
        return items

    def opt_strings(self, key: str) -> list[str] | None:
        return None if self.obj.get(key) is None else self.strings(key)

    def children(self, key: str, optional: bool = False) -> list[Reader]:
        return [Reader(item, f"{self.where}.{key}[{i}]") for i, item in enumerate(self.array(key, optional))]


def json_type(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)
