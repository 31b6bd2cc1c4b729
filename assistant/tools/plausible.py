"""Whether a built-in tool the chat model chose fits the words of the request at all: a small model offered tools
sometimes answers "How many legs does a spider have?" with the clock. Each built-in tool needs a sign in the request
(a length of time for a timer, a number for a sum, a unit for a conversion, "remember" for the memory, in English,
Korean or Chinese); a call without one is not run, and the model is asked to answer in words instead. Tools of MCP
servers are the user's own: their calls are not second-guessed."""

from __future__ import annotations

import re

from assistant.tools.spoken_math import with_digits
from assistant.tools.timers import duration_s
from assistant.tools.units import ALIASES, UNITS

_TIMERS = r"timer|alarm|countdown|count down|타이머|알람|计时|定时|倒计时|闹钟"
_CLOCK_TIME = r"\d{1,2}\s*[:.]\s*\d{2}|\d{1,2}\s*(a\.?m|p\.?m)\b|\d{1,2}\s*o'?clock|\d{1,2}\s*시|\d{1,2}\s*点"
_SIGNS = {
    "get_time": r"time|clock|o'?clock|hour|시|몇 시|시간|几点|时间|钟",
    "get_date": r"date|day|today|month|year|날짜|며칠|요일|오늘|몇 월|日期|几号|星期|今天|几月|礼拜|周几",
    "set_alarm": rf"alarm|wake|알람|깨워|闹钟|叫醒|{_CLOCK_TIME}",
    "list_timers": _TIMERS + r"|left|remaining|남았|还剩",
    "cancel_timer": _TIMERS,
    "remember": r"remember|keep in mind|note|don'?t forget|memori[sz]e|save|기억|메모|记住|记着|别忘|记下",
    "recall": r"remember|know about me|told you|기억|记得|记住",
    "forget": r"forget|delete|erase|잊|지워|忘",
    "open": r"open|launch|start|go to|run|열어|실행|켜|打开|启动|https?://|\.\w{2,}\b",
}


def plausible(name: str, request: str) -> bool:
    """Whether built-in tool `name` may be what `request` asks for (True for a tool not known here)."""
    text = with_digits(request, "").lower()
    if name == "set_timer":
        return duration_s(text) > 0 or re.search(_TIMERS, text) is not None
    if name == "calculate":
        return re.search(r"\d", text) is not None
    if name == "convert_units":  # two units ("ounces in a pound"), or a unit and an amount
        units = _units_mentioned(text)
        return len(units) >= 2 or (len(units) == 1 and re.search(r"\d", text) is not None)
    sign = _SIGNS.get(name)
    return sign is None or re.search(sign, text) is not None


_UNIT_NAMES = {**{key: key for key in UNITS}, **{name: key for name, key in ALIASES.items() if key},
               **{name: key for key, unit in UNITS.items() for pair in unit.names.values() for name in pair}}


def _units_mentioned(text: str) -> set[str]:
    """The units `text` names (short Latin ones, like "m" or "in", only right after a number: "5 m")."""
    found = set()
    for name, key in _UNIT_NAMES.items():
        name = name.lower()
        if name.isascii() and len(name) <= 2:
            if re.search(rf"\d\s*{re.escape(name)}(?![a-z])", text):
                found.add(key)
        elif name.isascii():
            if re.search(rf"(?<![a-z]){re.escape(name)}s?(?![a-z])", text):
                found.add(key)
        elif name in text:
            found.add(key)
    return found
