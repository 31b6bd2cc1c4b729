"""PlaybackBuffer: order across wrap-around, underruns, back-pressure, flush (also racing a reader), tags."""

from __future__ import annotations

import random
import sys
import threading

import numpy as np
import pytest

from assistant.runtime.ring_buffer import PlaybackBuffer


def ramp(start: int, count: int) -> np.ndarray:
    return np.arange(start, start + count, dtype=np.float32)


def read(buffer: PlaybackBuffer, count: int) -> tuple[int, np.ndarray]:
    out = np.full(count, np.nan, dtype=np.float32)  # NaN: anything not written by read_into shows
    return buffer.read_into(out), out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("capacity", [1, 7, 256, 1000])
def test_order_is_preserved_across_wrap_around(seed, capacity):
    rng = random.Random(seed)
    buffer = PlaybackBuffer(capacity)
    reference = ramp(0, 20_000)
    written = 0
    delivered: list[np.ndarray] = []
    while written < len(reference) or buffer.queued:
        if written < len(reference):
            chunk = reference[written : written + rng.randint(1, 2 * capacity + 3)]
            count = buffer.write(chunk)
            assert count == min(len(chunk), capacity - (written - buffer.played))
            written += count
        got, out = read(buffer, rng.randint(1, 2 * capacity + 3))
        delivered.append(out[:got])
        assert not out[got:].any()
    assert np.array_equal(np.concatenate(delivered), reference)
    assert buffer.played == len(reference)


def test_underrun_fills_silence_never_stale_audio():
    buffer = PlaybackBuffer(64)
    assert buffer.write(ramp(1, 10)) == 10
    got, out = read(buffer, 32)
    assert got == 10
    assert np.array_equal(out[:10], ramp(1, 10)) and not out[10:].any()
    # The ring still holds those samples in its slots; an empty read must not replay them.
    got, out = read(buffer, 32)
    assert got == 0 and not out.any()
    assert buffer.played == 10 and buffer.queued == 0


@pytest.mark.parametrize(
    "capacity, steps, expected",
    [
        # steps: ("w", n) writes n samples, ("r", n) reads n; expected: what each write returns.
        (100, [("w", 150)], [100]),
        (100, [("w", 100), ("w", 1)], [100, 0]),
        (100, [("w", 80), ("r", 30), ("w", 60)], [80, 50]),
        (100, [("w", 100), ("r", 100), ("w", 100)], [100, 100]),
        (10, [("w", 0)], [0]),
    ],
)
def test_write_returns_how_many_fit(capacity, steps, expected):
    buffer = PlaybackBuffer(capacity)
    results = []
    position = 0
    for action, count in steps:
        if action == "w":
            results.append(buffer.write(ramp(position, count)))
            position += results[-1]
        else:
            read(buffer, count)
    assert results == expected
    assert buffer.queued == position - buffer.played


def test_flush_drops_queued_audio_and_keeps_counters_right():
    buffer = PlaybackBuffer(100)
    buffer.write(ramp(1, 100))
    assert read(buffer, 30)[0] == 30
    assert buffer.flush() == 70
    assert buffer.queued == 0 and buffer.played == 30
    got, out = read(buffer, 50)
    assert got == 0 and not out.any()
    assert buffer.played == 30
    assert buffer.flush() == 0


def test_space_freed_by_flush_is_writable_before_the_reader_runs():
    buffer = PlaybackBuffer(100)
    buffer.write(ramp(1, 100))
    buffer.flush()
    assert buffer.write(ramp(1000, 100)) == 100
    got, out = read(buffer, 120)
    assert got == 100 and np.array_equal(out[:100], ramp(1000, 100)) and not out[100:].any()
    assert buffer.played == 100


class _FlushWhileCopying(np.ndarray):
    """An output block whose first store runs a flush and a new write: a flush landing mid-callback."""

    def __setitem__(self, key, value):
        hook, self.hook = getattr(self, "hook", None), None
        if hook:
            hook()
        super().__setitem__(key, value)


def test_a_flush_during_the_copy_turns_the_block_into_silence():
    buffer = PlaybackBuffer(100)
    buffer.write(ramp(1, 60), tag=1)

    def barge_in():
        buffer.flush()
        buffer.write(ramp(500, 40), tag=2)

    out = np.full(50, np.nan, dtype=np.float32).view(_FlushWhileCopying)
    out.hook = barge_in
    assert buffer.read_into(out) == 0
    assert not np.asarray(out).any()
    got, block = read(buffer, 50)
    assert got == 40 and np.array_equal(block[:40], ramp(500, 40))
    assert buffer.played_for(1) == 0 and buffer.played_for(2) == 40 and buffer.played == 40


_TAG_SCALE = 1024  # sample value = tag * 1024 + index within the write, exact in float32 here


def test_flush_racing_a_reader_never_delivers_audio_from_before_it():
    """Round r writes tag 2r+1, flushes, writes tag 2r+2, while another thread reads in a loop.

    A read that starts after the f-th flush returned must only hold tags >= 2f; no read mixes the
    tags on both sides of one flush; tags never go backwards; each tag arrives as a gapless prefix.
    """
    rounds = 1500
    buffer = PlaybackBuffer(300)  # smaller than most writes: the writer waits on the reader, they interleave
    flushes_done = 0
    stop, reader_done = threading.Event(), threading.Event()
    # Waits instead of spinning, so neither thread burns its GIL turns on a full or empty buffer.
    has_data, has_room = threading.Event(), threading.Event()
    blocks: list[tuple[int, np.ndarray]] = []
    errors: list[BaseException] = []

    def consumer():
        try:
            read_loop()
        except BaseException as exc:
            errors.append(exc)
        finally:  # a reader that died must not leave the writer waiting for room
            reader_done.set()
            has_room.set()

    def read_loop():
        rng = random.Random(1)
        out = np.zeros(256, dtype=np.float32)
        while True:
            has_data.clear()  # before looking: a write after this sets it again, so no wake-up is lost
            finishing = stop.is_set()
            flushes_before = flushes_done
            view = out[: rng.randint(16, 256)]
            got = buffer.read_into(view)
            has_room.set()
            if got:
                blocks.append((flushes_before, view[:got].copy()))
            elif not buffer.queued:
                if finishing:
                    return
                has_data.wait()

    rng = random.Random(2)
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: more interleavings
    try:
        thread = threading.Thread(target=consumer, daemon=True)
        thread.start()
        for r in range(rounds):
            if reader_done.is_set():
                break
            for tag in (2 * r + 1, 2 * r + 2):
                samples = tag * _TAG_SCALE + ramp(0, rng.randint(1, _TAG_SCALE - 1))
                written = 0
                while written < len(samples):  # wait for room, as the voice does
                    has_room.clear()  # before writing: room made after this sets it again
                    count = buffer.write(samples[written:], tag=tag)
                    has_data.set()
                    written += count
                    if not count:
                        if reader_done.is_set():
                            break
                        has_room.wait()
                if tag % 2:
                    buffer.flush()
                    flushes_done += 1
    finally:
        sys.setswitchinterval(previous)
        stop.set()
        has_data.set()
        thread.join(timeout=120)
    assert not thread.is_alive()
    assert not errors, f"the reader thread failed: {errors[0]!r}"
    assert flushes_done == rounds

    assert blocks, "the reader delivered nothing"
    last_tag, next_index = 0, {}
    for flushes_before, block in blocks:
        tags = (block // _TAG_SCALE).astype(int)
        indices = (block % _TAG_SCALE).astype(int)
        assert tags.min() >= 2 * flushes_before, "a read that started after a flush played audio from before it"
        odd = set(tags[tags % 2 == 1].tolist())
        assert not any(t + 1 in tags for t in odd), "one read mixed audio from both sides of a flush"
        assert tags[0] >= last_tag and (np.diff(tags) >= 0).all(), "tags went backwards"
        last_tag = tags[-1]
        for tag, index in zip(tags.tolist(), indices.tolist()):
            assert index == next_index.get(tag, 0), f"tag {tag}: sample {index} out of order (torn or stale)"
            next_index[tag] = index + 1
    delivered = sum(len(block) for _, block in blocks)
    assert buffer.played == delivered
    for tag in range(2 * rounds - 60, 2 * rounds + 1):  # the tags still in the buffer's history
        assert buffer.played_for(tag) == next_index.get(tag, 0)


@pytest.mark.parametrize(
    "steps, expected",
    [
        # ("w", tag, n) writes n samples with tag; ("r", n) reads n; ("f",) flushes. expected: {tag: played_for}
        ([("w", 1, 100), ("w", 2, 50), ("r", 120)], {1: 100, 2: 20, 3: 0}),
        ([("w", 1, 100), ("w", 2, 50), ("r", 120), ("f",), ("w", 3, 30), ("r", 100)], {1: 100, 2: 20, 3: 30}),
        ([("w", 1, 10), ("w", 2, 10), ("w", 1, 10), ("r", 25)], {1: 15, 2: 10}),
        ([("w", 1, 40), ("f",), ("w", 1, 40), ("r", 100)], {1: 40}),
        ([("w", 5, 10), ("r", 4), ("f",), ("f",), ("r", 10)], {5: 4}),
        ([("w", 0, 10), ("w", 0, 10), ("r", 15)], {0: 15}),
    ],
)
def test_played_for_counts_exactly_what_was_delivered(steps, expected):
    buffer = PlaybackBuffer(200)
    for step in steps:
        if step[0] == "w":
            buffer.write(np.ones(step[2], np.float32), tag=step[1])
        elif step[0] == "r":
            read(buffer, step[1])
        else:
            buffer.flush()
    assert {tag: buffer.played_for(tag) for tag in expected} == expected
    assert buffer.played == sum(buffer.played_for(tag) for tag in {s[1] for s in steps if s[0] == "w"})


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        PlaybackBuffer(0)
