"""A thread of its own for one engine's work, run in submission order: jobs, calls that wait, and generators
whose items stream to another thread (a reply's tokens). The MLX worker is one; llama.cpp has another.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

_DONE = object()
_STOP = object()


class JobThread:
    """Runs callables and generators on a single dedicated thread, in submission order."""

    def __init__(self, name: str, daemon: bool = False) -> None:
        """`daemon`: the process may end while a job runs (nothing on the thread needs a clean-up at exit)."""
        self.name = name
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=daemon)
        self._thread.start()
        # Runs when the main thread finishes, before non-daemon threads are joined (the hook
        # concurrent.futures uses); plain atexit would come too late and wait forever.
        register = getattr(threading, "_register_atexit", None)
        if register and not daemon:
            register(self.close)

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Queue `fn(*args, **kwargs)` on the thread; thread-safe."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the {self.name} thread is closed")
            self._jobs.put((future, fn, args, kwargs))
        return future

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` on the thread and wait for its result (exceptions re-raised here).

        Called from the thread itself, it runs `fn` at once: waiting on a job queued behind
        the current one would never end.
        """
        if threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        return self.submit(fn, *args, **kwargs).result()

    def stream(self, make_items: Callable[[], Iterator[T]]) -> Iterator[T]:
        """Iterate a generator that runs on the thread, receiving its items on the caller's thread.

        The generator is created and advanced only on the thread. Closing the returned iterator
        (breaking out of a for loop, or `.close()`) stops the producer before its next item, which is
        how a reply is cancelled between tokens.
        """
        items: queue.SimpleQueue = queue.SimpleQueue()
        stop = threading.Event()

        def produce() -> None:
            generator = None
            try:
                generator = make_items()
                for item in generator:
                    if stop.is_set():
                        break
                    items.put((item, None))
            except BaseException as exc:  # handed to the consumer, which re-raises it
                items.put((_DONE, exc))
                return
            finally:
                if generator is not None and hasattr(generator, "close"):
                    generator.close()  # its clean-up runs here, on the thread
            items.put((_DONE, None))

        job = self.submit(produce)
        # A job cancelled before it ran (the worker closing) never produces: the consumer must not wait on it.
        job.add_done_callback(lambda f: items.put((_DONE, CancelledError())) if f.cancelled() else None)
        try:
            while True:
                item, error = items.get()
                if item is _DONE:
                    if error is not None:
                        raise error
                    return
                yield item
        finally:
            stop.set()

    def close(self, timeout: float | None = None) -> bool:
        """Stop the thread: jobs not yet started are cancelled (their futures say so), the one running
        finishes, then `_on_exit` runs on the thread. Idempotent.

        Waits up to `timeout` seconds (None: as long as it takes) and returns whether the thread ended;
        a model load or a Whisper pass cannot be cut short, so a quitting app waits a bounded time.
        """
        with self._lock:
            if not self._closed:
                self._closed = True
                self._cancel_queued()
                self._jobs.put(_STOP)
        if threading.current_thread() is self._thread:
            return True
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.info("the %s thread is still busy after %.1f s; not waiting for it", self.name, timeout)
            return False
        return True

    def _cancel_queued(self) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not _STOP:
                job[0].cancel()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                break
            future, fn, args, kwargs = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)
        self._on_exit()

    def _on_exit(self) -> None:
        """The thread's last act, after its last job."""


def lower_thread_priority(niceness: int = 10) -> None:
    """Lower the calling thread's CPU priority (Linux gives each thread its own niceness; elsewhere: nothing)."""
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
        except OSError as exc:
            log.debug("could not lower the priority of %s: %s", threading.current_thread().name, exc)
