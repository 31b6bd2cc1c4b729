"""Quitting within a bound, whatever a thread is stuck in.

Parley promises to end within QUIT_WITHIN_S of Ctrl+C, SIGTERM or Quit. The orderly path (stop the
conversation, close the streams, stop the MLX worker) is made quick where it can be, but some waits are
not Parley's to shorten: closing a PortAudio stream on a device that vanished can block inside ALSA, a
model load or a Whisper pass cannot be cut short, and interpreter exit joins every non-daemon thread.
So the first quit request arms a watchdog: if the process is still alive when the budget runs out, it
logs which threads held it (with their stacks), flushes what was written and exits with the intended
status. Nothing is lost that way: settings and models are written atomically, and a reply in progress
is not something to save.

Two layers: a Python thread that logs thread names and exits with the right status, and, slightly
later, faulthandler's C-level timer (it needs no GIL) for the case where the interpreter itself is stuck.

Only process entry points arm it (`assistant.cli.main.run` and the app's quit): code under test in-process
never ends its test runner.
"""

from __future__ import annotations

import atexit
import faulthandler
import logging
import os
import signal
import sys
import threading
import time
import traceback

log = logging.getLogger(__name__)

QUIT_WITHIN_S = 2.0  # the promise, measured from outside
WATCHDOG_S = 1.5  # orderly shutdown gets this long; the rest is for the dump and the exit
LEFTOVER_THREADS_S = 0.2  # how long threads still running when the command has returned may take to end

_lock = threading.Lock()
_armed_at = 0.0
_exit_code = 0
_dump_file = None  # kept open for faulthandler's C-level dump
_crash_dump_file = None  # the same, for the dump when the process crashes (a segfault in a native library)


def request_quit(exit_code: int, budget_s: float = WATCHDOG_S) -> None:
    """Arm the watchdog: the process ends with `exit_code` at most `budget_s` from now.

    Idempotent: the first call's deadline and status hold. Safe to call from a signal handler and from
    any thread; it returns at once.
    """
    global _armed_at, _exit_code
    with _lock:
        if _armed_at:
            return
        _armed_at = time.monotonic()
        _exit_code = exit_code
    _arm_faulthandler(budget_s + 0.3)
    threading.Thread(target=_watch, args=(budget_s,), name="quit-watchdog", daemon=True).start()
    log.info("quitting (status %d); the process ends within %.1f s", exit_code, budget_s)


def quitting() -> bool:
    """True once a quit was requested: long waits elsewhere can give up early."""
    return bool(_armed_at)


def install_signal_handlers() -> None:
    """Ctrl+C (SIGINT) and SIGTERM arm the watchdog and then raise KeyboardInterrupt in the main thread,
    so the command's own clean-up runs; a second one ends the process at once."""
    def handle(number, frame) -> None:
        code = 130 if number == signal.SIGINT else 0
        if quitting():
            _exit_now(_exit_code, "a second quit signal")
        request_quit(code)
        raise KeyboardInterrupt

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, handle)
    _dump_stacks_on_crash()


def _dump_stacks_on_crash() -> None:
    """A crash in native code (PortAudio, llama.cpp, ONNX Runtime) leaves no Python traceback: every thread's stack
    goes to `<log folder>/crash-stacks.txt` when one happens. (Not on each quit signal, as before: faulthandler
    walks the other threads' frames from inside the signal handler without the GIL, and a thread that changed its
    stack meanwhile crashed Parley's Ctrl+C once, with SIGSEGV in the middle of the dump.)"""
    global _crash_dump_file
    try:
        from assistant.runtime.paths import log_dir

        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        _crash_dump_file = open(folder / "crash-stacks.txt", "w", encoding="utf-8")  # noqa: SIM115 (stays open)
        faulthandler.enable(file=_crash_dump_file, all_threads=True)
    except (OSError, RuntimeError, ValueError):
        log.debug("no stack dump on a crash", exc_info=True)


def exit_within(exit_code: int, budget_s: float = WATCHDOG_S) -> None:
    """End the process with `exit_code`, at most `budget_s` from now (or from an earlier quit request).

    Interpreter exit would wait for every non-daemon thread (the MLX worker in a model load, say) and then
    tear every module down, which took seconds on a busy machine (and MLX's own teardown can abort): the
    non-daemon threads get a moment (LEFTOVER_THREADS_S, within the budget), the exit handlers run (logging's flush,
    PortAudio's clean-up; the watchdog bounds them), and the process ends there, without the teardown.
    """
    request_quit(exit_code, budget_s)
    with _lock:
        code = _exit_code  # a signal's status wins over the command's
    # Their owners have had their bounded close already; what still runs (a model load, a Whisper pass) cannot be cut
    # short and has nothing to save, so it gets only a moment. (The budget counts from when the signal handler ran,
    # which a C call holding the GIL can delay: llama.cpp's model load does, for most of a second.)
    deadline = min(_armed_at + budget_s - 0.2, time.monotonic() + LEFTOVER_THREADS_S)
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                _exit_now(code, f"the {thread.name} thread is still busy")
    try:
        atexit._run_exitfuncs()
    finally:
        _flush()
        os._exit(code)


def _watch(budget_s: float) -> None:
    time.sleep(budget_s)
    _exit_now(_exit_code, f"shutdown took longer than {budget_s:.1f} s")


def _exit_now(code: int, why: str) -> None:
    """Log every thread still running, with its stack, flush, and end the process."""
    try:
        log.warning("%s; exiting anyway with status %d. Threads still running:\n%s", why, code, _thread_stacks())
    except Exception:  # the exit matters more than the report
        pass
    _flush()
    os._exit(code)


def _flush() -> None:
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def _thread_stacks() -> str:
    frames = sys._current_frames()
    parts = []
    for thread in threading.enumerate():
        if thread.ident == threading.get_ident():
            continue
        frame = frames.get(thread.ident)
        stack = "".join(traceback.format_stack(frame)) if frame is not None else "  (no Python frame)\n"
        kind = "daemon" if thread.daemon else "non-daemon"
        parts.append(f"--- {thread.name} ({kind}) ---\n{stack}")
    return "".join(parts)


def _arm_faulthandler(timeout: float) -> None:
    """The C-level backstop: dumps all stacks into the log folder and _exit(1)s if even the watchdog
    thread cannot run (the interpreter itself stuck)."""
    global _dump_file
    try:
        from assistant.runtime.paths import log_dir

        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        _dump_file = open(folder / "quit-stacks.txt", "w", encoding="utf-8")  # noqa: SIM115 (must stay open)
        faulthandler.dump_traceback_later(timeout, exit=True, file=_dump_file)
    except (OSError, RuntimeError, ValueError):
        log.debug("no faulthandler backstop", exc_info=True)
