"""The speaker's ring buffer: the voice thread writes samples, the audio output callback reads them. (The
microphone's ring is one too, the other way round: its callback writes, the listening thread reads.)

One producer (the thread that runs Piper), one consumer (PortAudio's output callback, which runs in
real time: it must not allocate audio-sized buffers, wait on a lock, or log), and `flush` from any
thread when the user barges in.

Positions are ever-growing ints (sample counts since creation); the slot of position p is
p % capacity, so wrap-around is one modulo and "how much is queued" is one subtraction.

Flush without a lock in the callback
------------------------------------
`flush` publishes a target position (the write position at the time of the call) and then bumps a
sequence number. The callback compares the sequence number with the one it saw last, at the start of
each read and again after copying:
  * seen at the start: the read position jumps to the target before anything is copied;
  * bumped while copying: what was copied is thrown away (the block is silence) and the jump is made.
So a read never hands over samples written before a flush together with samples written after it,
and every read that starts after `flush` returned skips what was queued before it. A read already
past its second check when `flush` is called still delivers its block: that is at most one callback
of old audio, which the device was going to play anyway.
Under CPython's GIL a single attribute store or load of an int is atomic, and the stores become
visible in program order, which is all this needs. A small lock serialises concurrent `flush` calls
(the `+= 1` is not atomic); the consumer never takes it.
Samples the producer is still copying when `flush` runs are not yet published and survive it: stop the
producer first (or tag its writes with the turn generation and check `played_for`).
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

__all__ = ["PlaybackBuffer"]

# How many tag changes and flushes are remembered for `played_for`; older ones fall off.
_HISTORY = 256


class PlaybackBuffer:
    """A preallocated single-producer/single-consumer ring of float32 mono samples.

    Thread roles: `write` from the producer thread only; `read_into` from the audio callback only;
    `flush`, `played`, `queued` and `played_for` from any thread.
    """

    def __init__(self, capacity_samples: int) -> None:
        if capacity_samples < 1:
            raise ValueError(f"capacity must be at least one sample, got {capacity_samples}")
        self._ring = np.zeros(capacity_samples, dtype=np.float32)
        self._capacity = capacity_samples
        self._write_pos = 0  # owned by the producer
        self._read_pos = 0  # owned by the consumer
        self._played = 0  # owned by the consumer
        self._flush_target = 0  # owned by flush; monotonic
        self._flush_seq = 0  # owned by flush; bumped after the target is stored
        self._seen_seq = 0  # owned by the consumer
        self._flush_lock = threading.Lock()
        # (first position, tag) where the tag changed: appended by the producer.
        self._segments: deque[tuple[int, int]] = deque(maxlen=_HISTORY)
        # [from, to) ranges skipped by flushes: appended by the consumer, once per flush it applies.
        self._skips: deque[tuple[int, int]] = deque(maxlen=_HISTORY)

    @property
    def capacity(self) -> int:
        return self._capacity

    def write(self, samples: np.ndarray, tag: int = 0) -> int:
        """Producer: copy as many of `samples` as fit, return how many. Never blocks.

        `tag` is the turn generation the samples belong to (see `played_for`).
        """
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        start = self._write_pos
        # Space freed by a flush counts even before the consumer has applied it: a read that overlaps
        # the flush discards its copy, so overwriting those slots can't reach the speaker.
        floor = max(self._read_pos, self._flush_target)
        count = min(len(samples), self._capacity - (start - floor))
        if count <= 0:
            return 0
        if not self._segments or self._segments[-1][1] != tag:
            self._segments.append((start, tag))
        slot = start % self._capacity
        first = min(count, self._capacity - slot)
        self._ring[slot : slot + first] = samples[:first]
        self._ring[: count - first] = samples[first:count]
        self._write_pos = start + count  # publish only after the copy
        return count

    def read_into(self, out: np.ndarray) -> int:
        """Consumer (audio callback): fill `out` (1-D float32) with queued samples, zeros after them.

        Returns how many real samples were delivered; the rest of `out` is silence (an underrun never
        replays stale audio). Lock-free; allocates nothing audio-sized (a few numpy views, and one small
        tuple when it applies a flush).
        """
        seq = self._flush_seq
        if seq != self._seen_seq:
            self._apply_flush(seq)
        start = self._read_pos
        count = min(self._write_pos - start, len(out))
        slot = start % self._capacity
        first = min(count, self._capacity - slot)
        out[:first] = self._ring[slot : slot + first]
        out[first:count] = self._ring[: count - first]
        out[count:] = 0.0
        if self._flush_seq != seq:
            # A flush landed while copying: the block may hold pre-flush audio (or slots the producer
            # has already reused), so it goes out as silence.
            out[:] = 0.0
            self._apply_flush(self._flush_seq)
            return 0
        self._read_pos = start + count
        self._played += count
        return count

    def _apply_flush(self, seq: int) -> None:
        # Consumer side of a flush. The target is read after the sequence number, so it is at least
        # as new as the flush that bumped it.
        self._seen_seq = seq
        target = self._flush_target
        if target > self._read_pos:
            self._skips.append((self._read_pos, target))  # before the jump: played_for relies on it
            self._read_pos = target

    def flush(self) -> int:
        """Any thread: drop everything queued; returns how many samples were dropped.

        Once this returns, no read that starts afterwards delivers a sample written before the call
        (the next read is silence unless new samples were written since).
        """
        with self._flush_lock:
            target = self._write_pos
            dropped = target - max(self._read_pos, self._flush_target)
            self._flush_target = target
            self._flush_seq += 1  # after the target: a consumer that sees the bump sees the target
        return max(dropped, 0)

    @property
    def played(self) -> int:
        """Total real samples delivered to the device since creation (monotonic)."""
        return self._played

    @property
    def queued(self) -> int:
        """Samples waiting to be delivered (0 right after a flush)."""
        floor = max(self._read_pos, self._flush_target)  # read before the write position: never negative
        return max(self._write_pos - floor, 0)

    def played_for(self, tag: int) -> int:
        """How many samples written with `tag` were actually delivered (not skipped by a flush).

        Computed here, outside the callback, from positions; exact as long as the tag's writes are
        among the last 256 tag changes and flushes.
        """
        read_pos = self._read_pos  # first: every skip below it is already recorded
        segments = tuple(self._segments)  # tuple() copies a deque without releasing the GIL
        skips = tuple(self._skips)
        total = 0
        for index, (start, seg_tag) in enumerate(segments):
            if seg_tag != tag:
                continue
            end = segments[index + 1][0] if index + 1 < len(segments) else read_pos
            end = min(end, read_pos)
            if end <= start:
                continue
            total += end - start
            for skip_from, skip_to in skips:
                total -= max(0, min(end, skip_to) - max(start, skip_from))
        return total
