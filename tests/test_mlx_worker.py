"""The MLX worker (assistant/runtime/mlx_worker.py): one thread runs every job and every stream item, in order.

These tests use plain Python jobs, so they need no model; every wait has a generous timeout that
only guards against a hang (no test depends on how long anything takes).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError

import assistant  # noqa: F401  (preloads OpenBLAS before anything imports mlx)
import pytest

from assistant.runtime.mlx_worker import MlxWorker

HANG_GUARD_S = 30


@pytest.fixture()
def worker():
    worker = MlxWorker()
    yield worker
    worker.close()


class Boom(Exception):
    pass


def test_jobs_and_stream_items_all_run_on_one_mlx_thread(worker):
    caller = threading.current_thread()
    job_threads = [worker.call(threading.current_thread) for _ in range(5)]
    job_threads += [worker.submit(threading.current_thread).result(HANG_GUARD_S) for _ in range(5)]
    # Jobs submitted from other threads land on the same worker thread too.
    from_elsewhere: list[threading.Thread] = []
    others = [threading.Thread(target=lambda: from_elsewhere.append(worker.call(threading.current_thread))) for _ in range(3)]
    for t in others:
        t.start()
    for t in others:
        t.join(HANG_GUARD_S)
    stream_threads: list[threading.Thread] = []

    def items():
        stream_threads.append(threading.current_thread())  # the generator's body before its first item
        for i in range(5):
            stream_threads.append(threading.current_thread())
            yield i

    assert list(worker.stream(items)) == [0, 1, 2, 3, 4]
    threads = set(job_threads + from_elsewhere + stream_threads)
    assert len(from_elsewhere) == 3 and len(stream_threads) == 6
    assert len(threads) == 1
    (mlx_thread,) = threads
    assert mlx_thread.name == "mlx"
    assert mlx_thread is not caller and all(mlx_thread is not t for t in others)


def test_results_keep_submission_order(worker):
    release = threading.Event()
    ran: list[int] = []
    # The first job holds the thread so that all the others are queued behind it.
    first = worker.submit(lambda: release.wait(HANG_GUARD_S))
    futures = [worker.submit(lambda i=i: ran.append(i) or i * i) for i in range(50)]
    assert ran == []
    release.set()
    assert first.result(HANG_GUARD_S) is True
    assert [f.result(HANG_GUARD_S) for f in futures] == [i * i for i in range(50)]
    assert ran == list(range(50))
    # A stream queued between jobs runs to its end before the job after it starts.
    order: list[str] = []
    before = worker.submit(lambda: order.append("before"))
    stream = worker.stream(lambda: (order.append(f"item {i}") or i for i in range(3)))
    assert next(stream) == 0  # submits the producer
    after = worker.submit(lambda: order.append("after"))
    assert list(stream) == [1, 2]
    before.result(HANG_GUARD_S), after.result(HANG_GUARD_S)
    assert order == ["before", "item 0", "item 1", "item 2", "after"]


def test_exception_in_a_job_reaches_the_caller_and_the_worker_goes_on(worker):
    def fail():
        raise Boom("job failed")

    with pytest.raises(Boom, match="job failed"):
        worker.call(fail)
    future = worker.submit(fail)
    assert isinstance(future.exception(HANG_GUARD_S), Boom)
    assert worker.call(lambda: 42) == 42


def test_exception_in_a_stream_reaches_the_caller_after_the_items_before_it(worker):
    def items():
        yield "a"
        yield "b"
        raise Boom("stream failed")

    received = []
    with pytest.raises(Boom, match="stream failed"):
        for item in worker.stream(items):
            received.append(item)
    assert received == ["a", "b"]
    # An error while creating the generator is handed over too.
    with pytest.raises(Boom, match="no generator"):
        list(worker.stream(lambda: (_ for _ in ()).throw(Boom("no generator"))))
    assert worker.call(lambda: "alive") == "alive"


def test_breaking_out_of_a_stream_stops_the_producer(worker):
    produced: list[int] = []
    closed_on: list[threading.Thread] = []
    third_item_taken = threading.Event()
    go_on = threading.Event()

    def items():
        try:
            for i in range(100):
                if i == 3:
                    # Hold the producer until the consumer has broken out, so it cannot run ahead.
                    third_item_taken.set()
                    go_on.wait(HANG_GUARD_S)
                produced.append(i)
                yield i
        finally:
            closed_on.append(threading.current_thread())

    received = []
    for item in worker.stream(items):  # breaking drops the only reference, which closes the stream
        received.append(item)
        if item == 2:
            assert third_item_taken.wait(HANG_GUARD_S)
            break
    go_on.set()
    worker.call(lambda: None)  # the producer job has returned once a later job runs
    assert received == [0, 1, 2]
    # The item being made when the consumer left (3) may be finished; nothing after it is.
    assert produced == [0, 1, 2, 3]
    assert len(closed_on) == 1 and closed_on[0].name == "mlx"


def test_close_lets_the_running_job_finish_cancels_queued_ones_and_refuses_new_work():
    worker = MlxWorker()
    mlx_thread = worker.call(threading.current_thread)
    started, release = threading.Event(), threading.Event()
    done: list[int] = []
    running = worker.submit(lambda: started.set() or release.wait(HANG_GUARD_S))
    queued = [worker.submit(lambda i=i: done.append(i)) for i in range(3)]
    assert started.wait(HANG_GUARD_S)  # the first job runs (not queued) when the worker closes
    closer = threading.Thread(target=worker.close)
    closer.start()
    release.set()
    closer.join(HANG_GUARD_S)
    assert not closer.is_alive()
    assert running.result() is True
    assert done == [] and all(f.cancelled() for f in queued)
    worker.close()  # a second close is a no-op
    worker.close()
    with pytest.raises(RuntimeError, match="closed"):
        worker.submit(lambda: None)
    with pytest.raises(RuntimeError, match="closed"):
        worker.call(lambda: None)
    with pytest.raises(RuntimeError, match="closed"):
        next(worker.stream(lambda: iter([1])))
    assert not mlx_thread.is_alive()


def test_close_with_a_timeout_returns_while_a_job_still_runs_and_a_queued_stream_ends():
    worker = MlxWorker()
    started, release = threading.Event(), threading.Event()
    worker.submit(lambda: started.set() or release.wait(HANG_GUARD_S))
    assert started.wait(HANG_GUARD_S)
    items = worker.stream(lambda: iter([1, 2]))
    received: list = []

    def consume() -> None:
        try:
            received.extend(items)
        except BaseException as exc:  # the cancelled producer's end
            received.append(exc)

    consumer = threading.Thread(target=consume)
    consumer.start()
    deadline = time.monotonic() + HANG_GUARD_S
    while worker._jobs.qsize() < 1 and time.monotonic() < deadline:  # the stream's job is queued
        time.sleep(0.01)
    assert worker.close(timeout=0.2) is False  # the first job still runs
    consumer.join(HANG_GUARD_S)
    assert not consumer.is_alive() and len(received) == 1 and isinstance(received[0], CancelledError)
    release.set()
    assert worker.close(timeout=HANG_GUARD_S) is True


def test_call_from_a_job_on_the_worker_runs_at_once(worker):
    def outer():
        inner = worker.call(lambda: (threading.current_thread(), "inner"))
        return threading.current_thread(), inner

    outer_thread, (inner_thread, result) = worker.submit(outer).result(HANG_GUARD_S)
    assert result == "inner" and inner_thread is outer_thread and outer_thread.name == "mlx"


def test_close_from_a_job_on_the_worker_does_not_deadlock():
    worker = MlxWorker()
    future = worker.submit(worker.close)
    assert future.result(HANG_GUARD_S) is True
    with pytest.raises(RuntimeError):
        worker.submit(lambda: None)
    worker.close()
