"""The "listen" thread: drains the microphone, cancels the echo, runs the VAD, the endpointer, the end-of-turn
policy and the wake word, and posts what it hears to the owner (core.py) as the machine's inputs. It decides no
turn: it only says when speech starts, pauses, goes on and ends, and starts the early transcript at a pause.
Push-to-talk frames are collected here too, between `start_recording` and `stop_recording`."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from assistant.capture.echo_reference import ReferenceResampler
from assistant.capture.microphone import Microphone
from assistant.conversation.machine import (
    NotForUs,
    Paused,
    SpeechStarted,
    TooShort,
    TurnEnded,
    WakeWord,
    WentOn,
)
from assistant.conversation.words_so_far import WordsSoFar
from assistant.listen.echo_aware_vad import EchoAwareVad
from assistant.listen.end_of_turn import EndOfTurn
from assistant.listen.endpointing import Endpointer, EndpointEvent, Event, Utterance
from assistant.listen.voice_activity import FRAME
from assistant.listen.wake_gate import MIN_QUESTION_AT_PAUSE_MS, WakeGate
from assistant.listen.wake_listening import WakeListening
from assistant.runtime.audio_stream import AudioConfig
from assistant.runtime.events import Problem
from assistant.runtime.job_thread import JobThread, lower_thread_priority
from assistant.runtime.settings import heard_language

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
# Push-to-talk recordings shorter than this are no turn.
MIN_RECORDING = FRAME * 4


@dataclass(frozen=True)
class Heard:
    """What the owner needs of an utterance besides its key: the audio and when it began and ended."""

    utterance: Utterance | None
    started: float  # time.monotonic() of its first frame
    end_of_speech: float  # of its last voiced frame
    transcript: Future | None = None  # the early transcript of exactly this audio, if one was made
    at: float = 0.0  # when the listener posted it
    audio: np.ndarray | None = None  # a push-to-talk recording (no utterance)


class Listener:
    """Runs on its own thread once `start()`ed. `owner` gives the config, the speaker (for the echo reference),
    `busy` (a turn in progress: no early transcript) and `resting` (frames may be read in batches), all read-only
    here; `post` hands the owner an input."""

    def __init__(self, owner, microphone: Microphone, echo, post: Callable[[object], None]) -> None:
        self._owner = owner
        self.microphone = microphone
        self._echo = echo
        self._post = post
        self._running = threading.Event()
        self._stopping = threading.Event()
        self._frame_times = np.zeros(8192)  # arrival time of each frame, by frame index modulo the size
        self._frames_seen = 0
        self._early: tuple[tuple[int, int], Future] | None = None  # the early transcript at the last pause
        self._paused_at: tuple[int, int] | None = None  # the pause last posted, until the speech goes on
        self._recording: list[np.ndarray] | None = None  # push-to-talk frames (None: not recording)
        self._recording_lock = threading.Lock()
        self._microphone_lost = False
        self.wake = WakeListening(lambda phrase, sensitivity: owner.engines.wake_word_detector(phrase, sensitivity),
                                  self._report_wake_problem)
        self.words_so_far = WordsSoFar(self._transcribe_soon, post, self._prefill)
        self.end_of_turn: EndOfTurn | None = None
        self._end_of_turn_thread: JobThread | None = None
        self.thread = threading.Thread(target=self._run, name="listen", daemon=True)

    def start(self) -> None:
        self._running.set()
        self.thread.start()

    def stop(self) -> None:
        """Ask the thread to end (it does within a frame); the caller joins `thread`."""
        self._running.clear()
        self._stopping.set()
        if self._end_of_turn_thread is not None:
            self._end_of_turn_thread.close(timeout=0)  # a daemon thread: a decision under way is dropped

    # --- push-to-talk (any thread) ------------------------------------------------------------------------

    def start_recording(self) -> None:
        with self._recording_lock:
            self._recording = []

    def stop_recording(self) -> np.ndarray:
        """The frames since `start_recording` (empty when it was not recording)."""
        with self._recording_lock:
            frames, self._recording = self._recording, None
        return np.concatenate(frames) if frames else np.zeros(0, np.float32)

    def _report_wake_problem(self, message: str) -> None:
        self._owner.bus.publish(Problem(message, "install the default models: parley models setup", "settings"))

    # --- the thread -------------------------------------------------------------------------------------------

    def _run(self) -> None:
        from assistant.models.errors import ModelError

        engines = self._owner.engines
        try:
            listener = EchoAwareVad(engines.new_vad, self._echo)
        except ModelError as exc:
            self._owner.bus.publish(Problem(str(exc), "install the default models: parley models setup", "settings"))
            return
        config = self._owner.config
        self.end_of_turn = self._end_of_turn_policy()
        endpointer = Endpointer(self.end_of_turn.config.endpoint_config(config.endpoint, EARLY_TRANSCRIPT_MS))
        reference = (ReferenceResampler(lambda: self._owner.speaker, self.microphone.config.capture_rate,
                                        self._echo.new_echo_path) if self._echo else None)
        # The VAD decides per 32 ms frame, so the thread sleeps until the audio that completes the next frame is
        # due, instead of looking every few ms. The device hands over audio in deliveries of `delivery` samples
        # (one 10 ms block, or several at once: through PulseAudio 40 ms of blocks came together), learnt from
        # what a read after an empty look finds.
        rate = self.microphone.config.capture_rate
        delivery = rate * config.audio.block_ms // 1000
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
                self.on_frame(endpointer, frame, probability, index, raw)
            # Waiting for speech: nothing plays or is about to, no speech has begun and the last frame was quiet.
            # Then frames are taken a few at a time (each wake-up of the VAD costs far more than the frames after it,
            # its weights long gone from the CPU caches); the first hint of speech goes back to frame by frame.
            batch = 1
            if (probability < config.endpoint.stop_threshold and listener.quiet and not endpointer.speaking
                    and self._owner.resting):
                batch = QUIET_BATCH_FRAMES
            # Sleep until the deliveries that complete the next frame (or batch of frames) are due.
            deliveries = -(-(listener.missing + (batch - 1) * FRAME) // delivery)
            due = arrived + deliveries * delivery / rate + LISTEN_MARGIN_S - time.monotonic()
            if due > 0:
                time.sleep(due)

    def _end_of_turn_policy(self) -> EndOfTurn:
        """The end-of-turn policy the settings ask for; without its model, the fixed silence (and a Problem)."""
        from assistant.models.errors import ModelError

        config = self._owner.config.end_of_turn
        if config.mode != "smart":
            return EndOfTurn(config)
        try:
            model = self._owner.engines.smart_turn
        except ModelError as exc:
            self._owner.bus.publish(Problem(f"{exc}. Until it is installed, a turn ends after "
                                            f"{config.fixed_silence_ms} ms of silence",
                                            "install the default models: parley models setup", "settings"))
            return EndOfTurn(dataclasses.replace(config, mode="fixed"))
        self._end_of_turn_thread = JobThread("end-of-turn", daemon=True)
        # Its verdict is needed when the words transcribed meanwhile are (see end_of_turn.py), so it yields the CPU
        # to the transcription it runs beside (on 2 cores, at equal priority, it slowed the transcription by ~100 ms).
        self._end_of_turn_thread.submit(lower_thread_priority)
        return EndOfTurn(config, model, self._end_of_turn_thread.submit)

    def on_frame(self, endpointer: Endpointer, frame: np.ndarray, probability: float, index: int,
                 captured: np.ndarray | None = None) -> None:
        """One 32 ms frame with its speech probability (`captured`: the frame before echo cancellation)."""
        with self._recording_lock:
            if self._recording is not None:
                self._recording.append(frame.copy())
                return
        config = self._owner.config
        if self._owner.muted or not config.hands_free:
            # Fed as silence, so that speech cut off by muting closes and frame numbers stay in step.
            endpointer.push(frame, 0.0)
            return
        events = endpointer.push(frame, probability)
        gate = self.wake.gate_for(config.wake)
        if gate is not None and gate.hear(frame, index, captured):
            if not endpointer.speaking:
                # Heard outside any speech the VAD knows of: over a reply, echo cancellation can hide the voice from
                # the VAD until the reply stops, so the question begins after the phrase: it needs none now.
                log.info("the wake word outside speech: the next %g s need none", gate.config.follow_up_s)
                gate.open_window(time.monotonic())
            self._post(WakeWord())
        if endpointer.speaking and self._paused_at is not None and self._paused_at[1] != endpointer.last_voiced_frame:
            self._paused_at = None
            self._post(WentOn())
        if endpointer.speaking and self.end_of_turn.over(endpointer.last_voiced_frame):
            # The end-of-turn model heard a finished turn: it ends now, not when the silence runs out.
            events.append(Event(EndpointEvent.SPEECH_END, index, endpointer.end_now("complete")))
        for event in events:
            self._on_endpoint(event, endpointer, gate, config)
        if endpointer.speaking and gate is None:  # (in wake-word mode speech is not known to be for Parley)
            free = not self._owner.busy and (self._early is None or self._early[1].done())
            self.words_so_far.heard(index, endpointer.audio_so_far, endpointer.last_voiced_frame == index, free)

    def _on_endpoint(self, event: Event, endpointer: Endpointer, gate: WakeGate | None, config) -> None:
        if event.kind is EndpointEvent.SPEECH_START:
            start_frame = max(0, event.frame - config.endpoint.start_frames + 1)
            self.words_so_far.begin(event.frame)
            if gate is not None and not gate.addressed(start_frame, self.frame_time(start_frame)):
                return  # not (yet) meant for Parley: what plays goes on; the wake word would interrupt it
            self._post(SpeechStarted(detail=self.frame_time(start_frame)))
        elif event.kind is EndpointEvent.PAUSE and event.utterance is not None:
            question = event.utterance
            if gate is not None:
                question = gate.question(question, self.frame_time(question.start_frame), MIN_QUESTION_AT_PAUSE_MS)
                if question is None:
                    return  # nothing to get ready: not meant for Parley (yet), or the wake word alone
            transcript = self._start_early_transcript(question)
            words = self.wake.after_phrase(transcript) if gate is not None and transcript is not None else transcript
            self.end_of_turn.ask(endpointer.audio_so_far(), event.utterance.last_voiced_frame,
                                 endpointer.silence_ms, words, words_required=gate is not None)
            key = (question.start_frame, question.last_voiced_frame)
            self._paused_at = key
            self._post(Paused(key, transcript is not None, detail=self._heard(question, transcript)))
        elif event.kind is EndpointEvent.TOO_SHORT:
            self.words_so_far.end()
            self._post(TooShort())
        elif event.kind is EndpointEvent.SPEECH_END and event.utterance is not None:
            self.words_so_far.end()
            self.end_of_turn.forget()
            self._paused_at = None
            utterance: Utterance = event.utterance
            if gate is not None:
                utterance = self.wake.question_at_end(gate, utterance, self.frame_time(utterance.start_frame))
                if utterance is None:
                    self._post(NotForUs())
                    return
            key = (utterance.start_frame, utterance.last_voiced_frame)
            early, self._early = self._early, None
            transcript = early[1] if early is not None and early[0] == key else None
            self._post(TurnEnded(key, detail=self._heard(utterance, transcript)))

    def _heard(self, utterance: Utterance, transcript: Future | None) -> Heard:
        return Heard(utterance, self.frame_time(utterance.start_frame), self.frame_time(utterance.last_voiced_frame),
                     transcript, time.monotonic())

    def _transcribe_soon(self, audio: np.ndarray) -> Future:
        """Speech so far, queued on the transcription thread in the language the settings hear."""
        engines = self._owner.engines
        language = heard_language(engines.settings.conversation.language)
        return engines.transcriber(language).transcribe_soon(audio, language)

    def _prefill(self, words: str, heard_in: str) -> None:
        """Words of the speech going on, read into the chat model's prompt cache (the language they were heard in
        sets the prompt's reply language where the setting is "auto")."""
        engines = self._owner.engines
        engines.chat.prefill(words, None if heard_language(engines.settings.conversation.language) else heard_in)

    def _start_early_transcript(self, utterance: Utterance) -> Future | None:
        """A pause that may end the turn: transcribe what was said so far, and read it into the chat model's
        cache, while the end-of-turn silence runs out. If the turn does end here, its transcript is ready; if the
        user goes on, it is dropped. None when the MLX thread has more urgent work."""
        key = (utterance.start_frame, utterance.last_voiced_frame)
        previous = self._early
        if previous is not None and previous[0] == key:
            return previous[1]  # a later pause in the same silence: transcribed already (or being)
        if self._owner.busy or (previous is not None and not previous[1].done()):
            return None
        future = self._transcribe_soon(utterance.audio)

        def prefill(done: Future) -> None:
            if done.exception() is None and done.result().text:
                self._prefill(done.result().text, done.result().language)

        future.add_done_callback(prefill)
        self._early = (key, future)
        return future

    def frame_time(self, index: int) -> float:
        """time.monotonic() at which frame `index` arrived."""
        return float(self._frame_times[index % len(self._frame_times)])

    # --- the device ----------------------------------------------------------------------------------------------

    def _recover_microphone(self) -> None:
        """The input device vanished (its stream ended, or stalled): reopen on the system default, reporting the
        outage once; it is back when the new stream delivers audio."""
        if not self._microphone_lost:
            self._microphone_lost = True
            log.warning("the microphone stopped (%s)", "no audio" if self.microphone.stalled else "stream ended")
            self._owner.bus.publish(Problem("the microphone stopped; switching to the system default input",
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
