"""The MLX worker: the one thread of all MLX work."""

from __future__ import annotations

import logging

from assistant.runtime.job_thread import JobThread

log = logging.getLogger(__name__)


class MlxWorker(JobThread):
    """The one thread that runs all MLX work: Whisper and the MLX chat model.

    MLX streams are thread-local, and voice assistants that called MLX from several threads crashed
    (SIGABRT/SIGSEGV, Metal faults). Every MLX call in Parley goes through this worker instead.
    MLX also wants `mx.clear_streams()` on a thread before it ends (its own clean-up runs too late
    and sometimes aborts the process at exit), so the worker does that as its last act, and it is
    stopped before the interpreter shuts down.
    """

    def __init__(self) -> None:
        super().__init__("mlx")

    def _on_exit(self) -> None:
        try:
            import mlx.core as mx

            mx.clear_streams()
        except Exception:  # never keep a closing app from exiting
            log.debug("clear_streams failed", exc_info=True)
