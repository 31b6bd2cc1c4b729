"""The owner of the turn: one thread that takes every event in order (from the listener, the turn worker, the
voice and the public methods), lets the machine (machine.py) decide, and carries out its commands: the speaker,
the history, the published events. Only it changes the state, so states go out in order; only it touches the
current reply.

Cancellation is by turn id: every transcript, text delta and voiced piece names its turn; the machine drops what
is stale, the turn worker stops generating once its turn is not `answering`, the voice once it is not the turn it
follows.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from dataclasses import dataclass

import numpy as np

from assistant.conversation import turn_events as m
from assistant.conversation.commands import Commands
from assistant.conversation.config import ConversationConfig
from assistant.conversation.listener import Heard, Listener
from assistant.conversation.machine import Phase, TurnMachine
from assistant.conversation.player import Player
from assistant.conversation.reply import Reply, Spoken
from assistant.conversation.turn_worker import (
    Delta,
    FirstSaid,
    Generated,
    TranscriptReady,
    TurnWorker,
)
from assistant.listen.own_words import OWN_ECHO_TAIL_S, mostly_own_words
from assistant.listen.wake_gate import without_phrase
from assistant.playback.alarm_sound import alarm_sound
from assistant.runtime.events import Answering, EventBus, Problem, ReplyText, State, TimerRang
from assistant.speak.voice import ANNOUNCEMENT, SpeechChunk, SpeechWorker
from assistant.tools.timers import Timer

log = logging.getLogger(__name__)

# The speaker's stream rests (is closed) after this long without a turn: nothing plays then, and a reply opens it
# again. Its 100 callbacks a second and the sound server's client threads cost ~2% of a core while listening.
# (Stopped and started again rather than closed, it cost a real interruption on the rig's echo path 3 times of 3:
# the restarted stream played later than its reference said, out of the canceller's reach.) None: it never rests.
SPEAKER_REST_S: float | None = 2.0
# Once a reply is all voiced, the owner looks this often whether it has played out (or the speaker is gone). Not
# before: waking 100 times a second while the reply is generated and voiced took the CPU from the listening thread
# just when the reply's first sound plays, and its echo leaked past the canceller (Parley paused its own reply on
# the rig, 4 runs of 5; none in 3 with the wake-ups only once the reply was voiced).
PLAYOUT_POLL_S = 0.01
# The states in which the conversation holds the engines' floor (assistant/runtime/floor.py) against other programs.
_TURN_STATES = (State.USER_SPEAKING, State.THINKING, State.SPEAKING)


@dataclass(frozen=True)
class _Piece:
    """A voiced piece of turn `turn`'s reply, at the speaker's rate."""

    turn: int
    text: str
    audio: np.ndarray


@dataclass(frozen=True)
class Control:
    """A request of the public methods that is not the machine's: "reset", "hands_free" (with `value`), "stop"."""

    what: str
    value: object = None


class Owner(Commands):
    """The turn's owner thread and what only it touches. `post` (thread-safe) hands it an event."""

    def __init__(self, engines, bus: EventBus, config: ConversationConfig) -> None:
        self.engines = engines
        self.bus = bus
        self.config = config  # replaced only by the owner thread (read by the listener)
        self.machine = TurnMachine(hands_free=config.hands_free, speculative_start=config.speculative_start,
                                     listening=False)
        self.state = State.IDLE
        self.busy = False  # a turn is being transcribed or answered (read by the listener)
        self.resting = True  # between turns, nothing pending (the listener reads frames in batches then)
        self.muted = False  # as the user asked (the listener reads it at once; the machine learns it in order)
        self.player: Player | None = None
        self.listener: Listener | None = None
        self.speech: SpeechWorker | None = None
        self.worker: TurnWorker | None = None
        self.thread = threading.Thread(target=self._run, name="conversation", daemon=True)
        self._inbox: queue.Queue = queue.Queue()  # (unfinished_tasks: posted and not yet handled)
        self._reply: Reply | None = None
        self._answering = 0  # the turn whose reply is wanted (read by the turn worker at each delta)
        self._turns: dict[int, Heard] = {}  # turns being transcribed: their audio and times
        self._transcripts: dict[int, tuple] = {}  # turns transcribed, with words: (Transcript, Heard, when known)
        self._withdraw: dict[int, str] = {}  # held replies dropped while generating: their questions, to take back
        self._last_played = (float("-inf"), "")  # (time.monotonic() it ended, text) of the last reply played out
        self._barge_started = 0.0
        self._quiet_wait: tuple[int, float] | None = None  # (turn, when): a ResumeWhenQuiet's wait, if one runs
        self._quiet_since = time.monotonic()
        self._who = ""  # who answers, as last said in an Answering event
        self._chat_language: str | None = None  # the reply language asked for in the last turn (for "auto")
        if engines is not None:  # (None only in tests of the listening side alone)
            engines.on_server_notice = self._on_server_notice

    @property
    def speaker(self):
        """The speaker in use (a new one when the last one's device vanished)."""
        return self.player.speaker if self.player is not None else None

    def start(self, speaker, voice, listener: Listener | None) -> None:
        """Start the owner thread, the turn worker and the voice on these parts."""
        self.player = Player(speaker, self.bus, self.config.audio.block_ms)
        self.speech = SpeechWorker(voice, self._on_voice, lambda turn: self.post(m.VoicingDone(turn)))
        self.worker = TurnWorker(self.engines, self.speech, self.post, lambda: self._answering,
                                 self.config.first_clause, held=self._held)
        self.listener = listener
        self._quiet_since = time.monotonic()  # (the speaker rests after SPEAKER_REST_S of this)
        self.machine.listening = listener is not None
        self.thread.start()
        self.post(m.HandsFree(self.config.hands_free))  # (publishes the resting state)

    def _held(self, turn: int) -> bool:
        """Any thread: whether `turn`'s reply was begun at a pause and the turn is not known to be over."""
        track = self.machine.reply
        return track is not None and track.turn == turn and track.held

    def quiet(self) -> bool:
        """No turn in progress, and nothing posted waits to be handled."""
        return not self.busy and not self._inbox.unfinished_tasks

    def post(self, message) -> None:
        """Hand the owner an event (any thread)."""
        self._inbox.put(message)

    def _run(self) -> None:
        while True:
            try:
                message = self._inbox.get(timeout=self._wait_s())
            except queue.Empty:
                message = None
            if isinstance(message, Control) and message.what == "stop":
                return
            try:
                if message is not None:
                    self._on_message(message)
                self._quiet_due()
                self._watch_playback()
            except Exception as exc:  # a failed turn must not end the conversation
                log.exception("the conversation failed on %r", type(message).__name__)
                self.bus.publish(Problem(f"that turn failed: {exc}", "try again; details are in the log file"))
                self._give_up_the_turn()
            finally:
                if message is not None:
                    self._inbox.task_done()

    def _give_up_the_turn(self) -> None:
        """After a failure: the turn in progress ends, and the conversation listens again."""
        turn = self.machine.reply.turn if self.machine.reply is not None else self.machine.turn
        self._answering = 0
        self._reply = None
        try:
            self._feed(m.Failed(turn))
        except Exception:
            log.exception("the conversation could not recover from that failure")

    def _wait_s(self) -> float | None:
        """How long the owner may wait for the next event: a short while when a reply is playing (it looks whether
        it has played out), until the speaker should rest when idle, else for good."""
        track = self.machine.reply
        if self._quiet_wait is not None:
            return max(0.0, self._quiet_wait[1] - time.monotonic())
        if track is not None and not track.held and not track.paused and track.done:
            return PLAYOUT_POLL_S
        if SPEAKER_REST_S is None or self.busy or self.player is None or self.player.speaker.resting:
            return None
        return max(0.01, self._rest_at() - time.monotonic())

    def _rest_at(self) -> float:
        """When the idle speaker may rest: SPEAKER_REST_S after the last turn, and after the last sound it played
        (a chime plays between turns)."""
        return max(self._quiet_since, self.player.speaker.last_sound_time) + SPEAKER_REST_S

    def _on_message(self, message) -> None:
        if isinstance(message, _Piece):
            self._on_piece(message)
        elif isinstance(message, Delta):
            self._on_delta(message)
        elif isinstance(message, TranscriptReady):
            self._on_transcript(message)
        elif isinstance(message, FirstSaid):
            reply = self._current(message.turn)
            if reply is not None:
                reply.first_said = message.at
                reply.timings_ms["first_chunk_text"] = round(1000 * (message.at - reply.asked), 1)
        elif isinstance(message, Generated):
            self._on_generated(message)
        elif isinstance(message, Control):
            self._on_control(message)
        elif isinstance(message, Timer):
            self._on_timer_rang(message)
        else:
            if isinstance(message, m.SpeechStarted):
                self._barge_started = message.detail or time.monotonic()
            elif isinstance(message, m.TurnEnded):
                self._note_turn_end(message)
            self._feed(message)

    def _note_turn_end(self, ended: m.TurnEnded) -> None:
        """The turn a held reply answers may end here: what ended it, and when, are its reply's."""
        track, reply = self.machine.reply, self._reply
        if track is not None and track.held and track.key == ended.key and reply is not None and ended.detail:
            reply.ended_by = ended.detail.utterance.reason
            reply.timings_ms["turn_end"] = round(1000 * (ended.detail.at - reply.end_of_speech), 1)

    def _on_control(self, control: Control) -> None:
        if control.what == "reset":
            self._feed(m.StopReply())
            self.engines.chat.reset()
        elif control.what == "hands_free":
            on, wake = control.value
            self.config = dataclasses.replace(self.config, hands_free=on, wake=wake)
            self._feed(m.HandsFree(on))

    def _feed(self, event: m.Input) -> None:
        """Let the machine decide on `event`, and do what it says."""
        commands = self.machine.handle(event)
        log.debug("%s → %s (%s)", type(event).__name__, [type(c).__name__ for c in commands], self.machine.phase.value)
        for command in commands:
            getattr(self, "_do_" + type(command).__name__)(command, event)
        track = self.machine.reply  # (the machine let its reply go: so does the owner)
        if self._reply is not None and (track is None or track.turn != self._reply.turn):
            self._reply = None
        if track is None or track.turn != self._answering:
            self._answering = 0
        busy = self.machine.busy
        if self.busy and not busy:
            self._quiet_since = time.monotonic()
        self.busy = busy
        self.resting = not busy and self.machine.phase is Phase.LISTENING
        self.hold_floor(busy or self.state in _TURN_STATES)

    def hold_floor(self, held: bool) -> None:
        """Owner thread (and stop): other programs' work on the engines waits while a turn is under way."""
        floor = getattr(self.engines, "floor", None)  # (tests hand in engines of their own)
        if floor is not None:
            floor.hold(held)

    def _current(self, turn: int) -> Reply | None:
        reply = self._reply
        return reply if reply is not None and reply.turn == turn else None

    # --- what the workers say ------------------------------------------------------------------------------------

    def _on_voice(self, chunk: SpeechChunk, turn: int) -> None:
        """Piper thread: a voiced piece, converted to the speaker's rate there (not on the owner)."""
        audio = self.player.speaker.resample_for_device(chunk.audio, chunk.sample_rate)
        self.post(_Piece(turn, chunk.text, audio))

    def _on_piece(self, piece: _Piece) -> None:
        if piece.turn == ANNOUNCEMENT:  # a timer's words: played now, after the ring, whatever the turn
            self.player.announce(piece.audio)
            return
        reply = self._current(piece.turn)
        if reply is None:
            return
        if not reply.pieces and reply.first_said:
            reply.timings_ms["first_voice"] = round(1000 * (time.monotonic() - reply.first_said), 1)
        reply.pieces.append(Spoken(reply.next_tag(), piece.text, piece.audio))
        self._feed(m.Voiced(piece.turn))

    def _on_timer_rang(self, timer: Timer) -> None:
        """A timer or alarm ended: it rings at once (over a reply or the user's words: the echo canceller has its
        sound), is said in the language it was set in, and shows."""
        words = timer.ringing_words()
        self.player.announce(alarm_sound(self.player.speaker.rate))
        self.speech.announce(words, self.engines.voice_for(timer.language))
        self.bus.publish(TimerRang(words, timer.kind, timer.name))

    def _on_delta(self, delta: Delta) -> None:
        reply = self._current(delta.turn)
        if reply is None:
            return
        if not reply.parts:
            reply.timings_ms["first_token"] = round(1000 * (delta.at - reply.end_of_speech), 1)
        reply.parts.append(delta.text)
        self._publish_for(reply, ReplyText(delta.turn, delta.text))

    def _on_generated(self, generated: Generated) -> None:
        question = self._withdraw.pop(generated.turn, None)
        if question is not None:
            self.engines.chat.withdraw(question)  # (dropped unheard: the user was still speaking)
            return
        reply = self._current(generated.turn)
        if reply is None:
            return
        reply.generated = True
        if generated.error is not None:
            self.bus.publish(Problem(f"that turn failed: {generated.error}", "try again; details are in the log file"))
            self._answering = 0
            self._feed(m.Failed(generated.turn))

    def _on_transcript(self, result: TranscriptReady) -> None:
        heard = self._turns.pop(result.turn, None)
        if heard is None:
            return  # dropped meanwhile
        if result.error is not None:
            track = self.machine.reply
            if track is None or track.turn != result.turn or not track.held:  # (a held one: the turn's end retries)
                self.bus.publish(Problem(f"that turn failed: {result.error}", "try again; details are in the log file"))
            self._feed(m.Failed(result.turn))
            return
        transcript = result.transcript
        phrase = self.listener.wake.phrase if self.listener is not None and self.config.wake is not None else None
        if phrase:
            transcript = dataclasses.replace(transcript, text=without_phrase(transcript.text, phrase))
        words = bool(transcript.text)
        if not words:
            log.info("no words in the utterance")
        elif self._sounds_like_own_reply(transcript.text, heard.started if heard.utterance is not None else None):
            log.info("heard Parley's own words (%r): echo, not the user", transcript.text)
            words = False
        if words:
            self._transcripts[result.turn] = (transcript, heard, time.monotonic())
        self._feed(m.Transcribed(result.turn, words))

    def _sounds_like_own_reply(self, heard: str, started: float | None = None) -> bool:
        """True when what the microphone heard during a reply, or beginning within OWN_ECHO_TAIL_S after one
        played out (`started`: time.monotonic() of its first frame), is mostly that reply's own words.

        The echo canceller leaks while it adapts, and more when a busy machine delays the sound server; a leak
        loud enough to pass the VAD is Parley's voice, and Whisper turns it back into the reply's words. A person
        talking over it says something else. Heard after the reply ended, such a leak was answered as a question,
        whose reply leaked in turn: Parley talked to itself for minutes.
        """
        track, reply = self.machine.reply, self._reply
        if track is not None and track.paused and reply is not None:
            spoken = reply.spoken_text()
        elif started is not None and started - self._last_played[0] < OWN_ECHO_TAIL_S:
            spoken = self._last_played[1]
        else:
            return False
        return mostly_own_words(heard, spoken)

    # --- playback ------------------------------------------------------------------------------------------------

    @staticmethod
    def _started_by(event) -> float:
        """When an interruption began: the key press, else now."""
        if isinstance(event, m.PushToTalk) and isinstance(event.detail, float):
            return event.detail
        return time.monotonic()

    def _watch_playback(self) -> None:
        """A reply that is voiced and not held: has it played out, or has the speaker gone? An idle speaker rests."""
        track, reply, player = self.machine.reply, self._reply, self.player
        if track is None or reply is None or track.turn != reply.turn or track.held or track.paused:
            if (SPEAKER_REST_S is not None and not self.busy and player is not None
                    and time.monotonic() >= self._rest_at()):
                player.speaker.rest()
            return
        if not track.done:
            return  # (it is still being voiced: the speaker is looked at once it all is)
        if not player.speaker.active:
            heard = player.heard(reply)  # (from the lost speaker's buffer, before it goes)
            movable = player.replace(reply)
            self._feed(m.SpeakerLost(heard=not movable, detail=heard))
        elif track.done and player.played_out():
            self._feed(m.PlayedOut(track.turn))

    def _on_server_notice(self, message: str) -> None:
        """From the chat engine's or the transcription thread: a server could not answer and the local model does."""
        self.bus.publish(Problem(message, "check that the server runs, or choose another engine in Settings", "settings"))

    def say_who_answers(self) -> None:
        """Say who answers (an Answering event) when it changed."""
        who = self.engines.chat.describe()
        if who != self._who:
            self._who = who
            self.bus.publish(Answering(who))
