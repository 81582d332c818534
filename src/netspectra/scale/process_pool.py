"""A pool of worker processes on this machine, results in input order, memory bounded by the pool size.

Workers are started with the ``spawn`` method (a fresh interpreter: safe with threads, BLAS and torch,
unlike ``fork``) and capped to ``threads`` BLAS/OpenMP threads each (:func:`.workers.limit_threads`), so
that workers x threads <= CPUs.  At most ``workers x PREFETCH`` items are submitted ahead of the one
being yielded: each worker loads one matrix at a time, so peak memory is about workers x the largest
layer (:func:`.workers.worker_peak_bytes`), and finished results wait for their turn in this process.

Ctrl-C: workers are born with SIGINT blocked (:class:`_WorkerProcess`), so a Ctrl-C sent to the whole
process group reaches only this process, which raises ``KeyboardInterrupt`` and, leaving the executor,
terminates the workers at once instead of waiting for the layers they are decomposing.  No worker
prints a traceback, whether it is starting, idle or busy.

Items and the function must pickle (the file loaders of :mod:`netspectra.io` do).  Code that starts a
pool must sit under ``if __name__ == "__main__":`` in a script, as for any ``spawn`` pool.
"""

from __future__ import annotations

import signal
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import SpawnContext, SpawnProcess
from typing import Any, TypeVar

from netspectra.scale.executor import ExecutorError
from netspectra.scale.workers import limit_threads, threads_per_worker

T = TypeVar("T")
R = TypeVar("R")

#: Items submitted ahead per worker (keeps workers busy while the head result is awaited).
PREFETCH = 2


class _WorkerProcess(SpawnProcess):
    """A ``spawn`` process started with SIGINT blocked in the starting thread, so that the new
    interpreter inherits the blocked mask from its first instruction (before ``multiprocessing`` could
    install anything).  A SIGINT that arrives meanwhile is not lost: another thread of this process
    takes it, and Python raises ``KeyboardInterrupt`` in the main thread as usual."""

    def start(self) -> None:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            super().start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _WorkerContext(SpawnContext):
    """The ``spawn`` context of one pool: starts :class:`_WorkerProcess` and remembers them."""

    def __init__(self) -> None:
        super().__init__()
        self.processes: list[_WorkerProcess] = []

    def Process(self, *args: Any, **kwargs: Any) -> _WorkerProcess:  # noqa: N802 (multiprocessing's name)
        process = _WorkerProcess(*args, **kwargs)
        self.processes.append(process)
        return process


class ProcessExecutor:
    """``workers`` processes with ``threads`` BLAS threads each (default CPUs // workers); 1 worker runs inline."""

    def __init__(self, workers: int, threads: int | None = None):
        self.workers = workers
        self.threads = threads_per_worker(workers) if threads is None else threads
        self._pool: ProcessPoolExecutor | None = None
        self._context: _WorkerContext | None = None

    def __enter__(self) -> "ProcessExecutor":
        if self.workers > 1:
            self._context = _WorkerContext()
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=self._context,
                initializer=limit_threads, initargs=(self.threads,),
            )
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        """Wait for the workers after a clean run; after an exception (Ctrl-C included), terminate them."""
        if self._pool is None:
            return
        pool, context = self._pool, self._context
        self._pool = self._context = None
        if exc_type is None:
            pool.shutdown(wait=True)
            return
        pool.shutdown(wait=False, cancel_futures=True)
        started = [process for process in context.processes if process.pid is not None]
        for process in started:
            if process.is_alive():
                process.terminate()
        for process in started:
            process.join()

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        """Yield fn(item) for each item, in order."""
        if self._pool is None:
            yield from (fn(item) for item in items)
            return
        pending: deque[Future] = deque()
        upcoming = iter(items)
        for item in upcoming:
            pending.append(self._pool.submit(fn, item))
            if len(pending) >= self.workers * PREFETCH:
                break
        while pending:
            try:
                result = pending.popleft().result()
            except BrokenProcessPool:
                raise ExecutorError(self._death_message()) from None
            for item in upcoming:
                pending.append(self._pool.submit(fn, item))
                break
            yield result

    def _death_message(self) -> str:
        """Why the pool broke, from the exit codes of its workers: SIGKILL is the kernel's OOM killer's
        signal (fewer workers need less memory); another code is a crash, which fewer workers would not fix."""
        processes = self._context.processes if self._context is not None else []
        for process in processes:
            process.join(timeout=1.0)  # a dead worker's exit code is known once it is reaped
        codes = sorted({process.exitcode for process in processes if process.exitcode not in (None, 0)})
        if -signal.SIGKILL in codes or not codes:
            return f"a worker process was killed (out of memory?): retry with fewer workers than {self.workers}"
        return f"a worker process died with exit code {', '.join(map(str, codes))}"
