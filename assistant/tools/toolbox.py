"""All the tools Parley offers at once: the built-in ones, the MCP servers' (mcp_servers.py), the sentence
templates that call them directly (commands.py), and the one way a call is run: arguments checked, errors turned
into a spoken answer and a log line, a tool that changes something outside Parley asked about first."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from assistant.tools import arithmetic, clock, opener, phrases, units
from assistant.tools.commands import CommandMatcher
from assistant.tools.memory import MemoryBook, memory_tools
from assistant.tools.timers import TimerBook, timer_tools
from assistant.tools.tool import Call, Tool, ToolError, ToolResult, check_arguments

log = logging.getLogger(__name__)

# What the chat model is told besides each tool's own description.
TOOL_INSTRUCTIONS = ("When the user asks for a timer, an alarm, the time or date, arithmetic, a unit conversion, "
                     "or to remember or forget something, call the matching tool. Answer every other question "
                     "yourself, without a tool.")


class Toolbox:
    """The tools of one Parley process. `confirm(question) -> bool` asks the person before a tool that changes
    something outside Parley runs (None: such tools are declined). Thread-safe."""

    def __init__(self, timers: TimerBook | None = None, memory: MemoryBook | None = None,
                 matcher: CommandMatcher | None = None, confirm: Callable[[str], bool] | None = None) -> None:
        self.timers = timers or TimerBook()
        self.memory = memory or MemoryBook()
        self.matcher = matcher or CommandMatcher()
        self.confirm = confirm
        self.mcp = None  # mcp_servers.McpServers, when servers are set
        self.mcp_connecting = None  # the thread connecting to them at start
        self._builtin: dict[str, Tool] = {tool.name: tool for tool in (
            *clock.TOOLS, *timer_tools(self.timers), *arithmetic.TOOLS, *units.TOOLS, *memory_tools(self.memory),
            *opener.TOOLS)}

    @property
    def builtin_names(self) -> set[str]:
        return set(self._builtin)

    def tools(self) -> dict[str, Tool]:
        """Every tool by name: the built-in ones, then the MCP servers' (a name already taken gets its server's
        name in front)."""
        tools = dict(self._builtin)
        if self.mcp is not None:
            tools.update(self.mcp.tools(taken=set(tools)))
        return tools

    def specs(self) -> list[dict]:
        """The tools as OpenAI-style functions, for the chat model."""
        return [tool.spec() for tool in self.tools().values()]

    def match(self, text: str, language: str | None) -> Call | None:
        """The command `text` is, by the sentence templates, or None (the chat model answers)."""
        try:
            return self.matcher.match(text, language)
        except Exception:  # a template that fails must not cost the turn: the chat model answers then
            log.exception("matching %r against the command templates failed", text[:80])
            return None

    def resolve(self, call: Call) -> Call | None:
        """`call` with the name of the tool it means (small models call "multiply" or "drop_timers"), or None for
        a tool Parley does not have ("cat_joke": a model that put its answer in a made-up call)."""
        tools = self.tools()
        if call.name in tools:
            return call
        name = similar_tool(call.name)
        if name in tools:
            log.info("the chat model called %r: taken as %s", call.name, name)
            return Call(name, call.arguments, call.source)
        return None

    def acts(self, call: Call) -> bool:
        """Whether `call` would change something (then it waits until the turn is surely over)."""
        tool = self.tools().get(call.name)
        return tool is None or tool.acts

    def run(self, call: Call, language: str | None) -> ToolResult:
        """Do `call`; never raises. A failure is a result with `failed` and words that say what went wrong."""
        started = time.perf_counter()
        tool = self.tools().get(call.name)
        if tool is None:
            log.warning("the chat model called an unknown tool %r %s", call.name, call.arguments)
            return ToolResult(phrases.say("tool_failed", language, why=_unknown_tool(call.name, language)),
                              failed=True)
        try:
            arguments = check_arguments(tool.parameters, call.arguments)
        except ValueError as exc:
            log.warning("tool %s called with wrong arguments %s: %s", call.name, call.arguments, exc)
            return ToolResult(phrases.say("tool_failed", language, why=_wrong_arguments(exc, language)), failed=True)
        if tool.changes_outside and not self._allowed(tool, arguments, language):
            log.info("tool %s declined", call.name)
            return ToolResult(phrases.say("tool_declined", language), failed=True)
        try:
            result = tool.handler(arguments, phrases.language_of(language))
        except ToolError as exc:
            log.info("tool %s %s: %s", call.name, arguments, exc)
            return ToolResult(str(exc), failed=True)
        except Exception as exc:
            log.exception("tool %s failed on %s", call.name, arguments)
            return ToolResult(phrases.say("tool_failed", language, why=_short(exc)), failed=True)
        log.info("tool %s %s (%s) done in %.0f ms: %s", call.name, arguments, call.source,
                 1000 * (time.perf_counter() - started), result.said[:120] or _short(result.data))
        return result

    def prompt_text(self) -> str:
        """What the chat model's system prompt says of the tools and the remembered facts."""
        return " ".join(part for part in (TOOL_INSTRUCTIONS, self.memory.prompt_text()) if part)

    def wait_for_servers(self, timeout: float = 20.0) -> None:
        """Wait (at most `timeout` s) until the MCP servers are connected or given up on, so their tools are known."""
        if self.mcp_connecting is not None:
            self.mcp_connecting.join(timeout)

    def close(self) -> None:
        self.timers.close()
        if self.mcp is not None:
            self.mcp.close()

    def _allowed(self, tool: Tool, arguments: dict, language: str | None) -> bool:
        if self.confirm is None:
            return False
        shown = json.dumps(arguments, ensure_ascii=False)
        return bool(self.confirm(f"Run the tool {tool.name} {shown}? {tool.description}"))


# Names small models give the built-in tools ("multiply", "drop_timers"), by the words in them, first match wins.
_NAME_WORDS = (
    ("cancel_timer", ("cancel", "drop", "stop", "delete", "remove", "clear")),
    ("list_timers", ("list", "left", "remaining", "status")),
    ("set_alarm", ("alarm", "wake")),
    ("set_timer", ("timer", "countdown", "remind")),
    ("calculate", ("calc", "multipl", "add", "sum", "divi", "subtract", "math", "compute", "product", "total")),
    ("convert_units", ("convert", "unit")),
    ("get_date", ("date", "day")),
    ("get_time", ("time", "clock")),
    ("forget", ("forget",)),
    ("recall", ("recall", "memories", "list_memory")),
    ("remember", ("remember", "memo", "note", "save")),
    ("open", ("open", "launch", "browse")),
)


def similar_tool(name: str) -> str | None:
    """The built-in tool a name the model made up stands for, or None."""
    lowered = name.lower()
    return next((tool for tool, words in _NAME_WORDS if any(word in lowered for word in words)), None)


def _short(thing: object, limit: int = 160) -> str:
    text = str(thing).strip().splitlines()[0] if str(thing).strip() else type(thing).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unknown_tool(name: str, language: str | None) -> str:
    return {"en": f"there is no tool called {name}", "ko": f"{name}라는 도구는 없어요",
            "zh": f"没有叫{name}的工具"}[phrases.language_of(language)]


def _wrong_arguments(error: ValueError, language: str | None) -> str:
    return {"en": f"the request was incomplete ({error})", "ko": f"요청이 불완전했어요 ({error})",
            "zh": f"请求不完整（{error}）"}[phrases.language_of(language)]
