"""The turn's state machine: what happens next, decided from events alone (no audio, no threads, no clocks).

    LISTENING ──speech──▶ HEARING ──pause──▶ MAYBE_FINISHED (a reply begun and held) ──turn over──▶ SPEAKING
        ▲                    │  ▲                  │ the user goes on: the held reply is dropped unheard
        │                    │  └──────────────────┘
        │                    └──turn over──▶ THINKING (transcribing, then generating) ──first sound──▶ SPEAKING
        │                                                                                  │    ▲
        └──────────────────────────── played out, no words, a failure ────────────────────┘    │
                                                                       speech over a reply ──▶ PAUSED ──▶ (resumed
                                                                       after a moment's quiet, or cancelled by a real
                                                                       question)

The owner (core.py) feeds every event to `TurnMachine.handle` on its one thread and carries out the commands
it returns, in order. Cancellation is one scheme: every reply has its turn's id, and whatever arrives for an
id that is no longer the reply's (a transcript, a piece of voice, the end of a generation) is dropped here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from assistant.conversation.turn_events import (
    Answer,
    AnswerEarly,
    CancelReply,
    Chime,
    Command,
    DropHeld,
    Failed,
    Finish,
    HandsFree,
    HeardSoFar,
    Input,
    Key,
    MoveReply,
    Mute,
    NotForUs,
    Paused,
    PausePlayback,
    PlayedOut,
    PlayPieces,
    Publish,
    PushToTalk,
    Quiet,
    Recording,
    Release,
    ResumePlayback,
    ResumeWhenQuiet,
    ShowWords,
    SpeakerLost,
    SpeechStarted,
    StopGenerating,
    StopReply,
    TooShort,
    Transcribe,
    Transcribed,
    TurnEnded,
    Typed,
    Voiced,
    VoicingDone,
    WakeWord,
    WentOn,
)
from assistant.runtime.events import State


class Phase(Enum):
    LISTENING = "listening"  # between turns (published as listening, idle or muted)
    HEARING = "hearing"  # the user speaks
    MAYBE_FINISHED = "maybe_finished"  # a pause: the words so far are answered, held back
    THINKING = "thinking"  # the turn is over: transcribing, or waiting for the reply's first sound
    SPEAKING = "speaking"  # the reply plays
    PAUSED = "paused"  # the user spoke over the reply: it stopped where it was, to resume or to cancel


@dataclass
class ReplyTrack:
    """The machine's view of the current reply."""

    turn: int
    held: bool = False  # begun at a pause, the turn not known to be over
    key: Key | None = None  # the pause it was begun at (held replies)
    answering: bool = False  # its words are known and it generates (else: still transcribing)
    voiced: bool = False  # a piece is voiced
    done: bool = False  # all generated and voiced
    paused: bool = False


@dataclass
class TurnMachine:
    """The turn's state; `handle` takes an input and returns the commands, in order. Not thread-safe: one owner."""

    hands_free: bool = True
    listening: bool = True  # a microphone is open
    speculative_start: bool = True
    muted: bool = False
    phase: Phase = Phase.LISTENING
    turn: int = 0  # the id of the newest turn
    reply: ReplyTrack | None = None
    pending: set[int] = field(default_factory=set)  # turns being transcribed (not yet a reply)
    ptt: bool = False  # the push-to-talk key is down
    published: State = State.IDLE

    @property
    def busy(self) -> bool:
        """A turn is being transcribed or answered."""
        return self.reply is not None or bool(self.pending) or self.ptt

    def resting_state(self) -> State:
        if self.muted:
            return State.MUTED
        return State.LISTENING if self.hands_free and self.listening else State.IDLE

    def handle(self, event: Input) -> list[Command]:
        out: list[Command] = []
        handler = getattr(self, "_on_" + type(event).__name__)
        handler(event, out)
        out.extend(self._publish())
        return out

    # --- the user ------------------------------------------------------------------------------------------

    def _on_SpeechStarted(self, event: SpeechStarted, out: list) -> None:
        reply = self.reply
        if reply is not None and reply.held:
            self._drop_held("speech began again", out)
        elif reply is not None and not reply.paused:
            reply.paused = True
            out.append(PausePlayback(reply.turn))
        self.phase = Phase.PAUSED if self.reply is not None else Phase.HEARING

    def _on_Paused(self, event: Paused, out: list) -> None:
        reply = self.reply
        if reply is not None and reply.held:
            if reply.key == event.key:
                return  # a later pause in the same silence: begun already
            self._drop_held("a later pause", out)
        if not (event.early and self.speculative_start and self.reply is None and not self.pending):
            return
        self.turn += 1
        self.reply = ReplyTrack(self.turn, held=True, key=event.key)
        self.phase = Phase.MAYBE_FINISHED
        out.append(AnswerEarly(self.turn, event.key))

    def _on_WentOn(self, event: WentOn, out: list) -> None:
        if self.reply is not None and self.reply.held:
            self._drop_held("the user went on", out)
            self.phase = Phase.HEARING

    def _on_HeardSoFar(self, event: HeardSoFar, out: list) -> None:
        # Only while a turn is being spoken: once it is over its transcript says it all, and speech over a
        # reply may be the reply's own echo until it is heard as a turn.
        if self.phase in (Phase.HEARING, Phase.MAYBE_FINISHED):
            out.append(ShowWords(event.text))

    def _on_TooShort(self, event: TooShort, out: list) -> None:
        self._resume_or_rest(out)

    def _on_TurnEnded(self, event: TurnEnded, out: list) -> None:
        reply = self.reply
        if reply is not None and reply.held:
            if reply.key == event.key:
                reply.held = False
                if reply.answering:
                    out.append(Release(reply.turn))
                self.phase = Phase.SPEAKING if reply.voiced else Phase.THINKING
                return
            self._drop_held("the turn ended elsewhere", out)
        self._transcribe(event.key, out)

    def _on_NotForUs(self, event: NotForUs, out: list) -> None:
        if self.reply is not None and self.reply.held:
            self._drop_held("not meant for Parley", out)
        if self.reply is None and not self.pending:
            self.phase = Phase.LISTENING
        elif self.reply is not None and self.reply.paused:
            self._resume_or_rest(out)

    def _on_WakeWord(self, event: WakeWord, out: list) -> None:
        reply = self.reply
        if reply is not None and not reply.held:
            self._cancel(out)
        elif not self.muted:
            out.append(Chime())
        self.phase = Phase.HEARING

    def _on_PushToTalk(self, event: PushToTalk, out: list) -> None:
        if event.pressed and not self.ptt:
            self.ptt = True
            self._interrupt(out)
            self.turn += 1  # (a turn still being transcribed is not answered now: the user starts another)
            out.append(Recording(True))
            self.phase = Phase.HEARING
        elif not event.pressed and self.ptt:
            self.ptt = False
            out.append(Recording(False))
            if event.audio:
                self._transcribe(None, out)
            else:
                self.phase = Phase.LISTENING

    def _on_Typed(self, event: Typed, out: list) -> None:
        self._interrupt(out)
        self.turn += 1
        self.reply = ReplyTrack(self.turn, answering=True)
        self.phase = Phase.THINKING
        out.append(Answer(self.turn))

    def _on_StopReply(self, event: StopReply, out: list) -> None:
        self._interrupt(out)
        if self.phase is not Phase.HEARING:
            self.phase = Phase.LISTENING

    def _on_Mute(self, event: Mute, out: list) -> None:
        self.muted = event.on
        if event.on and self.reply is not None and self.reply.held:
            self._drop_held("muted", out)
        if event.on and self.ptt:
            self.ptt = False
            out.append(Recording(False))
            self.phase = Phase.LISTENING
        if event.on and self.reply is not None and self.reply.paused:
            self._resume_or_rest(out, at_once=True)  # what paused it will not be heard now
        elif event.on and self.phase is Phase.HEARING and self.reply is None and not self.pending:
            self.phase = Phase.LISTENING

    def _on_Quiet(self, event: Quiet, out: list) -> None:
        reply = self.reply
        if (reply is not None and reply.turn == event.turn and reply.paused and not self.pending
                and self.phase is Phase.SPEAKING):  # (PAUSED: someone speaks again, and that decides)
            self._resume_or_rest(out, at_once=True)

    def _on_HandsFree(self, event: HandsFree, out: list) -> None:
        self.hands_free = event.on  # (the published state follows, if it is the resting one)

    # --- the workers ---------------------------------------------------------------------------------------

    def _on_Transcribed(self, event: Transcribed, out: list) -> None:
        reply = self.reply
        if reply is not None and reply.turn == event.turn:  # an early transcript: of a held (or confirmed) reply
            if event.words:
                reply.answering = True
                out.append(Answer(reply.turn))
                if not reply.held:
                    out.append(Release(reply.turn))
            elif reply.held:
                self.reply = None  # nothing to answer (yet): the turn's end transcribes again
            else:
                self.reply = None
                self.phase = Phase.LISTENING
            return
        if event.turn not in self.pending:
            return  # stale: a newer turn took over
        self.pending.discard(event.turn)
        if event.turn != self.turn:
            return
        if not event.words:
            if self.phase is Phase.PAUSED:
                # The user speaks again meanwhile ("Stop," a pause, "stop, tell me…": the first word alone is often
                # heard as nothing): the paused reply waits for what that speech turns out to be.
                return
            self._resume_or_rest(out)
            return
        if reply is not None:
            self._cancel(out)  # a real question: the paused reply is over
        self.reply = ReplyTrack(event.turn, answering=True)
        self.phase = Phase.THINKING
        out.append(Answer(event.turn))

    def _on_Voiced(self, event: Voiced, out: list) -> None:
        reply = self.reply
        if reply is None or reply.turn != event.turn:
            return
        reply.voiced = True
        if not reply.held and not reply.paused:
            out.append(PlayPieces(reply.turn))
            if self.phase is not Phase.HEARING:
                self.phase = Phase.SPEAKING

    def _on_VoicingDone(self, event: VoicingDone, out: list) -> None:
        reply = self.reply
        if reply is not None and reply.turn == event.turn:
            reply.done = True
            if not reply.voiced and not reply.held and not reply.paused:
                out.append(Finish(reply.turn))  # nothing to say (an empty reply): nothing to wait for
                self._rest()

    def _on_PlayedOut(self, event: PlayedOut, out: list) -> None:
        reply = self.reply
        if reply is None or reply.turn != event.turn or reply.held or reply.paused or not reply.done:
            return
        out.append(Finish(reply.turn))
        self._rest()

    def _on_Failed(self, event: Failed, out: list) -> None:
        if event.turn not in self.pending and (self.reply is None or self.reply.turn != event.turn):
            return
        self.pending.discard(event.turn)
        if self.reply is not None and self.reply.turn == event.turn:
            self.reply = None
        if self.reply is None and not self.pending and not self.ptt:
            self.phase = Phase.LISTENING

    def _on_SpeakerLost(self, event: SpeakerLost, out: list) -> None:
        reply = self.reply
        if reply is None or reply.held:
            return
        if event.heard or reply.paused:
            self._cancel(out)
            self.phase = Phase.LISTENING
        else:
            out.append(MoveReply(reply.turn))

    # --- the moves -----------------------------------------------------------------------------------------

    def _transcribe(self, key: Key | None, out: list) -> None:
        self.turn += 1
        self.pending.add(self.turn)
        if self.reply is not None and self.reply.paused:
            out.append(StopGenerating(self.reply.turn))
        out.append(Transcribe(self.turn, key))
        self.phase = Phase.THINKING

    def _interrupt(self, out: list) -> None:
        """Whatever reply there is ends now (a key, a typed turn, Stop)."""
        if self.reply is not None and self.reply.held:
            self._drop_held("interrupted", out)
        elif self.reply is not None:
            self._cancel(out)

    def _cancel(self, out: list) -> None:
        out.append(CancelReply(self.reply.turn, self.reply.paused))
        self.reply = None

    def _drop_held(self, why: str, out: list) -> None:
        out.append(DropHeld(self.reply.turn, why))
        self.reply = None
        if self.phase is Phase.MAYBE_FINISHED:
            self.phase = Phase.HEARING  # (still the user's turn)

    def _resume_or_rest(self, out: list, at_once: bool = False) -> None:
        """The barge-in was a false alarm: a paused reply plays on from where it stopped, after a moment's quiet
        (`at_once`: now). A first word on its own ("Stop," then a breath) is often heard as nothing, and the
        words after it are a moment behind: resumed at once, the reply would be heard between the two."""
        reply = self.reply
        if reply is not None and reply.paused and not self.pending:
            if at_once:
                reply.paused = False
                out.append(ResumePlayback(reply.turn))
            else:
                out.append(ResumeWhenQuiet(reply.turn))  # (still paused: speech meanwhile keeps it so)
            self.phase = Phase.SPEAKING
        elif reply is None and not self.pending:
            self.phase = Phase.LISTENING
        elif self.phase is Phase.HEARING:
            self.phase = Phase.THINKING

    def _rest(self) -> None:
        self.reply = None
        self.phase = Phase.THINKING if self.pending else Phase.LISTENING

    def _publish(self) -> list[Command]:
        state = {Phase.LISTENING: self.resting_state(), Phase.HEARING: State.USER_SPEAKING,
                 Phase.MAYBE_FINISHED: State.USER_SPEAKING, Phase.PAUSED: State.USER_SPEAKING,
                 Phase.THINKING: State.THINKING, Phase.SPEAKING: State.SPEAKING}[self.phase]
        if state is self.published:
            return []
        self.published = state
        return [Publish(state)]
