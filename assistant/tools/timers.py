"""Timers and alarms: kept in a JSON file so they survive a restart (and so `parley ask` and the app share them),
rung by a thread of their own when they end.

Several Parley processes may watch one file. Ringing a timer takes it out of the file under an exclusive lock,
and only the process that took it out rings it: a timer rings once, wherever it was set.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import re
import threading
import unicodedata
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant.runtime.atomic_file import set_aside, write_atomically
from assistant.runtime.paths import data_dir
from assistant.tools import phrases
from assistant.tools.tool import Tool, ToolError, ToolResult, parameters

log = logging.getLogger(__name__)

MAX_TIMER_S = 24 * 3600  # longer than a day is an alarm's job
WATCH_S = 1.0  # how often the file is looked at for timers set by another process


@dataclass(frozen=True)
class Timer:
    """A timer (`seconds` long) or an alarm, ending at `ends_at` (seconds since the epoch)."""

    id: str
    kind: str  # "timer" or "alarm"
    ends_at: float
    seconds: int = 0
    name: str = ""
    language: str = "en"

    def left_s(self, now: float | None = None) -> float:
        return max(0.0, self.ends_at - (time.time() if now is None else now))

    def described(self, language: str | None) -> str:
        """"the tea timer", "a 5 minute timer", "an alarm at 7:30 AM", in `language`."""
        if self.kind == "alarm":
            return phrases.say("alarm_at", language, time=phrases.clock_time(self.local_end(), language))
        if self.name:
            return phrases.say("a_named_timer", language, name=self.name)
        length = phrases.duration(self.seconds, language, adjective=True)
        return phrases.say("a_timer", language, duration=length, article="an" if length[:1] in "8" or
                           length.startswith(("11 ", "18 ")) else "a")

    def ringing_words(self) -> str:
        """What is said when it ends, in the language it was set in."""
        if self.kind == "alarm":
            return phrases.say("alarm_done", self.language, time=phrases.clock_time(self.local_end(), self.language))
        if self.name:
            return phrases.say("named_timer_done", self.language, name=self.name)
        return phrases.say("timer_done", self.language,
                           duration=phrases.duration(self.seconds, self.language, adjective=True))

    def local_end(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.ends_at).astimezone()


class TimerBook:
    """The timers and alarms in `path`. `on_ring(timer)` is called on the book's thread when one ends (late, at
    start, for one that ended while no Parley ran). Thread-safe."""

    def __init__(self, path: Path | None = None, on_ring: Callable[[Timer], None] | None = None) -> None:
        self.path = Path(path or data_dir() / "timers.json")
        self.on_ring = on_ring
        self.rings: Callable[[Timer], bool] = lambda timer: True  # which timers this process rings
        self._lock = threading.Lock()  # (the file lock is per process; this one orders this process's threads)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listeners: list[Callable[[], None]] = []

    # --- the list ------------------------------------------------------------------------------------------------

    def running(self) -> list[Timer]:
        """The timers and alarms not yet rung, soonest first."""
        with self._locked() as timers:
            return sorted(timers, key=lambda t: t.ends_at)

    def add(self, timer: Timer) -> Timer:
        with self._locked(write=True) as timers:
            timers.append(timer)
        self._changed()
        return timer

    def remove(self, ids: set[str]) -> list[Timer]:
        """Take the timers of `ids` off the list (not rung); the ones removed."""
        with self._locked(write=True) as timers:
            removed = [t for t in timers if t.id in ids]
            timers[:] = [t for t in timers if t.id not in ids]
        self._changed()
        return removed

    def subscribe(self, listener: Callable[[], None]) -> None:
        """`listener()` after every change (any thread): the tray's list of what is running."""
        self._listeners.append(listener)

    # --- the ringing thread ----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Ring timers as they end, from now on (those already past at once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="timers", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(2)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                due = [t for t in self.running() if t.ends_at <= time.time() and self.rings(t)]
                for timer in due:
                    if self.remove({timer.id}):  # (empty when another process rang it first)
                        log.info("%s %r ended (%.1f s late)", timer.kind, timer.name or timer.id,
                                 time.time() - timer.ends_at)
                        if self.on_ring is not None:
                            self.on_ring(timer)
                upcoming = self.running()
            except Exception:  # a broken file or listener must not end the ringing
                log.exception("the timers could not be checked")
                upcoming = []
            wait = min([t.left_s() for t in upcoming if self.rings(t)] + [WATCH_S])
            self._wake.wait(max(0.01, wait))
            self._wake.clear()

    def _changed(self) -> None:
        self._wake.set()
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("a timer listener failed")

    # --- the file ------------------------------------------------------------------------------------------------

    class _Locked:
        def __init__(self, book: TimerBook, write: bool) -> None:
            self.book, self.write = book, write

        def __enter__(self) -> list[Timer]:
            self.book._lock.acquire()
            try:
                self.book.path.parent.mkdir(parents=True, exist_ok=True)
                self.lock_file = open(self.book.path.with_suffix(".lock"), "a")
                fcntl.flock(self.lock_file, fcntl.LOCK_EX)
            except BaseException:
                self.book._lock.release()
                raise
            self.timers = self.book._read()
            return self.timers

        def __exit__(self, kind, value, traceback) -> None:
            try:
                if self.write and kind is None:
                    payload = json.dumps({"timers": [asdict(t) for t in self.timers]}, ensure_ascii=False, indent=1)
                    write_atomically(self.book.path, payload.encode("utf-8"))
            finally:
                fcntl.flock(self.lock_file, fcntl.LOCK_UN)
                self.lock_file.close()
                self.book._lock.release()

    def _locked(self, write: bool = False) -> TimerBook._Locked:
        return TimerBook._Locked(self, write)

    def _read(self) -> list[Timer]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [Timer(**item) for item in data.get("timers", [])]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            aside = set_aside(self.path)
            log.error("%s is unreadable (%s); it was moved to %s and the timers start empty", self.path, exc, aside)
            return []


# --- the tools -------------------------------------------------------------------------------------------------------

_DURATION_UNITS = ((r"h(?:ou)?rs?|hours?|시간|个小时|小时|钟头", 3600), (r"min(?:ute)?s?|분|分钟|分", 60),
                   (r"s(?:ec(?:ond)?s?)?|초|秒钟|秒", 1))


def duration_s(text: str) -> float:
    """The length `text` says ("7 minutes", "1 hour 30 minutes", "half an hour", "五分钟", "3분 30초"), in
    seconds: 0 when it says none, negative for "minus 5 minutes"."""
    from assistant.tools.spoken_math import with_digits

    raw = str(text).lower()
    if re.search(r"(one|an|1) hour and a half|一个半小时|1个半小时", raw):
        return 5400.0
    if re.search(r"half an hour|半小时|半个小时", raw):
        return 1800.0
    said = re.sub(r"\b(an?)\s+(hour|minute|second)", r"1 \2", with_digits(raw, "").lower())
    total = 0.0
    for unit, factor in _DURATION_UNITS:
        for number in re.findall(rf"(-?\d+(?:\.\d+)?)\s*(?:{unit})(?![a-z])", said):
            total += float(number) * factor
    if re.search(r"\b(minus|negative)\b|마이너스|负", said):
        total = -abs(total)
    return total


def timer_length_s(arguments: dict) -> float:
    """A set_timer call's length: its `duration` as said, or hours, minutes and seconds (numbers, or words: a
    small model writes "minutes": "five")."""
    total = 0.0
    for unit, factor in (("hours", 3600), ("minutes", 60), ("seconds", 1)):
        value = arguments.get(unit)
        if value in (None, ""):
            continue
        try:
            total += float(value) * factor
        except (TypeError, ValueError):
            total += duration_s(f"{value} {unit}")
    return total or duration_s(arguments.get("duration") or "")


_AFTERNOON = ("pm", "p.m", "evening", "night", "afternoon", "오후", "저녁", "밤", "下午", "晚上", "傍晚")
_MORNING = ("am", "a.m", "morning", "오전", "아침", "새벽", "早上", "上午", "凌晨", "早晨")
_CLOCK = re.compile(r"(\d{1,2})\s*(?:[:.時时点點]|시|h\b)?\s*(\d刻|\d{1,2}|半|반|一刻|三刻)?")


def alarm_time(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """The next time the clock shows `text` ("07:30", "7:30 p.m.", "오후 7시 반", "晚上七点半"): today, or tomorrow
    if that has passed. Raises ValueError when `text` holds no time of day."""
    import cn2an

    now = now or dt.datetime.now().astimezone()
    cleaned = unicodedata.normalize("NFKC", text).lower().strip()
    if re.search(r"[\u4e00-\u9fff]", cleaned):
        cleaned = cn2an.transform(cleaned, "cn2an")
    found = _CLOCK.search(cleaned)
    if found is None:
        raise ValueError(f"no time of day in {text!r}")
    hour = int(found.group(1))
    minute_text = found.group(2) or "0"
    minute = {"半": 30, "반": 30, "一刻": 15, "1刻": 15, "三刻": 45, "3刻": 45}.get(minute_text)
    minute = int(minute_text) if minute is None else minute
    if any(word in cleaned for word in _AFTERNOON) and hour < 12:
        hour += 12
    elif any(word in cleaned for word in _MORNING) and hour == 12:
        hour = 0
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)  # (ValueError past 23:59)
    return at if at > now else at + dt.timedelta(days=1)


def timer_tools(book: TimerBook) -> tuple[Tool, ...]:
    """The timer and alarm tools, on `book`."""

    def set_timer(arguments: dict, language: str) -> ToolResult:
        seconds = round(timer_length_s(arguments))
        if not 0 < seconds <= MAX_TIMER_S:
            raise ToolError(phrases.say("bad_duration", language))
        name = str(arguments.get("name") or "").strip()
        timer = book.add(Timer(uuid.uuid4().hex[:12], "timer", time.time() + seconds, seconds, name, language))
        length = phrases.duration(seconds, language)
        said = (phrases.say("named_timer_set", language, name=name, duration=length) if name
                else phrases.say("timer_set", language, duration=length))
        return ToolResult(said, {"id": timer.id, "seconds": seconds, "name": name})

    def set_alarm(arguments: dict, language: str) -> ToolResult:
        try:
            at = alarm_time(str(arguments["time"]))
        except (ValueError, KeyError):
            raise ToolError(phrases.say("bad_time", language)) from None
        name = str(arguments.get("name") or "").strip()
        timer = book.add(Timer(uuid.uuid4().hex[:12], "alarm", at.timestamp(), 0, name, language))
        return ToolResult(phrases.say("alarm_set", language, time=phrases.clock_time(at, language)),
                          {"id": timer.id, "time": at.strftime("%H:%M"), "name": name})

    def list_timers(arguments: dict, language: str) -> ToolResult:
        timers = book.running()
        if not timers:
            return ToolResult(phrases.say("no_timers", language), [])
        items = [t.described(language) if t.kind == "alarm" else
                 phrases.say("timer_left", language, what=t.described(language),
                             left=phrases.duration(round(t.left_s()), language)) for t in timers]
        separator = ", " if phrases.language_of(language) != "zh" else "，"
        return ToolResult(phrases.say("timers_running", language, count=len(timers), items=separator.join(items)),
                          [asdict(t) for t in timers])

    def cancel_timer(arguments: dict, language: str) -> ToolResult:
        timers = book.running()
        name = str(arguments.get("name") or "").strip().lower()
        kind = arguments.get("kind")
        if name:
            chosen = [t for t in timers if t.name.lower() == name] or \
                     [t for t in timers if name in t.name.lower() or t.name.lower() in name and t.name]
            if not chosen:
                raise ToolError(phrases.say("no_such_timer", language, name=arguments["name"]))
        else:
            chosen = [t for t in timers if kind in (None, "", t.kind)]
        if not chosen:
            return ToolResult(phrases.say("no_timers", language), [])
        book.remove({t.id for t in chosen})
        said = (phrases.say("cancelled", language, what=chosen[0].described(language)) if len(chosen) == 1
                else phrases.say("cancelled_all", language, count=len(chosen)))
        return ToolResult(said, [t.id for t in chosen])

    return (
        Tool("set_timer", "Start a countdown timer that rings when the time is up: 'remind me in 7 minutes', "
             "'count down 20 minutes', 'let me know when 10 minutes have passed'.",
             parameters((), duration={"type": "string",
                                                 "description": "how long, as said: '7 minutes', '1 hour 30 minutes'"},
                        name={"type": "string", "description": "what it is for, e.g. tea; may be empty"}),
             set_timer, acts=True),
        Tool("set_alarm", "Set an alarm that rings at a clock time: 'wake me at 6:45', 'alarm for 7 pm'.",
             parameters(("time",), time={"type": "string", "description": "the time, 24-hour HH:MM, e.g. 07:30"},
                        name={"type": "string"}),
             set_alarm, acts=True),
        Tool("list_timers", "Say which timers and alarms are running and how long each has left.", parameters(),
             list_timers),
        Tool("cancel_timer", "Cancel, stop or drop running timers or alarms: the named one, or all of them when no "
             "name is given.",
             parameters((), name={"type": "string", "description": "the timer's name; empty = all"},
                        kind={"type": "string", "enum": ["timer", "alarm"]}),
             cancel_timer, acts=True),
    )
