"""The reply's side of the speaker: what goes into its buffer, what was heard, and a new speaker when it vanishes.
Used by the owner thread only (core.py)."""

from __future__ import annotations

import logging
import time

from assistant.conversation.reply import Reply
from assistant.listen.wake_gate import chime
from assistant.playback.speaker import Speaker
from assistant.runtime.audio_stream import AudioConfig
from assistant.runtime.events import BargeIn, EventBus, Problem

log = logging.getLogger(__name__)


class Player:
    """Plays the current reply's voiced pieces on `speaker` (replaced when its device vanishes)."""

    def __init__(self, speaker: Speaker, bus: EventBus, block_ms: int) -> None:
        self.speaker = speaker
        self._bus = bus
        self._block_ms = block_ms

    def play_new(self, reply: Reply) -> None:
        """Send the pieces voiced since the last call to the speaker."""
        for piece in reply.pieces[reply.queued:]:
            self.speaker.buffer.write(piece.audio, piece.tag)
        reply.queued = len(reply.pieces)

    def resume(self, reply: Reply) -> None:
        """Play a paused reply on from the sample where each piece stopped, then what was voiced meanwhile."""
        self.speaker.wake()  # (a reply in progress keeps it awake: this is cheap)
        for piece in reply.pieces[: reply.queued]:
            rest = piece.audio[self.speaker.buffer.played_for(piece.tag):]
            if len(rest):
                self.speaker.buffer.write(rest, piece.tag)
        self.play_new(reply)

    def replay(self, reply: Reply) -> None:
        """Play the reply again from its start (on a new speaker: nothing of it was heard)."""
        self.speaker.arm()
        for piece in reply.pieces[: reply.queued]:
            self.speaker.buffer.write(piece.audio, piece.tag)

    def flush(self, turn: int, started: float) -> None:
        """Silence the speaker at once, and say how long that took since `started` (the barge-in's latency)."""
        self.speaker.buffer.flush()
        latency = 1000 * (time.monotonic() - started) if started else 0.0
        self._bus.publish(BargeIn(turn, round(latency + self._block_ms, 1)))

    def heard(self, reply: Reply) -> str:
        """The words of `reply` that came out of the speaker."""
        return reply.heard_text(self.speaker.buffer.played_for)

    def chime(self) -> None:
        self.announce(chime(self.speaker.rate))

    def announce(self, audio) -> None:
        """Play `audio` (at the speaker's rate) that belongs to no reply: a chime, a timer's ring and words."""
        self.speaker.wake()
        self.speaker.buffer.write(audio, 0)

    def played_out(self) -> bool:
        return self.speaker.buffer.queued == 0

    def first_audio_ms(self, reply: Reply) -> float | None:
        """When the reply's first sound played, in ms after the end of the user's speech."""
        first_sound = self.speaker.first_sound_time
        if first_sound > reply.end_of_speech and reply.pieces:
            return round(1000 * (first_sound - reply.end_of_speech), 1)
        return None

    def replace(self, reply: Reply) -> bool:
        """The output device vanished (its stream ended, or stalled): reopen on the system default output. Returns
        True when `reply` can play on there from its start: nobody heard any of it, it did not move once already,
        and the new output opened. The outage is reported once: a speaker that opened in place of a lost one and
        never worked (the default output is gone or hangs too) fails quietly.

        Call `heard(reply)` before, while the old speaker's buffer still says what was played."""
        old = self.speaker
        cause = "no callbacks" if old.stalled else "stream ended"
        if old.replaces_lost and not old.worked:
            log.info("the output opened in place of the speaker stopped too (%s)", cause)
        else:
            log.warning("the speaker stopped (%s)", cause)
            self._bus.publish(Problem("the speaker stopped; switching to the system default output",
                                      "check the speaker or headphones connection, or pick one in Settings",
                                      "settings"))
        # (a speaker that never worked took at most the blocks that fill its buffer: nobody heard those)
        movable = not reply.moved and not (old.worked and any(old.buffer.played_for(p.tag) for p in reply.pieces))
        speaker = Speaker(AudioConfig(block_ms=old.config.block_ms), old.voice_rate)
        speaker.replaces_lost = True
        old.stop()
        self.speaker = speaker
        try:
            speaker.start()
        except Exception as exc:
            # Kept unopened (writes go nowhere): the next reply tries again, without a second report.
            log.warning("no default output either: %s", exc)
            return False
        if movable:
            reply.moved = True
            for piece in reply.pieces:
                piece.audio = speaker.resample_for_device(piece.audio, old.rate)
        return movable
