"""The time and the date where the user is (the computer's time zone), read out in the turn's language."""

from __future__ import annotations

import datetime as dt

from assistant.tools import phrases
from assistant.tools.tool import Tool, ToolResult, parameters


def now() -> dt.datetime:
    """The local time, with its zone."""
    return dt.datetime.now().astimezone()


def _time(arguments: dict, language: str) -> ToolResult:
    moment = now()
    said = phrases.say("time_now", language, time=phrases.clock_time(moment, language))
    return ToolResult(said, {"time": moment.strftime("%H:%M"), "zone": moment.tzname()})


def _date(arguments: dict, language: str) -> ToolResult:
    today = now().date()
    return ToolResult(phrases.say("date_today", language, date=phrases.date(today, language)),
                      {"date": today.isoformat()})


TOOLS = (
    Tool("get_time", "The current clock time, when the user asks what time it is.", parameters(), _time),
    Tool("get_date", "Today's date and weekday, when the user asks the date or the day.", parameters(), _date),
)
