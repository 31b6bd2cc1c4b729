"""Parley doing things, end to end with the real default models: `parley ask` sets a timer that rings on the
(virtual) speaker, works out a sum exactly, remembers a fact across a restart, and calls a real MCP server's tool
that the chat model chose."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from followed_log import wait_for_log

RIG_SERVER = Path(__file__).parent / "rig" / "mcp_rig_server.py"


def _parley(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_a_timer_set_by_ask_rings_on_the_speaker(default_store, audio_rig):
    with audio_rig.speaker_recorder() as recording:
        result = _parley("ask", "set a timer for 3 seconds", env=audio_rig.env(), timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Timer set for 3 seconds."
    assert lines[-1] == "⏰ Your 3 second timer is done."
    audio = recording.audio
    assert np.max(np.abs(audio)) > 0.1  # the ring was played (the voice is not asked to speak here)
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * recording.rate / len(audio) - 1760) < 20  # and it was the alarm's tone


def test_a_sum_is_exact_and_needs_no_model(default_store):
    result = _parley("ask", "What is 17 times 23?")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "17 times 23 is 391."
    assert "loaded" not in result.stderr  # (the chat model was never loaded)


def test_a_remembered_fact_is_used_after_a_restart(default_store):
    told = _parley("ask", "Remember that my sister's name is Mina.")
    assert told.stdout.strip() == "I'll remember that my sister's name is Mina."
    asked = _parley("ask", "What is my sister's name?")  # a new process: the fact comes from the memory file
    assert asked.returncode == 0, asked.stderr
    assert "Mina" in asked.stdout
    forgot = _parley("ask", "Forget about my sister.")
    assert forgot.stdout.strip() == "Forgotten: my sister's name is Mina."


def test_the_chat_model_calls_an_mcp_servers_tool(default_store, tmp_path):
    config = Path(os.environ["PARLEY_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "mcp_servers.toml").write_text(
        f'[servers.shop]\ncommand = "{sys.executable} {RIG_SERVER}"\n', encoding="utf-8")
    result = _parley("ask", "Where is order 1234?")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Order 1234 was shipped on Monday and arrives on Thursday."


def test_a_timer_rings_during_a_conversation(default_store, audio_rig, tmp_path):
    """`parley chat --text`: a typed "set a timer" is answered at once, and the timer rings while Parley listens:
    the ring on the speaker, its words in the conversation."""
    out = (tmp_path / "chat.out").open("w+", encoding="utf-8")
    chat = subprocess.Popen([sys.executable, "-m", "assistant", "chat", "--text"], stdin=subprocess.PIPE, stdout=out,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, **audio_rig.env()})
    log = tmp_path / "chat.out"
    try:
        with audio_rig.speaker_recorder() as recording:
            chat.stdin.write("Set a timer for 4 seconds.\n")
            chat.stdin.flush()
            wait_for_log(lambda: log.read_text(encoding="utf-8"), r"Parley: Timer set for 4 seconds\.", proc=chat,
                         timeout=240)
            wait_for_log(lambda: log.read_text(encoding="utf-8"), r"⏰ Your 4 second timer is done\.", proc=chat,
                         timeout=30)
            # The words are shown as the ring goes to the speaker: wait until the tone has been heard there.
            deadline = time.monotonic() + 20
            while not _rings(recording.snapshot(), recording.rate):
                assert time.monotonic() < deadline, "the timer's tone never came out of the speaker"
                time.sleep(0.1)
        chat.stdin.close()
        assert chat.wait(30) == 0
    finally:
        if chat.poll() is None:
            chat.kill()


def _rings(audio: np.ndarray, rate: int) -> bool:
    """Whether the alarm's 1760 Hz tone stands out of what was recorded (the voice's words are around it)."""
    if len(audio) < rate:
        return False
    spectrum = np.abs(np.fft.rfft(audio))
    hertz = np.fft.rfftfreq(len(audio), 1 / rate)
    return spectrum[(hertz > 1750) & (hertz < 1770)].max() > 20 * np.median(spectrum[(hertz > 1000) & (hertz < 3000)])


def test_ask_stops_waiting_when_its_timer_is_cancelled_elsewhere(default_store, tmp_path):
    """The tray's cancel (or the running app's ring) takes the timer off the shared list: `parley ask` then leaves."""
    from assistant.tools.timers import TimerBook

    out = tmp_path / "ask.out"
    with out.open("w", encoding="utf-8") as sink:
        ask = subprocess.Popen([sys.executable, "-m", "assistant", "ask", "Set a timer for 10 minutes."], stdout=sink,
                               stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_log(lambda: out.read_text(encoding="utf-8"), r"Waiting for it to ring", proc=ask, timeout=120)
        book = TimerBook()
        assert [t.seconds for t in book.running()] == [600]
        book.remove({t.id for t in book.running()})
        assert ask.wait(15) == 0
    finally:
        if ask.poll() is None:
            ask.kill()
    assert out.read_text(encoding="utf-8").splitlines()[-1] == "(rung or cancelled by the running Parley)"
