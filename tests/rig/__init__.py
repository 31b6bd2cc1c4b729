"""Virtual audio devices for tests (see pulse.py), and the `audio_rig` pytest fixture."""

from __future__ import annotations

import sys

import pytest

from .pulse import AudioRig, Recorder, SpeakerRecorder

__all__ = ["AudioRig", "Recorder", "SpeakerRecorder", "audio_rig", "shared_rig"]

_shared: AudioRig | None = None


def shared_rig() -> AudioRig:
    """One rig per process, so importing the fixture into several modules still starts one daemon."""
    global _shared
    if _shared is None:
        _shared = AudioRig()
    return _shared


@pytest.fixture(scope="session")
def audio_rig():
    """A started AudioRig whose devices are the defaults of this process (os.environ set, sounddevice re-scanned)
    and, through `audio_rig.env()`, of subprocesses. Skips off Linux; fails if PulseAudio is missing on Linux."""
    if not sys.platform.startswith("linux"):
        pytest.skip(f"the virtual audio rig needs Linux with PulseAudio (this is {sys.platform})")
    rig = shared_rig()
    try:
        rig.start()
    except RuntimeError as exc:
        pytest.fail(f"cannot start the virtual audio rig: {exc}", pytrace=False)
    try:
        rig.activate()
        yield rig
    finally:
        rig.stop()
