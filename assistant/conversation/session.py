"""The assistant as an app runs it: one live conversation built from the settings, rebuilt when they change.

`AssistantSession` is what the desktop app (and anything else with a UI loop) drives. Every public
method returns at once: loading models, restarting after a settings change and stopping happen on a
"session" thread, so a UI thread that calls them never waits on a model. What happens is published
on `bus` as events (assistant/runtime/events.py), including `Loading` while models load and a `Problem` when
something fails, with what to do about it.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading

from assistant.conversation.core import Conversation, conversation_config
from assistant.conversation.engines import Engines
from assistant.models.store import ModelStore
from assistant.runtime.events import EventBus, Loading, Problem, Serving, State, StateChanged
from assistant.runtime.settings import Settings

log = logging.getLogger(__name__)

# Settings whose change needs no new engines: applied to the running conversation as they are.
_LIVE_ONLY = ("hotkey",)


class AssistantSession:
    """A conversation that follows the settings. Thread-safe; its methods never block on models."""

    def __init__(self, settings: Settings, bus: EventBus | None = None, store: ModelStore | None = None) -> None:
        self.settings = settings
        self.bus = bus or EventBus()
        self.store = store or ModelStore()
        self._engines: Engines | None = None
        self._conversation: Conversation | None = None
        self._api = None  # the API for other programs (assistant/api/api_server.py's ApiServers), while it runs
        self._muted = False
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run_jobs, name="session", daemon=True)
        self._thread.start()

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Load the models and start listening (in the background)."""
        self._jobs.put(self._start)

    def apply(self, settings: Settings) -> None:
        """Use new settings. A change of models, devices, listening or prompt rebuilds the conversation
        in the background (`Loading` events meanwhile); a change of mode applies at once, one of the API's address
        restarts the API."""
        old, self.settings = self.settings, settings
        change = what_changed(old, settings)
        if change == "mode":
            self.set_mode(settings.conversation.mode)
        elif change == "api":
            self._jobs.put(self._serve)
        elif change == "engines":
            self._jobs.put(self._start)

    def shutdown(self, timeout: float = 15.0) -> None:
        """Stop the conversation and the session thread."""
        self._jobs.put(self._stop)
        self._jobs.put(None)
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._conversation is not None

    @property
    def state(self) -> State:
        conversation = self._conversation
        return conversation.state if conversation else State.IDLE

    # --- what the user does (any thread) ------------------------------------------------------

    def talk(self, pressed: bool) -> None:
        """The push-to-talk key or the Talk menu item: pressed starts a turn (interrupting), released ends it."""
        if self._conversation is not None:
            self._conversation.push_to_talk(pressed)

    def stop_reply(self) -> None:
        """Stop what Parley is saying."""
        if self._conversation is not None:
            self._conversation.cancel_reply()

    def say_text(self, text: str) -> None:
        """A typed turn."""
        if self._conversation is not None:
            self._conversation.say_text(text)
        else:
            self.bus.publish(Problem("Parley is still loading its models", "wait a moment and send it again"))

    def reset(self) -> None:
        """Forget the conversation."""
        if self._conversation is not None:
            self._conversation.reset()

    def set_muted(self, muted: bool) -> None:
        self._muted = muted
        if self._conversation is not None:
            self._conversation.set_muted(muted)

    @property
    def muted(self) -> bool:
        return self._muted

    def set_mode(self, mode: str) -> None:
        """Hands-free, wake word or push-to-talk (settings.MODES), live."""
        self.settings = _with_mode(self.settings, mode)
        if self._conversation is not None:
            self._conversation.set_hands_free(mode != "push_to_talk", conversation_config(self.settings, True, True).wake)

    # --- the session thread -------------------------------------------------------------------

    def _run_jobs(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job()
            except Exception as exc:  # the app must go on, and say what happened
                log.exception("session job failed")
                self.bus.publish(Problem(f"Parley could not start listening: {exc}",
                                         "check the settings (models and devices); details are in the log file", "retry"))
                self.bus.publish(StateChanged(State.IDLE))

    def _start(self) -> None:
        settings = self.settings
        self.bus.publish(Loading(f"loading {settings.models.stt}, {settings.models.llm} and {settings.models.tts}"))
        engines = Engines(settings, self.store)
        config = conversation_config(settings, hands_free=settings.conversation.mode != "push_to_talk", echo_cancellation=True)
        conversation = Conversation(engines, self.bus, config)
        self._stop()  # the old conversation gives the devices and the MLX thread back
        try:
            conversation.start(listen=True)
        except Exception:
            conversation.stop()
            engines.close()
            self.bus.publish(Loading("", done=True))
            raise
        conversation.set_muted(self._muted)
        self._engines, self._conversation = engines, conversation
        # Only now: whoever handles it asks `state`, which must be the new conversation's.
        self.bus.publish(Loading("", done=True))
        log.info("listening with %s / %s / %s", settings.models.stt, settings.models.llm, settings.models.tts)
        self._serve()

    def _serve(self) -> None:
        """(Re)start the API for other programs on the conversation's engines, as the settings say."""
        from assistant.api.api_server import ApiServers

        self._stop_serving()
        api = self.settings.api
        if self._engines is None or not api.enabled:
            return
        servers = ApiServers(self._engines, api.host, api.port, api.wyoming_port if api.wyoming else None)
        try:
            where = servers.start()
        except OSError as exc:
            self.bus.publish(Problem(f"Parley's API for other programs could not start: {exc}",
                                     "Settings → Other programs has the ports (the conversation goes on)", "settings"))
            return
        self._api = servers
        log.info("serving other programs: %s", "; ".join(where))
        self.bus.publish(Serving(tuple(where)))

    def _stop_serving(self) -> None:
        if self._api is not None:
            self._api.stop()
            self._api = None
            self.bus.publish(Serving())

    def _stop(self) -> None:
        self._stop_serving()
        conversation, engines = self._conversation, self._engines
        self._conversation = self._engines = None
        if conversation is not None:
            conversation.stop()
        if engines is not None:
            engines.close()


def what_changed(old: Settings, new: Settings) -> str:
    """What a change of settings means for a running conversation: "nothing" (or only what the UI
    handles, the hotkey), "mode" (hands-free, wake word or push-to-talk, switched live), "api" (the API's ports or
    address: it restarts) or "engines" (rebuild; turning the API on or off too, for the chat model's second slot)."""
    before, after = _without(old, _LIVE_ONLY), _without(new, _LIVE_ONLY)
    if before == after:
        return "nothing"
    if _without(before, ("api",)) == _without(after, ("api",)) and before.api.enabled == after.api.enabled:
        return "api"
    if _with_mode(before, after.conversation.mode) == after:
        return "mode"
    return "engines"


def _without(settings: Settings, sections: tuple[str, ...]) -> Settings:
    return dataclasses.replace(settings, **{name: getattr(Settings(), name) for name in sections})


def _with_mode(settings: Settings, mode: str) -> Settings:
    return dataclasses.replace(settings, conversation=dataclasses.replace(settings.conversation, mode=mode))
