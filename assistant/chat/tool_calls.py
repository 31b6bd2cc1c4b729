"""Tool calls out of a chat model's stream, however the model writes them: OpenAI-style `tool_calls` deltas (a
server, or llama.cpp when it recognises the template's own format), or the call as text — Qwen's
<tool_call>{...}</tool_call>, or the bare JSON object the small models write instead ({"name": ..., "arguments":
...}, sometimes in a ```json fence). Text that is not a call streams on as it comes; a reply that might be a call is
held back only until it is clear it is not."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from assistant.tools.tool import Call

# How a call written as text starts (after white space). A reply starting otherwise is text, passed on at once.
_CALL_OPENINGS = ("{", "```", "<tool_call>", "<tools>", "[{")
# A call written as Python (a small model's other habit): set_timer(duration="7 minutes", name="eggs").
_PYTHON_CALL = re.compile(r"\s*([a-z_][a-z0-9_]*)\((.*)\)\s*\.?\s*", re.DOTALL)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


class ToolCallReader:
    """Feed it the stream's pieces (`text(delta)`, `native(tool_call_delta)`), then `finish()`; each returns what to
    pass on: text pieces and, at the end, at most one Call (a model asked for several gets the first)."""

    def __init__(self, tool_names: set[str]) -> None:
        self._names = tool_names
        self._held = ""  # text that may be a call
        self._passing = False  # the reply is text: pieces pass through
        self._native: dict[int, dict] = {}

    def text(self, delta: str) -> list[str]:
        if self._passing:
            return [delta]
        self._held += delta
        start = self._held.lstrip()
        if not start:
            return []
        openings = _CALL_OPENINGS + tuple(f"{name}(" for name in self._names)
        if any(opening.startswith(start[: len(opening)]) or start.startswith(opening) for opening in openings):
            return []  # could still be a call
        self._passing = True
        held, self._held = self._held, ""
        return [held]

    def native(self, delta: dict) -> None:
        """One entry of an OpenAI-style `tool_calls` delta (`index`, `function.name`, `function.arguments` as
        pieces of a JSON string)."""
        entry = self._native.setdefault(int(delta.get("index", 0)), {"name": "", "arguments": ""})
        function = delta.get("function") or {}
        entry["name"] += function.get("name") or ""
        arguments = function.get("arguments")
        if isinstance(arguments, dict):
            entry["arguments"] = json.dumps(arguments)
        elif arguments:
            entry["arguments"] += arguments

    def finish(self) -> list[str | Call]:
        if self._native:
            first = self._native[min(self._native)]
            return [Call(first["name"], _arguments(first["arguments"]))]
        held, self._held = self._held, ""
        if not held.strip():
            return []
        call = self._parse(held) or self._python_call(held)
        if call is not None:
            return [call]
        words = re.sub(r"</?(tool_call|tools)>", "", held)  # (empty tags are no words to say)
        return [words] if words.strip() else []

    def _parse(self, text: str) -> Call | None:
        body = re.sub(r"</?(tool_call|tools)>", " ", text).strip()  # (the 1.5B model writes <tools></tools> first)
        body = _FENCE.sub("", body.strip())
        data = None
        for start in (i for i, c in enumerate(body) if c in "{["):  # the first JSON value ("{{...}}" has one inside)
            try:  # (a model that calls two tools, or adds words after its call, gets the first)
                data, _ = json.JSONDecoder().raw_decode(body[start:])
                break
            except ValueError:
                continue
        if isinstance(data, list) and data:
            data = data[0]
        if not isinstance(data, dict):
            return None
        name = data.get("name") or (data.get("function") or {}).get("name")
        if not isinstance(name, str) or not ({"arguments", "parameters"} & data.keys() or name in self._names):
            return None  # JSON that is not a call: said as it is (an unknown tool's name is the toolbox's to tell)
        arguments = data.get("arguments", data.get("parameters", {}))
        return Call(name, _arguments(arguments))


    def _python_call(self, text: str) -> Call | None:
        """`name(key="value", ...)` of a known tool, with literal arguments only, as a call; else None."""
        import ast

        found = _PYTHON_CALL.fullmatch(text)
        if found is None or found.group(1) not in self._names:
            return None
        try:
            node = ast.parse(f"f({found.group(2)})", mode="eval").body
            arguments = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
        except (SyntaxError, ValueError):
            return None
        return Call(found.group(1), arguments) if not node.args else None


def _arguments(value) -> dict:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            return {"_unreadable": value}
    return value if isinstance(value, dict) else {"_unreadable": value}


class ToolCallDelta(dict):
    """One entry of a stream's `tool_calls` delta (a dict, told apart from the other dicts an engine passes)."""


def tool_exchange(call: Call, result: str) -> list[dict]:
    """The messages that say the assistant called `call` and the tool answered `result` (OpenAI's shape, which
    llama.cpp renders with the model's own template)."""
    return [{"role": "assistant", "content": "",
             "tool_calls": [{"id": "call_1", "type": "function",
                             "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": result}]


def read_calls(pieces: Iterator, tool_names: set[str]) -> Iterator[str | Call]:
    """Text pieces and tool-call deltas (dicts) in, text pieces and at most one Call out."""
    reader = ToolCallReader(tool_names)
    for piece in pieces:
        if isinstance(piece, dict):
            reader.native(piece)
        else:
            yield from reader.text(piece)
    yield from reader.finish()
