"""One tool: its name, what it does, the JSON schema of its arguments, and the handler that does it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolResult:
    """What a tool did: `said` is spoken to the user as it is (in the turn's language); `data` is the plain
    result, for logs, tests and programs."""

    said: str
    data: Any = None
    failed: bool = False


class ToolError(Exception):
    """A tool could not do what was asked; the message is said to the user as it is (in the turn's language)."""


@dataclass(frozen=True)
class Call:
    """A request to run tool `name` with `arguments` (from a sentence template or the chat model)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    source: str = "model"  # "template" or "model"


@dataclass(frozen=True)
class Tool:
    """A tool the chat model may call. `handler(arguments, language)` returns a ToolResult or raises ToolError;
    `acts` marks a tool that changes something (a timer set, a fact remembered): it waits until the turn is surely
    over, never run for a reply begun at a pause and dropped; `changes_outside` one that changes something beyond
    Parley (the person is asked first, for MCP)."""

    name: str
    description: str
    parameters: dict[str, Any]
    handler: Callable[[dict[str, Any], str], ToolResult]
    changes_outside: bool = False
    acts: bool = False

    def spec(self) -> dict[str, Any]:
        """The tool as an OpenAI-style function for the chat model."""
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}


def parameters(required: tuple[str, ...] = (), **properties: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema of an object with `properties`, of which `required` must be given."""
    return {"type": "object", "properties": properties, "required": list(required)}


_JSON_TYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "object": (dict,),
               "array": (list,)}


def check_arguments(schema: dict[str, Any], arguments: Any) -> dict[str, Any]:
    """`arguments` checked against the top level of `schema` (required keys, the types of the properties given).
    Keys the schema does not know are kept when they hold a plain value (a small model's "minutes": 7 beside the
    advertised "duration"), dropped when they hold a structure (its copy of the schema: "properties": {...}).
    Raises ValueError saying what is wrong (for the log and the model)."""
    if not isinstance(arguments, dict):
        raise ValueError(f"the arguments must be an object, not {arguments!r}")
    properties = schema.get("properties") or {}
    missing = [name for name in schema.get("required") or () if arguments.get(name) in (None, "")]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    checked = {}
    for name, value in arguments.items():
        if name not in properties:
            if not isinstance(value, (dict, list)) and name not in ("type", "required"):
                checked[name] = value
            continue
        wanted = properties[name].get("type")
        if isinstance(value, str) and wanted in ("integer", "number"):
            try:
                value = float(value) if wanted == "number" or "." in value else int(value)
            except ValueError:
                raise ValueError(f"{name} must be a number, not {value!r}") from None
        if wanted == "integer" and isinstance(value, float) and value.is_integer():
            value = int(value)
        types = _JSON_TYPES.get(wanted)
        if types and (not isinstance(value, types) or (isinstance(value, bool) and wanted != "boolean")):
            raise ValueError(f"{name} must be of type {wanted}, not {value!r}")
        if "enum" in properties[name] and value not in properties[name]["enum"]:
            raise ValueError(f"{name} must be one of {properties[name]['enum']}, not {value!r}")
        checked[name] = value
    return checked
