"""assistant/runtime/shutdown.py on small real processes: whatever holds a quitting process (a non-daemon thread, an exit
handler that hangs, a main thread that ignores KeyboardInterrupt), it ends within QUIT_WITHIN_S with the status it
meant to end with, and the log names what held it. Timed from outside, from a line the process prints when it
is ready."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from assistant.runtime.shutdown import QUIT_WITHIN_S

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

PRELUDE = """
import atexit, sys, threading, time
from assistant.runtime import shutdown
from assistant.runtime.logs import setup_logging
setup_logging()
"""


def _start(tmp_path, body: str) -> subprocess.Popen:
    env = dict(os.environ, PARLEY_LOG_DIR=str(tmp_path))
    return subprocess.Popen([sys.executable, "-c", PRELUDE + textwrap.dedent(body)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _ready(proc: subprocess.Popen) -> float:
    """Wait for the process's 'ready' line; returns when it came."""
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return time.monotonic()


def _ended_within_bound(proc: subprocess.Popen, since: float) -> int:
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    took = time.monotonic() - since
    assert took <= QUIT_WITHIN_S, f"took {took:.2f} s: {proc.stderr.read()}"
    return proc.returncode


def _log(tmp_path) -> str:
    return (tmp_path / "parley.log").read_text()


def test_a_stuck_non_daemon_thread_does_not_keep_the_process_alive(tmp_path):
    proc = _start(tmp_path, """
        threading.Thread(target=time.sleep, args=(60,), name="stuck-loader").start()
        print("ready", flush=True)
        shutdown.exit_within(3)
    """)
    since = _ready(proc)
    assert _ended_within_bound(proc, since) == 3
    log = _log(tmp_path)
    assert "the stuck-loader thread is still busy" in log and "--- stuck-loader (non-daemon) ---" in log


def test_an_exit_handler_that_hangs_is_cut_short_with_the_right_status(tmp_path):
    proc = _start(tmp_path, """
        atexit.register(time.sleep, 60)
        print("ready", flush=True)
        shutdown.exit_within(0)
    """)
    since = _ready(proc)
    assert _ended_within_bound(proc, since) == 0
    assert "shutdown took longer" in _log(tmp_path) and "MainThread" in _log(tmp_path)


def test_sigterm_ends_a_process_whose_main_thread_swallows_the_interrupt(tmp_path):
    proc = _start(tmp_path, """
        shutdown.install_signal_handlers()
        while True:
            try:  # ready only inside the try: an interrupt between two statements outside it would end the process
                print("ready", flush=True)
                time.sleep(60)
            except KeyboardInterrupt:
                pass  # a command that goes on regardless
    """)
    since = _ready(proc)
    proc.send_signal(signal.SIGTERM)
    assert _ended_within_bound(proc, since) == 0
    assert "exiting anyway with status 0" in _log(tmp_path)


def test_a_second_ctrl_c_ends_the_process_at_once(tmp_path):
    proc = _start(tmp_path, """
        shutdown.install_signal_handlers()
        try:
            print("ready", flush=True)
            time.sleep(60)
        except KeyboardInterrupt:
            print("cleaning up", flush=True)
            while True:
                try:
                    time.sleep(60)
                except KeyboardInterrupt:
                    pass
    """)
    _ready(proc)
    proc.send_signal(signal.SIGINT)
    assert proc.stdout.readline().strip() == "cleaning up"
    since = time.monotonic()
    proc.send_signal(signal.SIGINT)
    assert _ended_within_bound(proc, since) == 130
    assert "a second quit signal" in _log(tmp_path)


def test_a_command_that_ends_normally_keeps_its_status_and_its_output(tmp_path):
    proc = _start(tmp_path, """
        print("ready", flush=True)
        sys.stdout.write("the result, not yet flushed")
        shutdown.exit_within(0)
    """)
    since = _ready(proc)
    assert _ended_within_bound(proc, since) == 0
    assert proc.stdout.read() == "the result, not yet flushed"
