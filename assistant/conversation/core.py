"""The conversation orchestrator: microphone → voice activity → transcribe → chat → speak → speaker.

Threads (none of them the UI's):
  - PortAudio callbacks only copy (capture/microphone.py, playback/speaker.py);
  - "listen": drains the microphone, cancels echo, runs the VAD and the endpointer, and on the
    first frame of user speech flushes the speaker at once (barge-in);
  - "turns": transcribes utterances and streams the chat reply, both on the MLX worker;
  - "piper": voices the reply sentence by sentence (speak/voice.py SpeechWorker).
Every reply has a turn number; audio and text of a turn that is no longer current are dropped.

A barge-in first only pauses the reply: if the sound turns out not to be speech (too short, or no
words), the reply resumes from the sample where it stopped; if it is, the reply is cancelled and the
history keeps only what was heard, marked as interrupted.

A hands-free turn is answered before it is known to be over (the speculative start): at the first pause the
words so far are transcribed and, while the end-of-turn policy still listens, the reply is generated and voiced
but held back. If the turn ends at that pause, the held reply plays at once; if the user goes on, it is dropped
without a sound and the history forgets it.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from assistant.capture.microphone import Microphone
from assistant.playback.speaker import Speaker
from assistant.runtime.audio_stream import AudioConfig
from assistant.listen.echo_aware_vad import EchoAwareVad
from assistant.listen.endpointing import EndpointConfig, EndpointEvent, Endpointer, Event, Utterance
from assistant.conversation.engines import Engines
from assistant.runtime.events import (Answering, BargeIn, EventBus, Problem, ReplyFinished, ReplyText, State, StateChanged, TurnTimings,
                              UserSaid)
from assistant.runtime.job_thread import JobThread
from assistant.listen.end_of_turn import EndOfTurn, EndOfTurnConfig
from assistant.listen.wake_gate import (MIN_QUESTION_AT_PAUSE_MS, WakeConfig, WakeGate, after_phrase, chime,
                                         without_phrase)
from assistant.runtime.settings import Settings
from assistant.speak.voice import SpeechChunk, SpeechWorker
from assistant.speak.text.segmenter import SegmenterConfig, SentenceSegmenter
from assistant.listen.voice_activity import FRAME

log = logging.getLogger(__name__)

# Silence after which the words so far are transcribed, before the end of the turn is certain: at
# least the trailing silence an utterance keeps (200 ms), so the early transcript is of exactly the
# audio that the end of the turn would hand over.
EARLY_TRANSCRIPT_MS = 224
# The listening thread sleeps until the microphone audio that completes the next 32 ms frame is due, plus this
# margin; audio that is late is looked for this often.
LISTEN_MARGIN_S = 0.001
LISTEN_POLL_S = 0.002
# While nobody speaks and nothing plays, the VAD takes frames this many at a time: each wake-up costs far more than
# the frames after it (idle listening, side by side: 2.1% of a core at 4, 1.5% at 8). A speech start is seen up to
# 224 ms later then, no audio is lost; barge-in and the end of a turn are frame by frame.
QUIET_BATCH_FRAMES = 8
# The speaker's stream rests (is closed) after this long without a turn: nothing plays then, and a reply opens it
# again. Its 100 callbacks a second and the sound server's client threads cost ~2% of a core while listening.
# (Stopped and started again rather than closed, it cost a real interruption on the rig's echo path 3 times of 3:
# the restarted stream played later than its reference said, out of the canceller's reach.) None: it never rests.
SPEAKER_REST_S: float | None = 2.0
# Speech that begins this soon after a reply played out and is mostly its words is its echo, not the user.
OWN_ECHO_TAIL_S = 1.5
# How long stop() waits for the threads and the devices: quitting is bounded (assistant/runtime/shutdown.py).
STOP_WAIT_S = 0.8


@dataclass(frozen=True)
class ConversationConfig:
    """How the live conversation behaves."""

    hands_free: bool = True  # False = push-to-talk only
    wake: WakeConfig | None = None  # hands-free answers only turns with the wake word (or in the follow-up window)
    echo_cancellation: bool = True  # off for headphones
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)  # its end of silence and pauses: end_of_turn's
    end_of_turn: EndOfTurnConfig = field(default_factory=EndOfTurnConfig)
    # The voice starts on the reply's first clause ("Sure, ...") rather than its whole first sentence.
    first_clause: bool = True
    # The reply starts at the first pause, held back until the turn ends there (see the module docstring).
    speculative_start: bool = True
    audio: AudioConfig = field(default_factory=AudioConfig)


def conversation_config(settings: Settings, hands_free: bool, echo_cancellation: bool,
                        policy: str = "default") -> ConversationConfig:
    """The live conversation as the settings describe it (`echo_cancellation` False overrides them). `policy`
    "fixed" is the turn-taking before Smart Turn, for comparisons: the fixed silence, a whole first sentence."""
    listening = settings.listening
    wake = None
    if settings.conversation.mode == "wake_word":
        wake = WakeConfig(listening.wake_word, listening.wake_sensitivity, float(listening.follow_up_s))
    return ConversationConfig(
        hands_free=hands_free,
        wake=wake,
        echo_cancellation=settings.audio.echo_cancellation and echo_cancellation,
        endpoint=EndpointConfig(start_threshold=listening.vad_threshold,
                                stop_threshold=max(0.05, listening.vad_threshold - 0.15),
                                max_utterance_s=float(listening.max_utterance_s)),
        end_of_turn=EndOfTurnConfig(mode="fixed" if policy == "fixed" else listening.end_of_turn,
                                    fixed_silence_ms=listening.end_of_turn_silence_ms, patience_ms=listening.patience_ms),
        first_clause=policy != "fixed",
        speculative_start=policy != "fixed",
        audio=AudioConfig(input_device=settings.audio.input_device, output_device=settings.audio.output_device),
    )


@dataclass
class _Spoken:
    """One voiced piece of the current reply, kept so a paused reply can resume and the heard text be known."""

    tag: int
    text: str
    audio: np.ndarray  # at the speaker's rate


@dataclass
class _Speculation:
    """A reply begun at a pause, before the turn is known to be over. Its fields change under the conversation's
    lock: `confirmed` by the listening thread when the turn ends at this pause, `dropped` when the user goes on
    (or anything else interrupts), `declined` by the turn thread when there is nothing to answer."""

    utterance: Utterance  # the turn as it stands at the pause
    transcript: Future  # of its Transcript
    end_of_speech: float  # time.monotonic() of its last voiced frame
    confirmed: float = 0.0  # time.monotonic() the turn ended at this pause; 0.0: not (yet)
    dropped: bool = False
    declined: bool = False  # no words, Parley's own words, or a failure: the turn's end handles it as usual
    settled: threading.Event = field(default_factory=threading.Event)  # confirmed or dropped

    @property
    def key(self) -> tuple[int, int]:
        return self.utterance.start_frame, self.utterance.last_voiced_frame


@dataclass
class _Reply:
    turn: int
    pieces: list[_Spoken] = field(default_factory=list)
    text: str = ""
    generating: bool = True
    end_of_speech: float = 0.0  # time.monotonic() of the last voiced sample (or of the typed turn)
    timings_ms: dict[str, float] = field(default_factory=dict)
    first_said: float = 0.0  # time.monotonic() the first chunk went to the voice
    paused: bool = False
    interrupted: bool = False
    finished: threading.Event = field(default_factory=threading.Event)
    speculation: _Speculation | None = None  # begun at a pause: held until the turn ends there
    unpublished: list = field(default_factory=list)  # events kept back while held

    @property
    def held(self) -> bool:
        """Voiced but not played: the turn it answers may not be over yet."""
        return self.speculation is not None and not self.speculation.confirmed


class Conversation:
    """A live voice conversation. Thread-safe public methods; events go to `bus`."""

    def __init__(self, engines: Engines, bus: EventBus, config: ConversationConfig = ConversationConfig()) -> None:
        self.engines = engines
        self.bus = bus
        self.config = config
        self.state = State.IDLE
        self._lock = threading.RLock()
        self._turn = 0
        self._reply: _Reply | None = None
        self._utterances: queue.SimpleQueue = queue.SimpleQueue()
        self._running = threading.Event()
        self._stopping = threading.Event()  # set by stop(): waits give up early
        self._ptt_pressed = False
        self._ptt_frames: list[np.ndarray] = []
        self._threads: list[threading.Thread] = []
        self.microphone: Microphone | None = None
        self.speaker: Speaker | None = None
        self._speech: SpeechWorker | None = None
        self._echo = None
        self._frame_times = np.zeros(8192)  # arrival time of each frame, by frame index modulo the size
        self._frames_seen = 0
        self._barge_started = 0.0
        self._pending = 0  # turns queued or being answered
        self._microphone_lost = False
        self._muted = False
        self._chat_language: str | None = None  # the reply language of the last turn (for "auto")
        self._early = None  # ((start frame, last voiced frame), Future of its Transcript) from a pause
        self._speculation: _Speculation | None = None  # the reply begun at the current pause, if any
        self._end_of_turn: EndOfTurn | None = None  # the listening thread's
        self._wake_gate: WakeGate | None = None  # the listening thread's, in wake-word mode
        self._end_of_turn_thread: JobThread | None = None  # where the end-of-turn model runs
        self._last_played = (float("-inf"), "")  # (time.monotonic() it ended, text) of the last reply played out
        self._answering = ""  # who answered, as last said in an Answering event
        if engines is not None:  # (None only in tests of the listening side alone)
            engines.on_chat_notice = self._on_chat_notice

    # --- public, thread-safe ---------------------------------------------------------------

    def start(self, listen: bool = True) -> None:
        """Load the models, open the speaker (and the microphone when `listen`), start the threads."""
        settings = self.engines.settings
        language = settings.conversation.language
        self.engines.preload(None if language == "auto" else language, warm_up=True)
        self._say_who_answers()
        synthesizer = self.engines.synthesizer()
        self.speaker = Speaker(self.config.audio, synthesizer.sample_rate)
        self.speaker.start()
        self._speech = SpeechWorker(synthesizer, self._on_voice)
        self._running.set()
        self._spawn("turns", self._turn_loop)
        if listen:
            self.microphone = Microphone(self.config.audio)
            self.microphone.start()
            if self.config.echo_cancellation:
                self._echo = _make_echo_canceller(self.microphone.config.capture_rate)
            log.info("echo cancellation %s", "on" if self._echo is not None else "off")
            self._spawn("listen", self._listen_loop)
        self._set_state(self._resting_state() if listen else State.IDLE)

    def stop(self, timeout: float = STOP_WAIT_S) -> None:
        """Stop listening and speaking, and end the threads, within about `timeout` s: a thread still busy
        then (a Whisper pass, a device stuck in ALSA) is logged and left to end in the background, where
        it can do no harm (the devices are closed and nothing it produces is played)."""
        deadline = time.monotonic() + timeout
        self._running.clear()
        self._stopping.set()
        with self._lock:
            if self._speculation is not None:
                self._drop_speculation("quitting")
        self.cancel_reply()
        self._utterances.put(None)
        if self._speech:
            self._speech.cancel()  # the sentence being voiced is dropped, not finished
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("the %s thread is still busy; not waiting for it", thread.name)
        for device in (self.speaker, self.microphone):
            if device:
                device.stop(timeout=max(0.1, (deadline - time.monotonic()) / 2))
        if self._speech:
            self._speech.close(timeout=max(0.1, deadline - time.monotonic()))
        if self._end_of_turn_thread is not None:
            self._end_of_turn_thread.close(timeout=0)  # a daemon thread: a decision under way is dropped
        self._set_state(State.IDLE)

    def say_text(self, text: str) -> None:
        """A typed turn: interrupts a reply in progress and answers `text`."""
        if text.strip():
            self._queue("text", text.strip(), time.monotonic())

    def push_to_talk(self, pressed: bool) -> None:
        """The push-to-talk key: pressing interrupts at once and starts a turn; releasing ends it at once."""
        with self._lock:
            if pressed and not self._ptt_pressed:
                self._ptt_pressed = True
                self._ptt_frames = []
                self._interrupt(pause_only=False, started=time.monotonic())
                self._set_state(State.USER_SPEAKING)
            elif not pressed and self._ptt_pressed:
                self._ptt_pressed = False
                audio = np.concatenate(self._ptt_frames) if self._ptt_frames else np.zeros(0, np.float32)
                self._ptt_frames = []
                if len(audio) >= FRAME * 4:
                    self._queue("audio", audio, time.monotonic())
                else:
                    self._set_state(self._resting_state())

    def set_hands_free(self, on: bool, wake: WakeConfig | None = None) -> None:
        """Switch between hands-free (listening all the time; with `wake`, answering only turns with the wake word)
        and push-to-talk only, live."""
        with self._lock:
            self.config = dataclasses.replace(self.config, hands_free=on, wake=wake if on else None)
            if self.state in (State.IDLE, State.LISTENING):
                self._set_state(self._resting_state())

    def set_muted(self, muted: bool) -> None:
        """Mute the microphone: nothing it hears counts (a reply in progress plays on), live."""
        with self._lock:
            self._muted = muted
            if muted and self._ptt_pressed:
                self._ptt_pressed, self._ptt_frames = False, []
            if muted and self._reply is not None and self._reply.paused:
                self._resume_or_listen()  # what paused it will not be heard now
                return
            if self.state in (State.IDLE, State.LISTENING, State.MUTED, State.USER_SPEAKING) and self._reply is None:
                self._set_state(self._resting_state())

    @property
    def muted(self) -> bool:
        return self._muted

    def wait_until_quiet(self, timeout: float = 300.0) -> bool:
        """Block until no turn is queued or being answered (for scripted use: `chat --text` at end of input)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                busy = self._reply is not None or self._pending > 0
            if not busy:
                return True
            time.sleep(0.05)
        return False

    def cancel_reply(self) -> None:
        """Stop the reply in progress (Stop in the menu)."""
        with self._lock:
            self._interrupt(pause_only=False)

    def reset(self) -> None:
        """Forget the conversation."""
        self.cancel_reply()
        self.engines.chat.reset()

    # --- listening ----------------------------------------------------------------------------

    def _listen_loop(self) -> None:
        from assistant.models.errors import ModelError

        try:
            listener = EchoAwareVad(self.engines.new_vad, self._echo)
        except ModelError as exc:
            self.bus.publish(Problem(str(exc), "install the default models: parley models setup", "settings"))
            return
        self._end_of_turn = self._end_of_turn_policy()
        endpointer = Endpointer(self._end_of_turn.config.endpoint_config(self.config.endpoint, EARLY_TRANSCRIPT_MS))
        reference = _ReferenceResampler(lambda: self.speaker, self.microphone.config.capture_rate) if self._echo else None
        # The VAD decides per 32 ms frame, so the thread sleeps until the audio that completes the next frame is
        # due, instead of looking every few ms. The device hands over audio in deliveries of `delivery` samples
        # (one 10 ms block, or several at once: through PulseAudio 40 ms of blocks came together), learnt from
        # what a read after an empty look finds.
        rate = self.microphone.config.capture_rate
        delivery = rate * self.config.audio.block_ms // 1000
        looked_in_vain = False
        probability = 0.0  # of the newest frame
        while self._running.is_set():
            audio = self.microphone.read()
            arrived = self.microphone.last_block_time or time.monotonic()
            if not len(audio):
                if not self.microphone.active:
                    self._recover_microphone()
                    continue
                # Early, or the device is late: look again when its next delivery is due (soon after, if overdue).
                looked_in_vain = True
                time.sleep(max(LISTEN_POLL_S, arrived + delivery / rate + LISTEN_MARGIN_S - time.monotonic()))
                continue
            if looked_in_vain and len(audio) <= rate // 10:
                delivery = len(audio)  # what came at once after waiting for it: one delivery
            looked_in_vain = False
            played = reference.read() if reference is not None else audio[:0]
            frames = listener.push(audio, played, arrived)
            # (As captured, before echo cancellation, while something plays: the wake word is heard in both.)
            captured = listener.captured_frames if not listener.quiet else [None] * len(frames)
            for (frame, probability), raw in zip(frames, captured):
                index = self._frames_seen
                self._frames_seen += 1
                self._frame_times[index % len(self._frame_times)] = arrived
                self._on_frame(endpointer, frame, probability, index, raw)
            # Waiting for speech: nothing plays or is about to, no speech has begun and the last frame was quiet.
            # Then frames are taken a few at a time (each wake-up of the VAD costs far more than the frames after it,
            # its weights long gone from the CPU caches); the first hint of speech goes back to frame by frame.
            batch = 1
            if (probability < self.config.endpoint.stop_threshold and listener.quiet and not endpointer.speaking
                    and self.state in (State.LISTENING, State.MUTED, State.IDLE)):
                with self._lock:
                    if self._reply is None and self._pending == 0 and not self._ptt_pressed:
                        batch = QUIET_BATCH_FRAMES
            # Sleep until the deliveries that complete the next frame (or batch of frames) are due.
            deliveries = -(-(listener.missing + (batch - 1) * FRAME) // delivery)
            due = arrived + deliveries * delivery / rate + LISTEN_MARGIN_S - time.monotonic()
            if due > 0:
                time.sleep(due)

    def _end_of_turn_policy(self) -> EndOfTurn:
        """The end-of-turn policy the settings ask for; without its model, the fixed silence (and a Problem)."""
        from assistant.models.errors import ModelError

        config = self.config.end_of_turn
        if config.mode != "smart":
            return EndOfTurn(config)
        try:
            model = self.engines.smart_turn
        except ModelError as exc:
            self.bus.publish(Problem(f"{exc}. Until it is installed, a turn ends after {config.fixed_silence_ms} ms "
                                     "of silence", "install the default models: parley models setup", "settings"))
            return EndOfTurn(dataclasses.replace(config, mode="fixed"))
        self._end_of_turn_thread = JobThread("end-of-turn", daemon=True)
        # Its verdict is needed when the words transcribed meanwhile are (see end_of_turn.py), so it yields the CPU
        # to the transcription it runs beside (on 2 cores, at equal priority, it slowed the transcription by ~100 ms).
        self._end_of_turn_thread.submit(lower_thread_priority)
        return EndOfTurn(config, model, self._end_of_turn_thread.submit)

    def _on_frame(self, endpointer: Endpointer, frame: np.ndarray, probability: float, index: int,
                  captured: np.ndarray | None = None) -> None:
        with self._lock:
            if self._ptt_pressed:
                self._ptt_frames.append(frame.copy())
                return
        if self._muted or not self.config.hands_free:
            # Fed as silence, so that speech cut off by muting closes and frame numbers stay in step.
            endpointer.push(frame, 0.0)
            return
        events = endpointer.push(frame, probability)
        gate = self._wake_gate_for(self.config.wake)
        if gate is not None and gate.hear(frame, index, captured):
            self._on_wake_word()
        if endpointer.speaking and self._speculation is not None:
            with self._lock:
                if self._speculation is not None and self._speculation.key[1] != endpointer.last_voiced_frame:
                    self._drop_speculation("the user went on")
        if endpointer.speaking and self._end_of_turn.over(endpointer.last_voiced_frame):
            # The end-of-turn model heard a finished turn: it ends now, not when the silence runs out.
            events.append(Event(EndpointEvent.SPEECH_END, index, endpointer.end_now("complete")))
        for event in events:
            if event.kind is EndpointEvent.SPEECH_START:
                start_frame = max(0, event.frame - self.config.endpoint.start_frames + 1)
                if gate is not None and not gate.addressed(start_frame, self._frame_time(start_frame)):
                    continue  # not (yet) meant for Parley: what plays goes on; the wake word would interrupt it
                self._barge_started = self._frame_time(start_frame)
                with self._lock:
                    self._interrupt(pause_only=True)
                self._set_state(State.USER_SPEAKING)
            elif event.kind is EndpointEvent.PAUSE and event.utterance is not None:
                question = event.utterance
                if gate is not None:
                    question = gate.question(question, self._frame_time(question.start_frame), MIN_QUESTION_AT_PAUSE_MS)
                    if question is None:
                        continue  # nothing to get ready: not meant for Parley (yet), or the wake word alone
                transcript = self._start_early_transcript(question)
                words = after_phrase(transcript, gate.detector.phrase) if gate is not None and transcript else transcript
                self._end_of_turn.ask(endpointer.audio_so_far(), event.utterance.last_voiced_frame,
                                      endpointer.silence_ms, words, words_required=gate is not None)
                if transcript is not None and self.config.speculative_start:
                    self._speculate(question, transcript)
            elif event.kind is EndpointEvent.TOO_SHORT:
                self._resume_or_listen()
            elif event.kind is EndpointEvent.SPEECH_END and event.utterance is not None:
                self._end_of_turn.forget()
                utterance: Utterance = event.utterance
                if gate is not None:
                    utterance = self._wake_question(gate, utterance)
                    if utterance is None:
                        continue
                if self._confirm_speculation(utterance):
                    continue  # answered already: its reply plays now
                with self._lock:
                    if self._reply is not None and self._reply.paused:
                        # Whisper needs the MLX thread the reply is generating on: stop generating
                        # (what is already voiced stays, to resume if this held no words).
                        self.engines.chat.cancel()
                voiced_at = self._frame_time(utterance.last_voiced_frame)
                self._queue("audio", utterance, voiced_at)
                self._set_state(State.THINKING)

    def _start_early_transcript(self, utterance: Utterance):
        """A pause that may end the turn: transcribe what was said so far, and read it into the chat
        model's cache, while the end-of-turn silence runs out. If the turn does end here, its
        transcript is ready (and its reply starts at once); if the user goes on, this is dropped.
        Returns the transcription's Future, or None when the MLX thread has more urgent work."""
        with self._lock:
            busy = self._reply is not None or self._pending > 0
            previous = self._early
        if previous is not None and previous[0] == (utterance.start_frame, utterance.last_voiced_frame):
            return previous[1]  # a later pause in the same silence: transcribed already (or being)
        if busy or (previous is not None and not previous[1].done()):
            return None  # the MLX thread has more urgent work
        setting = self.engines.settings.conversation.language
        language = None if setting == "auto" else setting
        future = self.engines.transcriber(language).transcribe_soon(utterance.audio, language)

        def prefill(done) -> None:
            if done.exception() is None and done.result().text:
                transcript = done.result()
                self.engines.chat.prefill(transcript.text, transcript.language if setting == "auto" else None)

        future.add_done_callback(prefill)
        with self._lock:
            self._early = ((utterance.start_frame, utterance.last_voiced_frame), future)
        return future

    def _frame_time(self, index: int) -> float:
        """time.monotonic() at which frame `index` arrived."""
        return float(self._frame_times[index % len(self._frame_times)])

    def _wake_gate_for(self, wake: WakeConfig | None) -> WakeGate | None:
        """Listening thread: the wake-word gate for the settings (made, or remade, when they change; None when the
        mode is not wake word, or its model is missing: then every turn is answered, as hands-free)."""
        from assistant.models.errors import ModelError

        gate = self._wake_gate
        if wake is None or (gate is not None and gate.config == wake):
            return gate if wake is not None else None
        if gate is not None and (gate.config.phrase, gate.config.sensitivity) == (wake.phrase, wake.sensitivity):
            gate.config = wake  # (only the follow-up window changed)
            return gate
        try:
            detector = self.engines.wake_word_detector(wake.phrase, wake.sensitivity)
            echo_detector = self.engines.wake_word_detector(wake.phrase, wake.sensitivity)
        except ModelError as exc:
            self.bus.publish(Problem(f"{exc}. Until it is, Parley answers everything it hears",
                                     "install the default models: parley models setup", "settings"))
            self.config = dataclasses.replace(self.config, wake=None)
            return None
        self._wake_gate = WakeGate(wake, detector, echo_detector)
        log.info("listening for the wake word %r", detector.phrase)
        return self._wake_gate

    def _on_wake_word(self) -> None:
        """Listening thread: the wake phrase was heard. A reply playing stops; otherwise a short sound says so."""
        with self._lock:
            reply = self._reply
            if reply is not None and not reply.held and not reply.finished.is_set():
                self._interrupt(pause_only=False, started=time.monotonic())
            elif self.speaker is not None and not self._muted:
                self.speaker.wake()
                self.speaker.buffer.write(chime(self.speaker.rate), 0)
        self._set_state(State.USER_SPEAKING)

    def _wake_question(self, gate: WakeGate, utterance: Utterance) -> Utterance | None:
        """Listening thread, at the end of a turn in wake-word mode: the question in it, or None (ignored: not meant
        for Parley; or the wake word alone, and the follow-up window opens for the question)."""
        question = gate.question(utterance, self._frame_time(utterance.start_frame))
        if question is not None:
            gate.close_window()  # a turn taken: the window opens again when its reply has played out
        else:
            if gate.heard_in(utterance):
                log.info("the wake word alone: the next %g s need none", gate.config.follow_up_s)
                gate.open_window(time.monotonic())
            else:
                log.info("a turn without the wake word: not answered")
            with self._lock:
                if self._speculation is not None:
                    self._drop_speculation("not meant for Parley")
                idle = self._reply is None and self._pending == 0
            if idle:
                self._set_state(self._resting_state())
        return question

    def _speculate(self, utterance: Utterance, transcript: Future) -> None:
        """Listening thread, at a pause whose words are being transcribed: have the turn thread answer them now,
        held back until the turn ends at this pause (`_confirm_speculation`) or dropped when it goes on."""
        with self._lock:
            current = self._speculation
            if current is not None and current.key == (utterance.start_frame, utterance.last_voiced_frame):
                return  # a later question about the same pause: begun already
            if current is not None:
                self._drop_speculation("a later pause")
            voiced_at = self._frame_time(utterance.last_voiced_frame)
            self._speculation = _Speculation(utterance, transcript, voiced_at)
            # (Not counted in _pending: until the turn ends here, the turn thread has nothing more urgent.)
            self._utterances.put(("speculate", self._speculation, voiced_at, time.monotonic()))

    def _confirm_speculation(self, utterance: Utterance) -> bool:
        """Listening thread, at the end of a turn: True when a reply begun at a pause answers it (that reply plays
        now, or as soon as it has a voiced piece); a reply begun at another pause is dropped."""
        with self._lock:
            speculation, self._speculation = self._speculation, None
            if speculation is None:
                return False
            if speculation.key != (utterance.start_frame, utterance.last_voiced_frame):
                self._drop_speculation("the turn ended elsewhere", speculation)
                return False
            if speculation.declined:
                return False  # the usual way: it finds nothing to answer, or transcribes again after a failure
            speculation.confirmed = time.monotonic()
            speculation.utterance = dataclasses.replace(speculation.utterance, reason=utterance.reason)
            reply = self._reply
            if reply is not None and reply.speculation is speculation:
                self._release(reply)
            self._set_state(State.SPEAKING if self._reply is not None and self._reply.pieces else State.THINKING)
            speculation.settled.set()  # (last: the turn thread then finds the pieces in the speaker's buffer)
            return True

    def _release(self, reply: _Reply) -> None:
        """The turn a held reply answers is over: what it kept back goes out. Call with the lock held."""
        speculation = reply.speculation
        reply.timings_ms["turn_end"] = round(1000 * (speculation.confirmed - reply.end_of_speech), 1)
        unpublished, reply.unpublished = reply.unpublished, []
        for event in unpublished:
            self._publish_for(reply, event)
        for piece in reply.pieces:
            self.speaker.buffer.write(piece.audio, piece.tag)
        log.info("turn %d ended at the pause its reply began at: %d voiced pieces play now", reply.turn,
                 len(reply.pieces))

    def _drop_speculation(self, why: str, speculation: _Speculation | None = None) -> None:
        """Drop the reply begun at a pause (default: the current one) without a sound. Call with the lock held."""
        speculation = speculation or self._speculation
        if speculation is self._speculation:
            self._speculation = None
        if speculation is None or speculation.dropped or speculation.confirmed:
            return
        speculation.dropped = True
        speculation.settled.set()
        reply = self._reply
        voiced = 0
        if reply is not None and reply.speculation is speculation:
            reply.interrupted = True
            reply.finished.set()
            self._reply = None
            self.engines.chat.cancel()
            self._speech.cancel()
            voiced = len(reply.pieces)
        # (Said also when its words were still being transcribed: the turn thread then answers nothing.)
        log.info("dropped the reply begun at a pause (%s): %d voiced pieces, none played", why, voiced)

    def _publish_for(self, reply: _Reply, event) -> None:
        """Publish an event of `reply`'s turn, or keep it back while the reply is held."""
        with self._lock:
            if reply.held:
                reply.unpublished.append(event)
                return
        if isinstance(event, UserSaid) and reply.speculation is not None:
            event = dataclasses.replace(event, ended_by=reply.speculation.utterance.reason)
        self.bus.publish(event)

    def _recover_microphone(self) -> None:
        """The input device vanished (its stream ended, or stalled): reopen on the system default, reporting the
        outage once; it is back when the new stream delivers audio."""
        if not self._microphone_lost:
            self._microphone_lost = True
            log.warning("the microphone stopped (%s)", "no audio" if self.microphone.stalled else "stream ended")
            self.bus.publish(Problem("the microphone stopped; switching to the system default input",
                                     "check the microphone connection or pick one in Settings", "settings"))
        self.microphone.stop()
        microphone = Microphone(AudioConfig(capture_rate=self.microphone.config.capture_rate))
        self.microphone = microphone
        try:
            microphone.start()
        except Exception as exc:
            log.debug("still no microphone: %s", exc)
            self._stopping.wait(1.0)
            return
        if self._stopping.is_set():  # stop() may have closed the devices while this one opened
            microphone.stop()
            return
        if microphone.wait_for_first_block(give_up=self._stopping.is_set):
            self._microphone_lost = False
            log.info("microphone recovered")

    # --- barge-in -----------------------------------------------------------------------------

    def _interrupt(self, pause_only: bool, started: float = 0.0) -> None:
        """Silence the speaker at once. Call with the lock held, from any thread.

        `started`: when the interruption began (a key press, a typed turn); by default the first
        frame of the speech that triggered it.
        """
        reply = self._reply
        if reply is None or reply.finished.is_set():
            return
        if reply.held:  # nothing of it was heard: nothing to stop, nothing to keep
            self._drop_speculation("interrupted", reply.speculation)
            return
        flushed = self.speaker.buffer.flush() if self.speaker and self.speaker.buffer else 0
        if flushed or not reply.paused:
            began = started or self._barge_started
            latency = 1000 * (time.monotonic() - began) if began else 0.0
            self.bus.publish(BargeIn(reply.turn, round(latency + self.config.audio.block_ms, 1)))
        reply.paused = True
        if not pause_only:
            self._cancel(reply)

    def _cancel(self, reply: _Reply) -> None:
        """Drop the reply for good; the history keeps what was heard."""
        reply.interrupted = True
        self._turn += 1
        self.engines.chat.cancel()
        if self._speech:
            self._speech.cancel()
        heard = self._heard_text(reply)
        self.engines.chat.record_reply(heard, interrupted=True)
        self.bus.publish(ReplyFinished(reply.turn, heard, True))
        reply.finished.set()
        self._reply = None
        self._publish_timings(reply)

    def _resume_or_listen(self) -> None:
        """The barge-in was a false alarm: play the rest of the paused reply from where it stopped."""
        with self._lock:
            reply = self._reply
            if reply is not None and reply.paused and not reply.interrupted:
                reply.paused = False
                self.speaker.wake()  # (a reply in progress keeps it awake: this is cheap)
                for piece in reply.pieces:
                    rest = piece.audio[self.speaker.buffer.played_for(piece.tag):]
                    if len(rest):
                        self.speaker.buffer.write(rest, piece.tag)
                log.info("resuming turn %d after a false barge-in", reply.turn)
                self._set_state(State.SPEAKING)
                self._queue("finish", reply, 0.0)  # the turn thread sees it played to the end
                return
        self._set_state(self._resting_state())

    def _sounds_like_own_reply(self, heard: str, started: float | None = None) -> bool:
        """True when what the microphone heard during a reply, or beginning within OWN_ECHO_TAIL_S after one
        played out (`started`: time.monotonic() of its first frame), is mostly that reply's own words.

        The echo canceller leaks while it adapts, and more when a busy machine delays the sound server; a leak
        loud enough to pass the VAD is Parley's voice, and Whisper turns it back into the reply's words. A
        person talking over it says something else. Heard after the reply ended, such a leak was answered as a
        question, whose reply leaked in turn: Parley talked to itself for minutes.
        """
        with self._lock:
            reply = self._reply
            if reply is not None and reply.paused:
                spoken = " ".join(piece.text for piece in reply.pieces) + " " + reply.text
            elif started is not None and started - self._last_played[0] < OWN_ECHO_TAIL_S:
                spoken = self._last_played[1]
            else:
                return False
        return mostly_own_words(heard, spoken)

    def _heard_text(self, reply: _Reply) -> str:
        """The words of the reply that actually came out of the speaker (partial pieces by proportion)."""
        words = []
        for piece in reply.pieces:
            played = min(self.speaker.buffer.played_for(piece.tag), len(piece.audio)) if self.speaker else 0
            if not played:
                break
            piece_words = piece.text.split()
            count = len(piece_words) if played >= len(piece.audio) else int(len(piece_words) * played / len(piece.audio))
            words.extend(piece_words[:count])
            if played < len(piece.audio):
                break
        return " ".join(words)

    # --- turns --------------------------------------------------------------------------------

    def _turn_loop(self) -> None:
        while self._running.is_set():
            try:
                item = self._utterances.get(timeout=SPEAKER_REST_S)  # (None: waits)
            except queue.Empty:
                self._rest_speaker()
                continue
            if item is None:
                return
            kind, payload, end_of_speech, queued_at = item
            try:
                if kind == "finish":
                    self._finish_when_played(payload)
                elif kind == "speculate":
                    self._answer_early(payload)
                elif kind == "text":
                    with self._lock:
                        self._interrupt(pause_only=False, started=end_of_speech)
                    self._answer(payload, self.engines.settings.conversation.language, end_of_speech, stt_ms=None)
                else:
                    self._answer_speech(payload, end_of_speech, turn_end_ms=1000 * (queued_at - end_of_speech))
            except Exception as exc:  # a failed turn must not end the conversation
                log.exception("turn failed")
                with self._lock:
                    failed = self._reply
                    if failed is not None and failed.generating:  # (not left as the reply in progress)
                        failed.finished.set()
                        self._reply = None
                self.bus.publish(Problem(f"that turn failed: {exc}", "try again; details are in the log file"))
                self._set_state(self._resting_state())
            finally:
                if kind != "speculate":
                    with self._lock:
                        self._pending -= 1

    def _rest_speaker(self) -> None:
        """No turn for a while: stop the speaker's stream until the next reply (its callback would hand out
        silence 100 times a second). By now its echo canceller idles too: the silence it played covered the tail
        of the last reply's echo."""
        with self._lock:
            idle = self._reply is None and self._pending == 0 and not self._ptt_pressed
        speaker = self.speaker
        if idle and speaker is not None and self._running.is_set():
            speaker.rest()

    def _answer_speech(self, audio: np.ndarray | Utterance, end_of_speech: float, turn_end_ms: float | None = None) -> None:
        self._set_state(State.THINKING)
        setting = self.engines.settings.conversation.language
        language = None if setting == "auto" else setting
        transcript = None
        started = None  # when the utterance began (not known for push-to-talk audio)
        ended_by = "released"
        if isinstance(audio, Utterance):
            ended_by = audio.reason
            started = self._frame_time(audio.start_frame)
            with self._lock:
                early, self._early = self._early, None
            if early is not None and early[0] == (audio.start_frame, audio.last_voiced_frame):
                try:
                    transcript = early[1].result()  # the pause was the end: transcribed already
                except Exception:
                    log.exception("early transcription failed; transcribing again")
            audio = audio.audio
        if transcript is None:
            transcript = self.engines.transcriber(language).transcribe(audio, language)
        transcript = self._without_wake_phrase(transcript)
        stt_ms = 1000 * (time.monotonic() - end_of_speech)
        if not transcript.text:
            log.info("no words in the utterance")
            self._resume_or_listen()
            return
        if self._sounds_like_own_reply(transcript.text, started):
            log.info("heard Parley's own words (%r): echo, not the user", transcript.text)
            self._resume_or_listen()
            return
        with self._lock:
            self._interrupt(pause_only=False)  # real speech: the paused reply is over
        self._answer(transcript.text, transcript.language if setting == "auto" else setting, end_of_speech, stt_ms,
                     transcript.timings_ms.get("stt"), turn_end_ms, ended_by)

    def _answer_early(self, speculation: _Speculation) -> None:
        """Answer the words of a pause before the turn is known to be over (see _Speculation)."""
        utterance = speculation.utterance
        setting = self.engines.settings.conversation.language
        try:
            transcript = self._without_wake_phrase(speculation.transcript.result())
        except Exception:
            transcript = None  # (the turn's end transcribes again, and says what failed)
        started = self._frame_time(utterance.start_frame)
        answer = (transcript is not None and transcript.text
                  and not self._sounds_like_own_reply(transcript.text, started))
        if answer:
            stt_ms = 1000 * (time.monotonic() - speculation.end_of_speech)
            try:
                self._answer(transcript.text, transcript.language if setting == "auto" else setting,
                             speculation.end_of_speech, stt_ms, transcript.timings_ms.get("stt"),
                             speculation=speculation)
                return
            except Exception:
                with self._lock:
                    if speculation.confirmed and not speculation.dropped:
                        raise  # the turn's reply failed: said as any failed turn is
                    log.exception("the reply begun at a pause failed; the turn's end answers again")
                    if self._reply is not None and self._reply.speculation is speculation:
                        self._reply = None
                self.engines.chat.withdraw(transcript.text)
        with self._lock:
            speculation.declined = True
            answer_now = speculation.confirmed and not speculation.dropped
        if answer_now:  # the turn ended at this pause meanwhile: handled as usual (no words, an echo: listen)
            self._answer_speech(utterance, speculation.end_of_speech,
                                1000 * (speculation.confirmed - speculation.end_of_speech))

    def _without_wake_phrase(self, transcript):
        """In wake-word mode, the transcript of a spoken turn without what is left of the phrase at its start (the
        audio is cut a little before where the phrase was heard)."""
        gate = self._wake_gate
        if gate is None or self.config.wake is None:
            return transcript
        return dataclasses.replace(transcript, text=without_phrase(transcript.text, gate.detector.phrase))

    def _answer(self, text: str, language: str, end_of_speech: float, stt_ms: float | None,
                stt_compute_ms: float | None = None, turn_end_ms: float | None = None, ended_by: str = "",
                speculation: _Speculation | None = None) -> None:
        """Answer `text`; the timings (ms) say when its transcript was there after the end of speech, what its
        transcription took, and when the turn was called over; `ended_by` what ended it (see UserSaid).
        With a `speculation` the reply is held until its turn ends, and dropped if it does not."""
        with self._lock:
            if speculation is not None and speculation.dropped:
                return
            self._turn += 1
            turn = self._turn
            reply = _Reply(turn, end_of_speech=end_of_speech, speculation=speculation)
            self._reply = reply
            generation = self._speech.cancel()  # a fresh generation for this reply's audio
            if speculation is not None and speculation.confirmed:  # (the turn ended before its reply began)
                turn_end_ms = 1000 * (speculation.confirmed - end_of_speech)
        self.speaker.arm()
        self._publish_for(reply, UserSaid(turn, text, language, ended_by))
        if not reply.held:
            self._set_state(State.THINKING)
        timings = reply.timings_ms
        if stt_ms is not None:
            timings["transcript"] = round(stt_ms, 1)
        if stt_compute_ms is not None:
            timings["stt_compute"] = round(stt_compute_ms, 1)
        if turn_end_ms is not None:
            timings["turn_end"] = round(turn_end_ms, 1)
        voice = self.engines.voice_for(None if language in ("", "auto") else language)  # (the detected language's)
        if voice is not self._speech.synthesizer:
            log.info("turn %d (%s) is read by %s", turn, language, voice.voice_id)
        segmenter = SentenceSegmenter(SegmenterConfig() if self.config.first_clause
                                      else SegmenterConfig(first_chunk_min_chars=10**6))  # a whole first sentence
        asked = time.monotonic()

        def say(sentence: str) -> None:
            if reply.first_said == 0.0:
                reply.first_said = time.monotonic()
                timings["first_chunk_text"] = round(1000 * (reply.first_said - asked), 1)
            self._speech.say(sentence, generation, voice)

        parts = []
        chat_language = language if self.engines.settings.conversation.language == "auto" else None
        self._chat_language = chat_language
        for delta in self.engines.chat.reply(text, chat_language):
            if reply.interrupted:
                break
            if not parts:
                timings["first_token"] = round(1000 * (time.monotonic() - end_of_speech), 1)
            parts.append(delta)
            self._publish_for(reply, ReplyText(turn, delta))
            for sentence in segmenter.push(delta):
                say(sentence)
        if not reply.interrupted:
            for sentence in segmenter.flush():
                say(sentence)
        reply.text = "".join(parts).strip()
        reply.generating = False
        self._speech.wait_idle()
        if speculation is not None:
            while not speculation.settled.wait(0.1) and self._running.is_set():
                pass  # (the turn is still open: the user may yet go on)
            if speculation.dropped or not self._running.is_set():
                self.engines.chat.withdraw(text)
                return
        self._finish_when_played(reply)

    def _on_chat_notice(self, message: str) -> None:
        """From the chat engine's thread: the server could not answer and the local model does."""
        self.bus.publish(Problem(message, "check that the server runs, or choose another engine in Settings", "settings"))

    def _say_who_answers(self) -> None:
        who = self.engines.chat.describe()
        if who != self._answering:
            self._answering = who
            self.bus.publish(Answering(who))

    def _finish_when_played(self, reply: _Reply) -> None:
        """Wait until the speaker has played the whole reply, then record it and listen again.

        A paused reply is left pending: the next utterance decides between resuming it (no words)
        and cancelling it (a real interruption), and this is called again after a resume.
        """
        moved = False  # to a new speaker already: if that one fails too, the reply ends
        while self._running.is_set() and not reply.finished.is_set():
            if reply.paused:
                return
            if not self.speaker.active:
                if self._recover_speaker(reply, move_reply=not moved):
                    moved = True
                    continue
                return
            if self.speaker.buffer.queued == 0:
                break
            time.sleep(0.01)
        with self._lock:
            # (paused: a barge-in flushed the speaker after the loop looked; the next utterance decides)
            if reply.interrupted or reply.finished.is_set() or reply.paused:
                return
            self.engines.chat.record_reply(reply.text)
            self.bus.publish(ReplyFinished(reply.turn, reply.text, False))
            self._say_who_answers()
            reply.finished.set()
            self._reply = None
            self._last_played = (time.monotonic(), reply.text)
            if self._wake_gate is not None:
                self._wake_gate.open_window(time.monotonic())  # a follow-up needs no wake word
            if self._pending == 0:  # nobody waiting: read the history into the cache while the user thinks
                self.engines.chat.prefill(None, self._chat_language)
        self._publish_timings(reply)
        self._set_state(self._resting_state())

    def _recover_speaker(self, reply: _Reply, move_reply: bool = True) -> bool:
        """The output device vanished (its stream ended, or stalled): reopen on the system default output.

        A reply the user heard part of ends where they stopped hearing it. One they heard nothing of yet (the
        speaker went while Parley was quiet, or before it got to play) plays on the new output instead, unless
        `move_reply` is False. The outage is reported once: a speaker that opened in place of a lost one and
        never worked (the default output is gone or hangs too) fails quietly. Returns True when the reply goes
        on playing on the new speaker."""
        old = self.speaker
        cause = "no callbacks" if old.stalled else "stream ended"
        if old.replaces_lost and not old.worked:
            log.info("the output opened in place of the speaker stopped too (%s)", cause)
        else:
            log.warning("the speaker stopped (%s)", cause)
            self.bus.publish(Problem("the speaker stopped; switching to the system default output",
                                     "check the speaker or headphones connection, or pick one in Settings",
                                     "settings"))
        with self._lock:
            current = self._reply is reply and not reply.interrupted
            # (a speaker that never worked took at most the blocks that fill its buffer: nobody heard those)
            heard = old.worked and any(old.buffer.played_for(piece.tag) for piece in reply.pieces)
            move = move_reply and current and not reply.paused and not heard
            if current and not move:
                self._cancel(reply)  # (heard text from the old speaker's buffer)
            speaker = Speaker(AudioConfig(block_ms=old.config.block_ms), old.voice_rate)
            speaker.replaces_lost = True
            old.stop()
            try:
                speaker.start()
            except Exception as exc:
                # Kept unopened (writes go nowhere): the next reply tries again, without a second report.
                log.warning("no default output either: %s", exc)
                if move:
                    self._cancel(reply)
                    move = False
            if move:
                speaker.arm()
                for piece in reply.pieces:
                    piece.audio = speaker.resample_for_device(piece.audio, old.rate)
                    speaker.buffer.write(piece.audio, piece.tag)
                log.info("turn %d plays on the system default output", reply.turn)
            self.speaker = speaker
        if not move:
            self._set_state(self._resting_state())
        return move

    def _publish_timings(self, reply: _Reply) -> None:
        first_sound = self.speaker.first_sound_time if self.speaker else 0.0
        if first_sound > reply.end_of_speech and reply.pieces:
            reply.timings_ms["first_audio"] = round(1000 * (first_sound - reply.end_of_speech), 1)
        self.bus.publish(TurnTimings(reply.turn, dict(reply.timings_ms)))
        log.info("turn %d timings (ms after end of speech): %s", reply.turn, reply.timings_ms)

    def _on_voice(self, chunk: SpeechChunk, generation: int) -> None:
        """Piper thread: a voiced sentence of the current reply goes to the speaker (or is held while paused)."""
        audio = self.speaker.resample_for_device(chunk.audio, chunk.sample_rate)
        with self._lock:
            reply = self._reply
            if reply is None or reply.interrupted or generation != self._speech.generation:
                return
            tag = reply.turn * 1000 + len(reply.pieces)
            if not reply.pieces and reply.first_said:
                reply.timings_ms["first_voice"] = round(1000 * (time.monotonic() - reply.first_said), 1)
            reply.pieces.append(_Spoken(tag, chunk.text, audio))
            if not reply.paused and not reply.held:
                self.speaker.buffer.write(audio, tag)
                if self.state is not State.SPEAKING:
                    self._set_state(State.SPEAKING)

    def _queue(self, kind: str, payload, end_of_speech: float) -> None:
        with self._lock:
            self._pending += 1
        self._utterances.put((kind, payload, end_of_speech, time.monotonic()))

    def _resting_state(self) -> State:
        """The state between turns."""
        if self._muted:
            return State.MUTED
        return State.LISTENING if self.config.hands_free and self.microphone is not None else State.IDLE

    def _set_state(self, state: State) -> None:
        if state is not self.state:
            self.state = state
            self.bus.publish(StateChanged(state))

    def _spawn(self, name: str, target) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)


def lower_thread_priority(niceness: int = 10) -> None:
    """Lower the calling thread's CPU priority (Linux gives each thread its own niceness; elsewhere: nothing)."""
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
        except OSError as exc:
            log.debug("could not lower the priority of %s: %s", threading.current_thread().name, exc)


def mostly_own_words(heard: str, spoken: str) -> bool:
    """True when `heard` is mostly `spoken` said back: at least 80% of its words of four or more characters are
    words of `spoken` (short words such as "what", "is", "the" are in almost any reply), or at least 80% of all its
    words match `spoken` in order (a leak that Whisper heard slightly wrong). A person asking about what the reply
    said uses its words but not all of them, nor in its order: "What is the largest ocean?" after "The largest ocean
    on Earth is the Pacific Ocean." is a question (2 of 3 long words, 3 of 5 in order), not the reply's echo."""
    heard_words = _word_list(heard)
    spoken_words = _word_list(spoken)
    if not heard_words or not spoken_words:
        return False
    reply_words = set(spoken_words)
    telling = [word for word in heard_words if len(word) >= 4] or heard_words
    if sum(word in reply_words for word in telling) >= 0.8 * len(telling):
        return True
    matcher = difflib.SequenceMatcher(None, heard_words, spoken_words, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) >= 0.8 * len(heard_words)


def _word_list(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.lower()).split()


class _ReferenceResampler:
    """What the speaker played, at the capture rate, for the echo canceller's reference stream."""

    def __init__(self, speaker: Callable[[], Speaker], rate: int) -> None:
        self._speaker = speaker  # the current one: it is replaced when the output device vanishes
        self._rate = rate
        self._playing: Speaker | None = None
        self._stream = None
        self._silent = 0  # samples of silence in a row, at the speaker's rate
        self._owed = 0.0  # fraction of a sample of silence not yet handed out

    def read(self) -> np.ndarray:
        import soxr

        speaker = self._speaker()
        if speaker is not self._playing:
            self._playing = speaker
            self._stream = soxr.ResampleStream(speaker.rate, self._rate, 1, dtype="float32")
            self._silent = 0
            self._owed = 0.0
        ring = speaker.reference
        if not ring.queued:
            return np.zeros(0, np.float32)  # nothing played since the last call (or the speaker rests)
        out = np.empty(ring.queued, np.float32)
        got = ring.read_into(out)
        out = out[:got]
        if got and not out.any():
            self._silent += got
            if self._silent > speaker.rate // 10:
                # Silence, and the resampler's filter has long been flushed with it: its output would be zeros.
                self._owed += got * self._rate / speaker.rate
                count = int(self._owed)
                self._owed -= count
                return np.zeros(count, np.float32)
        else:
            self._silent = 0
        return self._stream.resample_chunk(out)


def _make_echo_canceller(rate: int):
    try:
        from assistant.capture.echo_cancel import EchoCanceller, EchoConfig
    except ImportError:
        log.warning("echo cancellation is not available")
        return None
    canceller = EchoCanceller(EchoConfig(sample_rate=rate))
    return canceller if canceller.available else None
