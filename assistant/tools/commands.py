"""The common commands, matched from sentence templates before any model is asked (as Home Assistant's Assist
does, with its `hassil` matcher): "set a timer for five minutes" is a timer whatever the chat model, at no model
latency. The templates are in sentences/<language>.yaml; a match becomes a tool call, or nothing when its words
do not make sense for the tool (then the chat model answers)."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from pathlib import Path

from assistant.tools import spoken_math, timers
from assistant.tools.tool import Call
from assistant.tools.units import find_unit

log = logging.getLogger(__name__)

SENTENCES = Path(__file__).with_name("sentences")
LANGUAGES = ("en", "ko", "zh")
_ARTICLES = re.compile(r"^(the|my|a|an|our)\s+", re.IGNORECASE)


class CommandMatcher:
    """Sentence templates per language, loaded on first use (the number words of each language take ~0.1 s)."""

    def __init__(self, folder: Path = SENTENCES) -> None:
        self._folder = folder
        self._intents: dict[str, object] = {}
        self._lock = threading.Lock()

    def preload(self, language: str | None) -> None:
        """Load `language`'s templates now (and build their number words), not on the first command."""
        for code in (language,) if language in LANGUAGES else LANGUAGES:
            self._recognize("", code)

    def match(self, text: str, language: str | None) -> Call | None:
        """The tool call `text` asks for, or None. `language`: the turn's (None or another: English's templates and
        then the others', for a sentence in a script of its own)."""
        text = unicodedata.normalize("NFKC", text).strip()
        if not text:
            return None
        for code in _languages_for(text, language):
            # The best match first; when its words make no sense for its tool ("what's 100 fahrenheit in celsius"
            # is no sum), the next template that matched.
            for result in self._recognize(text, code):
                call = _call(result.intent.name, dict(result.entities), text, code)
                if call is not None:
                    log.info("command %s %s matched (%s)", call.name, call.arguments, code)
                    return call
        return None

    def _recognize(self, text: str, language: str) -> list:
        from hassil import Intents, recognize_all, recognize_best

        with self._lock:
            intents = self._intents.get(language)
            if intents is None:
                with open(self._folder / f"{language}.yaml", encoding="utf-8") as file:
                    intents = self._intents[language] = Intents.from_yaml(file)
        if not text:
            recognize_best("5", intents)  # (builds the number words)
            return []
        best = recognize_best(text, intents, language=language)
        if best is None:
            return []
        others = [r for r in recognize_all(text, intents, language=language) if r.intent.name != best.intent.name]
        return [best] + others


def _languages_for(text: str, language: str | None) -> tuple[str, ...]:
    if re.search(r"[\uac00-\ud7af]", text):
        return ("ko",)
    if re.search(r"[\u4e00-\u9fff]", text):
        return ("zh",)
    return ("en",)


def _text(entities: dict, name: str, original: str) -> str:
    """A wildcard's words as said (hassil drops the spaces of a Chinese or Korean one: take them from the text)."""
    entity = entities.get(name)
    if entity is None:
        return ""
    span = getattr(entity, "text_span", None)
    said = original[span[0]:span[1]] if span else str(entity.value)
    return said.strip().strip("?？.。!！,，").strip()


def _number(entities: dict, name: str) -> float:
    entity = entities.get(name)
    return float(entity.value) if entity is not None else 0.0


def _call(intent: str, entities: dict, text: str, language: str) -> Call | None:
    arguments: dict = {}
    if intent == "set_timer" and "bad" in entities:  # "minus five minutes", "zero seconds": the tool says why not
        arguments = {"duration": "0 seconds"}
    elif intent == "set_timer":
        seconds = sum(_number(entities, unit) * factor
                      for unit, factor in (("hours", 3600), ("minutes", 60), ("seconds", 1)))
        if not seconds:  # "half an hour", "an hour and a half", 半小时
            seconds = 5400 if "hour and a half" in text.lower() else 1800
        arguments = {"duration": f"{round(seconds)} seconds"}
        name = _ARTICLES.sub("", _text(entities, "name", text))
        if name:
            arguments["name"] = name
    elif intent == "set_alarm":
        said = _text(entities, "time", text)
        try:
            arguments = {"time": timers.alarm_time(said).strftime("%H:%M")}
        except ValueError:
            return None  # "set an alarm for tomorrow": not a time of day; the chat model may make sense of it
    elif intent == "cancel_timer":
        name = _ARTICLES.sub("", _text(entities, "name", text))
        if name:
            arguments["name"] = name
        elif re.search(r"alarm|알람|闹钟", text) and not re.search(r"timer|타이머|计时|定时|倒计时", text):
            arguments["kind"] = "alarm"
        elif re.search(r"timer|타이머|计时|定时|倒计时", text) and not re.search(r"alarm|알람|闹钟", text):
            arguments["kind"] = "timer"
    elif intent == "calculate":
        expression = spoken_math.arithmetic(_text(entities, "expression", text), language)
        if expression is None:
            return None
        arguments = {"expression": expression}
    elif intent == "convert_units":
        value, from_unit = spoken_math.quantity(_text(entities, "quantity", text), language)
        to_unit = _ARTICLES.sub("", _text(entities, "to_unit", text))
        if value is None or find_unit(from_unit) is None or find_unit(to_unit) is None:
            return None
        arguments = {"value": value, "from_unit": from_unit, "to_unit": to_unit}
    elif intent == "remember" and language == "ko":  # the fact is what comes before 기억, less its quoting ending
        fact = re.sub(r"\s*((이)?라고|고|는 걸|는 것을|을|를)$", "", text.split("기억")[0].strip())
        if not fact:
            return None
        arguments = {"fact": fact}
    elif intent in ("remember", "forget", "open"):
        key = {"remember": "fact", "forget": "about", "open": "target"}[intent]
        said = _text(entities, key, text)
        if said:
            arguments[key] = said
        elif intent != "forget":
            return None
    return Call(intent, arguments, source="template")
