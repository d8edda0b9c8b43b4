"""Worker processes, as parsing and drawing use them: how many there may be, how each one
starts (Ctrl-C left to the parent, ended with it however it ends), a pool of them that
stops at once when left by an exception, and how work is handed to them."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from report.console import handling

# How long `stop` waits for a stopped pool's manager thread (it ends as soon as it sees
# its workers gone).
STOP_SECONDS = 5.0

_T = TypeVar("_T")
_R = TypeVar("_R")


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def start_worker(parent: int) -> None:
    """Workers leave Ctrl-C to the parent, which reports it once, without tracebacks; a
    SIGTERM of their own ends them at once (not the parent's handler, which a forked
    worker inherits); and they end with the parent, however it ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(parent)


def die_with_parent(parent: int) -> None:
    """End this process when process `parent` (the one that started it) ends, even by
    SIGKILL: Linux's PR_SET_PDEATHSIG, elsewhere a thread that watches the parent's pid."""
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        prctl = None
    pr_set_pdeathsig = 1
    if prctl is None or prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) != 0:
        import threading

        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # it ended before the line above could watch for it
        os._exit(1)


def _watch_parent(parent: int) -> None:
    import time

    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def stop(pool: ProcessPoolExecutor) -> None:
    """Shut `pool` down without waiting: its queue dropped, its workers killed (a worker
    busy with a big file, or blocked reading a pipe, would hold the caller for ever).
    Then its manager thread is given a moment to end: one still closing its pipe when
    Python exits makes Python 3.11's exit hook write to that pipe as it closes (an
    "Exception ignored ... Bad file descriptor" on stderr)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.kill()
    for process in processes:
        process.join()
    if manager is not None:
        manager.join(timeout=STOP_SECONDS)


@contextlib.contextmanager
def process_pool(
    workers: int, start: str, initializer: Callable[[int], None] = start_worker
) -> Iterator[ProcessPoolExecutor]:
    """A pool of `workers` processes started by `start` ("fork", "spawn"), each first
    calling `initializer` with this process's pid. Left by an exception (Ctrl-C, a worker
    killed: BrokenProcessPool), it stops at once (`stop`); else it ends once its work is
    done."""
    executor = ProcessPoolExecutor(max_workers=workers,
                                   mp_context=multiprocessing.get_context(start),
                                   initializer=initializer, initargs=(os.getpid(),))
    try:
        yield executor
    except BaseException:
        stop(executor)
        raise
    executor.shutdown()


@contextlib.contextmanager
def signals_held(signums: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """Meanwhile `signums` are only noted, and raised again once it ends. A spawned
    worker reads its start from a pipe its parent writes just after starting it: a
    handler that raised between the two would leave the worker that pipe's end, and its
    traceback on stderr. (Handlers, not the signal mask: a signal masked in this thread
    is still taken by another, vl-convert's, and its handler run here all the same.)"""
    came: list[int] = []
    try:
        with handling(signums, lambda signum, _: came.append(signum)):
            yield
    finally:
        for signum in dict.fromkeys(came):
            signal.raise_signal(signum)


def share_out(call: Callable[[_T], _R], items: Mapping[str, _T], workers: int) -> dict[str, _R]:
    """`call` of each item, by key, in `workers` spawned processes, which take the items
    in order. Those a broken pool (a worker killed) never did are left out."""
    done: dict[str, _R] = {}
    # spawn, not fork: a fork would copy an engine running in a thread (vl-convert's)
    # without that thread.
    try:
        with process_pool(workers, "spawn") as executor:
            with signals_held():  # the workers start here
                futures = {key: executor.submit(call, item) for key, item in items.items()}
            for key, future in futures.items():
                done[key] = future.result()
    except BrokenProcessPool:
        pass
    return done
