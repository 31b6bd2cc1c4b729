"""`parley chat`: a live conversation in the terminal — the same engine and events the desktop app uses."""

from __future__ import annotations

import argparse
import dataclasses
import json
import queue
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, wait

from assistant.cli.checks import language
from assistant.runtime.events import (Answering, BargeIn, Problem, ReplyFinished, ReplyText, State, StateChanged,
                                     TimerRang, ToolConsent, TurnTimings, UserSaid, WordsSoFar)

# The main thread waits in steps this long. A quit signal's Python handler runs on the main thread, and only once it
# runs Python code again: a read of stdin there is cut short only if the signal lands on that thread, and under load
# it landed on another one (PortAudio's, llama.cpp's) and Ctrl+C went unanswered for good. Waits in steps never block
# it for longer than a step.
_MAIN_THREAD_STEP_S = 0.2

_STATE_LABELS = {
    State.IDLE: "idle", State.LISTENING: "listening…", State.USER_SPEAKING: "hearing you…",
    State.THINKING: "thinking…", State.SPEAKING: "speaking", State.MUTED: "muted",
}


def add_chat_command(commands) -> None:
    chat = commands.add_parser("chat", help="a live voice conversation in the terminal (Ctrl+C to stop)")
    mode = chat.add_mutually_exclusive_group()
    mode.add_argument("--text", action="store_true", help="type instead of speaking (replies are still spoken)")
    mode.add_argument("--ptt", action="store_true", help="push to talk: Enter starts a turn, Enter again ends it")
    mode.add_argument("--wake-word", action="store_true",
                      help="answer only what follows the wake word (the setting's phrase), or a follow-up to a reply")
    chat.add_argument("--no-echo-cancellation", action="store_true", help="for headphones")
    chat.add_argument("--json", action="store_true", help="print every event as a JSON line (for scripts and tests)")
    chat.add_argument("--policy", choices=("default", "fixed"), default="default",
                      help="turn-taking: default = the settings; fixed = a fixed silence ends the turn and the voice "
                           "waits for a whole first sentence (the policy before Smart Turn, for comparisons)")
    chat.add_argument("--language", type=language,
                      help="the language you speak (default: the setting; auto = detect it each turn)")
    chat.set_defaults(handler=run_chat)


class TerminalView:
    """Prints the conversation as it happens: a state line, the transcript, the reply as it streams. On a terminal,
    the words of a turn being spoken show on one line that updates, until its transcript replaces them."""

    def __init__(self, out=sys.stdout) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._replying = False
        self._captions = out.isatty()
        self._caption_shown = False

    def __call__(self, event) -> None:
        with self._lock:
            if isinstance(event, WordsSoFar):
                if self._captions and not self._replying:
                    print(f"\r\033[KYou:    {event.text} …", end="", file=self._out, flush=True)
                    self._caption_shown = True
                return
            if self._caption_shown:  # whatever comes next takes the caption's line
                print("\r\033[K", end="", file=self._out)
                self._caption_shown = False
            if isinstance(event, StateChanged):
                if not self._replying:
                    print(f"[{_STATE_LABELS[event.state]}]", file=self._out, flush=True)
            elif isinstance(event, UserSaid):
                print(f"You:    {event.text}", file=self._out, flush=True)
            elif isinstance(event, ReplyText):
                if not self._replying:
                    print("Parley: ", end="", file=self._out)
                    self._replying = True
                print(event.delta, end="", file=self._out, flush=True)
            elif isinstance(event, ReplyFinished):
                if self._replying:
                    print(" [interrupted]" if event.interrupted else "", file=self._out, flush=True)
                    self._replying = False
            elif isinstance(event, TurnTimings):
                parts = ", ".join(f"{k} {v:.0f} ms" for k, v in event.timings_ms.items())
                print(f"        ({parts} after you stopped speaking)", file=self._out, flush=True)
            elif isinstance(event, BargeIn):
                print(f"        (interrupted: silent {event.latency_ms:.0f} ms after your first word)", file=self._out, flush=True)
            elif isinstance(event, Answering):
                print(f"(answering: {event.who})", file=sys.stderr, flush=True)
            elif isinstance(event, Problem):
                print(f"parley: {event.message}" + (f" — {event.fix}" if event.fix else ""), file=sys.stderr, flush=True)
            elif isinstance(event, TimerRang):
                print(f"⏰ {event.words}", file=self._out, flush=True)
            elif isinstance(event, ToolConsent):
                print(f"{event.question} Type yes or no.", file=self._out, flush=True)


class TypedConsent:
    """A tool waiting for a yes (ToolConsent) is answered by the next line typed: yes/y or anything else."""

    def __init__(self) -> None:
        self._pending = None

    def __call__(self, event) -> None:
        if isinstance(event, ToolConsent):
            self._pending = event.answer

    def answered(self, line: str) -> bool:
        """True when `line` answered a waiting tool (and is no turn)."""
        pending, self._pending = self._pending, None
        if pending is None or pending.done():
            return False
        pending.set_result(line.strip().lower() in ("y", "yes"))
        return True


def json_line_view(event) -> None:
    """One JSON object per event on stdout: {"event": "StateChanged", ...fields}."""
    fields = {k: (v.value if isinstance(v, State) else v) for k, v in vars(event).items() if k != "answer"}
    print(json.dumps({"event": type(event).__name__, "t": round(time.monotonic(), 4), **fields}, ensure_ascii=False,
                     default=str), flush=True)


def _start_off_the_main_thread(conversation, listen: bool) -> None:
    """`conversation.start()` on a thread of its own while this one waits for it, in steps. Python runs signal
    handlers on the main thread only, between bytecodes: a model being loaded there (an ONNX session, seconds on a
    busy machine) would hold Ctrl+C back, while a wait in steps lets it through within a step."""
    started: Future = Future()

    def start() -> None:
        try:
            conversation.start(listen=listen)
            started.set_result(None)
        except BaseException as exc:  # re-raised on the main thread
            started.set_exception(exc)

    threading.Thread(target=start, name="loading", daemon=True).start()
    while not wait([started], timeout=_MAIN_THREAD_STEP_S).done:
        pass
    started.result()


def _typed_lines(stream) -> Iterator[str]:
    """The lines of `stream` (stdin), read on a thread of their own while the main thread waits in steps."""
    lines: queue.SimpleQueue = queue.SimpleQueue()

    def read() -> None:
        try:
            for line in stream:
                lines.put(line)
        finally:
            lines.put(None)

    threading.Thread(target=read, name="stdin", daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=_MAIN_THREAD_STEP_S)
        except queue.Empty:
            continue
        if line is None:
            return
        yield line


def run_chat(args: argparse.Namespace) -> int:
    from assistant.cli.checks import check_settings_models, with_language
    from assistant.conversation.core import Conversation, conversation_config
    from assistant.conversation.engines import Engines
    from assistant.runtime.events import EventBus
    from assistant.models.store import ModelStore
    from assistant.runtime.settings import load_settings

    settings = with_language(load_settings(), args.language)
    if args.wake_word:
        settings = dataclasses.replace(settings, conversation=dataclasses.replace(settings.conversation, mode="wake_word"))
    store = ModelStore()
    # A settings.toml that names a model that doesn't exist, or one for another job, fails now, before loading.
    check_settings_models(settings, store, ("vad", "stt", "llm", "tts", "turn")
                          + (("wake",) if settings.conversation.mode == "wake_word" else ()))
    push_to_talk = args.ptt or (settings.conversation.mode == "push_to_talk" and not args.text)
    config = conversation_config(settings, hands_free=not push_to_talk and not args.text,
                                 echo_cancellation=not args.no_echo_cancellation, policy=args.policy)
    engines = Engines(settings, store)
    bus = EventBus()
    bus.subscribe(json_line_view if args.json else TerminalView())
    consent = TypedConsent()
    bus.subscribe(consent)
    conversation = Conversation(engines, bus, config)
    try:
        print("Loading models…", file=sys.stderr, flush=True)
        _start_off_the_main_thread(conversation, listen=not args.text)
        if args.text:
            print("Type a message and press Enter (Ctrl+D or Ctrl+C to quit).", file=sys.stderr, flush=True)
            for line in _typed_lines(sys.stdin):
                if not consent.answered(line):
                    conversation.say_text(line)
        elif push_to_talk:
            print("Press Enter to talk, Enter again to stop (Ctrl+C to quit).", file=sys.stderr, flush=True)
            pressed = False
            for _ in _typed_lines(sys.stdin):
                pressed = not pressed
                conversation.push_to_talk(pressed)
        else:
            print("Speak whenever you like, or type (Ctrl+C to quit).", file=sys.stderr, flush=True)
            for line in _typed_lines(sys.stdin):  # typed turns work in hands-free mode too
                if not consent.answered(line):
                    conversation.say_text(line)
            while True:
                time.sleep(_MAIN_THREAD_STEP_S)
        conversation.wait_until_quiet()
    except KeyboardInterrupt:  # Ctrl+C or SIGTERM, at any point, loading included
        print("\nStopping…", file=sys.stderr)
        return 130
    finally:
        conversation.stop()
        engines.close(timeout=0.3)
    return 0
