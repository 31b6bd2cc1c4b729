"""The machine's commands, carried out: one method per command (`_do_` and its name), run on the owner thread as
part of the Owner (owner.py), whose state they use: the current reply, the speaker, the history, the bus."""

from __future__ import annotations

import dataclasses
import logging
import time

from assistant.conversation import turn_events as m
from assistant.conversation.listener import Heard
from assistant.conversation.reply import Reply
from assistant.runtime.events import ReplyFinished, StateChanged, TurnTimings, UserSaid, WordsSoFar
from assistant.runtime.settings import asked_language, heard_language, reply_language
from assistant.speak.voice import voice_label

log = logging.getLogger(__name__)

# How long no one must speak before a reply paused by speech that held no words plays on. The VAD takes ~0.1-0.2 s
# to call the next words speech, and "Stop," and the words after it are a breath apart.
RESUME_AFTER_QUIET_S = 0.6


class Commands:
    """The Owner's half that carries out commands (see owner.py for the state it reads and writes)."""

    # --- the machine's commands (owner thread) ----------------------------------------------------------------------------------

    def _do_Publish(self, command: m.Publish, event) -> None:
        self.state = command.state
        self.bus.publish(StateChanged(command.state))

    def _do_ShowWords(self, command: m.ShowWords, event) -> None:
        self.bus.publish(WordsSoFar(command.text))

    def _do_PausePlayback(self, command: m.PausePlayback, event) -> None:
        self.player.flush(command.turn, self._barge_started)

    def _do_ResumeWhenQuiet(self, command: m.ResumeWhenQuiet, event) -> None:
        self._quiet_wait = (command.turn, time.monotonic() + RESUME_AFTER_QUIET_S)  # (a newer one replaces it)

    def _quiet_due(self) -> None:
        """The owner loop, after each message or wait: a quiet wait that has run out goes to the machine."""
        if self._quiet_wait is not None and time.monotonic() >= self._quiet_wait[1]:
            turn, _ = self._quiet_wait
            self._quiet_wait = None
            self._feed(m.Quiet(turn))

    def _do_ResumePlayback(self, command: m.ResumePlayback, event) -> None:
        reply = self._current(command.turn)
        if reply is not None:
            self.player.resume(reply)
            log.info("resuming turn %d after a false barge-in", command.turn)

    def _do_CancelReply(self, command: m.CancelReply, event) -> None:
        reply = self._current(command.turn)
        self._answering = 0
        self.engines.chat.cancel()
        self.speech.follow(0)
        if reply is None:
            return
        if isinstance(event, m.SpeakerLost):
            heard = event.detail  # (what the lost speaker played)
        else:
            if not command.paused:
                self.player.flush(command.turn, self._started_by(event))
            heard = self.player.heard(reply)
        if reply.question:
            self.engines.chat.record_reply(heard, interrupted=True)
        self.bus.publish(ReplyFinished(reply.turn, heard, True))
        self._publish_timings(reply)
        self._reply = None

    def _do_DropHeld(self, command: m.DropHeld, event) -> None:
        reply = self._current(command.turn)
        self._answering = 0
        self.engines.chat.cancel()
        self.speech.follow(0)
        self._turns.pop(command.turn, None)
        if reply is None:
            return
        if reply.question:
            if reply.generated:
                self.engines.chat.withdraw(reply.question)
            else:
                self._withdraw[command.turn] = reply.question  # once its generation has stopped
        self._reply = None
        # (Said also when its words were still being transcribed: then nothing is answered.)
        log.info("dropped the reply begun at a pause (%s): %d voiced pieces, none played", command.why,
                 len(reply.pieces))

    def _do_Release(self, command: m.Release, event) -> None:
        reply = self._current(command.turn)
        if reply is None:
            return
        held, reply.held_events = reply.held_events, []
        for item in held:
            self._publish_for(reply, item)
        self.player.play_new(reply)
        log.info("turn %d ended at the pause its reply began at: %d voiced pieces play now", reply.turn,
                 len(reply.pieces))

    def _do_Transcribe(self, command: m.Transcribe, event) -> None:
        heard: Heard = event.detail
        self._turns[command.turn] = heard
        audio = heard.utterance.audio if heard.utterance is not None else heard.audio
        language = heard_language(self.engines.settings.conversation.language)
        self.worker.transcribe(command.turn, audio, language, heard.transcript)

    def _do_AnswerEarly(self, command: m.AnswerEarly, event: m.Paused) -> None:
        heard: Heard = event.detail
        self._turns[command.turn] = heard
        self._reply = Reply(command.turn, heard.end_of_speech, ended_by=heard.utterance.reason)
        language = heard_language(self.engines.settings.conversation.language)
        self.worker.transcribe(command.turn, None, language, heard.transcript)

    def _do_StopGenerating(self, command: m.StopGenerating, event) -> None:
        self.engines.chat.cancel()  # (what is voiced already stays, to resume if the new turn held no words)

    def _do_Answer(self, command: m.Answer, event) -> None:
        setting = self.engines.settings.conversation.language
        turn = command.turn
        if isinstance(event, m.Typed):
            question, language = event.text, setting
            self._reply = Reply(turn, time.monotonic())
        else:
            transcript, heard, known = self._transcripts.pop(turn)
            question, language = transcript.text, reply_language(setting, transcript.language)
            if self._current(turn) is None:
                self._reply = Reply(turn, heard.end_of_speech, ended_by=heard.utterance.reason if heard.utterance
                                    else "released")
                self._reply.timings_ms["turn_end"] = round(1000 * (heard.at - heard.end_of_speech), 1)
            timings = self._reply.timings_ms
            timings["transcript"] = round(1000 * (known - heard.end_of_speech), 1)
            if "stt" in transcript.timings_ms:
                timings["stt_compute"] = round(transcript.timings_ms["stt"], 1)
        reply = self._reply
        reply.question, reply.language, reply.asked = question, language, time.monotonic()
        self._answering = turn
        self.speech.follow(turn)
        self.player.speaker.arm()
        self._publish_for(reply, UserSaid(turn, question, language, reply.ended_by))
        voice = self.engines.voice_for(heard_language(language))  # (the turn's language's)
        if voice is not self.speech.synthesizer:
            log.info("turn %d (%s) is read by %s", turn, language, voice_label(voice))
        self._chat_language = asked_language(setting, language)
        self.worker.answer(turn, question, self._chat_language, voice, language)

    def _do_PlayPieces(self, command: m.PlayPieces, event) -> None:
        reply = self._current(command.turn)
        if reply is not None:
            self.player.play_new(reply)

    def _do_Finish(self, command: m.Finish, event) -> None:
        reply = self._current(command.turn)
        if reply is None:
            return
        self._reply = None
        self._answering = 0
        self.engines.chat.record_reply(reply.text)
        self.bus.publish(ReplyFinished(reply.turn, reply.text, False))
        self.say_who_answers()
        self._last_played = (time.monotonic(), reply.text)
        if self.listener is not None:
            self.listener.wake.open_follow_up()  # a follow-up needs no wake word
        if not self.machine.pending:  # nobody waiting: read the history into the cache while the user thinks
            self.engines.chat.prefill(None, self._chat_language)
        self._publish_timings(reply)

    def _do_MoveReply(self, command: m.MoveReply, event) -> None:
        reply = self._current(command.turn)
        if reply is not None:
            self.player.replay(reply)
            log.info("turn %d plays on the system default output", reply.turn)

    def _do_Chime(self, command: m.Chime, event) -> None:
        if self.player is not None:
            self.player.chime()

    def _do_Recording(self, command: m.Recording, event) -> None:
        if not command.on and self.listener is not None:
            self.listener.stop_recording()  # (muted while the key was down)

    # --- publishing ----------------------------------------------------------------------------------------------

    def _publish_for(self, reply: Reply, event) -> None:
        """Publish an event of `reply`'s turn, or keep it back while the reply is held."""
        track = self.machine.reply
        if track is not None and track.turn == reply.turn and track.held:
            reply.held_events.append(event)
            return
        if isinstance(event, UserSaid):
            event = dataclasses.replace(event, ended_by=reply.ended_by)
        self.bus.publish(event)

    def _publish_timings(self, reply: Reply) -> None:
        first_audio = self.player.first_audio_ms(reply) if self.player is not None else None
        if first_audio is not None:
            reply.timings_ms["first_audio"] = first_audio
        self.bus.publish(TurnTimings(reply.turn, dict(reply.timings_ms)))
        log.info("turn %d timings (ms after end of speech): %s", reply.turn, reply.timings_ms)

