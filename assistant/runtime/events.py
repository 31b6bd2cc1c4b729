"""What the conversation tells its listeners (the desktop UI, the terminal client, tests).

One thread-safe subscription interface: `EventBus.subscribe(callback)`. Callbacks run on the
thread that published the event (an engine thread), so they must be quick and must not block;
a Qt listener forwards them to its main thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

log = logging.getLogger(__name__)


class State(Enum):
    """Where the conversation is."""

    IDLE = "idle"  # not listening (push-to-talk waiting for the key, or stopped)
    LISTENING = "listening"  # hands-free, waiting for speech
    USER_SPEAKING = "user_speaking"
    THINKING = "thinking"  # transcribing and waiting for the first words of the reply
    SPEAKING = "speaking"
    MUTED = "muted"  # the microphone is muted: nothing is heard until it is unmuted


@dataclass(frozen=True)
class StateChanged:
    state: State


@dataclass(frozen=True)
class UserSaid:
    """The final transcript of a user turn (or the typed text)."""

    turn: int
    text: str
    language: str
    # What ended the turn: "complete" (the end-of-turn model heard a finished sentence), "silence" (the silence
    # limit), "released" (push-to-talk), "max_length"; "" for typed text.
    ended_by: str = ""


@dataclass(frozen=True)
class WordsSoFar:
    """The words of the turn being spoken, as recognised so far: provisional (the next one replaces them, and the
    turn's `UserSaid` replaces the last), for live captions."""

    text: str


@dataclass(frozen=True)
class ReplyText:
    """A piece of the reply as the chat model writes it."""

    turn: int
    delta: str


@dataclass(frozen=True)
class ReplyFinished:
    """The reply as it stands in the history: all of it, or what was heard before an interruption."""

    turn: int
    text: str
    interrupted: bool


@dataclass(frozen=True)
class TurnTimings:
    """Milliseconds from the end of the user's speech (last voiced sample as the microphone delivered it)."""

    turn: int
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BargeIn:
    """The user interrupted; `latency_ms` = first speech frame from the mic → playback flushed."""

    turn: int
    latency_ms: float


@dataclass(frozen=True)
class Problem:
    """Something went wrong; `message` says what, `fix` what the user can do."""

    message: str
    fix: str = ""
    action: str = ""  # what would help, for a button in a UI: "settings", "retry" (start again) or ""


@dataclass(frozen=True)
class Serving:
    """Parley's API for other programs runs beside the conversation (`where`: a line per server, with its address),
    or stopped (`where` empty)."""

    where: tuple[str, ...] = ()


@dataclass(frozen=True)
class Loading:
    """Models are being set up or loaded (`what` says which, for a progress line); `done` when ready."""

    what: str
    done: bool = False


@dataclass(frozen=True)
class Answering:
    """Who answers the next turns: "qwen2.5-coder-0.5b-instruct on llama.cpp" (after loading, and when a
    server that can't answer hands a turn to the local model)."""

    who: str


@dataclass(frozen=True)
class TimerRang:
    """A timer or alarm ended: `words` is what Parley says of it ("Your tea timer is done.")."""

    words: str
    kind: str = "timer"  # "timer" or "alarm"
    name: str = ""


@dataclass(frozen=True)
class TimersChanged:
    """The running timers and alarms changed (set, cancelled or rung): for the tray's list."""


@dataclass(frozen=True)
class ToolConsent:
    """A tool that may change something outside Parley waits for the person's yes: `question` says what it would
    do; a listener (the app's dialog, the terminal) sets `answer` (a concurrent.futures.Future) to True or False.
    Nobody answering within the wait is a no."""

    question: str
    answer: object


Event = (StateChanged | UserSaid | ReplyText | ReplyFinished | TurnTimings | BargeIn | Problem | Loading | Answering
         | TimerRang | TimersChanged | ToolConsent)


class EventBus:
    """Thread-safe publish/subscribe for conversation events."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[Event], None]] = []

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call `callback(event)` for every event from now on; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, event: Event) -> None:
        """Deliver `event` to every subscriber; a failing subscriber is logged, never propagated."""
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:
                log.exception("event subscriber failed on %s", type(event).__name__)
