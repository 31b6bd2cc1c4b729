"""The real `parley chat` through real PortAudio streams on the virtual audio rig: a spoken question gets
a spoken answer, speech during a reply silences the speaker, and with an echo path the assistant does not
interrupt itself."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.runtime.shutdown import QUIT_WITHIN_S
from followed_log import wait_for_log
from rig.pulse import _die_with_parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the virtual audio rig needs Linux")


class ChatProcess:
    """`parley chat --json` in a subprocess on the rig's devices, with its events readable as they come.

    Its stderr is read all along (a full pipe would block the process in its next write) and its log goes to a
    folder of its own: a failure shows the tail of both."""

    def __init__(self, rig, *extra: str) -> None:
        self.log_dir = Path(tempfile.mkdtemp(prefix="parley-chat-log-"))
        env = dict(os.environ, **rig.env(), PARLEY_LOG_DIR=str(self.log_dir))
        self.proc = subprocess.Popen([sys.executable, "-m", "assistant", "chat", "--json", *extra], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     preexec_fn=_die_with_parent)
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.seen: list[dict] = []
        self.stderr: collections.deque[str] = collections.deque(maxlen=40)
        threading.Thread(target=self._pump, daemon=True).start()
        self._stderr_reader = threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True)
        self._stderr_reader.start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                pass

    def diagnosis(self) -> str:
        """The last lines of its stderr and of its log file, and the threads' stacks dumped when a quit signal
        came (if one did), for a failure message."""
        if self.proc.poll() is not None:
            self._stderr_reader.join(timeout=2)  # what it wrote last
        log = self.log_dir / "parley.log"
        lines = log.read_text(errors="replace").splitlines()[-60:] if log.exists() else ["(no log file)"]
        crash = self.log_dir / "crash-stacks.txt"
        crashed = crash.read_text(errors="replace") if crash.exists() else ""
        return ("\n--- stderr ---\n" + "".join(self.stderr) + "--- log ---\n" + "\n".join(lines)
                + (f"\n--- stacks when it crashed ---\n{crashed}" if crashed.strip() else ""))

    def wait_for(self, predicate, timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise AssertionError(f"parley chat exited with {self.proc.returncode}{self.diagnosis()}")
                continue
            self.seen.append(event)
            if predicate(event):
                return event
        raise AssertionError(f"timed out; events so far: {[e['event'] for e in self.seen][-30:]}{self.diagnosis()}")

    def log(self) -> str:
        """What it has logged so far."""
        log = self.log_dir / "parley.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def wait_for_log(self, pattern: str, after: int = 0, timeout: float = 60.0) -> re.Match:
        """The first match of regex `pattern` in its log at or after character `after`: a state it has logged."""
        return wait_for_log(self.log, pattern, after, timeout, self.proc, self.diagnosis)

    def drain(self) -> None:
        """Take in the events that have come so far (`seen` holds only those that wait_for has looked at)."""
        while True:
            try:
                self.seen.append(self.events.get_nowait())
            except queue.Empty:
                return

    def seen_or_wait(self, predicate, timeout: float = 120.0) -> dict:
        """The first event seen so far that matches, else the next one that does (events of one moment may
        come in any order)."""
        earlier = [e for e in self.seen if predicate(e)]
        return earlier[0] if earlier else self.wait_for(predicate, timeout=timeout)

    def stop(self, signum: int = signal.SIGINT) -> float:
        """Ctrl+C (or `signum`), and wait for the process to end. Returns the seconds that took, measured
        from here; one still running after 20 s is killed."""
        if self.proc.poll() is not None:
            return 0.0
        sent = time.monotonic()
        self.proc.send_signal(signum)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return time.monotonic() - sent


def _is(name: str, **fields):
    return lambda e: e["event"] == name and all(e.get(k) == v for k, v in fields.items())


@pytest.fixture(scope="module")
def spoken(default_store):
    """Questions spoken by the real voice, at 22.05 kHz."""
    from piper import PiperVoice

    voice = PiperVoice.load(default_store.get("piper-en_US-joe-medium").path / "voice.onnx")

    def say(text: str) -> np.ndarray:
        return np.concatenate([c.audio_float_array for c in voice.synthesize(text)])

    return say


def _stop_cleanly(chat: ChatProcess, signum: int = signal.SIGINT) -> None:
    """Ctrl+C (or `signum`), as a user stops it: the process must end within the bound Parley promises,
    measured from outside, with status 0 or 130."""
    took = chat.stop(signum)
    assert chat.proc.returncode in (0, 130), f"parley chat ended with {chat.proc.returncode}{chat.diagnosis()}"
    assert took <= QUIT_WITHIN_S, f"parley chat took {took:.2f} s to quit{chat.diagnosis()}"


@contextlib.contextmanager
def listening_chat(rig, *extra: str):
    """`parley chat --json` on the rig, once it listens; stopped (Ctrl+C) at the end."""
    process = ChatProcess(rig, *extra)
    try:
        process.wait_for(_is("StateChanged", state="listening"))
        yield process
    finally:
        process.stop()


@pytest.fixture()
def chat(audio_rig, default_store):
    with listening_chat(audio_rig) as process:
        yield process


@pytest.fixture()
def hands_free_chat(audio_rig, default_store):
    """`chat`, for tests that unplug or stall a device: afterwards both are plugged in and working again."""
    try:
        with listening_chat(audio_rig) as process:
            yield process
    finally:
        audio_rig.restore_microphone()
        audio_rig.stall_microphone(False)
        audio_rig.restore_speaker()
        audio_rig.stall_speaker(False)


def _words(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum() or c.isspace())


def _heard_as(question: str, keyword: str, text: str) -> bool:
    """The transcript is of `question`: it holds the keyword, or (Whisper having misheard that one word under
    load) most of the question's words."""
    heard = set(_words(text).split())
    words = _words(question).split()
    return keyword in _words(text) or sum(word in heard for word in words) >= 0.6 * len(words)


def _asked_about_france(text: str) -> bool:
    """Whisper sometimes mishears one word of the question under load; either telling word will do."""
    return bool({"capital", "france"} & set(_words(text).split()))


def test_spoken_question_gets_a_spoken_answer(chat, audio_rig, spoken):
    with audio_rig.speaker_recorder() as recording:
        audio_rig.play_into_mic(spoken("What is the capital of France?"), 22050)
        said = chat.wait_for(_is("UserSaid"))
        assert "capital of france" in _words(said["text"])
        finished = chat.wait_for(_is("ReplyFinished"))
        assert "paris" in _words(finished["text"]) and not finished["interrupted"]
        timings = chat.wait_for(_is("TurnTimings"))["timings_ms"]
        chat.seen_or_wait(_is("StateChanged", state="listening"))  # the reply has played out
    assert 0 < timings["transcript"] < timings["first_token"] < timings["first_audio"]
    from assistant.audio_files import resample
    import mlx_whisper

    heard = resample(recording.audio, recording.rate, 16000)
    assert np.abs(heard).max() > 0.1
    text = mlx_whisper.transcribe(heard, path_or_hf_repo=str(_tiny(audio_rig)), fp16=False, language="en")["text"]
    assert "paris" in _words(text)


def _tiny(_rig):
    from assistant.models.store import ModelStore

    return ModelStore().get("whisper-tiny.en").path


def test_speech_during_a_reply_silences_the_speaker(chat, audio_rig, spoken):
    interruption = spoken("Stop, stop. Tell me something else.")
    with audio_rig.speaker_recorder() as recording:
        audio_rig.play_into_mic(spoken("Tell me a long story about a brave little dragon."), 22050)
        chat.wait_for(_is("StateChanged", state="speaking"))
        recording.wait_for_sound(1.0)  # a second of the reply has been heard
        audio_rig.play_into_mic(interruption, 22050, wait=False)
        barge = chat.wait_for(_is("BargeIn"))
        finished = chat.wait_for(lambda e: e["event"] == "ReplyFinished" and e["interrupted"])
        recording.wait_until(barge["t"] + 1.0)  # the second after the barge-in, checked below
    assert barge["latency_ms"] > 0
    # The interrupted reply keeps only what was heard: fewer words than a full story.
    assert len(finished["text"].split()) < 60
    # On the recorded speaker: loud before the barge-in, silent soon after it (same monotonic clock).
    rate, audio = recording.rate, recording.audio
    at = int((barge["t"] - recording.started_at) * rate)
    before = audio[max(0, at - rate): at]
    after = audio[at + int(0.25 * rate): at + rate]
    assert np.sqrt(np.mean(before**2)) > 0.02, chat.diagnosis()
    assert np.sqrt(np.mean(after**2)) < 0.005, chat.diagnosis()



# Each question with a word that its transcript must hold (Whisper may word the rest a little differently).
QUESTIONS = [("What is the capital of France?", "france"), ("What is the color of the sky?", "sky"),
             ("How many legs does a cat have?", "legs"), ("What is the largest ocean?", "ocean"),
             ("What do bees make?", "bees")]


def test_with_an_echo_path_twenty_replies_play_out_and_a_real_interruption_still_works(audio_rig, default_store, spoken):
    """The speaker echoes back into the microphone (10 dB down, 40 ms late), as laptop speakers do."""
    import dataclasses

    from assistant.runtime.settings import Settings, save_settings

    short = Settings()
    short = dataclasses.replace(short, conversation=dataclasses.replace(
        short.conversation, system_prompt="Answer in one short sentence."))
    save_settings(short)  # short replies keep twenty of them within a few minutes
    audio_rig.enable_echo(latency_ms=40, volume_db=-10)
    chat = ChatProcess(audio_rig)
    try:
        chat.wait_for(_is("StateChanged", state="listening"))
        for n in range(20):
            chat.seen.clear()
            question, keyword = QUESTIONS[n % len(QUESTIONS)]
            audio_rig.play_into_mic(spoken(question), 22050)
            said = chat.wait_for(_is("UserSaid"))
            finished = chat.wait_for(_is("ReplyFinished"))
            barge_ins = [e for e in chat.seen if e["event"] == "BargeIn"]
            assert _heard_as(question, keyword, said["text"]), (n, said)
            assert not finished["interrupted"] and not barge_ins, \
                f"reply {n + 1} interrupted itself: {chat.seen}{chat.diagnosis()}"
            time.sleep(0.8)  # the echo's tail dies away, as a person would wait to hear the answer out
        # Still a real interruption gets through the gate.
        chat.seen.clear()
        with audio_rig.speaker_recorder() as recording:
            audio_rig.play_into_mic(spoken("Tell me a long story about a brave little dragon."), 22050)
            chat.wait_for(_is("StateChanged", state="speaking"))
            recording.wait_for_sound(1.0)  # the story has been heard for a second
        audio_rig.play_into_mic(spoken("Stop, stop. Tell me something else."), 22050, wait=False)
        assert chat.wait_for(_is("BargeIn"))["latency_ms"] > 0
        chat.wait_for(lambda e: e["event"] == "ReplyFinished" and e["interrupted"])
    finally:
        chat.stop()
        audio_rig.disable_echo()
