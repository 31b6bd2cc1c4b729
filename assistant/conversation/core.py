"""The live conversation: microphone → voice activity → transcribe → chat → speak → speaker, as one object with
thread-safe public methods. This file wires the parts; the turn is decided elsewhere.

Threads (none of them the UI's):
  - PortAudio callbacks only copy (capture/microphone.py, playback/speaker.py);
  - "listen" (listener.py): microphone → echo canceller → VAD → endpointer → end of turn and wake word; it posts
    what it hears;
  - "turns" (turn_worker.py): transcribes turns and generates replies (on the MLX worker), posting what comes;
  - "piper" (speak/voice.py): voices the reply sentence by sentence, posting each piece;
  - "conversation" (owner.py): the one owner, which lets the machine (machine.py) decide on each event in order
    and carries out what it says.
The public methods post an event to the owner and return.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future

import numpy as np

from assistant.capture.echo_reference import make_echo_canceller
from assistant.capture.microphone import Microphone
from assistant.conversation import turn_events as m
from assistant.conversation.config import ConversationConfig, conversation_config  # noqa: F401 (for callers)
from assistant.conversation.listener import MIN_RECORDING, Heard, Listener
from assistant.conversation.machine import TurnMachine
from assistant.conversation.owner import Control, Owner
from assistant.listen.wake_gate import WakeConfig
from assistant.playback.speaker import Speaker
from assistant.runtime.events import EventBus, State, StateChanged, TimersChanged, ToolConsent
from assistant.runtime.settings import heard_language

log = logging.getLogger(__name__)

# How long stop() waits for the threads and the devices: quitting is bounded (assistant/runtime/shutdown.py).
STOP_WAIT_S = 0.8
# How long a tool that changes something outside Parley waits for the person's yes (then it is not done).
CONSENT_WAIT_S = 30.0


class Conversation:
    """A live voice conversation. Thread-safe public methods; events go to `bus`."""

    def __init__(self, engines, bus: EventBus, config: ConversationConfig = ConversationConfig()) -> None:
        self.engines = engines
        self.bus = bus
        self.owner = Owner(engines, bus, config)

    @property
    def config(self) -> ConversationConfig:
        return self.owner.config

    @property
    def state(self) -> State:
        return self.owner.state

    @property
    def machine(self) -> TurnMachine:
        return self.owner.machine

    @property
    def speaker(self) -> Speaker | None:
        return self.owner.speaker

    @property
    def microphone(self) -> Microphone | None:
        return self.owner.listener.microphone if self.owner.listener is not None else None

    @property
    def muted(self) -> bool:
        return self.owner.muted

    def start(self, listen: bool = True) -> None:
        """Load the models, open the speaker (and the microphone when `listen`), start the threads."""
        language = self.engines.settings.conversation.language
        self.engines.preload(heard_language(language), warm_up=True)
        self.owner.say_who_answers()
        synthesizer = self.engines.synthesizer()
        speaker = Speaker(self.config.audio, synthesizer.sample_rate)
        speaker.start()
        listener = None
        if listen:
            microphone = Microphone(self.config.audio)
            microphone.start()
            echo = make_echo_canceller(microphone.config.capture_rate) if self.config.echo_cancellation else None
            log.info("echo cancellation %s", "on" if echo is not None else "off")
            listener = Listener(self.owner, microphone, echo, self.owner.post)
        self.run_with(speaker, synthesizer, listener)

    def run_with(self, speaker: Speaker, voice, listener: Listener | None = None) -> None:
        """Start the threads on these parts: the speaker (started), the voice (a Synthesizer, or one with its
        interface) and the listener (not yet started; None: push-to-talk and typing only). Tests hand in fakes."""
        self.owner.start(speaker, voice, listener)
        if listener is not None and listener.microphone is not None:
            listener.start()
        toolbox = getattr(self.engines, "toolbox", None)  # (tests hand in engines of their own, without tools)
        if toolbox is not None:  # timers ring through the owner, which plays and says them
            toolbox.timers.on_ring = self.owner.post
            toolbox.timers.subscribe(lambda: self.bus.publish(TimersChanged()))
            toolbox.timers.start()
            toolbox.confirm = self._ask_consent

    def _ask_consent(self, question: str) -> bool:
        """The turn thread: ask whoever listens (the app's dialog, the terminal) before a tool changes something;
        no answer within CONSENT_WAIT_S is a no."""
        answer: Future = Future()
        self.bus.publish(ToolConsent(question, answer))
        try:
            return bool(answer.result(CONSENT_WAIT_S))
        except Exception:  # (a timeout, or a listener that failed)
            log.info("nobody answered %r within %.0f s: not done", question, CONSENT_WAIT_S)
            return False

    def stop(self, timeout: float = STOP_WAIT_S) -> None:
        """Stop listening and speaking, and end the threads, within about `timeout` s: a thread still busy then (a
        Whisper pass, a device stuck in ALSA) is logged and left to end in the background, where it can do no harm
        (the devices are closed and nothing it produces is played)."""
        deadline = time.monotonic() + timeout
        owner = self.owner
        owner.post(m.StopReply())
        owner.post(Control("stop"))
        if owner.listener is not None:
            owner.listener.stop()
        if owner.speech is not None:
            owner.speech.follow(0)  # the sentence being voiced is dropped, not finished
        if owner.worker is not None:
            owner.worker.close()
        threads = [owner.thread] + [part.thread for part in (owner.listener, owner.worker) if part is not None]
        for thread in threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    log.warning("the %s thread is still busy; not waiting for it", thread.name)
        for device in (self.speaker, self.microphone):
            if device:
                device.stop(timeout=max(0.1, (deadline - time.monotonic()) / 2))
        if owner.speech is not None:
            owner.speech.close(timeout=max(0.1, deadline - time.monotonic()))
        owner.hold_floor(False)
        if owner.state is not State.IDLE:
            owner.state = State.IDLE
            self.bus.publish(StateChanged(State.IDLE))

    def say_text(self, text: str) -> None:
        """A typed turn: interrupts a reply in progress and answers `text`."""
        if text.strip():
            self.owner.post(m.Typed(text.strip()))

    def push_to_talk(self, pressed: bool) -> None:
        """The push-to-talk key: pressing interrupts at once and starts a turn; releasing ends it at once."""
        listener = self.owner.listener
        if pressed:
            if listener is not None:
                listener.start_recording()
            self.owner.post(m.PushToTalk(True, detail=time.monotonic()))
            return
        audio = listener.stop_recording() if listener is not None else np.zeros(0, np.float32)
        now = time.monotonic()
        self.owner.post(m.PushToTalk(False, len(audio) >= MIN_RECORDING, detail=Heard(None, 0.0, now, None, now, audio)))

    def set_hands_free(self, on: bool, wake: WakeConfig | None = None) -> None:
        """Switch between hands-free (listening all the time; with `wake`, answering only turns with the wake word)
        and push-to-talk only, live."""
        self.owner.post(Control("hands_free", (on, wake if on else None)))

    def set_muted(self, muted: bool) -> None:
        """Mute the microphone: nothing it hears counts (a reply in progress plays on), live."""
        self.owner.muted = muted
        if muted and self.owner.listener is not None:
            self.owner.listener.stop_recording()
        self.owner.post(m.Mute(muted))

    def wait_until_quiet(self, timeout: float = 300.0) -> bool:
        """Block until no turn is queued or being answered (for scripted use: `chat --text` at end of input)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.owner.quiet():
                return True
            time.sleep(0.05)
        return False

    def cancel_reply(self) -> None:
        """Stop the reply in progress (Stop in the menu)."""
        self.owner.post(m.StopReply())

    def reset(self) -> None:
        """Forget the conversation."""
        self.owner.post(Control("reset"))
